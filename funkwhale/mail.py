"""Outgoing e-mail (password resets, e-mail change notices), configured by FUNKWHALE_EMAIL_URL:

- `console://` (the default): the message is logged whole, as Django's console backend prints it;
- `smtp://[user:password@]host[:port][?tls=true]`: sent with Twisted's non-blocking SMTP client (STARTTLS when
  the server offers it, required with `tls=true`; port 25 by default).

`?from=address` sets the sender (default `noreply@<FUNKWHALE_HOSTNAME's domain>`). Messages are sent in the
background: a failure is logged, never shown to the caller (whose answer must not depend on an address).
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.mail.smtp import sendmail

from funkwhale.config import Settings

log = Logger()
SCHEMES = ("console", "smtp")


def sender(settings: Settings) -> str:
    options = parse_qs(urlsplit(settings.email_url).query)
    return options.get("from", [f"noreply@{settings.domain}"])[0]


def build(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender(settings)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.domain)
    message.set_content(body)
    return message


def send(settings: Settings, reactor: Any, to: str, subject: str, body: str) -> Deferred[Any]:
    """Send one plain-text message through the configured backend; fires once handed over."""
    message = build(settings, to, subject, body)
    url = urlsplit(settings.email_url)
    if url.scheme == "console":
        log.info("e-mail:\n{email}\n{rule}", email=message.as_string(), rule="-" * 79)
        return succeed(None)
    options = parse_qs(url.query)
    username = unquote(url.username) if url.username else None
    return sendmail(
        url.hostname or "localhost",
        message["From"],
        [to],
        message.as_bytes(),
        senderDomainName=settings.domain,
        port=url.port or 25,
        reactor=reactor,
        username=username,
        password=unquote(url.password) if url.password else None,
        requireAuthentication=username is not None,
        requireTransportSecurity=options.get("tls", ["false"])[0].lower() in ("1", "true", "yes"),
    )


def send_in_background(settings: Settings, reactor: Any, to: str, subject: str, body: str) -> None:
    """`send`, without waiting: a failure is logged."""
    send(settings, reactor, to, subject, body).addErrback(lambda f: log.failure("e-mail to {to} not sent", f, to=to))
