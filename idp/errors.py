"""Errors that carry their own HTTP status and RFC 7807 problem type; one handler renders each surface.

    YiwangError
     ├── InvalidInput    400  bad identifier, bad value
     ├── Unauthorized    401  missing or wrong operator credential
     ├── NotFound        404  unknown person, organisation, key
     ├── Conflict        409  duplicate person, ID number already bound
     └── NotReady        503  database unreachable or not migrated, keys missing

Messages are one line and never contain personal data: callers pass masked values only.
"""

from __future__ import annotations

from typing import Any


class YiwangError(Exception):
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


class InvalidInput(YiwangError):
    status, slug, title = 400, "invalid-input", "Invalid input"


class Unauthorized(YiwangError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class NotFound(YiwangError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(YiwangError):
    status, slug, title = 409, "conflict", "Conflict"


class NotReady(YiwangError):
    status, slug, title = 503, "not-ready", "Service not ready"
