"""A real callback receiver for the tests: an aiohttp server on 127.0.0.1 in a loop thread.

It records every request (headers, raw body, arrival and answer times) and answers according to
its current behaviour: a queue of statuses to answer first (then ``status``), a delay before
answering, and ``down()`` / ``up()`` to stop listening and listen again on the same port.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..loop_thread import LoopThread
from ..service import free_port

ANSWER = b'{"received":true}'


@dataclass
class Call:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    arrived: float
    answered: float | None = None
    status: int | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """See the module docstring."""

    port: int = field(default_factory=free_port)
    status: int = 200
    first: list[int] = field(default_factory=list)
    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._loop = LoopThread()
        self._runner: web.AppRunner | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        call = Call({k.lower(): v for k, v in request.headers.items()}, await request.read(),
                    time.monotonic())  # fmt: skip
        with self._lock:
            self.calls.append(call)
            status = self.first.pop(0) if self.first else self.status
            delay = self.delay
        if delay:
            await asyncio.sleep(delay)
        call.answered, call.status = time.monotonic(), status
        return web.Response(status=status, body=ANSWER, content_type="application/json")

    def up(self) -> None:
        async def start() -> web.AppRunner:
            app = web.Application()
            app.router.add_post("/hook", self._handle)
            runner = web.AppRunner(app, shutdown_timeout=0.1)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            return runner

        self._runner = self._loop.run(start())

    def down(self) -> None:
        if self._runner is not None:
            self._loop.run(self._runner.cleanup())
            self._runner = None

    def close(self) -> None:
        self.down()
        self._loop.close()

    def acknowledged(self) -> list[Call]:
        """Calls answered 2xx, in arrival order."""
        with self._lock:
            return [c for c in self.calls if c.status is not None and 200 <= c.status < 300]

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)


def answer_sha256() -> str:
    return hashlib.sha256(ANSWER).hexdigest()
