"""What handlers share: the app's services under typed keys, auth, and strict request parsing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sealtrail.api.checkpointing import Sealer
from sealtrail.api.directory import Principal, authenticate
from sealtrail.api.errors import (
    ForbiddenError,
    PayloadTooLargeError,
    RateLimitedError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
)
from sealtrail.api.proxy import rate_key
from sealtrail.api.settings import Settings
from sealtrail.backend import Stores
from sealtrail.core import strictjson
from sealtrail.core.errors import InvalidInputError, NotFoundError
from sealtrail.ledger.log import Ledger

T = TypeVar("T")


class Metrics:
    """The service's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "sealtrail_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "sealtrail_http_request_seconds", "HTTP request latency", ["route"], registry=r
        )
        self.appended = Counter("sealtrail_events_appended", "Events appended", registry=r)
        self.log_size = Gauge("sealtrail_log_size", "Events in the log", registry=r)
        self.checkpoint_size = Gauge(
            "sealtrail_checkpoint_size", "Size of the latest checkpoint", registry=r
        )
        self.unsealed = Gauge(
            "sealtrail_unsealed_events", "Events not yet in a checkpoint", registry=r
        )
        self.sealed = Counter("sealtrail_checkpoints_sealed", "Checkpoints sealed", registry=r)
        self.sequencer = Gauge(
            "sealtrail_sequencer",
            "1 while this worker holds the sequencer lease (exactly one worker should)",
            registry=r,
        )
        self.lease_epoch = Gauge(
            "sealtrail_sequencer_lease_epoch",
            "Epoch of the sequencer lease this worker holds (0: none)",
            registry=r,
        )
        self.tsa_failures = Counter(
            "sealtrail_tsa_failures", "Timestamp attempts that got no valid token", registry=r
        )
        self.timestamps_pending = Gauge(
            "sealtrail_timestamps_pending", "Checkpoints still waiting for a timestamp", registry=r
        )
        self.renewals = Counter(
            "sealtrail_timestamp_renewals", "Checkpoint timestamp chains renewed", registry=r
        )
        self.renewal_failures = Counter(
            "sealtrail_timestamp_renewal_failures",
            "Renewal attempts that got no valid token, or chains that no longer verify",
            registry=r,
        )
        self.renewals_late = Counter(
            "sealtrail_timestamp_renewals_late",
            "Renewals dated after the last certificate expired (not stored: evidence lost)",
            registry=r,
        )
        self.renewals_due = Gauge(
            "sealtrail_timestamp_renewals_due",
            "Chains due for renewal that the last run could not renew",
            registry=r,
        )
        self.renewal_expiry = Gauge(
            "sealtrail_timestamp_chain_expiry_seconds",
            "Seconds until the earliest expiry of a chain's last TSA certificate (0: none)",
            registry=r,
        )
        self.archive_renewals = Counter(
            "sealtrail_archive_renewals",
            "Completed envelopes' PDFs whose archive timestamp was renewed",
            registry=r,
        )
        self.archive_renewal_failures = Counter(
            "sealtrail_archive_renewal_failures",
            "Archive timestamp renewals of envelopes' PDFs that failed (retried next round)",
            registry=r,
        )
        self.archive_renewals_due = Gauge(
            "sealtrail_archive_renewals_due",
            "Completed envelopes found due for an archive renewal in the last round",
            registry=r,
        )
        self.anchors_pending = Gauge(
            "sealtrail_anchors_pending", "Checkpoints not yet anchored final", registry=r
        )
        self.anchor_lag = Gauge(
            "sealtrail_anchor_lag_seconds",
            "Age of the oldest checkpoint not yet anchored final (0: none)",
            registry=r,
        )
        self.anchored_size = Gauge(
            "sealtrail_anchored_size", "Size of the latest checkpoint anchored final", registry=r
        )
        self.anchor_gas = Counter(
            "sealtrail_anchor_gas_used", "Gas used by anchoring transactions", registry=r
        )
        self.anchor_fees = Counter(
            "sealtrail_anchor_fees_wei", "Fees paid for anchoring transactions (wei)", registry=r
        )
        self.anchor_events = Counter(
            "sealtrail_anchor_events",
            "Anchoring events: sent, replaced, resent, reorg, nonce_conflict, adopted, final",
            ["event"],
            registry=r,
        )
        self.anchor_failures = Counter(
            "sealtrail_anchor_failures", "Failed anchoring attempts by error code", ["code"],
            registry=r,
        )  # fmt: skip
        self.anchor_insufficient_funds = Gauge(
            "sealtrail_anchor_insufficient_funds",
            "1 while the anchoring account cannot pay for transactions (alert)",
            registry=r,
        )


class RateLimiter:
    """A token bucket per client: ``rate`` requests per minute, bursts up to ``rate``.

    ``client`` is ``request.remote``: the real client behind trusted proxies
    (:mod:`sealtrail.api.proxy`), bucketed by :func:`~sealtrail.api.proxy.rate_key` (an IPv6
    client by its /64). The buckets live in this worker's memory: with N workers a client may
    make up to N times ``rate`` (docs/OPERATIONS.md §13 says why they are not shared).
    """

    def __init__(self, rate_per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(rate_per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, client: str) -> None:
        """Take one token for ``client`` or raise RateLimitedError."""
        client = rate_key(client)
        now = self._clock()
        if len(self._buckets) > 100_000:
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            wait = max(1, int((1 - tokens) / self.rate + 0.999))
            self._buckets[client] = (tokens, now)
            raise RateLimitedError(f"too many requests; retry in {wait} s", wait)
        self._buckets[client] = (tokens - 1, now)


@dataclass
class Services:
    """Everything a handler may use."""

    settings: Settings
    ledger: Ledger
    #: every domain's store, built once at start (sealtrail.backend.open_store)
    stores: Stores
    sealer: Sealer
    metrics: Metrics
    limiter: RateLimiter
    clock: Callable[[], str]
    #: k when anchoring is on, None when no chain is configured
    anchor_confirmations: int | None = None
    _auth_cache: dict[str, tuple[float, Principal]] = field(default_factory=dict)


SERVICES = web.AppKey("services", Services)


def json_response(obj: Any, *, status: int = 200) -> web.Response:
    """A JSON response, encoded with orjson (UTF-8, compact)."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def services(request: web.Request) -> Services:
    """The app's services."""
    return request.config_dict[SERVICES]


async def in_thread(fn: Callable[[], T]) -> T:
    """Run a blocking read (SQLite) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn)


AUTH_CACHE_SECONDS = 2.0


async def principal(request: web.Request, *roles: str) -> Principal:
    """The caller, who must present a key with one of ``roles``.

    Key look-ups are cached for two seconds, so a revocation takes effect within that.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("missing API key: send 'Authorization: Bearer <key>'")
    token = token.strip()
    svc = services(request)
    now = time.monotonic()
    hit = svc._auth_cache.get(token)
    if hit is not None and now - hit[0] < AUTH_CACHE_SECONDS:
        p = hit[1]
    else:
        p = await in_thread(lambda: authenticate(svc.stores.directory, token))
        if len(svc._auth_cache) > 10_000:
            svc._auth_cache.clear()
        svc._auth_cache[token] = (now, p)
    if p.role not in roles:
        raise ForbiddenError(f"this needs a key with role {' or '.join(roles)}, not {p.role}")
    return p


def body_object(body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """``body`` as a JSON object with no key outside ``allowed``."""
    if not isinstance(body, dict):
        raise InvalidInputError("want a JSON object")
    for k in body:
        if k not in allowed:
            raise InvalidInputError(f"{k}: unknown field (allowed: {', '.join(allowed)})")
    return body


async def read_json(request: web.Request) -> Any:
    """The request body as strict JSON (docs/FORMAT.md §1.1)."""
    if request.content_type != "application/json":
        raise UnsupportedMediaTypeError(
            f"want Content-Type application/json, got {request.content_type or 'none'}"
        )
    limit = services(request).settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLargeError(f"body of {request.content_length} bytes exceeds {limit}")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLargeError(f"body exceeds {limit} bytes") from None
    return strictjson.loads(raw, max_bytes=limit)


def query_params(request: web.Request, allowed: Collection[str]) -> dict[str, str]:
    """Query parameters, each at most once, none unknown."""
    out: dict[str, str] = {}
    for k, v in request.query.items():
        if k not in allowed:
            raise InvalidInputError(
                f"unknown query parameter {k!r} (allowed: {', '.join(sorted(allowed)) or 'none'})"
            )
        if k in out:
            raise InvalidInputError(f"query parameter {k!r} given twice")
        out[k] = v
    return out


def int_param(params: Mapping[str, str], name: str, *, lo: int, hi: int) -> int | None:
    """An optional integer parameter within [lo, hi]."""
    raw = params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise InvalidInputError(f"{name}: want an integer from {lo} to {hi}, got {raw[:32]!r}")
    v = int(raw)
    if not lo <= v <= hi:
        raise InvalidInputError(f"{name}: want an integer from {lo} to {hi}, got {v}")
    return v


def path_int(request: web.Request, name: str) -> int:
    """A non-negative integer path segment (anything else: 404, as for a missing resource)."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise NotFoundError(f"no such {name}: {raw[:32]!r}")
    return int(raw)


def visible_tenant(p: Principal, requested: str | None) -> tuple[str, ...]:
    """The tenants a read may cover: all the caller sees, or one of them (404 if not visible)."""
    if requested is None:
        return p.visible
    if requested not in p.visible:
        raise NotFoundError(f"no tenant {requested!r}")
    return (requested,)
