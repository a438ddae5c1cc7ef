"""CLI tests that need tokens reuse the OIDC bench (the app in-process, a registered client, an SMS browser)."""

from tests.oauth.conftest import bench  # noqa: F401
