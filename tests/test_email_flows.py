"""Password reset, e-mail change and verification over HTTP, with mail through the console backend (the logged
message) and through SMTP (a Twisted SMTP server in the test process)."""

from __future__ import annotations

import dataclasses
import email
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_twisted
from twisted.internet import defer, reactor
from twisted.logger import globalLogPublisher
from twisted.mail import smtp
from zope.interface import implementer

from funkwhale.users import email_flows

from . import factories
from .conftest import start_server

RESET = "/api/v1/auth/password/reset/"
CONFIRM = "/api/v1/auth/password/reset/confirm/"
NEW = "another good secret"


class Outbox:
    """The messages the console backend logs while active (`with Outbox() as sent:`)."""

    def __init__(self) -> None:
        self.sent: list[email.message.Message] = []

    def _observe(self, event: dict) -> None:
        if "email" in event:
            self.sent.append(email.message_from_string(event["email"]))

    def __enter__(self) -> list[email.message.Message]:
        globalLogPublisher.addObserver(self._observe)
        return self.sent

    def __exit__(self, *exc: Any) -> None:
        globalLogPublisher.removeObserver(self._observe)


def reset_link(message: email.message.Message) -> tuple[str, str]:
    text = message.get_payload(decode=True).decode()
    found = re.search(r"/auth/password/reset/confirm\?uid=([\w-]+)&token=([\w-]+)", text)
    assert found, text
    return found.group(1), found.group(2)


def user_row(db_conn, username: str) -> dict:
    with db_conn.cursor() as cur:
        cur.execute("SELECT id, password, secret_key::text, email FROM users WHERE username = %s", (username,))
        return cur.fetchone()


def sessions(db_conn, user_id: int) -> int:
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM session WHERE user_id = %s", (user_id,))
        return cur.fetchone()["n"]


@pytest_twisted.ensureDeferred
async def test_a_password_reset_link_works_once(client, db_conn, server):
    alice = factories.insert_user(db_conn, "alice")
    factories.insert_session(db_conn, alice["id"])
    with Outbox() as sent:
        resp = await client.post(RESET, json_body={"email": "ALICE@example.org"})
        assert resp.code == 200 and resp.json == {"detail": "Password reset e-mail has been sent."}, resp
        nobody = await client.post(RESET, json_body={"email": "nobody@example.org"})
        assert nobody.code == 200 and nobody.json == resp.json, "no account is revealed"
    assert (await client.post(RESET, json_body={"email": "not an address"})).code == 400
    assert len(sent) == 1 and sent[0]["To"] == "alice@example.org"
    uid, token = reset_link(sent[0])

    form = {"uid": uid, "token": token, "new_password1": NEW, "new_password2": NEW}
    resp = await client.post(CONFIRM, json_body={**form, "token": token[:-1] + "x"})
    assert resp.code == 400 and resp.json.get("token") == ["Invalid value"], resp
    resp = await client.post(CONFIRM, json_body={**form, "new_password2": "something else"})
    assert resp.code == 400 and "new_password2" in resp.json, resp
    before = user_row(db_conn, "alice")
    resp = await client.post(CONFIRM, json_body=form)
    assert resp.code == 200, resp
    after = user_row(db_conn, "alice")
    assert after["password"] != before["password"] and after["secret_key"] != before["secret_key"]
    assert sessions(db_conn, alice["id"]) == 0, "every session ended"
    await client.login("alice", NEW)

    resp = await client.post(
        CONFIRM, json_body={**form, "new_password1": "a third secret", "new_password2": "a third secret"}
    )
    assert resp.code == 400 and resp.json["token"] == ["Invalid value"], "a used token is dead"

    row = user_row(db_conn, "alice")
    old = email_flows.reset_token(server.ctx.settings, row, datetime.now(UTC) - timedelta(days=3, minutes=1))
    resp = await client.post(CONFIRM, json_body={**form, "token": old})
    assert resp.code == 400 and resp.json["token"] == ["Invalid value"], "an expired token is dead"
    fresh = email_flows.reset_token(server.ctx.settings, row)
    assert (await client.post(CONFIRM, json_body={**form, "token": fresh})).code == 200


@pytest_twisted.ensureDeferred
async def test_change_email_checks_the_password_and_tells_the_old_address(client, db_conn):
    factories.insert_user(db_conn, "alice")
    factories.insert_user(db_conn, "bob")
    await client.login("alice", "password-1234")
    path = "/api/v1/users/change-email/"
    resp = await client.post(path, json_body={"password": "wrong-pass", "email": "new@example.org"})
    assert resp.code == 400 and resp.json["password"] == ["Invalid password"], resp
    resp = await client.post(path, json_body={"password": "password-1234", "email": "BOB@example.org"})
    assert resp.code == 400 and "email" in resp.json, resp
    with Outbox() as sent:
        resp = await client.post(path, json_body={"password": "password-1234", "email": "new@example.org"})
        assert resp.code == 204, resp
    assert user_row(db_conn, "alice")["email"] == "new@example.org"
    assert [m["To"] for m in sent] == ["alice@example.org"] and "new@example.org" in sent[0].get_payload(
        decode=True
    ).decode()


@pytest_twisted.ensureDeferred
async def test_verify_email_answers_as_for_a_verified_address(client):
    resp = await client.post("/api/v1/auth/registration/verify-email/", json_body={"key": "anything"})
    assert resp.code == 200 and resp.json == {"detail": "ok"}, resp
    resp = await client.post("/api/v1/auth/registration/verify-email/", json_body={})
    assert resp.code == 400 and resp.json["key"] == ["This field is required."], resp


@implementer(smtp.IMessage)
class _Message:
    def __init__(self, inbox: _Inbox) -> None:
        self.inbox, self.lines = inbox, []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)

    def eomReceived(self) -> defer.Deferred:
        self.inbox.received.callback(email.message_from_bytes(b"\n".join(self.lines)))
        return defer.succeed(None)

    def connectionLost(self) -> None:
        pass


@implementer(smtp.IMessageDelivery)
class _Inbox:
    def __init__(self) -> None:
        self.received: defer.Deferred = defer.Deferred()
        self.recipients: list[str] = []

    def receivedHeader(self, helo, origin, recipients) -> bytes:
        return b"Received: by the test server"

    def validateFrom(self, helo, origin):
        return origin

    def validateTo(self, user):
        self.recipients.append(str(user.dest))
        return lambda: _Message(self)


class _Server(smtp.SMTPFactory):
    def __init__(self, inbox: _Inbox) -> None:
        super().__init__()
        self.inbox = inbox

    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.delivery = self.inbox
        return protocol


@pytest_twisted.ensureDeferred
async def test_a_reset_goes_out_through_smtp(settings, db_conn):
    inbox = _Inbox()
    port = reactor.listenTCP(0, _Server(inbox), interface="127.0.0.1")
    url = f"smtp://127.0.0.1:{port.getHost().port}?from=music@example.net"
    running = await start_server(dataclasses.replace(settings, email_url=url))
    try:
        factories.insert_user(db_conn, "alice")
        resp = await running.client().post(RESET, json_body={"email": "alice@example.org"})
        assert resp.code == 200, resp
        message = await inbox.received.addTimeout(60, reactor)  # a guard against a hang, not a measure
    finally:
        await running.service.stopService()
        await port.stopListening()
    assert inbox.recipients == ["alice@example.org"]
    assert message["From"] == "music@example.net" and message["Subject"] == "Password reset"
    uid, _ = reset_link(message)
    assert uid == email_flows.encode_uid(user_row(db_conn, "alice")["id"])
