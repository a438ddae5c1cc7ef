"""The OIDC bench (the app in-process and a browser that signs in by SMS) for the account centre's tests."""

from tests.oauth.conftest import bench  # noqa: F401
