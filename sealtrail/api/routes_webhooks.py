"""Routes for callbacks (webhooks): a tenant admin manages its tenant's subscriptions, reads
their delivery log and replays deliveries (docs/WEBHOOKS.md). Another tenant's subscription is
a 404, as if it did not exist."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from aiohttp import web

from sealtrail.api.context import (
    body_object,
    in_thread,
    int_param,
    json_response,
    principal,
    query_params,
    read_json,
    services,
)
from sealtrail.api.webhooks import (
    WebhookRuntime,
    create_subscription,
    delivery_json,
    find,
    secret_box,
    subscription_json,
    time_text,
    webhook_store,
)
from sealtrail.core.errors import InvalidInputError, NotFoundError
from sealtrail.core.event import parse_time
from sealtrail.webhooks.errors import WebhooksUnavailableError
from sealtrail.webhooks.outbox import new_delivery_id
from sealtrail.webhooks.signing import new_secret

WEBHOOKS = web.AppKey("webhooks", WebhookRuntime)
MAX_PAGE = 500
#: most deliveries one replay queues
MAX_REPLAY = 10_000


def _runtime(request: web.Request) -> WebhookRuntime:
    rt = request.config_dict.get(WEBHOOKS)
    if rt is None:
        webhook_store(services(request).stores)  # raises on MongoDB
        raise WebhooksUnavailableError("callbacks are not running")
    return rt


def _id(request: web.Request) -> str:
    raw = request.match_info["id"]
    if not 1 <= len(raw) <= 64 or not raw.isascii():
        raise NotFoundError(f"no webhook {raw[:64]!r}")
    return raw


async def post_webhook(request: web.Request) -> web.Response:
    """POST /v1/webhooks — subscribe; the secret is in this response only."""
    p = await principal(request, "admin")
    query_params(request, ())
    rt = _runtime(request)
    body = body_object(await read_json(request), ("url", "events", "receipts"))
    if "url" not in body or "events" not in body:
        raise InvalidInputError("url and events are required")
    svc = services(request)
    sub, secret = await create_subscription(
        rt.store, svc.settings, p.tenant, body["url"], body["events"],
        body.get("receipts", False), svc.clock(),
    )  # fmt: skip
    rt.outbox.invalidate()
    return json_response({"id": sub.id, "secret": secret, **subscription_json(sub)}, status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    """GET /v1/webhooks — the tenant's subscriptions (never their secrets)."""
    p = await principal(request, "admin")
    query_params(request, ())
    rt = _runtime(request)
    subs = await in_thread(lambda: rt.store.for_tenant(p.tenant))
    return json_response({"webhooks": [subscription_json(s) for s in subs]})


async def delete_webhook(request: web.Request) -> web.Response:
    """DELETE /v1/webhooks/{id} — unsubscribe; pending deliveries are cancelled."""
    p = await principal(request, "admin")
    query_params(request, ())
    rt = _runtime(request)
    wid = _id(request)
    svc = services(request)

    def delete() -> None:
        find(rt.store, wid, p.tenant)
        if not rt.store.delete(wid, svc.clock()):
            raise NotFoundError(f"no webhook {wid!r}")

    await in_thread(delete)
    rt.outbox.invalidate()
    return json_response({"id": wid, "deleted": True})


async def rotate_secret(request: web.Request) -> web.Response:
    """POST /v1/webhooks/{id}/rotate-secret — a new secret (shown once); the old one keeps
    signing, beside it, for ``callback_secret_overlap`` seconds."""
    p = await principal(request, "admin")
    query_params(request, ())
    rt = _runtime(request)
    wid = _id(request)
    svc = services(request)
    secret = new_secret(secrets.token_bytes)
    until = datetime.now().timestamp() + svc.settings.callback_secret_overlap

    def rotate() -> Any:
        find(rt.store, wid, p.tenant)
        box = secret_box(svc.settings)
        # the old secret, if stored in plain text (before encryption at rest), is re-encrypted
        sub = rt.store.rotate(wid, box.seal(wid, secret), until, lambda old: box.seal(wid, old))
        if sub is None:
            raise NotFoundError(f"no webhook {wid!r}")
        return sub

    sub = await in_thread(rotate)
    rt.outbox.invalidate()
    return json_response(
        {
            "id": sub.id,
            "secret": secret,
            "previous_secret_valid_until": time_text(until),
        }
    )


async def list_deliveries(request: web.Request) -> web.Response:
    """GET /v1/webhooks/{id}/deliveries?limit=&cursor= — the delivery log, oldest first."""
    p = await principal(request, "admin")
    params = query_params(request, ("limit", "cursor"))
    rt = _runtime(request)
    wid = _id(request)
    limit = int_param(params, "limit", lo=1, hi=MAX_PAGE) or 100
    after = int_param(params, "cursor", lo=0, hi=2**63 - 1) or 0

    def read() -> list[Any]:
        find(rt.store, wid, p.tenant)
        return rt.store.deliveries(wid, after=after, limit=limit)

    got = await in_thread(read)
    nxt = str(got[-1].seq) if len(got) == limit else None
    return json_response({"deliveries": [delivery_json(d) for d in got], "next_cursor": nxt})


def _unix(value: object, name: str) -> float:
    return datetime.fromisoformat(parse_time(value, name).replace("Z", "+00:00")).timestamp()


async def replay(request: web.Request) -> web.Response:
    """POST /v1/webhooks/{id}/replay — queue again one delivery (``{"delivery_id"}``) or those
    queued in a time range (``{"from", "to"}``, RFC 3339, ``to`` exclusive), as new deliveries."""
    p = await principal(request, "admin")
    query_params(request, ())
    rt = _runtime(request)
    wid = _id(request)
    body = body_object(await read_json(request), ("delivery_id", "from", "to"))
    did = body.get("delivery_id")
    since = until = None
    if did is not None:
        if "from" in body or "to" in body:
            raise InvalidInputError("send delivery_id, or from and to, not both")
        if type(did) is not str or not 1 <= len(did) <= 64:
            raise InvalidInputError("delivery_id: want a delivery id")
    else:
        if "from" not in body or "to" not in body:
            raise InvalidInputError("send delivery_id, or from and to")
        since, until = _unix(body["from"], "from"), _unix(body["to"], "to")
        if since >= until:
            raise InvalidInputError("from: must be before to")
    now = datetime.now().timestamp()

    def queue() -> list[str]:
        find(rt.store, wid, p.tenant)
        ids = rt.store.replay(
            wid, delivery_id=did, since=since, until=until, now=now,
            new_id=new_delivery_id, limit=MAX_REPLAY,
        )  # fmt: skip
        if did is not None and not ids:
            raise NotFoundError(f"no delivery {did!r} of webhook {wid!r}")
        return ids

    ids = await in_thread(queue)
    if rt.worker is not None:
        rt.worker.nudge()
    return json_response({"replayed": ids}, status=202)


def setup(app: web.Application) -> None:
    """Mount the routes."""
    app.router.add_post("/v1/webhooks", post_webhook)
    app.router.add_get("/v1/webhooks", list_webhooks)
    app.router.add_delete("/v1/webhooks/{id}", delete_webhook)
    app.router.add_post("/v1/webhooks/{id}/rotate-secret", rotate_secret)
    app.router.add_get("/v1/webhooks/{id}/deliveries", list_deliveries)
    app.router.add_post("/v1/webhooks/{id}/replay", replay)
