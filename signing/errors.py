"""Signing's errors: each carries its HTTP status and RFC 7807 problem type, like the app's own errors, so the
app renders both with one handler (and the CLI prints both as one line). Signing imports nothing from `idp`.

    SigningError
     ├── InvalidInput       400  bad value, bad placement, unknown key algorithm
     ├── Unauthorized       401  a page that needs a signed-in person, and nobody is
     ├── Forbidden          403  a seal's policy does not allow this requester, kind or volume
     ├── NotFound           404  unknown seal, organisation, confirmation
     ├── Conflict           409  already revoked, already answered
     ├── PayloadTooLarge    413  an upload beyond the configured limit
     ├── UnprocessablePdf   422  not a PDF, encrypted, or broken beyond reading
     ├── UnprocessableOfd   422  not an OFD package (GB/T 33190), or one we cannot read safely
     └── NotReady           503  no PKI yet, PKCS#11 not configured or unreachable

Messages are one line and never contain personal data.
"""

from __future__ import annotations

from typing import Any


class SigningError(Exception):
    status = 500
    slug = "internal"
    title = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:yiwang:problem:{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        return body


class InvalidInput(SigningError):
    status, slug, title = 400, "invalid-input", "Invalid input"


class Forbidden(SigningError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(SigningError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(SigningError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(SigningError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnprocessablePdf(SigningError):
    status, slug, title = 422, "unprocessable-pdf", "Unprocessable PDF"


class NotReady(SigningError):
    status, slug, title = 503, "not-ready", "Service not ready"


class Unauthorized(SigningError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class UnprocessableOfd(SigningError):
    status, slug, title = 422, "unprocessable-ofd", "Unprocessable OFD"


class NoSuchSeal(NotFound):
    """No seal with that id."""
