"""Signing and verifying our own JWTs with the key sets from `keys/`.

Keys are unsealed once and kept; a refresh (at most every `signing_key_refresh_s`, 60 s by default) picks up
rotations and retirements done by another process or node. Verification accepts only our algorithms, only keys we published, and refuses
any header that tries to bring its own key (`jwk`, `jku`, `x5u`).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

import keys
from idp.db import utcnow
from idp.runtime import Runtime
from keys import store as keystore

ALLOWED_ALGORITHMS = ["ES256", "RS256"]
MAX_TOKEN_BYTES = 16 * 1024
_FORBIDDEN_HEADERS = {"jwk", "jku", "x5u", "x5c"}


class InvalidToken(Exception):
    """Not a token we issued, or no longer valid."""


class TokenSigner:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._refresh_s = runtime.settings.signing_key_refresh_s
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        lifetime = timedelta(seconds=self._runtime.settings.max_token_lifetime_s)
        # Read-only: a reload may happen inside a caller's write transaction; it must not wait for that writer.
        with self._runtime.reading() as session:
            materials = keystore.signing_materials(session)
            jwks = keystore.jwks(session, utcnow(), lifetime)
        alg = self._runtime.settings.token_alg
        current = keys.signing_candidate(materials, alg)
        if current is None:
            raise keys.MasterKeyError(f"no active {alg} signing key: run `yiwang init`")
        self._private: ECKey | RSAKey = keys.load_private_key(current, self._runtime.master)
        self.kid, self.alg = current.kid, current.alg
        self.jwks: dict[str, Any] = jwks
        self._public = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        self._loaded = time.monotonic()

    def refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded <= self._refresh_s:
            return
        loaded = self._loaded
        with self._lock:
            # Threads that queued behind the one reloading must not reload again, one after another.
            if self._loaded == loaded:
                self._load()

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        self.refresh()
        header = {"alg": self.alg, "kid": self.kid, "typ": typ}
        return jwt.encode(header, claims, self._private, algorithms=[self.alg])

    def verify(self, token: str, typ: str | None = None) -> dict[str, Any]:
        """Signature and header checks only; the caller checks claims (iss, aud, exp) for its purpose."""
        if not token or len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token missing or too large")
        try:
            compact = jws.extract_compact(token.encode())
        except (JoseError, ValueError) as exc:
            raise InvalidToken("malformed token") from exc
        header = compact.protected
        if header.get("alg") not in ALLOWED_ALGORITHMS or _FORBIDDEN_HEADERS & header.keys():
            raise InvalidToken("algorithm or header not allowed")
        if typ is not None and header.get("typ", "").lower() not in (typ.lower(), f"application/{typ}".lower()):
            raise InvalidToken("wrong token type")
        kid = header.get("kid")
        if not kid or not any(k.get("kid") == kid for k in self.jwks["keys"]):
            self.refresh(force=True)
            if not any(k.get("kid") == kid for k in self.jwks["keys"]):
                raise InvalidToken("unknown key")
        try:
            decoded = jwt.decode(token, self._public, algorithms=ALLOWED_ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise InvalidToken("signature does not verify") from exc
        return dict(decoded.claims)
