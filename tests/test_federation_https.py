"""The daemon listens over HTTPS with `--listen ssl:PORT:privateKey=KEY:certKey=CERT` (Twisted strports, which
need pyOpenSSL and service-identity), as federating instances do in the acceptance check."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request

from .test_daemon import WAIT, Daemon, clean_env, daemons, free_port, tmp_path  # noqa: F401 (fixtures)
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
    # plain HTTP on the TLS port gets no answer
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health/", timeout=5):
            raise AssertionError("plain HTTP was answered on the TLS port")
    except (OSError, urllib.error.URLError):
        pass
