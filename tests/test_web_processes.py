"""FUNKWHALE_WEB_PROCESSES: several reactors serve the daemon's one listener.

Which process answers a connection is the kernel's choice; to know, a test stops (SIGSTOP) every process but one:
only that one can accept, so a 200 is its answer."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import stat
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from twisted.internet import reactor
from twisted.internet.endpoints import serverFromString
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThread
from twisted.web.resource import Resource
from twisted.web.server import Site

from funkwhale.config import ConfigError, Settings, load_settings, pool_size
from funkwhale.web.processes import WebProcesses, adopt_listener

from .test_daemon import Daemon, assert_no_orphans, clean_env, daemons, get, wait_for  # noqa: F401
from .test_worker_pool import alive, scratch  # noqa: F401 (fixture)
from .tls_helpers import make_pki

READY = re.compile(r"web process (\d+) is ready")
TOKEN = "metrics-token-of-the-test"
HEALTH_COUNT = re.compile(r'^funkwhale_http_requests_total\{[^}]*route="/api/v1/health[^}]*\} (\S+)$', re.M)


@contextmanager
def only(daemon: Daemon, pid: int) -> Iterator[None]:
    """While inside, every web process of `daemon` but `pid` is stopped (SIGSTOP), so `pid` takes the connections."""
    others = {daemon.proc.pid, *web_children(daemon)} - {pid}
    for other in others:
        os.kill(other, signal.SIGSTOP)
    try:
        yield
    finally:
        for other in others:
            os.kill(other, signal.SIGCONT)


def web_children(daemon: Daemon) -> list[int]:
    """The web children of `daemon` that said they are ready, newest last."""
    return [int(pid) for pid in READY.findall(daemon.output()) if alive(int(pid))]


def health_requests(daemon: Daemon) -> float:
    """The health requests /metrics counts."""
    request = urllib.request.Request(daemon.base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return sum(float(n) for n in HEALTH_COUNT.findall(resp.read().decode()))


def test_two_web_processes_answer_survive_a_killed_child_and_stop_cleanly(scratch, daemons):  # noqa: F811
    env = clean_env(
        FUNKWHALE_WEB_PROCESSES="2",
        FUNKWHALE_WORKER_PROCESSES="0",
        FUNKWHALE_METRICS="true",
        FUNKWHALE_METRICS_TOKEN=TOKEN,
    )
    daemon = Daemon(scratch / "data", env=env)
    daemons.append(daemon)
    daemon.wait_ready()
    wait_for(lambda: web_children(daemon), "the web child")
    [child] = web_children(daemon)
    health = daemon.base + "/api/v1/health/"
    for pid in (daemon.proc.pid, child):  # each process answers alone
        with only(daemon, pid):
            assert get(health)[0] == 200
    counted = []
    for pid in (daemon.proc.pid, child):  # each process's scrape counts every process's requests
        with only(daemon, pid):
            counted.append(health_requests(daemon))
    assert counted[0] == counted[1] >= 2

    os.kill(child, signal.SIGKILL)
    assert get(health)[0] == 200  # the daemon serves while the child is replaced
    wait_for(lambda: web_children(daemon) not in ([], [child]), "a new web child")
    [replacement] = web_children(daemon)
    with only(daemon, replacement):
        assert get(health)[0] == 200
    assert re.search(rf"web: web-1 \(pid {child}\) exited unexpectedly .*; restarting it", daemon.output())

    assert daemon.stop() == -signal.SIGTERM
    assert not alive(replacement)
    assert "Traceback" not in daemon.output()
    assert_no_orphans(scratch)


class _Says(Resource):
    isLeaf = True

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def render_GET(self, request: object) -> bytes:
        return self.body


def _fetch(connect: Callable[[], socket.socket]) -> bytes:
    """The body of `GET /` over the connection `connect` opens."""
    with connect() as conn:
        conn.sendall(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("kind", ["unix", "ssl"])
async def test_an_adopted_listener_serves_the_same_socket_and_leaves_it_to_its_owner(kind, scratch):  # noqa: F811
    if kind == "unix":
        path = scratch / "web.sock"
        listen = f"unix:{path}:mode=600"

        def connect() -> socket.socket:
            conn = socket.socket(socket.AF_UNIX)
            conn.connect(str(path))
            return conn
    else:
        pki = make_pki(scratch / "pki")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            number = s.getsockname()[1]
        listen = f"ssl:{number}:interface=127.0.0.1:privateKey={pki.key}:certKey={pki.cert}"
        context = ssl.create_default_context(cafile=str(pki.ca))

        def connect() -> socket.socket:
            return context.wrap_socket(socket.create_connection(("127.0.0.1", number)), server_hostname="127.0.0.1")

    owner = await serverFromString(reactor, listen).listen(Site(_Says(b"owner")))
    adopted = adopt_listener(listen, os.dup(owner.fileno()))(Site(_Says(b"adopted")))
    try:
        if kind == "unix":  # the owner's mode is kept
            assert stat.S_IMODE((await deferToThread(os.stat, path)).st_mode) == 0o600
        owner.stopReading()  # only the adopted port accepts
        assert await deferToThread(_fetch, connect) == b"adopted"
        owner.startReading()
        await adopted.stopListening()
        assert await deferToThread(_fetch, connect) == b"owner"  # a Unix socket's path is still there
    finally:
        if adopted.connected:
            await adopted.stopListening()
        await owner.stopListening()


def test_web_processes_default_to_the_cores_and_are_checked():
    assert load_settings({}).web_processes == (os.cpu_count() or 1)
    assert load_settings({"FUNKWHALE_WEB_PROCESSES": "0"}).web_processes == 0
    assert Settings().web_processes == 1  # built in-process (the tests' servers): this process serves alone
    for bad in ("-1", "two"):
        with pytest.raises(ConfigError, match="FUNKWHALE_WEB_PROCESSES"):
            load_settings({"FUNKWHALE_WEB_PROCESSES": bad})


class _Listener:
    """A listening port as WebProcesses reads it before starting anything: its descriptor."""

    def fileno(self) -> int:
        return 0


def test_web_processes_share_two_connections_per_core(monkeypatch):
    """Unset, a process serving only the web gets 2 x cores over the web processes (at least 2), its children the
    same share, the others 4; FUNKWHALE_DB_POOL_SIZE wins."""
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    web = load_settings({"FUNKWHALE_ROLE": "web", "FUNKWHALE_WEB_PROCESSES": "4"})
    assert pool_size(web) == 2
    assert pool_size(load_settings({"FUNKWHALE_ROLE": "web", "FUNKWHALE_WEB_PROCESSES": "1"})) == 8
    assert pool_size(load_settings({"FUNKWHALE_ROLE": "web", "FUNKWHALE_WEB_PROCESSES": "16"})) == 2
    everything = load_settings({"FUNKWHALE_WEB_PROCESSES": "4"})
    assert pool_size(everything) == 4 and pool_size(load_settings({"FUNKWHALE_ROLE": "worker"})) == 4
    assert pool_size(load_settings({"FUNKWHALE_ROLE": "web", "FUNKWHALE_DB_POOL_SIZE": "6"})) == 6
    for parent in (web, everything):  # the children are told their share: each has web_processes=1
        child = load_settings(WebProcesses(parent, _Listener(), Clock()).env)
        assert child.role == "web" and child.web_processes == 1 and pool_size(child) == 2
