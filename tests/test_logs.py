"""Log lines lose credentials that travel in query strings, and personal data that slipped through."""

from __future__ import annotations

from idp.logs import _mask_event


def test_codes_and_token_hints_are_scrubbed_from_log_lines() -> None:
    line = "GET /demo/callback?code=SECRETCODE&state=S1&iss=x HTTP/1.1 /logout?id_token_hint=eyJhbGc.eyJz.sig"
    event = _mask_event(None, "info", {"event": line, "n": 3})
    assert "SECRETCODE" not in event["event"] and "eyJhbGc" not in event["event"]
    assert "code=***" in event["event"] and "iss=x" in event["event"] and event["n"] == 3


def test_personal_numbers_are_masked_in_log_lines() -> None:
    event = _mask_event(None, "info", {"event": "lookup 11010519491231002X from 13800138000"})
    assert "11010519491231002X" not in event["event"] and "13800138000" not in event["event"]
