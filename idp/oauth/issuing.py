"""What grants, endpoints and client authentication need from the provider, as a protocol.

`provider` builds the Authlib server from `grants`, `endpoints` and `client_auth`; those reach back to the
provider only through this protocol, so imports go one way (provider → grants → issuing), never round.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlalchemy.orm import Session

from idp.oauth.clients import Client, ClientCache
from idp.oauth.dpop import Verifier
from idp.oauth.signer import TokenSigner
from idp.runtime import Runtime
from idp.settings import Settings


class Issuer(Protocol):
    runtime: Runtime
    settings: Settings
    signer: TokenSigner
    clients: ClientCache
    dpop: Verifier

    def unit(self, request: Any = None) -> AbstractContextManager[Session]:
        """The request's unit of work if one is open (one transaction per request), else a new one."""
        ...

    def subject_of(self, client: Client, person_id: str, session: Session | None = None) -> str:
        """The `sub` this client sees for the person (pairwise per sector by default)."""
        ...

    def revoke_issued(self, session: Session, *, jti: str | None, family: str | None) -> None:
        """Revoke an access token (by jti) and a refresh-token family, as a replayed code demands."""
        ...

    def revoke_family(self, session: Session, family_id: str) -> None: ...
