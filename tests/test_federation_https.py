"""The daemon listens over HTTPS with `--listen ssl:PORT:privateKey=KEY:certKey=CERT` (Twisted strports, which
need pyOpenSSL and service-identity), as federating instances do in the acceptance check."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request

from funkwhale.config import Settings, load_settings, record_public_address, recorded_public_address

from .test_daemon import BIN, WAIT, Daemon, clean_env, daemons, free_port, tmp_path  # noqa: F401 (fixtures)
from .tls_helpers import make_pki


def https_get(url: str, cafile: str, accept: str = "application/json") -> tuple[int, str, dict]:
    context = ssl.create_default_context(cafile=cafile)
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10, context=context) as resp:
        return resp.status, resp.headers.get("Content-Type"), json.loads(resp.read())


def test_the_daemon_serves_federation_over_tls(servers, clean, tmp_path, daemons):  # noqa: F811
    pki = make_pki(tmp_path / "pki", ips=("127.0.0.1",))
    port = free_port()
    listen = f"ssl:{port}:interface=127.0.0.1:privateKey={pki.key}:certKey={pki.cert}"
    env = clean_env(
        FUNKWHALE_DATABASE_URL=servers[0],
        FUNKWHALE_REDIS_URL=servers[1],
        FUNKWHALE_HOSTNAME=f"127.0.0.1:{port}",
        FUNKWHALE_PROTOCOL="https",
        FUNKWHALE_WEB_PROCESSES="2",  # a web child adopts the TLS listener and wraps it itself
    )
    daemon = Daemon(tmp_path / "data", port=port, env=env, args=("--listen", listen))
    daemons.append(daemon)
    base = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT
    while True:
        assert daemon.proc.poll() is None, daemon.output()
        try:
            status, _, nodeinfo = https_get(f"{base}/api/v1/instance/nodeinfo/2.0/", str(pki.ca))
            break
        except (OSError, urllib.error.URLError):
            assert time.monotonic() < deadline, daemon.output()
            time.sleep(0.2)
    assert status == 200 and nodeinfo["metadata"]["actorId"] == f"{base}/federation/actors/service"
    status, content_type, actor = https_get(
        nodeinfo["metadata"]["actorId"], str(pki.ca), accept="application/activity+json"
    )
    assert status == 200 and content_type == "application/activity+json"
    assert actor["id"] == f"{base}/federation/actors/service" and actor["type"] == "Service"
    # An account made by the CLI on the same data directory, without FUNKWHALE_HOSTNAME (as the acceptance check
    # does), gets ids under the daemon's address, which the daemon recorded in DATA_DIR/public_address.
    cli_env = clean_env(FUNKWHALE_DATABASE_URL=servers[0], FUNKWHALE_REDIS_URL=servers[1])
    created = subprocess.run(
        [str(BIN / "funkwhale"), "--data-dir", str(tmp_path / "data"), "createuser", "alice", "--email", "a@b.org"],
        input="S3cret-pass!\nS3cret-pass!\n",
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    status, _, jrd = https_get(f"{base}/.well-known/webfinger?resource=acct:alice@127.0.0.1:{port}", str(pki.ca))
    assert jrd["links"][0]["href"] == f"{base}/federation/actors/alice"
    status, _, alice = https_get(jrd["links"][0]["href"], str(pki.ca), accept="application/activity+json")
    assert status == 200 and alice["id"] == f"{base}/federation/actors/alice"
    # plain HTTP on the TLS port gets no answer
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health/", timeout=5):
            raise AssertionError("plain HTTP was answered on the TLS port")
    except (OSError, urllib.error.URLError):
        pass


def test_the_recorded_address_is_a_default_below_the_environment(tmp_path):  # noqa: F811
    record_public_address(Settings(data_dir=str(tmp_path), hostname="music.example:8443", protocol="https"))
    recorded = recorded_public_address(str(tmp_path))
    assert recorded == {"protocol": "https", "hostname": "music.example:8443"}
    adopted = load_settings({}, {"data_dir": str(tmp_path)}, defaults=recorded)
    assert adopted.base_url == "https://music.example:8443"
    explicit = load_settings({"FUNKWHALE_HOSTNAME": "other.example"}, {"data_dir": str(tmp_path)}, defaults=recorded)
    assert explicit.base_url == "https://other.example"
    assert recorded_public_address(str(tmp_path / "never-ran")) == {}
