"""Signing refusals that idp.errors has no class for; rendered by the same RFC 7807 handler.

YiwangError (idp.errors)
 ├── NoSuchSeal         404  no seal with that id
 ├── Forbidden          403  a seal's policy does not allow this requester, kind or volume
 ├── PayloadTooLarge    413  an upload beyond the configured limit
 ├── UnprocessablePdf   422  not a PDF, encrypted, or broken beyond reading
 └── UnprocessableOfd   422  not an OFD package (GB/T 33190), or one we cannot read safely
"""

from __future__ import annotations

from idp.errors import YiwangError


class Forbidden(YiwangError):
    status, slug, title = 403, "forbidden", "Forbidden"


class PayloadTooLarge(YiwangError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnprocessablePdf(YiwangError):
    status, slug, title = 422, "unprocessable-pdf", "Unprocessable PDF"


class UnprocessableOfd(YiwangError):
    status, slug, title = 422, "unprocessable-ofd", "Unprocessable OFD"


class NoSuchSeal(YiwangError):
    status, slug, title = 404, "not-found", "Not found"
