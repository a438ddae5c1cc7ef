"""Log lines lose credentials that travel in query strings, and personal data that slipped through."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import NameOID
from pyhanko.sign import signers

from idp.logs import _mask_event, install_masking, logging_config
from idp.masking import mask_subjects
from signing import verify
from signing.ports import VerifyLimits
from signing.verify_worker import Verifier
from tests.signing.hostile import self_signed_signer, signed_pdf


def test_codes_and_token_hints_are_scrubbed_from_log_lines() -> None:
    line = "GET /demo/callback?code=SECRETCODE&state=S1&iss=x HTTP/1.1 /logout?id_token_hint=eyJhbGc.eyJz.sig"
    event = _mask_event(None, "info", {"event": line, "n": 3})
    assert "SECRETCODE" not in event["event"] and "eyJhbGc" not in event["event"]
    assert "code=***" in event["event"] and "iss=x" in event["event"] and event["n"] == 3


def test_personal_numbers_are_masked_in_log_lines() -> None:
    event = _mask_event(None, "info", {"event": "lookup 11010519491231002X from 13800138000"})
    assert "11010519491231002X" not in event["event"] and "13800138000" not in event["event"]


# --- every logger, libraries' included, and certificate subjects ------------------------------------------------

CITIZEN, CITIZEN_ID = "张三丰", "11010519491231002X"
LIBRARIES = ("pyhanko.sign.validation", "pyhanko_certvalidator", "asn1crypto", "authlib", "uvicorn.error", "httpx")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, rendered by the app's JSON formatter on the root logger."""
    install_masking()
    out = io.StringIO()
    spec = dict(logging_config("INFO")["formatters"]["json"])
    factory = spec.pop("()")
    handler = logging.StreamHandler(out)
    handler.setFormatter(factory(**spec))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _citizen_signer() -> signers.SimpleSigner:
    return self_signed_signer(
        CITIZEN,
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), x509.NameAttribute(NameOID.SERIAL_NUMBER, CITIZEN_ID)],
    )


def _assert_clean(text: str) -> None:
    assert CITIZEN not in text and CITIZEN_ID not in text, text
    assert CITIZEN[0] in text  # the masked form is there: something was logged and masked, not dropped


def test_a_verification_where_pyhanko_logs_the_subject_leaves_no_name_in_the_log(captured: io.StringIO) -> None:
    # pyHanko warns "Validation error [cert context: Common Name: <subject>]" for a certificate it cannot trust.
    signer = _citizen_signer()
    document = signed_pdf(signer)
    trust = verify.Trust(root=self_signed_signer().signing_cert, intermediates=[], crls=[])  # not the signer's
    report = verify.verify_pdf(document, trust)
    assert report.signatures[0].signer == CITIZEN  # the report names the signer; the log must not
    text = captured.getvalue()
    assert "cert context" in text
    _assert_clean(text)


def test_the_verifying_child_processes_log_records_come_back_masked(captured: io.StringIO) -> None:
    signer = _citizen_signer()
    trust = verify.Trust(root=self_signed_signer().signing_cert, intermediates=[], crls=[])  # not the signer's
    Verifier(VerifyLimits()).verify(signed_pdf(signer), trust)
    text = captured.getvalue()
    assert "cert context" in text
    _assert_clean(text)


@pytest.mark.parametrize("name", LIBRARIES)
def test_every_library_logger_is_masked_even_with_a_handler_of_its_own(name: str, captured: io.StringIO) -> None:
    install_masking()  # as the app and the CLI do at start (another test may have put a plain factory back)
    own = io.StringIO()
    handler = logging.StreamHandler(own)  # a plain handler, no masking formatter: the record itself is masked
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    # uvicorn's own logging config (applied by other tests' servers) stops "uvicorn" and "uvicorn.error" at their
    # handlers: let the records reach the root, as they do under the app's config.
    chain = [logging.getLogger(".".join(name.split(".")[: i + 1])) for i in range(name.count(".") + 1)]
    propagate = [each.propagate for each in chain]
    for each in chain:
        each.propagate = True
    try:
        subject = asn1_x509.Name.build({"common_name": CITIZEN, "serial_number": CITIZEN_ID})
        logger.warning("Validation error [cert context: %s]", subject.human_friendly)
        logger.warning(f"subject CN={CITIZEN},serialNumber={CITIZEN_ID},C=CN")
        logger.info("native %s", subject.native)
        try:
            raise ValueError(f"self-signed - Common Name: {CITIZEN}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        for each, was in zip(chain, propagate, strict=True):
            each.propagate = was
    _assert_clean(own.getvalue())
    _assert_clean(captured.getvalue())


def test_subjects_are_masked_in_every_form_libraries_print() -> None:
    assert mask_subjects(f"Common Name: {CITIZEN}, Country: CN") == "Common Name: 张**, Country: CN"
    assert mask_subjects(f"CN={CITIZEN},O=某某个体户,C=CN") == "CN=张**,O=某****,C=CN"
    assert mask_subjects(f"('common_name', '{CITIZEN}')") == "('common_name', '张**')"
    assert mask_subjects("Country: CN, Organization Identifier: NTRCN-91110000600037341L") == (
        "Country: CN, Organization Identifier: NTRCN-91110000600037341L"
    )
