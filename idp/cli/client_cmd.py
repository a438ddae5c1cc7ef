"""`yiwang client ...`: register and manage OAuth/OIDC clients (the secret is printed once)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from idp.cli.common import JsonOpt, console, emit, fail, runtime
from idp.oauth import clients

app = typer.Typer(help="OAuth 2.0 / OpenID Connect clients (relying parties and services).", no_args_is_help=True)


def _jwks(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    text = Path(value).read_text() if not value.lstrip().startswith("{") else value
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        fail("--jwks must be a JSON Web Key Set (JSON text or a file holding it)")
    return data if isinstance(data, dict) else None


@app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="What people see on the consent page.")],
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help="Exact redirect URI (repeat).")
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant",
            help="authorization_code, refresh_token, client_credentials, "
            "urn:ietf:params:oauth:grant-type:device_code, urn:openid:params:grant-type:ciba, "
            "urn:ietf:params:oauth:grant-type:token-exchange (repeat).",
        ),
    ] = None,
    auth_method: Annotated[
        str, typer.Option("--auth-method", help="client_secret_basic, client_secret_post, private_key_jwt or none.")
    ] = "client_secret_basic",
    scope: Annotated[list[str] | None, typer.Option("--scope", help="A scope it may request (repeat).")] = None,
    sector: Annotated[str | None, typer.Option("--sector", help="Sector for pairwise subjects.")] = None,
    public_subject: Annotated[bool, typer.Option("--public-subject", help="Use the public sub, not pairwise.")] = False,
    default_acr: Annotated[str | None, typer.Option("--default-acr", help="urn:yiwang:loa:1|2|3.")] = None,
    backchannel_logout_uri: Annotated[str | None, typer.Option("--backchannel-logout-uri")] = None,
    post_logout_redirect_uri: Annotated[
        list[str] | None, typer.Option("--post-logout-redirect-uri", help="Allowed after logout (repeat).")
    ] = None,
    jwks: Annotated[str | None, typer.Option("--jwks", help="Public JWKS (JSON or file) for private_key_jwt.")] = None,
    shared_device: Annotated[
        bool,
        typer.Option("--shared-device", help="A kiosk many people use: no lasting sign-in, an idle timeout."),
    ] = False,
    delivery_mode: Annotated[
        str | None, typer.Option("--backchannel-delivery-mode", help="CIBA token delivery: poll or ping.")
    ] = None,
    notification_endpoint: Annotated[
        str | None, typer.Option("--backchannel-notification-endpoint", help="CIBA ping mode: where pings go.")
    ] = None,
    exchange_audience: Annotated[
        list[str] | None,
        typer.Option("--exchange-audience", help="Token exchange: an audience it may ask for (repeat)."),
    ] = None,
    exchange_scope: Annotated[
        list[str] | None, typer.Option("--exchange-scope", help="Token exchange: a scope it may ask for (repeat).")
    ] = None,
    require_par: Annotated[
        bool, typer.Option("--require-par", help="Accept its authorization requests only by PAR (RFC 9126).")
    ] = False,
    dpop: Annotated[
        bool, typer.Option("--dpop", help="Refuse its token requests without a DPoP proof (RFC 9449).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register a client; prints its id and, once, its secret."""
    with runtime() as rt:

        def work(session: Session) -> clients.NewClient:
            return clients.create_client(
                session,
                name=name,
                redirect_uris=redirect_uri,
                post_logout_redirect_uris=post_logout_redirect_uri,
                grant_types=grant,
                auth_method=auth_method,
                scopes=scope,
                jwks=_jwks(jwks),
                sector=sector,
                subject_type="public" if public_subject else "pairwise",
                default_acr=default_acr,
                backchannel_logout_uri=backchannel_logout_uri,
                shared_device=shared_device,
                backchannel_token_delivery_mode=delivery_mode,
                backchannel_client_notification_endpoint=notification_endpoint,
                exchange_audiences=exchange_audience,
                exchange_scopes=exchange_scope,
                require_pushed_authorization_requests=require_par,
                dpop_bound_access_tokens=dpop,
            )

        made = rt.run(work)
    if as_json:
        emit({"client_id": made.client_id, "client_secret": made.client_secret}, True)
        return
    console.print(f"client_id: {made.client_id}")
    if made.client_secret:
        console.print(f"client_secret: {made.client_secret}")
        console.print("(the secret is shown only now; it is stored hashed)")


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """All clients."""
    with runtime() as rt:
        rows = rt.run(clients.list_clients)
    for row in rows:
        if as_json:
            emit(row, True)
        else:
            console.print(f"{row['client_id']}  {row['name']}  {','.join(row['grant_types'])}  {row['auth_method']}")


@app.command("show")
def show(client_id: Annotated[str, typer.Argument(help="The client id.")], as_json: JsonOpt = False) -> None:
    """One client's registration (never its secret)."""
    with runtime() as rt:
        data = rt.run(lambda s: clients.describe(clients.get_row(s, client_id)))
    emit(data, as_json)


@app.command("remove")
def remove(client_id: Annotated[str, typer.Argument(help="The client id.")]) -> None:
    """Remove a client; its codes, refresh tokens and consents go with it."""
    with runtime() as rt:
        rt.run(lambda s: clients.remove_client(s, client_id))
    console.print(f"removed {client_id}")
