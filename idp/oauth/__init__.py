"""OAuth 2.0 / OpenID Connect: Authlib's server machinery, our storage and policy, a thin web adapter."""
