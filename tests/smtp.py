"""A real SMTP server for tests (aiosmtpd on a free local port) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Inbox:
    """Messages received, in order; ``port`` to point ``smtp_url`` at."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, address: str, count: int, timeout: float = 10) -> list[EmailMessage]:
        """The first ``count`` messages to ``address`` (waits for them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.to(address)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{count} mails to {address} did not arrive: {self.messages}")

    def last_code(self, address: str, count: int) -> str:
        """The six-digit code in the ``count``-th mail to ``address``."""
        msg = self.wait_for(address, count)[count - 1]
        body = msg.get_body(("plain",))
        assert body is not None
        m = re.search(r"\b(\d{6})\b", body.get_content())
        assert m, body.get_content()
        return m.group(1)


class _Handler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.inbox.messages.append(msg)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    """A running SMTP server on 127.0.0.1 (a free port), stopped at exit."""
    from .integration.service import free_port

    inbox = Inbox(free_port())
    controller = Controller(_Handler(inbox), hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
