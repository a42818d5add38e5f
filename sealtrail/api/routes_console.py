"""JSON routes the auditor console needs beyond the event API: who the key is, events per day
by type, the anchoring state of recent checkpoints, and per-tenant counts for group auditors.

The console shows times and counts days in the key's tenant's time zone (settings ``timezone``
and ``tenant_timezones``): ``whoami`` names it, and the timeline's days are local days of it
(sealtrail/ledger/local_days.py). Stored and returned times stay UTC.

Aggregates are SQL over the columns the store keeps for queries (docs/FORMAT.md §9: ``tenant``,
``type``, ``recorded_at``), read on the calling thread's read connection, never the write path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from sealtrail.anchoring.timestamping import timestamp_json
from sealtrail.anchoring.worker import anchor_json
from sealtrail.api.context import (
    in_thread,
    int_param,
    json_response,
    principal,
    query_params,
    services,
    visible_tenant,
)
from sealtrail.api.openapi_kit import HEX64, TIME, json_content, operation, query_param, ref
from sealtrail.api.routes_events import public_failure
from sealtrail.api.settings import timezone_for
from sealtrail.ledger.local_days import local_day_counts
from sealtrail.ledger.log import utc_now

MAX_DAYS = 366
DEFAULT_DAYS = 30
MAX_CHECKPOINTS = 100
DEFAULT_CHECKPOINTS = 20
#: at most this many distinct event types in the timeline; the rest are summed as "other"
MAX_TYPES = 12


def _parse(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


async def whoami(request: web.Request) -> web.Response:
    """GET /v1/console/whoami — the key's tenant, role, readable tenants and the ledger's
    verifier key (what the console checks checkpoint signatures against)."""
    p = await principal(request, "auditor")
    query_params(request, ())
    svc = services(request)
    store = svc.stores

    def build() -> dict[str, Any]:
        names = {t.id: t for t in store.directory.tenants()}
        return {
            "key_id": p.key_id,
            "tenant": p.tenant,
            "role": p.role,
            "visible": [
                {
                    "id": t,
                    "name": names[t].name if t in names else t,
                    "parent": names[t].parent if t in names else None,
                }
                for t in p.visible
            ],
            "verifier_key": svc.ledger.verifier.vkey,
            "origin": svc.ledger.origin,
            "timezone": timezone_for(svc.settings, p.tenant),
        }

    return json_response(await in_thread(build))


async def timeline(request: web.Request) -> web.Response:
    """GET /v1/console/timeline?days=N&tenant=T — events per local day by type, the last N days
    (today included) in the key's tenant's time zone, every day listed even when empty."""
    p = await principal(request, "auditor")
    params = query_params(request, ("days", "tenant"))
    days = int_param(params, "days", lo=1, hi=MAX_DAYS) or DEFAULT_DAYS
    tenants = visible_tenant(p, params.get("tenant"))
    svc = services(request)
    zone_name = timezone_for(svc.settings, p.tenant)
    zone = ZoneInfo(zone_name)  # validated when the settings were loaded
    today = utc_now().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    store = svc.stores
    counted = await in_thread(lambda: local_day_counts(store.stats, tenants, zone, first, days))
    rows = [(d.isoformat(), t, n) for d, t, n in counted]
    totals: dict[str, int] = {}
    for _, t, n in rows:
        totals[t] = totals.get(t, 0) + n
    kept = sorted(totals, key=lambda t: (-totals[t], t))[:MAX_TYPES]
    other = len(totals) > len(kept)
    per_day: dict[str, dict[str, int]] = {}
    for d, t, n in rows:
        key = t if t in kept else "other"
        counts = per_day.setdefault(d, {})
        counts[key] = counts.get(key, 0) + n
    out_days = []
    for i in range(days):
        d = (first + timedelta(days=i)).isoformat()
        counts = per_day.get(d, {})
        out_days.append({"day": d, "counts": counts, "total": sum(counts.values())})
    return json_response(
        {
            "from": first.isoformat(),
            "to": today.isoformat(),
            "timezone": zone_name,
            "tenants": list(tenants),
            "types": sorted(kept) + (["other"] if other else []),
            "days": out_days,
            "total": sum(totals.values()),
        }
    )


def _lag(created_at: str, final_at: str | None, now: datetime) -> float:
    end = _parse(final_at) if final_at else now
    return round(max(0.0, (end - _parse(created_at)).total_seconds()), 3)


async def checkpoints(request: web.Request) -> web.Response:
    """GET /v1/console/checkpoints?limit=N — the latest checkpoints with their timestamp and
    anchor state, each one's anchoring lag (created → final, or → now while not final), and a
    summary. Checkpoints cover the whole log (every tenant), as /v1/checkpoints does."""
    await principal(request, "auditor")
    params = query_params(request, ("limit",))
    limit = int_param(params, "limit", lo=1, hi=MAX_CHECKPOINTS) or DEFAULT_CHECKPOINTS
    svc = services(request)
    store, k = svc.stores, svc.anchor_confirmations

    def build() -> dict[str, Any]:
        now = utc_now()
        items: list[dict[str, Any]] = []
        waiting: list[float] = []  # lags of the checkpoints not final yet
        finals: list[int] = []
        for cp in store.stats.recent_checkpoints(limit):
            size, root, created = cp.size, cp.root.hex(), cp.created_at
            anchor = public_failure(anchor_json(store.anchors.anchor(size), k))
            status = anchor["status"]
            final_at = anchor.get("final_at")
            lag = None
            if status != "off":
                done = final_at if status == "final" and isinstance(final_at, str) else None
                lag = _lag(created, done, now)
                if status == "final":
                    finals.append(size)
                else:
                    waiting.append(lag)
            items.append(
                {
                    "size": size,
                    "root": root,
                    "created_at": created,
                    "timestamp": public_failure(timestamp_json(store.timestamps.timestamp(size))),
                    "anchor": anchor,
                    "lag_seconds": lag,
                }
            )
        return {
            "anchoring": k is not None,
            "required_confirmations": k,
            "checkpoints": items,
            "summary": {
                "shown": len(items),
                "final": len(finals),
                "not_final": len(waiting),
                "latest_size": items[0]["size"] if items else None,
                "latest_final_size": finals[0] if finals else None,
                "oldest_not_final_seconds": max(waiting, default=None),
            },
        }

    return json_response(await in_thread(build))


async def group(request: web.Request) -> web.Response:
    """GET /v1/console/group — per readable tenant: events, the latest event's time and seal
    uses (null when there is no seal registry). An HQ auditor sees each subsidiary; any other
    auditor sees its own tenant only."""
    p = await principal(request, "auditor")
    query_params(request, ())
    store = services(request).stores

    def build() -> dict[str, Any]:
        names = {t.id: t for t in store.directory.tenants()}
        counts = store.stats.tenant_activity(p.visible)
        seals = store.seals.seal_use_counts(p.visible)
        rows = []
        for t in p.visible:
            n, last = counts.get(t, (0, None))
            rows.append(
                {
                    "id": t,
                    "name": names[t].name if t in names else t,
                    "parent": names[t].parent if t in names else None,
                    "events": n,
                    "last_recorded_at": last,
                    "seal_uses": None if seals is None else seals.get(t, 0),
                }
            )
        return {"tenant": p.tenant, "tenants": rows}

    return json_response(await in_thread(build))


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI description of this module's routes (merged into /v1/openapi.json)."""

    tag = "console"
    return {
        "/v1/console/whoami": {
            "get": operation(
                "The calling auditor key: tenant, readable tenants, the ledger's verifier key",
                {"200": json_content(ref("ConsoleWhoami"), "the key")},
                tag=tag,
            )
        },
        "/v1/console/timeline": {
            "get": operation(
                "Events per local day (the key's tenant's time zone) by type over the last N days",
                {"200": json_content(ref("ConsoleTimeline"), "counts")},
                params=[
                    query_param(
                        "days", {"type": "integer", "minimum": 1, "maximum": MAX_DAYS}, "days"
                    ),
                    query_param("tenant", {"type": "string"}, "one tenant the key may read"),
                ],
                errors=(404,),
                tag=tag,
            )
        },
        "/v1/console/checkpoints": {
            "get": operation(
                "The latest checkpoints with timestamp, anchor state and anchoring lag",
                {"200": json_content(ref("ConsoleCheckpoints"), "checkpoints")},
                params=[
                    query_param(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_CHECKPOINTS},
                        "how many",
                    )
                ],
                tag=tag,
            )
        },
        "/v1/console/group": {
            "get": operation(
                "Per readable tenant: events, latest event time, seal uses",
                {"200": json_content(ref("ConsoleGroup"), "per tenant")},
                tag=tag,
            )
        },
    }


def openapi_schemas() -> dict[str, Any]:
    """The schemas :func:`openapi_paths` refers to."""

    day = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    count = {"type": "integer", "minimum": 0}
    zone = {"type": "string", "description": "IANA time zone, e.g. Asia/Shanghai"}
    nullable_count = {"type": ["integer", "null"], "minimum": 0}
    tenant_ref = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name", "parent"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "parent": {"type": ["string", "null"]},
        },
    }
    return {
        "ConsoleWhoami": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "key_id",
                "tenant",
                "role",
                "visible",
                "verifier_key",
                "origin",
                "timezone",
            ],
            "properties": {
                "key_id": {"type": "string"},
                "tenant": {"type": "string"},
                "role": {"const": "auditor"},
                "visible": {"type": "array", "items": tenant_ref, "minItems": 1},
                "verifier_key": {"type": "string"},
                "origin": {"type": "string"},
                "timezone": zone,
            },
        },
        "ConsoleTimeline": {
            "type": "object",
            "additionalProperties": False,
            "required": ["from", "to", "timezone", "tenants", "types", "days", "total"],
            "properties": {
                "from": day,
                "to": day,
                "timezone": zone,
                "tenants": {"type": "array", "items": {"type": "string"}},
                "types": {"type": "array", "items": {"type": "string"}},
                "days": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["day", "counts", "total"],
                        "properties": {
                            "day": day,
                            "counts": {"type": "object", "additionalProperties": count},
                            "total": count,
                        },
                    },
                },
                "total": count,
            },
        },
        "ConsoleCheckpoints": {
            "type": "object",
            "additionalProperties": False,
            "required": ["anchoring", "required_confirmations", "checkpoints", "summary"],
            "properties": {
                "anchoring": {"type": "boolean"},
                "required_confirmations": nullable_count,
                "checkpoints": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": [
                            "size",
                            "root",
                            "created_at",
                            "timestamp",
                            "anchor",
                            "lag_seconds",
                        ],
                        "properties": {
                            "size": {"type": "integer", "minimum": 1},
                            "root": HEX64,
                            "created_at": TIME,
                            "timestamp": ref("Timestamp"),
                            "anchor": ref("Anchor"),
                            "lag_seconds": {"type": ["number", "null"], "minimum": 0},
                        },
                    },
                },
                "summary": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": [
                        "shown",
                        "final",
                        "not_final",
                        "latest_size",
                        "latest_final_size",
                        "oldest_not_final_seconds",
                    ],
                    "properties": {
                        "shown": count,
                        "final": count,
                        "not_final": count,
                        "latest_size": nullable_count,
                        "latest_final_size": nullable_count,
                        "oldest_not_final_seconds": {"type": ["number", "null"], "minimum": 0},
                    },
                },
            },
        },
        "ConsoleGroup": {
            "type": "object",
            "additionalProperties": False,
            "required": ["tenant", "tenants"],
            "properties": {
                "tenant": {"type": "string"},
                "tenants": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": [
                            "id",
                            "name",
                            "parent",
                            "events",
                            "last_recorded_at",
                            "seal_uses",
                        ],
                        "properties": {
                            "id": {"type": "string"},
                            "name": {"type": "string"},
                            "parent": {"type": ["string", "null"]},
                            "events": count,
                            "last_recorded_at": {"type": ["string", "null"]},
                            "seal_uses": nullable_count,
                        },
                    },
                },
            },
        },
    }


def setup(app: web.Application) -> None:
    """Register this module's routes."""
    r = app.router
    r.add_get("/v1/console/whoami", whoami)
    r.add_get("/v1/console/timeline", timeline)
    r.add_get("/v1/console/checkpoints", checkpoints)
    r.add_get("/v1/console/group", group)
