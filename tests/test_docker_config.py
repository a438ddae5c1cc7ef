"""The shipped compose file trusts exactly its own proxy, and that proxy overwrites X-Forwarded-For."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
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


# --- the configurations parse, as the tools themselves read them ---------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it from Debian)")
    return path


def test_the_compose_nginx_config_parses(tmp_path: Path) -> None:
    """`nginx -t` on docker/nginx.conf as the nginx image includes it (conf.d, inside `http`), with the compose
    service name `app` resolved to the loopback (nginx resolves upstream names while it checks)."""
    nginx = (DOCKER / "nginx.conf").read_text()
    assert re.findall(r"server\s+([\w.-]+):\d+;", nginx) == ["app"]  # the app service of compose.yaml
    (tmp_path / "default.conf").write_text(nginx.replace("server app:", "server 127.0.0.1:"))
    temp = {name: tmp_path / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    main = f"""
pid {tmp_path / "nginx.pid"};
error_log {tmp_path / "error.log"};
events {{}}
http {{
  access_log off;
  {"".join(f"{name}_temp_path {path};" for name, path in temp.items())}
  include {tmp_path / "default.conf"};
}}
"""
    (tmp_path / "nginx.conf").write_text(main)
    done = subprocess.run(
        [_tool("nginx"), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


def test_the_cluster_haproxy_config_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The HAProxy config bench/cluster.py generates is one HAProxy accepts (`haproxy -c`)."""
    monkeypatch.syspath_prepend(str(DOCKER.parent))  # bench/ is not on the test path
    from bench.cluster import haproxy_config

    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config(18080, [18001, 18002], 18090))
    done = subprocess.run([_tool("haproxy"), "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "option httpchk GET /readyz" in cfg.read_text() and "option redispatch" in cfg.read_text()


def test_docker_compose_config_parses(tmp_path: Path) -> None:
    """`docker compose config` where the tool is there (not on the CI machine: no container engine)."""
    docker = shutil.which("docker")
    has_compose = (
        docker is not None and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    )
    if docker is None or not has_compose:
        pytest.skip("docker compose is not installed here")
    copy = tmp_path / "docker"
    shutil.copytree(DOCKER, copy)
    shutil.copy(copy / "providers.env.example", copy / "providers.env")
    env = {**os.environ, "POSTGRES_PASSWORD": "x", "YIWANG_MASTER_KEY": "eA=="}
    done = subprocess.run(
        [docker, "compose", "-f", str(copy / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
