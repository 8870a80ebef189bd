"""Blocking work runs in two pools: a burst of CPU work (imports, pictures, passwords) never holds up the file
reads of a listener being served."""

from __future__ import annotations

import threading

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults

from funkwhale import threads

from .playback_helpers import add_playable, owner_with_library, raw_request, session


@pytest_twisted.ensureDeferred
async def test_a_listener_is_served_while_every_cpu_thread_is_busy(server, db_conn, settings):
    user, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "mp3")
    release = threading.Event()
    busy = [Deferred.fromCoroutine(threads.run_cpu(release.wait, 60)) for _ in range(settings.cpu_threads * 3)]
    try:
        served = Deferred.fromCoroutine(raw_request(server.base, "GET", song.url, session(db_conn, user)))
        response = await served.addTimeout(20, reactor)  # behind the CPU burst it would wait the full minute
        assert response.status == 200 and response.body == song.path.read_bytes()
    finally:
        release.set()
        await gatherResults(busy)
