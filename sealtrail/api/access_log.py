"""The access log and the log's format (``log_format``: ``text`` or ``json``).

One access-log line per request (logger ``sealtrail.access``), written when its response is
done: request id, method, path, status, duration, client address (the real one:
:mod:`sealtrail.api.proxy` ran first). What is never written: the query string (it may carry a
key or a code), any header (``Authorization`` among them), a body, and a path segment a route
names ``token``, ``code``, ``secret`` or ``key`` (shown as ``*``), and the segment after
``/sign/`` or ``/v1/sign/`` (a signing link's token) whatever route matched. Paths are cut at
:data:`MAX_PATH` characters; the text format escapes control characters, so a request cannot
forge a line.

Every other record logged while a request is handled carries its request id too (a context
variable read by :class:`RequestIdFilter`), so a warning is found from the client's
``X-Request-Id``.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from sealtrail.api.proxy import REQUEST_ID_KEY

access = logging.getLogger("sealtrail.access")
#: the request id of the request being handled, "-" outside one
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "sealtrail_request_id", default="-"
)
#: dynamic route segments never written
SECRET_SEGMENTS = frozenset({"token", "code", "secret", "key"})
MAX_PATH = 512
#: a record's attributes the access log sets (``extra=``), in the order JSON lines show them
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "client")


class RequestIdFilter(logging.Filter):
    """Gives every record a ``request_id`` (the current request's, or ``-``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, RFC 3339), ``level``, ``logger``, ``message``,
    ``request_id``, the access fields when present, and ``error`` (a traceback) if any."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                obj[name] = getattr(record, name)
        if record.exc_info:
            obj["error"] = self.formatException(record.exc_info)
        return orjson.dumps(obj, default=str).decode()


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def configure_logging(log_format: str, *, stream: Any = None) -> None:
    """Set the root logger up for ``log_format`` (``text`` or ``json``) at INFO, on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _printable(s: str) -> str:
    """``s`` with control characters (and backslashes) escaped, cut at MAX_PATH."""
    if len(s) > MAX_PATH:
        s = s[:MAX_PATH] + "…"
    if s.isprintable() and "\\" not in s:
        return s
    return s.encode("unicode_escape").decode("ascii")


def logged_path(request: web.Request) -> str:
    """The request's path for the log: no query, secret segments replaced by ``*``."""
    path = request.path
    info = request.match_info
    secret = [v for k, v in info.items() if k.lower() in SECRET_SEGMENTS and v]
    if secret:
        parts = path.split("/")
        path = "/".join("*" if p in secret else p for p in parts)
    return _printable(_without_link_token(path))


def _without_link_token(path: str) -> str:
    """A signing link's token blanked even where no route matched (``/sign/<token>/x``)."""
    parts = path.split("/")
    at = 2 if parts[1:2] == ["sign"] else 3 if parts[1:3] == ["v1", "sign"] else 0
    if at and len(parts) > at and parts[at]:
        parts[at] = "*"
    return "/".join(parts)


@web.middleware
async def access_log_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Log the request once its response is done (a 500 if the handler raised)."""
    rid = request.get(REQUEST_ID_KEY, "-")
    token = current_request_id.set(rid if isinstance(rid, str) else "-")
    start = time.perf_counter()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        ms = round((time.perf_counter() - start) * 1000, 1)
        client = request.remote or "-"
        path = logged_path(request)
        access.info(
            '%s "%s %s" %d %.1fms',
            client,
            request.method,
            path,
            status,
            ms,
            extra={
                "method": request.method,
                "path": path,
                "status": status,
                "duration_ms": ms,
                "client": client,
            },
        )
        current_request_id.reset(token)
