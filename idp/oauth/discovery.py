"""OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414)."""

from __future__ import annotations

from typing import Any

from idp.oauth import acr, dpop, scopes
from idp.oauth.client_auth import ASSERTION_ALGORITHMS
from idp.oauth.clients import DEVICE_CODE
from idp.oauth.signer import ALLOWED_ALGORITHMS

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


def metadata(issuer: str, *, require_par: bool = False) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "end_session_endpoint": f"{issuer}/logout",
        "device_authorization_endpoint": f"{issuer}/device_authorization",
        "scopes_supported": list(scopes.SUPPORTED),
        "claims_supported": list(scopes.CLAIMS_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            DEVICE_CODE,
            "urn:openid:params:grant-type:ciba",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ],
        "subject_types_supported": ["pairwise", "public"],
        "acr_values_supported": list(acr.LEVELS),
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS[:3],
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "id_token_signing_alg_values_supported": ALLOWED_ALGORITHMS,
        "userinfo_signing_alg_values_supported": ["none"],
        "access_token_signing_alg_values_supported": ALLOWED_ALGORITHMS,
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "ui_locales_supported": ["zh-CN", "en"],
        # CIBA Core §4: poll and ping (push is optional and not offered); login_hint only, no user_code.
        "backchannel_authentication_endpoint": f"{issuer}/bc-authorize",
        "backchannel_token_delivery_modes_supported": ["poll", "ping"],
        "backchannel_user_code_parameter_supported": False,
        # RFC 9126 §5 and RFC 9449 §5.1.
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "require_pushed_authorization_requests": require_par,
        "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),
    }
