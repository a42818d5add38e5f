"""Callbacks at the edge: subscriptions as the API manages them, the payloads (with their
proofs), and the delivery worker that runs on the sequencer lease holder (docs/WEBHOOKS.md).

**Payload** (docs/FORMAT.md §10): ``{"type", "timestamp", "data"}``. For a ledger event,
``data`` is ``{"tenant", "event", "proof"}``: the event as the API shows it and, once it is in
a checkpoint, its inclusion proof with the signed checkpoint and the stream's map proof in
that checkpoint — enough to verify it offline (:func:`sealtrail.sdk.webhooks.check_callback`).
For ``checkpoint.timestamped`` and ``checkpoint.anchored``, ``data`` is ``{"tenant",
"checkpoint", "timestamp" | "anchor"}``.

**Delivery.** At least once: a row stays ``pending`` until a 2xx answer is recorded. Failures
are retried after ``callback_retry_base`` seconds, doubling up to ``callback_retry_max``, each
delay scaled by a random factor in [0.5, 1) (jitter); a delivery still failing
``callback_retry_window`` seconds after it was queued is dead-lettered (``dead``). Within one
subscription, the deliveries of one stream (and the checkpoint notices) are sent in order: the
next waits until the one before is delivered or dead. A ledger event's delivery waits up to
``callback_seal_wait`` seconds for a checkpoint, so that it carries its proof.

**Receipts** (a subscription's ``receipts``): after each answered attempt, an event of type
``webhook:receipt`` on stream ``webhook:<id>`` records the delivery id, the event it was about,
the HTTP status and the SHA-256 of the response body; it is appended *before* the attempt is
recorded, so a crash between the two repeats the delivery (at least once) and never loses the
receipt of a recorded delivery. Its ``client_event_id`` names the delivery and attempt, so a
repeat is idempotent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import os
import random
import re
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealtrail.anchoring.timestamping import timestamp_json
from sealtrail.anchoring.worker import anchor_json
from sealtrail.api.routes_events import checkpoint_json, proof_json
from sealtrail.api.routes_maps import answer_json
from sealtrail.api.settings import Settings
from sealtrail.backend import Stores
from sealtrail.core.errors import InvalidInputError, NotFoundError, SealtrailError
from sealtrail.core.event import CORE_TYPES, format_time, parse_event_input
from sealtrail.core.vmap import stream_key
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.maps import map_proof
from sealtrail.ledger.store import EventQuery, StoredCheckpoint
from sealtrail.signing.masterkey import load_master_key
from sealtrail.webhooks.errors import WebhooksUnavailableError
from sealtrail.webhooks.outbox import RECEIPT_TYPE, WebhookOutbox, new_delivery_id
from sealtrail.webhooks.safety import parse_url, resolve_checked
from sealtrail.webhooks.sender import DeliveryFailed, Response, send
from sealtrail.webhooks.signing import SECRET_PREFIX, headers, new_secret
from sealtrail.webhooks.store import (
    DEAD,
    DELIVERED,
    PENDING,
    Attempt,
    Delivery,
    NewDelivery,
    Subscription,
    WebhookStore,
)

log = logging.getLogger("sealtrail.webhooks")

TIMESTAMPED = "checkpoint.timestamped"
ANCHORED = "checkpoint.anchored"
#: the checkpoint notices a subscription may ask for besides ledger event types
NOTICE_TYPES = (TIMESTAMPED, ANCHORED)
MAX_EVENT_TYPES = 64
MAX_SUBSCRIPTIONS_PER_TENANT = 100
_CUSTOM_TYPE_RE = re.compile(r"[a-z][a-z0-9-]{0,31}:[a-z][a-z0-9_.-]{0,63}\Z")
#: deliveries attempted at once
CONCURRENCY = 8


#: prefix of a subscription secret encrypted at rest (docs/WEBHOOKS.md, "Safety")
SEALED_PREFIX = "enc1:"
_SECRET_INFO = b"sealtrail webhook secret v1"
_SECRET_AD = b"sealtrail-webhook-secret/v1\x00"
_NONCE = 12


class SecretUnavailableError(SealtrailError):
    """A stored subscription secret does not open (another master key, or a damaged value)."""


class SecretBox:
    """Subscription secrets encrypted at rest under the service's master key (the one that
    protects seal keys, ``seal_key`` / ``seal_key_file`` / ``DATA_DIR/seal.key``).

    A stored secret is ``enc1:`` + base64(nonce (12 bytes) ‖ AES-256-GCM(secret)) under
    ``HKDF-SHA256(master key, info="sealtrail webhook secret v1")``, with the subscription id
    as associated data (a value copied onto another subscription does not open). A stored value
    without the prefix is a secret stored in plain text before encryption existed: it is used as
    is, and re-encrypted when the subscription's secret is next rotated.
    """

    __slots__ = ("_aead",)

    def __init__(self, master_key: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SECRET_INFO).derive(
            master_key
        )
        self._aead = AESGCM(derived)

    def __repr__(self) -> str:
        return "SecretBox(<master key hidden>)"

    def seal(self, webhook_id: str, secret: str) -> str:
        """The stored form of ``secret`` (already sealed values are returned as they are)."""
        if secret.startswith(SEALED_PREFIX):
            return secret
        nonce = os.urandom(_NONCE)
        ct = self._aead.encrypt(nonce, secret.encode(), _SECRET_AD + webhook_id.encode())
        return SEALED_PREFIX + base64.b64encode(nonce + ct).decode()

    def open(self, webhook_id: str, stored: str) -> str:
        """The secret of a stored value; SecretUnavailableError if it does not open."""
        if not stored.startswith(SEALED_PREFIX):
            if not stored.startswith(SECRET_PREFIX):
                raise SecretUnavailableError(f"webhook {webhook_id}: stored secret is malformed")
            return stored  # plain text, from before encryption at rest
        try:
            raw = base64.b64decode(stored[len(SEALED_PREFIX) :], validate=True)
            if len(raw) < _NONCE + 16:
                raise ValueError("short")
            plain = self._aead.decrypt(
                raw[:_NONCE], raw[_NONCE:], _SECRET_AD + webhook_id.encode()
            ).decode()
        except (ValueError, InvalidTag, UnicodeDecodeError):
            raise SecretUnavailableError(
                f"webhook {webhook_id}: stored secret does not open (another master key, or a "
                "damaged or misplaced value)"
            ) from None
        if not plain.startswith(SECRET_PREFIX):
            raise SecretUnavailableError(f"webhook {webhook_id}: stored secret is malformed")
        return plain


@functools.cache
def _box(key_hex: str | None, key_file: Path | None, data_dir: Path) -> SecretBox:
    return SecretBox(load_master_key(key_hex, key_file, data_dir))


def secret_box(settings: Settings) -> SecretBox:
    """The service's :class:`SecretBox` (its master key, created on first use like seals')."""
    return _box(settings.seal_key, settings.seal_key_file, settings.data_dir)


def webhook_store(stores: Stores) -> WebhookStore:
    """The callbacks' store; WebhooksUnavailableError on a backend without one."""
    if stores.webhooks is None:
        raise WebhooksUnavailableError("this service's database does not store callbacks")
    return stores.webhooks


def parse_events(v: object) -> tuple[str, ...]:
    """The ``events`` of a subscription: ``["*"]`` or 1-64 distinct event types (ledger types
    or checkpoint notices)."""
    if not isinstance(v, list) or not 1 <= len(v) <= MAX_EVENT_TYPES:
        raise InvalidInputError(f'events: want ["*"] or a list of 1-{MAX_EVENT_TYPES} event types')
    out: list[str] = []
    for t in v:
        if type(t) is not str or not (
            t == "*" or t in CORE_TYPES or t in NOTICE_TYPES or _CUSTOM_TYPE_RE.match(t)
        ):
            raise InvalidInputError(
                f"events: {str(t)[:64]!r} is not an event type (core types, 'namespace:name', "
                f"{', '.join(NOTICE_TYPES)} or '*')"
            )
        if t == RECEIPT_TYPE:
            raise InvalidInputError(f"events: {RECEIPT_TYPE} events are never delivered")
        if t in out:
            raise InvalidInputError(f"events: {t!r} appears twice")
        out.append(t)
    if "*" in out and len(out) > 1:
        raise InvalidInputError('events: "*" stands alone')
    return tuple(out)


def subscription_json(sub: Subscription) -> dict[str, Any]:
    """A subscription as the API lists it (never its secret)."""
    return {
        "id": sub.id,
        "tenant": sub.tenant,
        "url": sub.url,
        "events": list(sub.events),
        "receipts": sub.receipts,
        "created_at": sub.created_at,
    }


def time_text(t: float | None) -> str | None:
    """Unix seconds as the API shows times (None stays None)."""
    return None if t is None else format_time(datetime.fromtimestamp(t, UTC))


def delivery_json(d: Delivery) -> dict[str, Any]:
    """A delivery's log entry."""
    return {
        "id": d.id,
        "seq": d.seq,
        "type": d.type,
        "event_index": d.event_index,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": time_text(d.created_at),
        "next_attempt_at": time_text(d.next_attempt_at) if d.status == PENDING else None,
        "last_attempt_at": time_text(d.last_attempt_at),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "latency_ms": d.latency_ms,
        "replay_of": d.replay_of,
    }


async def create_subscription(
    store: WebhookStore,
    settings: Settings,
    tenant: str,
    url: object,
    events: object,
    receipts: object,
    now: str,
) -> tuple[Subscription, str]:
    """Check and store a new subscription of ``tenant``; return it and its secret."""
    target = parse_url(url)
    wanted = parse_events(events)
    if type(receipts) is not bool:
        raise InvalidInputError("receipts: want true or false")
    await resolve_checked(target, settings.callback_allow_hosts)
    if len(await asyncio.to_thread(store.for_tenant, tenant)) >= MAX_SUBSCRIPTIONS_PER_TENANT:
        raise InvalidInputError(f"a tenant has at most {MAX_SUBSCRIPTIONS_PER_TENANT} webhooks")
    secret = new_secret(secrets.token_bytes)
    wid = "wh_" + secrets.token_hex(8)
    box = await asyncio.to_thread(secret_box, settings)
    sub = Subscription(wid, tenant, target.url, wanted, receipts, box.seal(wid, secret), now)
    await asyncio.to_thread(store.add, sub)
    return sub, secret


def backoff(attempts: int, base: float, cap: float, rnd: Callable[[], float]) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: ``base * 2**(n-1)``,
    capped, times a jitter factor in [0.5, 1)."""
    delay = min(cap, base * 2.0 ** min(attempts - 1, 60))
    return delay * (0.5 + rnd() / 2)


class DeliveryWorker:
    """Sends due deliveries while this process holds the sequencer lease (see module docs)."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        stores: Stores,
        store: WebhookStore,
        *,
        confirmations: int | None,
        clock: Callable[[], float] = time.time,
        rnd: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.stores = stores
        self.store = store
        self.confirmations = confirmations
        self.clock = clock
        self.rnd = rnd
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    def start(self) -> None:
        """Start the delivery loop on the running event loop."""
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def nudge(self) -> None:
        """Run a round now (a checkpoint was sealed, a replay was queued)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop after the attempts in flight (their outcomes are recorded)."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.ledger.is_sequencer():
                    await self.notify_checkpoints()
                    while await self.round() and not self._stop.is_set():
                        pass
            except Exception:  # a round that failed is retried at the next tick
                log.exception("callback delivery round failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.callback_poll_interval)

    async def round(self) -> int:
        """Attempt every due delivery once (in order per sequence); return how many."""
        now = self.clock()
        cp = await asyncio.to_thread(self.stores.ledger.latest_checkpoint)
        sealed = 0 if cp is None else cp.size
        due = await asyncio.to_thread(
            self.store.due, now, sealed, now - self.settings.callback_seal_wait, 64
        )
        if not due:
            return 0
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(d: Delivery) -> None:
            async with gate:
                await self.attempt(d, cp)

        await asyncio.gather(*(one(d) for d in due))
        return len(due)

    async def attempt(self, d: Delivery, cp: StoredCheckpoint | None) -> None:
        """One attempt of ``d``: send, append the receipt (if asked), record the outcome."""
        sub = await asyncio.to_thread(self.store.get, d.webhook_id)
        if sub is None:
            return  # deleted meanwhile: its pending deliveries were cancelled with it
        now = self.clock()
        body = await asyncio.to_thread(self.payload, d, cp, now)
        ts = int(now)
        resp: Response | None = None
        error: str | None = None
        try:
            box = secret_box(self.settings)
            hdrs = headers([box.open(sub.id, s) for s in sub.secrets(now)], d.id, ts, body)
            resp = await send(
                sub.url,
                hdrs,
                body,
                allow_hosts=self.settings.callback_allow_hosts,
                timeout=self.settings.callback_timeout,
            )
        except (DeliveryFailed, SecretUnavailableError) as e:
            error = str(e)
        ok = resp is not None and 200 <= resp.status < 300
        if resp is not None and not ok:
            error = f"HTTP {resp.status}"
        if resp is not None and sub.receipts:
            await self._receipt(sub, d, resp, now)
        done = self.clock()
        if ok:
            status, nxt = DELIVERED, done
        elif done - d.created_at >= self.settings.callback_retry_window:
            status, nxt = DEAD, done
        else:
            s = self.settings
            status = PENDING
            wait = backoff(d.attempts + 1, s.callback_retry_base, s.callback_retry_max, self.rnd)
            nxt = done + wait
        attempt = Attempt(
            now, status, nxt, None if resp is None else resp.status, error,
            None if resp is None else resp.latency_ms,
        )  # fmt: skip
        await asyncio.to_thread(self.store.record, d.id, attempt)
        if status == DEAD:
            log.warning("callback %s to webhook %s dead-lettered: %s", d.id, sub.id, error)

    async def _receipt(self, sub: Subscription, d: Delivery, resp: Response, at: float) -> None:
        attrs: dict[str, str | int | bool | None] = {
            "webhook_id": sub.id,
            "delivery_id": d.id,
            "delivery_type": d.type,
            "event_index": d.event_index,
            "attempt": d.attempts + 1,
            "attempted_at": time_text(at),
            "http_status": resp.status,
            "response_sha256": resp.body_sha256,
            "response_truncated": resp.truncated,
        }
        ev = parse_event_input(
            {
                "stream": f"webhook:{sub.id}",
                "type": RECEIPT_TYPE,
                "actor": {"id": "sealtrail-webhooks"},
                "client_event_id": f"receipt:{d.id}:{d.attempts + 1}",
                "attributes": attrs,
            }
        )
        await self.ledger.append_async(sub.tenant, [ev])

    def payload(self, d: Delivery, cp: StoredCheckpoint | None, now: float) -> bytes:
        """The body of one attempt (blocking reads: run off the loop)."""
        data = orjson.loads(d.data)
        if d.event_index is not None:
            data["proof"] = self._proof(data, d.event_index, cp)
        return orjson.dumps({"type": d.type, "timestamp": time_text(now), "data": data})

    def _proof(
        self, data: dict[str, Any], index: int, cp: StoredCheckpoint | None
    ) -> dict[str, Any] | None:
        if cp is None or index >= cp.size:
            return None
        out: dict[str, Any] = {
            "inclusion": proof_json(self.ledger.inclusion_proof(index, cp.size), cp),
            "map": None,
        }
        ev = data["event"]
        store = self.stores.ledger
        if store.maps is not None and store.maps.root(cp.size) is not None:
            try:
                answer = map_proof(store, cp.size, stream_key(ev["tenant"], ev["stream"]))
            except (SealtrailError, ValueError):
                return out
            out["map"] = {"tenant": ev["tenant"], "stream": ev["stream"], **answer_json(answer)}
        return out

    async def notify_checkpoints(self) -> None:
        """Queue ``checkpoint.timestamped`` / ``checkpoint.anchored`` notices for checkpoints
        recorded so since the last round (a cursor per kind, advanced in the same transaction
        as the notices it queues; the first round only sets the cursors)."""
        subs = await asyncio.to_thread(self.store.all_active)
        kinds = {t for s in subs for t in NOTICE_TYPES if s.wants(t)}
        if TIMESTAMPED in kinds:
            await asyncio.to_thread(self._notify_timestamped, subs)
        if ANCHORED in kinds:
            await asyncio.to_thread(self._notify_anchored, subs)

    def _tenants_with_events(self, subs: Sequence[Subscription], lo: int, hi: int) -> set[str]:
        out: set[str] = set()
        for t in {s.tenant for s in subs}:
            got = self.stores.ledger.query(EventQuery(tenants=(t,)), after=lo - 1, limit=1)
            if got and got[0].index < hi:
                out.add(t)
        return out

    def _notices(
        self, subs: Sequence[Subscription], kind: str, lo: int, cp: StoredCheckpoint, extra: Any
    ) -> list[NewDelivery]:
        tenants = self._tenants_with_events(subs, lo, cp.size)
        now = self.clock()
        out = []
        for s in subs:
            if s.tenant in tenants and s.wants(kind):
                data = {"tenant": s.tenant, "checkpoint": checkpoint_json(cp), **extra}
                out.append(
                    NewDelivery(
                        new_delivery_id(),
                        s.id,
                        s.tenant,
                        "checkpoints",
                        kind,
                        None,
                        orjson.dumps(data),
                        now,
                    )
                )
        return out

    def _notify_timestamped(self, subs: Sequence[Subscription]) -> None:
        stamps = self.stores.timestamps
        recent = sorted(self.stores.stats.recent_checkpoints(50), key=lambda c: c.size)

        def build(last: int | None) -> tuple[list[NewDelivery], int | None]:
            if last is None:  # first round: start from here
                done = [c.size for c in recent if _stamped(stamps.timestamp(c.size))]
                return [], max(done, default=0)
            items: list[NewDelivery] = []
            prev = last
            for c in recent:
                if c.size <= last:
                    continue
                rec = stamps.timestamp(c.size)
                if not _stamped(rec):
                    break  # in order: a later one waits for this one
                extra = {"timestamp": timestamp_json(rec)}
                items += self._notices(subs, TIMESTAMPED, prev, c, extra)
                prev = c.size
            return items, prev

        self.store.enqueue(build, cursor=TIMESTAMPED)

    def _notify_anchored(self, subs: Sequence[Subscription]) -> None:
        anchors = self.stores.anchors
        final = anchors.anchored_size(("final",))

        def build(last: int | None) -> tuple[list[NewDelivery], int | None]:
            if last is None or final <= last:
                return [], final if last is None else last
            cp = self.stores.ledger.checkpoint(final)
            if cp is None:
                return [], last
            extra = {"anchor": anchor_json(anchors.anchor(final), self.confirmations)}
            return self._notices(subs, ANCHORED, last, cp, extra), final

        self.store.enqueue(build, cursor=ANCHORED)


def _stamped(rec: Any) -> bool:
    return rec is not None and rec.token is not None


def find(store: WebhookStore, webhook_id: str, tenant: str) -> Subscription:
    """The subscription ``webhook_id`` of ``tenant``; NotFoundError for any other."""
    sub = store.get(webhook_id)
    if sub is None or sub.tenant != tenant:
        raise NotFoundError(f"no webhook {webhook_id[:64]!r}")
    return sub


class WebhookRuntime:
    """What the routes need of the callbacks: the store, the outbox (to forget its cache after a
    change) and the worker (to nudge it)."""

    def __init__(
        self, store: WebhookStore, outbox: WebhookOutbox, worker: DeliveryWorker | None
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.worker = worker
