"""Web tests reuse the OIDC bench (the app in-process with a registered client and an SMS 'browser')."""

from tests.oauth.conftest import bench  # noqa: F401
