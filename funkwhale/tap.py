"""twistd funkwhale: options and makeService. Everything that can fail is checked here, before the reactor runs,
so a wrong setting, a database below the latest migration or a taken port ends the start with one line."""

from __future__ import annotations

import gc
import os
from typing import Any

from twisted.application.service import IService, Service
from twisted.python import usage

from funkwhale.config import ROLES


class Options(usage.Options):
    optParameters = [
        ["data-dir", "d", None, "Directory of the embedded servers, media and secrets [FUNKWHALE_DATA_DIR, ./data]"],
        ["listen", "l", None, "strports description [FUNKWHALE_LISTEN, tcp:5000:interface=127.0.0.1]"],
        ["role", "r", None, f"One of {', '.join(ROLES)} [FUNKWHALE_ROLE, all]"],
        ["config", "c", None, "An ini file with a [funkwhale] section [FUNKWHALE_CONFIG]"],
    ]
    # Values are checked in makeService with the environment and the ini file, so that a wrong one ends the start
    # with one line naming it (a UsageError here would print the whole usage text first).


class EmbeddedService(Service):
    """Stops the embedded servers (started in makeService) last, and releases the data-dir lock.

    The stop runs in a daemon thread: if the servers do not stop in time (each step of their stop has its own
    deadline, see embedded.py), the daemon gives up on it without waiting for the thread."""

    name = "embedded"

    def __init__(self, servers: Any, lock: Any) -> None:
        self.servers = servers
        self.lock = lock

    def stopService(self) -> Any:
        from funkwhale.shutdown import in_daemon_thread

        super().stopService()
        d = in_daemon_thread("embedded-stop", self.servers.stop, False)
        d.addBoth(lambda result: (self.lock.release(), result)[1])
        return d


def makeService(options: Options) -> IService:
    from twisted.internet import reactor

    from funkwhale import logs, storage
    from funkwhale.config import ConfigError, ensure_secret_key, load_settings, record_public_address
    from funkwhale.db.schema import DatabaseUnreachable, SchemaOutdated
    from funkwhale.embedded import EmbeddedError
    from funkwhale.service import bind_now, exit_status, make_service
    from funkwhale.shutdown import HARD_DEADLINE, exit_if_stuck, flush_and_exit
    from funkwhale.startup import prepare
    from funkwhale.supervision import follow_supervisor
    from funkwhale.web.processes import LISTEN_FD, adopt_listener

    follow_supervisor(os.environ)
    overrides = {"data_dir": options["data-dir"], "listen": options["listen"], "role": options["role"]}
    servers = lock = None
    try:
        settings = load_settings(os.environ, overrides, options["config"])
        storage.apply_umask(settings)  # before anything is written: the data may be private music
        settings = ensure_secret_key(settings)
        logs.bridge_stdlib()
        settings, servers, lock = prepare(settings, daemon=True)
        record_public_address(settings)
        first = [EmbeddedService(servers, lock)] if servers is not None else []
        inherited = os.environ.get(LISTEN_FD)  # a web child serves the daemon's listener
        bind = adopt_listener(settings.listen, int(inherited)) if inherited else bind_now(settings.listen)
        top, _ = make_service(settings, bind=bind, first=first, adopted=bool(inherited))
        top.log_observer = logs.make_observer(settings.log_format, settings.log_level)
    except (ConfigError, SchemaOutdated, DatabaseUnreachable, EmbeddedError) as e:
        if servers is not None:
            servers.stop(only_started_here=False)
        if lock is not None:
            lock.release()
        raise SystemExit(f"funkwhale: {e}") from None

    def exit_after_shutdown() -> None:
        """A failed start exits with its status; a stop that gave up on a service exits with 1 at once, without
        joining threads that may be stuck (in a query to a server that is gone, say)."""
        if exit_status["code"] or top.gave_up:
            flush_and_exit(exit_status["code"] or 1)

    reactor.addSystemEventTrigger("before", "shutdown", exit_if_stuck, HARD_DEADLINE, lambda: top.stopping)
    reactor.addSystemEventTrigger("after", "shutdown", exit_after_shutdown)
    _tune_collector()
    return top


# Young objects the collector lets pile up before a collection; Python's default is 700. A catalog page allocates
# tens of thousands (rows, JSON pieces), nearly all freed by reference counting: at 700 every request paid for
# dozens of collections (0.4 ms of a tracks page's 3.1 ms of daemon CPU on 2 cores, bench/browse.py).
GC_YOUNG_THRESHOLD = 20_000


def _tune_collector() -> None:
    """What the start made (modules, routes, settings) lives as long as the process: frozen out of the collector's
    generations, so a full collection no longer walks it; and fewer young collections per request."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
