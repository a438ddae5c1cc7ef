"""The one error type raised by the identifier parsers."""

from __future__ import annotations

__all__ = ["InvalidIdentifier"]


class InvalidIdentifier(ValueError):
    """An identifier failed validation.

    `kind` names the identifier family ("citizen_id", "foreign_pr", "uscc", "mobile", "ss_card" or
    "unknown"); `reason` is a short one-line English explanation.  Reasons end up on screens and in
    logs, so they describe *what* is wrong (a length, a check character, a date component) and never
    repeat the identifier itself.
    """

    kind: str
    reason: str

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"invalid {kind}: {reason}")
        self.kind = kind
        self.reason = reason

    def __reduce__(self) -> tuple[type[InvalidIdentifier], tuple[str, str]]:
        # ValueError pickles its args (the formatted message), which would not round-trip through
        # our two-argument constructor; worker pools and task queues pickle exceptions.
        return (type(self), (self.kind, self.reason))
