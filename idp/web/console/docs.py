"""OpenAPI for staff: `/docs` (the operator and signing APIs, rendered on the server) and `/openapi.json`.

No CDN is reachable at runtime and Swagger UI / ReDoc are not vendored, so `/docs` is a small page built
here from the app's own OpenAPI document: each operation with its method, path, summary, parameters and
responses. Both are for signed-in staff only: the schema lists every operator endpoint and its inputs, which
is reconnaissance for an attacker and of no use to a citizen; relying parties have the OIDC discovery
document, which stays public.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from idp.staff import roles
from idp.web.console import guard
from idp.web.console.guard import Staff

router = APIRouter(tags=["console"], include_in_schema=False)
DOCUMENTED = ("/admin/", "/signing/", "/csc/", "/audit/")
METHODS = ("get", "post", "put", "patch", "delete")


def _schema(request: Request) -> dict[str, Any]:
    full: dict[str, Any] = request.app.openapi()
    paths = {p: ops for p, ops in full.get("paths", {}).items() if p.startswith(DOCUMENTED)}
    return {**full, "paths": paths}


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, ops in sorted(schema["paths"].items()):
        for method in METHODS:
            op = ops.get(method)
            if op is None:
                continue
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "tags": op.get("tags", []),
                    "parameters": [
                        {"name": p["name"], "in": p["in"], "required": p.get("required", False)}
                        for p in op.get("parameters", [])
                    ],
                    "body": sorted((op.get("requestBody", {}).get("content") or {}).keys()),
                    "responses": sorted(op.get("responses", {}).keys()),
                }
            )
    return out


@router.get("/docs")
async def docs_page(request: Request, staff: Annotated[Staff, Depends(guard.guard(*roles.ROLES))]) -> Response:
    return guard.page(request, staff, "console_docs.html", {"operations": _operations(_schema(request))})


@router.get("/openapi.json")
async def openapi(request: Request, staff: Annotated[Staff, Depends(guard.guard(*roles.ROLES))]) -> Response:
    return guard.set_cookie(
        request, JSONResponse(_schema(request), headers={"Cache-Control": "no-store"}), staff.cookie
    )
