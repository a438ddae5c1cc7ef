"""JSON request bodies from strangers: an object, not too deeply nested, or a clear refusal.

Python's parser recurses once per nesting level, so `[[[[...` a few thousand deep ends in a RecursionError
(a 500 if nothing catches it) after costing a deep C stack. We count the nesting first — outside strings, in
one pass of a regular expression that skips string literals whole — and parse only bodies within the limit.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # no API of ours nests more than a few levels
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class BadJson(ValueError):
    """The body is not a JSON object we will read; the message says why, in our words."""


def depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in `raw` (brackets inside strings do not count)."""
    deepest = level = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b'""', raw)):
        level += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, level)
    return deepest


def parse_object(raw: bytes, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """`raw` as a JSON object; BadJson when it is not JSON, not an object, or nested beyond `max_depth`."""
    if depth(raw) > max_depth:
        raise BadJson(f"the JSON is nested more than {max_depth} levels deep")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadJson("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadJson("the body must be a JSON object")
    return body
