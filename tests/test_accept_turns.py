"""A listener several web processes share takes one connection per turn of its reactor, then waits a little per
connection it holds (web/processes.take_turns), so connections opened together are shared between the processes."""

from __future__ import annotations

import socket

from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock

from funkwhale.web.processes import ACCEPT_PAUSE, take_turns


def test_a_shared_listener_accepts_one_connection_per_turn_and_waits_longer_the_more_it_holds():
    built: list[Protocol] = []

    class Counting(Factory):
        def buildProtocol(self, addr):
            built.append(Protocol())
            return built[-1]

    port = reactor.listenTCP(0, Counting(), interface="127.0.0.1")
    clock, clients = Clock(), []
    try:
        take_turns(port, clock)
        for _ in range(3):  # queued by the kernel before the reactor looks
            clients.append(socket.create_connection(("127.0.0.1", port.getHost().port)))
        port.doRead()  # one turn of the reactor on the listener
        assert len(built) == 1
        assert port not in reactor.getReaders(), "it leaves the next connection to the other processes a while"
        clock.advance(ACCEPT_PAUSE)
        assert port in reactor.getReaders()
        port.doRead()
        assert len(built) == 2
        clock.advance(ACCEPT_PAUSE)
        assert port not in reactor.getReaders(), "holding two, it waits twice as long"
        clock.advance(ACCEPT_PAUSE)
        assert port in reactor.getReaders()
    finally:
        for client in clients:
            client.close()
        for protocol in built:
            protocol.transport.abortConnection()
        port.stopListening()
