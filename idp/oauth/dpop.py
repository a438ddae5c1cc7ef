"""DPoP: proof-of-possession of a client key for tokens (RFC 9449).

`Verifier.check` is the proof check of §4.3, one small named check per item, in the RFC's order: one header,
a well-formed JWT, `typ: dpop+jwt`, an asymmetric algorithm we accept, a public `jwk` that verifies the
signature, `htm`, `htu` (query and fragment ignored, URIs normalised per RFC 3986 §6.2.2-6.2.3), the server
nonce when one is demanded (§8, §9), `iat` within the window (§11.1), `ath` and the token's key when an access
token comes with it (§7), and last the `jti`, remembered while the proof could be accepted (§11.1) in the
database or Redis, so every worker sees every proof.

Server nonces are stateless: an HMAC (the data-key blind index) of the current rotation window, so every node
issues and accepts the same value without a write; the previous window's nonce stays good for one rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, RSAKey
from joserfc.jws import JWSRegistry
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from idp.oauth import redis_link
from idp.oauth.models import DPoPProofSeen

HEADER = "dpop"
NONCE_HEADER = "DPoP-Nonce"
TYP = "dpop+jwt"
# Asymmetric only (§4.3 item 5); each checked against its key type and curve by joserfc.
ALGORITHMS = ["ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA"]
MAX_PROOF_BYTES = 8 * 1024
MAX_JTI_CHARS = 256


class _ProofRegistry(JWSRegistry):
    """joserfc's limits, but room in the header for the `jwk` of an RSA key (its default is 512 bytes)."""

    max_header_length = 4096


_REGISTRY = _ProofRegistry(algorithms=ALGORITHMS)
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

# The DPoP key a token request proved possession of, while the token endpoint answers it: the token generator
# (which Authlib calls without the request) binds the access token to it (`cnf.jkt`, §6.1).
_BOUND: ContextVar[str | None] = ContextVar("yiwang_dpop_jkt", default=None)


class DPoPError(Exception):
    """A proof that fails a check of §4.3: `invalid_dpop_proof`."""

    error = "invalid_dpop_proof"


class NonceRequired(DPoPError):
    """§8/§9: the proof lacks the server's current nonce: `use_dpop_nonce`, with a fresh one to retry with."""

    error = "use_dpop_nonce"


@dataclass(frozen=True)
class Proof:
    jkt: str  # RFC 7638 thumbprint of the proof's public key
    jti: str
    iat: int


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(part: str) -> bytes:
    if not part or any(c in part for c in "+/= \t\r\n"):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def access_token_hash(token: str) -> str:
    """`ath` (§4.2): base64url SHA-256 of the ASCII access token."""
    return b64url(hashlib.sha256(token.encode()).digest())


def is_thumbprint(value: str) -> bool:
    """A base64url SHA-256 thumbprint as `dpop_jkt` carries it (§10)."""
    if len(value) != 43:
        return False
    try:
        return len(_b64decode(value)) == 32
    except (ValueError, binascii.Error):
        return False


def normalise_uri(uri: str) -> str:
    """RFC 3986 §6.2.2-6.2.3 for comparing `htu`: scheme and host lower-cased, default port and an empty path
    normalised, query and fragment dropped (§4.3 item 9)."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("htu is not an http(s) URI")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != (443 if scheme == "https" else 80):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def present(headers: Any) -> bool:
    return any(str(k).lower() == HEADER for k in headers)


# --- bound key of the request being answered ------------------------------------------------------------------
def bind(jkt: str | None) -> Any:
    return _BOUND.set(jkt)


def unbind(mark: Any) -> None:
    _BOUND.reset(mark)


def bound_key() -> str | None:
    return _BOUND.get()


# --- replay store --------------------------------------------------------------------------------------------
class ReplayStore(Protocol):
    def first_use(self, key: str, expires_at: int) -> bool:
        """Remember `key` until `expires_at`; False when it was already there (a replay)."""


class DatabaseReplay:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def first_use(self, key: str, expires_at: int) -> bool:
        try:
            with self._sessions() as session, session.begin():
                session.add(DPoPProofSeen(key=key, expires_at=datetime.fromtimestamp(expires_at, UTC)))
        except IntegrityError:
            return False
        return True


class RedisReplay:
    """Proofs seen, in Redis; unreachable, every proof is refused (redis_link.LimitsUnavailable, a 503)."""

    def __init__(self, url: str, prefix: str = "yw:dpop:") -> None:
        self._redis = redis_link.connect(url)
        self._prefix = prefix

    def first_use(self, key: str, expires_at: int) -> bool:
        ttl = max(1, expires_at - int(time.time()))
        with redis_link.failing_closed():
            return bool(self._redis.set(self._prefix + key, b"1", nx=True, ex=ttl))


# --- server nonces -------------------------------------------------------------------------------------------
class Nonces:
    """Rotating server nonces (§8.2): `mac(window)` of the current window; the previous one is still accepted."""

    def __init__(self, mac: Callable[[str], str], rotation: int) -> None:
        self._mac, self._rotation = mac, rotation

    def _for(self, window: int) -> str:
        return b64url(bytes.fromhex(self._mac(f"dpop-nonce:{window}"))[:18])

    def current(self, now: float | None = None) -> str:
        return self._for(int((time.time() if now is None else now) // self._rotation))

    def valid(self, nonce: str, now: float | None = None) -> bool:
        window = int((time.time() if now is None else now) // self._rotation)
        return nonce in (self._for(window), self._for(window - 1))


# --- the proof check -----------------------------------------------------------------------------------------
class Verifier:
    def __init__(self, nonces: Nonces, replay: ReplayStore, max_age: int, leeway: int) -> None:
        self.nonces, self.replay, self.max_age, self.leeway = nonces, replay, max_age, leeway

    def check(
        self,
        headers: Any,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        bound_jkt: str | None = None,
        require_nonce: bool = False,
    ) -> Proof:
        """The proof in `headers` for this request, or DPoPError / NonceRequired."""
        token = _single_header(headers)
        header, claims, jkt = _verified(token)
        _check_htm(claims, method)
        _check_htu(claims, url)
        self._check_nonce(claims, require_nonce)
        iat = self._check_iat(claims)
        if access_token is not None:
            _check_ath(claims, access_token)
            if bound_jkt != jkt:
                raise DPoPError("the proof's key is not the key the access token is bound to")
        jti = _check_jti(claims)
        key = hashlib.sha256(f"{normalise_uri(url)}\x00{jti}".encode()).hexdigest()
        if not self.replay.first_use(key, iat + self.max_age + self.leeway):
            raise DPoPError("this DPoP proof was already used")
        return Proof(jkt, jti, iat)

    def _check_nonce(self, claims: dict[str, Any], required: bool) -> None:
        nonce = claims.get("nonce")
        if nonce is None:
            if required:
                raise NonceRequired("a server-provided nonce is required in the DPoP proof")
            return
        if not isinstance(nonce, str) or not self.nonces.valid(nonce):
            raise NonceRequired("the DPoP nonce is not current")

    def _check_iat(self, claims: dict[str, Any]) -> int:
        iat = claims.get("iat")
        if not isinstance(iat, int) or isinstance(iat, bool):
            raise DPoPError("iat must be an integer")
        now = int(time.time())
        if iat > now + self.leeway:
            raise DPoPError("the DPoP proof was issued in the future")
        if iat < now - self.max_age:
            raise DPoPError("the DPoP proof is too old")
        return iat


def _single_header(headers: Any) -> str:
    getlist = getattr(headers, "getlist", None)
    values = (
        list(getlist(HEADER)) if getlist is not None else [v for k, v in dict(headers).items() if k.lower() == HEADER]
    )
    if not values:
        raise DPoPError("no DPoP proof")
    if len(values) > 1:
        raise DPoPError("more than one DPoP header")
    return str(values[0]).strip()


def _verified(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Items 2-7: a single well-formed JWT, typ, alg, a public jwk, and a signature that verifies with it."""
    if len(token) > MAX_PROOF_BYTES:
        raise DPoPError("the DPoP proof is too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise DPoPError("the DPoP proof is not a compact JWS")
    try:
        header = json.loads(_b64decode(parts[0]))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise DPoPError("the DPoP proof's header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise DPoPError("the DPoP proof's header is not a JSON object")
    if header.get("typ") != TYP:
        raise DPoPError("typ must be dpop+jwt")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise DPoPError(f"alg must be one of {' '.join(ALGORITHMS)}")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise DPoPError("the DPoP proof has no jwk header")
    if _PRIVATE_MEMBERS & set(jwk):
        raise DPoPError("the jwk holds a private key")
    try:
        key = JWKRegistry.import_key(jwk)
        if key.is_private:
            raise DPoPError("the jwk holds a private key")
        if isinstance(key, RSAKey) and key.raw_value.key_size < 2048:
            raise DPoPError("RSA keys must have at least 2048 bits")
        signed = jws.deserialize_compact(token, key, algorithms=[alg], registry=_REGISTRY)
        claims = json.loads(signed.payload)
        jkt = key.thumbprint()
    except DPoPError:
        raise
    except (JoseError, ValueError, TypeError, KeyError, AttributeError, binascii.Error, UnicodeDecodeError):
        raise DPoPError("the DPoP proof's signature does not verify with its jwk") from None
    if not isinstance(claims, dict):
        raise DPoPError("the DPoP proof's claims are not a JSON object")
    return header, claims, jkt


def _check_htm(claims: dict[str, Any], method: str) -> None:
    if claims.get("htm") != method:
        raise DPoPError("htm does not match the request method")


def _check_htu(claims: dict[str, Any], url: str) -> None:
    htu = claims.get("htu")
    if not isinstance(htu, str):
        raise DPoPError("htu is missing")
    try:
        same = normalise_uri(htu) == normalise_uri(url)
    except ValueError:
        raise DPoPError("htu is not a valid http(s) URI") from None
    if not same:
        raise DPoPError("htu does not match the request URI")


def _check_ath(claims: dict[str, Any], access_token: str) -> None:
    if claims.get("ath") != access_token_hash(access_token):
        raise DPoPError("ath does not match the access token")


def _check_jti(claims: dict[str, Any]) -> str:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
        raise DPoPError("jti is missing or too long")
    return jti


def challenge(error: str | None = None, description: str | None = None) -> str:
    """`WWW-Authenticate: DPoP ...` (§7.1) with the algorithms we accept."""
    params = [f'algs="{" ".join(ALGORITHMS)}"']
    if error:
        params.insert(0, f'error="{error}"')
        if description:
            params.insert(1, 'error_description="{}"'.format(description.replace('"', "'")))
    return "DPoP " + ", ".join(params)
