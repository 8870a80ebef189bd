"""deploy/ stays true to the code: every setting documented, the example valid, nginx and systemd consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from funkwhale.config import ConfigError, describe, load_settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _example_lines() -> list[str]:
    return (DEPLOY / "env.example").read_text().splitlines()


def _example_environ() -> dict[str, str]:
    """The uncommented assignments of env.example, as systemd's EnvironmentFile reads them."""
    pairs = (line.split("=", 1) for line in _example_lines() if line and not line.startswith("#"))
    return {name: value for name, value in pairs}


def test_every_setting_is_in_env_example():
    names = r"(?:# )?((?:FUNKWHALE|AWS)_\w+|PROXY_MEDIA)="
    documented = {m.group(1) for line in _example_lines() if (m := re.match(names, line))}
    missing = [env for env, _help, _default in describe() if env not in documented]
    assert missing == [], f"add these to deploy/env.example: {missing}"


def test_env_example_is_a_valid_configuration():
    settings = load_settings(_example_environ())
    assert settings.protocol == "https" and settings.reverse_proxy == "nginx"
    assert settings.database_url and settings.redis_url  # production runs on external servers


def test_nginx_body_limit_matches_the_upload_limit():
    settings = load_settings(_example_environ())
    size = re.search(r"client_max_body_size (\d+)m;", (DEPLOY / "nginx.conf").read_text())
    assert size is not None
    assert int(size.group(1)) * 1024 * 1024 == settings.upload_max_size


def test_each_role_has_a_unit_that_outlives_its_drain_deadline():
    settings = load_settings(_example_environ())
    for role in ("web", "worker", "scheduler", "all", "web@", "worker@"):  # role@: several instances on a machine
        unit = (DEPLOY / f"funkwhale-{role}.service").read_text()
        start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
        assert start.split()[1:4] == ["-n", "--pidfile=", "funkwhale"]
        assert (f"--role {role.rstrip('@')}" in start) == (role != "all")
        assert "EnvironmentFile=/etc/funkwhale/env" in unit
        stop = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M).group(1))
        assert stop > settings.shutdown_timeout
    assert "--listen tcp:%i:interface=127.0.0.1" in (DEPLOY / "funkwhale-web@.service").read_text()  # port = name
    target = (DEPLOY / "funkwhale.target").read_text()
    assert all(f"funkwhale-{role}.service" in target for role in ("web", "worker", "scheduler"))


def test_trusted_proxies_are_addresses_or_networks():
    settings = load_settings({"FUNKWHALE_TRUSTED_PROXIES": "10.0.0.0/8, ::1"})
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1")
    with pytest.raises(ConfigError, match="FUNKWHALE_TRUSTED_PROXIES"):
        load_settings({"FUNKWHALE_TRUSTED_PROXIES": "proxy.internal"})
