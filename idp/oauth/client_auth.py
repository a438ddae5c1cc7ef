"""private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9) with replay protection.

Each assertion's `jti` is remembered until the assertion expires; a second use is refused. Only
asymmetric algorithms are accepted, with the client's registered public keys — never a key the
assertion brings along.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy.exc import IntegrityError

from idp.oauth.issuing import Issuer
from idp.oauth.models import UsedAssertion

ASSERTION_ALGORITHMS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"]
MAX_ASSERTION_BYTES = 8 * 1024
MAX_ASSERTION_LIFETIME = 600


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, provider: Issuer) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.provider = provider

    def get_audiences(self) -> list[str]:
        issuer = self.provider.settings.issuer
        # RFC 9126 §2: the issuer, the token endpoint or the PAR endpoint.
        return [issuer, f"{issuer}/token", f"{issuer}/introspect", f"{issuer}/revoke", f"{issuer}/par"]

    def resolve_client_public_key(self, client: Any) -> Any:
        if client.keyset is None:
            raise InvalidClientError(description="the client has no registered keys")
        return client.keyset

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        if len(assertion) > MAX_ASSERTION_BYTES:
            raise InvalidClientError(description="client assertion too large")
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="client assertion does not verify") from exc
        self.verify_claims(token.claims)
        if int(token.claims["exp"]) > time.time() + MAX_ASSERTION_LIFETIME:
            raise InvalidClientError(description="client assertion lives too long")
        return dict(token.claims)

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        key = hashlib.sha256(f"{claims['sub']}\x00{jti}".encode()).hexdigest()
        expires = datetime.fromtimestamp(int(claims["exp"]) + self.leeway, UTC)
        try:
            with self.provider.runtime.transaction() as session:
                session.add(UsedAssertion(key=key, expires_at=expires))
        except IntegrityError:
            return False
        return True
