"""The shipped compose file trusts exactly its own proxy, and that proxy overwrites X-Forwarded-For."""

from __future__ import annotations

from pathlib import Path

import yaml

from idp.settings import Settings

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
