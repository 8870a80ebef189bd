"""A listener several web processes share takes one connection per turn of its reactor (web/processes.take_turns),
so connections opened together are shared between the processes."""

from __future__ import annotations

import socket

from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol

from funkwhale.web.processes import take_turns


def test_a_shared_listener_accepts_one_connection_per_turn():
    built: list[Protocol] = []

    class Counting(Factory):
        def buildProtocol(self, addr):
            built.append(Protocol())
            return built[-1]

    port = reactor.listenTCP(0, Counting(), interface="127.0.0.1")
    clients = []
    try:
        take_turns(port)
        for _ in range(3):  # queued by the kernel before the reactor looks
            clients.append(socket.create_connection(("127.0.0.1", port.getHost().port)))
        port.doRead()  # one turn of the reactor on the listener
        assert len(built) == 1
        port.doRead()
        port.doRead()
        assert len(built) == 3
    finally:
        for client in clients:
            client.close()
        for protocol in built:
            protocol.transport.abortConnection()
        port.stopListening()
