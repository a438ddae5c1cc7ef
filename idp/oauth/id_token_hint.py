"""`id_token_hint` (OpenID Connect Core 1.0 §3.1.2.1, RP-Initiated Logout 1.0 §2): only an ID token we issued.

Every token we sign verifies under the same keys, so a signature alone does not make an ID token. An access
token (RFC 9068) names a client and a session too (`aud`, `sid`), and taken as a hint it would end or claim a
session: it is told apart by its header (`typ: at+jwt`, an ID token's is `JWT`) and by its claims (an access
token carries `client_id` and `scope`; an ID token has neither). A logout token (`logout+jwt`) fails the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from idp.oauth.signer import InvalidToken

if TYPE_CHECKING:
    from idp.oauth.provider import Provider

ID_TOKEN_TYP = "JWT"
_ACCESS_TOKEN_CLAIMS = ("client_id", "scope")


def claims(provider: Provider, hint: str) -> dict[str, Any] | None:
    """The claims of an ID token we issued, or None. Expired is fine: a hint only names the person, the
    session and the client."""
    try:
        found = provider.signer.verify(hint, typ=ID_TOKEN_TYP)
    except InvalidToken:
        return None
    if found.get("iss") != provider.settings.issuer or not isinstance(found.get("sub"), str):
        return None
    if any(name in found for name in _ACCESS_TOKEN_CLAIMS):
        return None
    if not audience(found):
        return None
    return found


def audience(found: dict[str, Any]) -> list[str]:
    """The clients an ID token was issued to (`aud`: one string or a list of strings)."""
    aud = found.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return list(aud)
    return []
