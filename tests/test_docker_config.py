"""The shipped compose file trusts exactly its own proxy, and that proxy overwrites X-Forwarded-For."""

from __future__ import annotations

from pathlib import Path

import yaml

from idp.settings import ProviderSettings, Settings

DOCKER = Path(__file__).resolve().parent.parent / "docker"


def test_compose_trusts_only_its_nginx_and_nginx_states_the_client_address() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    proxy_address = services["proxy"]["networks"]["default"]["ipv4_address"]
    trusted = services["app"]["environment"]["YIWANG_TRUSTED_PROXIES"]
    assert Settings(trusted_proxies=trusted).trusted_proxy_list == (proxy_address,)
    nginx = (DOCKER / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "$proxy_add_x_forwarded_for" not in nginx  # appending would pass on what the client wrote


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {k: v for k, v in pairs}


def test_compose_runs_real_providers_unless_sandbox_is_asked_for() -> None:
    """The emulators publish login codes (/sandbox/sms/outbox): never on in a deployment by default."""
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    for name in ("init", "app"):
        service = compose["services"][name]
        assert service["environment"]["YIWANG_SANDBOX"] == "${YIWANG_SANDBOX:-false}"
        # The provider settings file is required (compose refuses to start without it) and its PEM files mounted.
        assert service["env_file"] == ["providers.env"]
        assert "./providers:/run/yiwang/providers:ro" in service["volumes"]


def test_the_providers_example_names_everything_a_node_needs_to_start() -> None:
    """Filled in as shown, the example passes the production check: nothing is left to guess."""
    example = _env_file(DOCKER / "providers.env.example")
    fields = {k.removeprefix("YIWANG_").lower(): v for k, v in example.items()}
    assert ProviderSettings(_env_file=None, **fields).problems() == []  # type: ignore[call-arg]
    assert ProviderSettings(_env_file=None).problems()  # the defaults (sandbox SMS) do not pass
