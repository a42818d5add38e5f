"""Slow and ambiguous requests: read timeouts (408), a cap on idle keep-alive connections, and
credential headers given twice (400).

aiohttp waits for a request's headers and body as long as a client cares to dribble them (its
only guard is a keep-alive timer of an hour), so a few clients could hold every connection. Two
layers close that:

* **The connection** (:class:`GuardedServer`, :class:`GuardedRunner`): the first byte of a
  request — or, on a new connection, the connection itself — starts a ``header_timeout`` clock;
  headers not complete by then are answered ``408`` (problem+json, ``Connection: close``) and
  the connection closed. Between requests, a keep-alive connection that sends nothing for
  ``keepalive_timeout`` is closed silently (a 408 there could cross a request the client is
  sending at that moment, RFC 9112 §9.5). At most ``max_idle_connections`` connections may wait
  idle; a new connection beyond that closes the longest idle one.
* **The request** (:func:`guard_middleware`): a body declared (``Content-Length`` or chunked)
  but not complete ``body_timeout`` seconds after its headers is answered ``408`` and the
  connection closed; credential headers (:data:`SINGLE_HEADERS`) given more than once are
  refused with ``400 duplicate_header`` before anything reads them — never one silently chosen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestHandler

from sealtrail.api.error_codes import http_status_for
from sealtrail.api.errors import DuplicateHeaderError as DuplicateHeaderError
from sealtrail.api.errors import RequestTimeoutError as RequestTimeoutError
from sealtrail.api.errors import problem
from sealtrail.core.errors import SealtrailError

log = logging.getLogger("sealtrail.api")

#: Headers that must appear at most once: credentials, and the idempotency key (which request
#: a retry repeats). A second copy makes the request ambiguous: refused, never one chosen.
SINGLE_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie", "X-API-Key", "Idempotency-Key")


@dataclass(frozen=True)
class ReadLimits:
    """How long a client may take, and how many idle connections may wait (settings)."""

    header_timeout: float = 5.0
    body_timeout: float = 60.0
    keepalive_timeout: float = 15.0
    max_idle_connections: int = 256


def _problem_bytes(err: SealtrailError) -> bytes:
    status = http_status_for(err)
    body = orjson.dumps(
        {
            "type": f"https://sealtrail.dev/problems/{err.code}",
            "title": err.code.replace("_", " "),
            "status": status,
            "detail": str(err),
        }
    )
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection protocol with a header read timeout and an idle marker.

    Relies on two internals of aiohttp's ``RequestHandler`` (pinned by constraints.txt, and
    covered by tests/integration/api/test_slow_requests.py): ``_waiter`` is a pending future
    exactly while it waits for a request's headers, ``_messages`` holds parsed requests.
    """

    def __init__(self, manager: GuardedServer, *, limits: ReadLimits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.limits = limits
        self._header_timer: asyncio.TimerHandle | None = None
        self._partial = False  # bytes of a request whose headers are not complete yet
        self.last_active = 0.0

    # -- state ---------------------------------------------------------------------------

    def waiting_for_headers(self) -> bool:
        """True while no request is being handled and none is queued."""
        waiter = self._waiter
        return (
            waiter is not None
            and not waiter.done()
            and not self._messages
            and not self._force_close
            and not self._close
        )

    def close_after_response(self) -> None:
        """Close right after the response being written, without first reading and discarding
        the rest of a request body (aiohttp lingers up to 10 s for it): the body is late."""
        self._lingering_time = 0.0

    def idle(self) -> bool:
        """Waiting for a request, with none of its bytes received."""
        return self.waiting_for_headers() and not self._partial

    # -- protocol hooks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.last_active = self._loop.time()
        self._arm()  # a connection must send its first request's headers in time
        server = self._manager
        if isinstance(server, GuardedServer):
            server.cap_idle(self)

    def data_received(self, data: bytes) -> None:
        self.last_active = self._loop.time()
        super().data_received(data)
        if self._messages or (self._waiter is not None and self._waiter.done()):
            self._partial = False  # headers complete: the request is the handler's now
            self._disarm()
        elif data:
            self._partial = True
            if self._header_timer is None:
                self._arm()  # the first byte of a request on a kept-alive connection

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- the header timer ----------------------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self._loop.call_later(self.limits.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.waiting_for_headers() or self.transport is None:
            return  # a request is being handled: the body clock is the middleware's
        err = RequestTimeoutError(
            f"request headers not received within {self.limits.header_timeout:g} s"
        )
        log.info("closing a connection: %s", err)
        self.transport.write(_problem_bytes(err))
        self.force_close()


class GuardedServer(web.Server):
    """aiohttp's low-level server, making :class:`GuardedRequestHandler` connections."""

    def __init__(self, *args: Any, limits: ReadLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, limits=self.limits, loop=self._loop, **self._kwargs)

    def cap_idle(self, new: GuardedRequestHandler) -> None:
        """Close the longest idle connections while more than ``max_idle_connections`` wait."""
        idle = [
            h
            for h in self.connections
            if isinstance(h, GuardedRequestHandler) and h is not new and h.idle()
        ]
        excess = len(idle) + 1 - self.limits.max_idle_connections
        if excess <= 0:
            return
        idle.sort(key=lambda h: h.last_active)
        for h in idle[:excess]:
            h.force_close()
        log.info("closed %d idle connection(s): more than %d waited", excess, len(idle))


class GuardedRunner(web.AppRunner):
    """``web.AppRunner`` serving through :class:`GuardedServer`."""

    def __init__(self, app: web.Application, limits: ReadLimits, **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=limits.keepalive_timeout, **kwargs)
        self.limits = limits

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()  # starts the app, builds aiohttp's Server
        return GuardedServer(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            loop=base._loop,
            limits=self.limits,
            **base._kwargs,
        )


def guard_middleware(limits: ReadLimits) -> Middleware:
    """The middleware refusing duplicated credential headers and bodies that arrive too late."""

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        for name in SINGLE_HEADERS:
            if len(request.headers.getall(name, ())) > 1:
                return _refuse(request, DuplicateHeaderError(f"header {name} given more than once"))
        if request.content.is_eof():
            return await handler(request)  # no body, or all of it already here
        # The body is still arriving: the handler may run (and read it) under a deadline that
        # only fires if the body is still incomplete by then; a handler working on a complete
        # body is never cut short.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.body_timeout
        try:
            async with asyncio.timeout(None) as scope:

                def check() -> None:
                    if not request.content.is_eof():
                        scope.reschedule(loop.time())

                timer = loop.call_at(deadline, check)
                try:
                    return await handler(request)
                finally:
                    timer.cancel()
        except TimeoutError:
            return _refuse(
                request,
                RequestTimeoutError(f"request body not received within {limits.body_timeout:g} s"),
            )

    return guard


def _refuse(request: web.Request, err: SealtrailError) -> web.Response:
    """``err`` as problem+json; the connection is closed after it (what is left of the request
    cannot be told apart from the next one)."""
    resp = problem(http_status_for(err), err.code, str(err))
    resp.force_close()
    if isinstance(request.protocol, GuardedRequestHandler):
        request.protocol.close_after_response()
    log.info("refused a request: %s", err)
    return resp


__all__ = [
    "SINGLE_HEADERS",
    "DuplicateHeaderError",
    "GuardedRunner",
    "GuardedServer",
    "ReadLimits",
    "RequestTimeoutError",
    "guard_middleware",
]
