"""Sending e-mail: one-time codes and signing links, over SMTP (settings ``smtp_url``,
``smtp_from``).

``smtp_url`` is ``smtp://[user:password@]host[:port]`` (plain, port 25 by default; AUTH when
credentials are given) or ``smtp+starttls://…`` (STARTTLS, port 587 by default, the server's
certificate checked against the system's roots) or ``smtps://…`` (implicit TLS, port 465).
Each message is one real SMTP conversation, in a worker thread (``smtplib``). With no
``smtp_url`` the message is written to the service log marked as development only — what a
developer reads the code from; never configure a production service like that.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from sealtrail.api.context import in_thread
from sealtrail.core.errors import ConfigError, SealtrailError

log = logging.getLogger("sealtrail.mail")
DEFAULT_FROM = "sealtrail@localhost"
TIMEOUT = 20.0


class MailError(SealtrailError):
    """The SMTP server refused the message or could not be reached."""

    code = "mail_unavailable"


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send (parsed from ``smtp_url``)."""

    host: str
    port: int
    security: str  # plain, starttls, tls
    user: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp_url`` as a target; ConfigError for anything else."""
    parts = urlsplit(url)
    defaults = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}
    if parts.scheme not in defaults or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(
            "smtp_url: want smtp://, smtp+starttls:// or smtps://[user:pass@]host[:port]"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("smtp_url: bad port") from None
    security, default_port = defaults[parts.scheme]
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return SmtpTarget(parts.hostname, port or default_port, security, user, password)


@dataclass(frozen=True)
class Mailer:
    """Sends messages to ``target`` from ``sender`` (``target`` None: to the log)."""

    target: SmtpTarget | None
    sender: str = DEFAULT_FROM

    def _send(self, msg: EmailMessage) -> None:
        t = self.target
        assert t is not None
        try:
            if t.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    t.host, t.port, timeout=TIMEOUT, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(t.host, t.port, timeout=TIMEOUT)
            with smtp:
                if t.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if t.user is not None:
                    smtp.login(t.user, t.password or "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as e:
            raise MailError(f"the mail server did not take the message: {type(e).__name__}") from e

    async def send(self, to: str, subject: str, body: str) -> None:
        """Send one plain-text message to ``to``."""
        if self.target is None:
            log.warning(
                "DEVELOPMENT ONLY (no smtp_url set): mail to %s, subject %r:\n%s", to, subject, body
            )
            return
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or "localhost")
        msg.set_content(body)
        await in_thread(lambda: self._send(msg))


def mailer(smtp_url: str | None, smtp_from: str | None) -> Mailer:
    """The mailer the settings describe."""
    target = None if not smtp_url else parse_smtp_url(smtp_url)
    return Mailer(target, smtp_from or DEFAULT_FROM)
