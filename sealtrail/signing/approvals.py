"""Seal-use control: a per-tenant policy, requests, approvals, one-time authorisations, uses.

Policy (table ``seal_policies``), one per tenant, explicit on purpose:

* ``controlled``: the seal ids that need an approval before each use (``["*"]``: every seal of
  the tenant);
* ``approvers``: the API key ids that may approve or reject requests for those seals — keys of
  the tenant itself or of one of its parents (group headquarters).

Flow: the requester (an integrator key of the seal's tenant) asks to seal one document (its
SHA-256) for a purpose → an approver, never the requesting key, approves or rejects → the
approval is a one-time authorisation for that requester, seal and document, consumed in the same
transaction that records the use (:func:`consume`), so it cannot be used twice even by racing
requests. Each step is queued as a ledger event carrying the document fingerprint:
``seal-use:requested``, ``seal-use:approved``, ``seal-use:rejected``, ``seal-use:used``
(stream ``seal:<id>``, next to the seal's lifecycle).

Every use of any seal is also a row in ``seal_uses`` (what HQ auditors list).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ..ledger.errors import ConflictError, InvalidInputError, NotFoundError, SealtrailError
from ..ledger.event import format_time
from ..ledger.sqlite_store import SQLiteStore
from .db import enqueue, new_id, reader, transaction
from .errors import SealStateError
from .registry import SealRecord


class SealUseForbiddenError(SealtrailError):
    """This key may not approve, or use, this authorisation (self-approval, not an approver,
    not the requester)."""

    code = "seal_use_forbidden"
    http_status = 403
    exit_code = 2


class ApprovalRequiredError(SealtrailError):
    """The seal is controlled: using it needs an approved request (send its id)."""

    code = "approval_required"
    http_status = 409
    exit_code = 5


@dataclass(frozen=True)
class SealPolicy:
    """A tenant's seal-use policy (module docstring)."""

    tenant: str
    controlled: tuple[str, ...]
    approvers: tuple[str, ...]
    updated_at: str | None

    def controls(self, seal_id: str) -> bool:
        """True when using ``seal_id`` needs an approval."""
        return "*" in self.controlled or seal_id in self.controlled

    def to_json(self) -> dict[str, Any]:
        """The policy as the API shows it."""
        return {
            "tenant": self.tenant,
            "controlled": list(self.controlled),
            "approvers": list(self.approvers),
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class SealRequest:
    """A request to use a seal on one document, and what became of it."""

    id: str
    tenant: str
    seal_id: str
    document: bytes
    purpose: str
    requester_key: str
    status: str  # pending, approved, rejected, used
    decided_by: str | None
    decision_reason: str | None
    created_at: str
    decided_at: str | None
    used_at: str | None

    def to_json(self) -> dict[str, Any]:
        """The request as the API shows it."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "seal": self.seal_id,
            "document_sha256": self.document.hex(),
            "purpose": self.purpose,
            "requester_key": self.requester_key,
            "status": self.status,
            "decided_by": self.decided_by,
            "decision_reason": self.decision_reason,
            "created_at": self.created_at,
            "decided_at": self.decided_at,
            "used_at": self.used_at,
        }


_REQ_COLS = (
    "id, tenant, seal_id, document, purpose, requester_key, status, decided_by, "
    "decision_reason, created_at, decided_at, used_at"
)


def _request(r: tuple[Any, ...]) -> SealRequest:
    return SealRequest(r[0], r[1], r[2], bytes(r[3]), *r[4:])


def _ancestors(store: SQLiteStore, tenant: str) -> set[str]:
    out: set[str] = set()
    t = store.tenant(tenant)
    while t is not None and t.id not in out:
        out.add(t.id)
        t = store.tenant(t.parent) if t.parent else None
    return out


def get_policy(store: SQLiteStore, tenant: str) -> SealPolicy:
    """``tenant``'s policy (no seal controlled when none was set)."""
    row = (
        reader(store)
        .execute(
            "SELECT controlled, approvers, updated_at FROM seal_policies WHERE tenant = ?",
            (tenant,),
        )
        .fetchone()
    )
    if row is None:
        return SealPolicy(tenant, (), (), None)
    return SealPolicy(tenant, tuple(orjson.loads(row[0])), tuple(orjson.loads(row[1])), row[2])


def set_policy(
    store: SQLiteStore,
    tenant: str,
    controlled: list[str],
    approvers: list[str],
    *,
    actor: dict[str, Any],
    now: datetime,
) -> SealPolicy:
    """Replace ``tenant``'s policy and queue a ``seal-policy:updated`` event.

    Requires seal ids of ``tenant`` (or ``"*"``) and approver keys of ``tenant`` or a parent,
    with role integrator or admin, not revoked.
    """
    if len(controlled) > 1000 or len(approvers) > 100:
        raise InvalidInputError("at most 1000 controlled seals and 100 approvers")
    ancestors = _ancestors(store, tenant)
    for seal_id in controlled:
        if seal_id == "*":
            continue
        row = reader(store).execute("SELECT tenant FROM seals WHERE id = ?", (seal_id,)).fetchone()
        if row is None or row[0] != tenant:
            raise InvalidInputError(f"controlled: no seal {seal_id[:80]!r} in tenant {tenant}")
    for key_id in approvers:
        key = store.key(key_id)
        if key is None or key.tenant not in ancestors or key.revoked_at:
            raise InvalidInputError(
                f"approvers: no active key {key_id[:40]!r} of {tenant} or a parent"
            )
        if key.role not in ("integrator", "admin"):
            raise InvalidInputError(
                f"approvers: key {key_id} has role {key.role}, want integrator or admin"
            )
    c, a = sorted(set(controlled)), sorted(set(approvers))
    at = format_time(now)

    def put(con: sqlite3.Connection) -> None:
        con.execute(
            "INSERT INTO seal_policies (tenant, controlled, approvers, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET controlled = "
            "excluded.controlled, approvers = excluded.approvers, updated_at = excluded.updated_at",
            (tenant, orjson.dumps(c).decode(), orjson.dumps(a).decode(), at),
        )
        enqueue(
            con,
            tenant,
            {
                "stream": f"seal-policy:{tenant}",
                "type": "seal-policy:updated",
                "actor": actor,
                "attributes": {"controlled": ",".join(c)[:4096], "approvers": ",".join(a)},
            },
        )

    transaction(store, put)
    return get_policy(store, tenant)


def _event(
    seal_id: str, etype: str, actor: dict[str, Any], document: bytes, **attrs: Any
) -> dict[str, Any]:
    return {
        "stream": f"seal:{seal_id}",
        "type": etype,
        "actor": actor,
        "documents": [{"name": "document", "sha256": document.hex()}],
        "attributes": {"seal_id": seal_id, **attrs},
    }


def create_request(
    store: SQLiteStore,
    seal: SealRecord,
    document: bytes,
    purpose: str,
    *,
    requester_key: str,
    actor: dict[str, Any],
    now: datetime,
) -> SealRequest:
    """Ask to use ``seal`` on the document with SHA-256 ``document``; queue the event.

    Requires an active seal and a 32-byte ``document``.
    """
    if len(document) != 32:
        raise InvalidInputError("document_sha256: want 64 hex digits")
    if not isinstance(purpose, str) or not 1 <= len(purpose.strip()) <= 1000:
        raise InvalidInputError("purpose: want 1 to 1000 characters")
    if seal.status != "active":
        raise SealStateError(f"seal {seal.id} is {seal.status}, want active")
    req_id = new_id("sreq")
    at = format_time(now)

    def put(con: sqlite3.Connection) -> None:
        con.execute(
            f"INSERT INTO seal_requests ({_REQ_COLS}) VALUES (?, ?, ?, ?, ?, ?, 'pending', "  # noqa: S608
            "NULL, NULL, ?, NULL, NULL)",
            (req_id, seal.tenant, seal.id, document, purpose.strip(), requester_key, at),
        )
        enqueue(
            con,
            seal.tenant,
            _event(seal.id, "seal-use:requested", actor, document, request_id=req_id,
                   purpose=purpose.strip()),
        )  # fmt: skip

    transaction(store, put)
    return get_request(store, req_id)


def get_request(store: SQLiteStore, request_id: str) -> SealRequest:
    """The request ``request_id``; NotFoundError when there is none."""
    sql = f"SELECT {_REQ_COLS} FROM seal_requests WHERE id = ?"  # noqa: S608
    row = reader(store).execute(sql, (request_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no seal request {request_id[:80]!r}")
    return _request(row)


def list_requests(
    store: SQLiteStore, tenants: Collection[str], status: str | None = None, limit: int = 1000
) -> list[SealRequest]:
    """Requests of ``tenants`` (optionally of one status), newest first."""
    ids = list(tenants)
    sql = f"SELECT {_REQ_COLS} FROM seal_requests WHERE tenant IN ({','.join('?' * len(ids))})"  # noqa: S608
    args: list[Any] = ids
    if status is not None:
        sql += " AND status = ?"
        args = [*ids, status]
    rows = reader(store).execute(sql + " ORDER BY created_at DESC, id LIMIT ?", [*args, limit])
    return [_request(r) for r in rows]


def decide(
    store: SQLiteStore,
    request_id: str,
    *,
    approve: bool,
    approver_key: str,
    reason: str,
    actor: dict[str, Any],
    now: datetime,
) -> SealRequest:
    """Approve or reject a pending request; queue the event.

    Raises SealUseForbiddenError when ``approver_key`` made the request or is not an approver
    of the tenant's policy, ConflictError when the request is no longer pending.
    """
    if not isinstance(reason, str) or len(reason) > 1000:
        raise InvalidInputError("reason: want at most 1000 characters")
    req = get_request(store, request_id)
    if approver_key == req.requester_key:
        raise SealUseForbiddenError("a request cannot be decided by the key that made it")
    if approver_key not in get_policy(store, req.tenant).approvers:
        raise SealUseForbiddenError(f"key {approver_key} is not an approver of {req.tenant}")
    status = "approved" if approve else "rejected"
    at = format_time(now)

    def put(con: sqlite3.Connection) -> None:
        cur = con.execute(
            "UPDATE seal_requests SET status = ?, decided_by = ?, decision_reason = ?, "
            "decided_at = ? WHERE id = ? AND status = 'pending'",
            (status, approver_key, reason or None, at, request_id),
        )
        if cur.rowcount != 1:
            raise ConflictError(f"seal request {request_id} is {req.status}, want pending")
        enqueue(
            con,
            req.tenant,
            _event(req.seal_id, f"seal-use:{status}", actor, req.document,
                   request_id=request_id, reason=reason),
        )  # fmt: skip

    transaction(store, put)
    return get_request(store, request_id)


def check_authorisation(
    store: SQLiteStore, request_id: str, seal_id: str, document: bytes, key_id: str
) -> SealRequest:
    """The approved request that lets ``key_id`` seal ``document`` with ``seal_id`` now, or an
    error (ConflictError when it is not approved or already used)."""
    req = get_request(store, request_id)
    if req.seal_id != seal_id or req.document != document:
        raise ConflictError(
            f"seal request {request_id} authorises seal {req.seal_id} on document "
            f"{req.document.hex()}, not seal {seal_id} on {document.hex()}"
        )
    if req.requester_key != key_id:
        raise SealUseForbiddenError("only the key that made the request may use its approval")
    if req.status != "approved":
        raise ConflictError(f"seal request {request_id} is {req.status}, want approved")
    return req


def consume(con: sqlite3.Connection, request_id: str, at: str) -> None:
    """Mark an approved request used, inside the transaction that records the use; raise
    ConflictError if it was used meanwhile (a one-time authorisation)."""
    cur = con.execute(
        "UPDATE seal_requests SET status = 'used', used_at = ? "
        "WHERE id = ? AND status = 'approved'",
        (at, request_id),
    )
    if cur.rowcount != 1:
        raise ConflictError(f"seal request {request_id} was already used")


def record_use(
    con: sqlite3.Connection,
    seal: SealRecord,
    *,
    key_id: str,
    before: bytes,
    after: bytes,
    actor: dict[str, Any],
    at: str,
    request_id: str | None = None,
    envelope_id: str | None = None,
) -> None:
    """Record one use of ``seal`` (row and ``seal-use:used`` event) inside the caller's
    transaction, consuming ``request_id``'s authorisation if given."""
    if request_id is not None:
        consume(con, request_id, at)
    con.execute(
        "INSERT INTO seal_uses (tenant, seal_id, key_id, request_id, envelope_id, before, after, "
        "at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seal.tenant, seal.id, key_id, request_id, envelope_id, before, after, at),
    )
    attrs: dict[str, Any] = {"request_id": request_id, "envelope_id": envelope_id}
    event = _event(seal.id, "seal-use:used", actor, before, **attrs)
    event["documents"] = [
        {"name": "before", "sha256": before.hex()},
        {"name": "after", "sha256": after.hex()},
    ]
    enqueue(con, seal.tenant, event)


def list_uses(
    store: SQLiteStore, tenants: Collection[str], limit: int = 1000
) -> list[dict[str, Any]]:
    """Uses of the seals of ``tenants``, newest first, as JSON objects."""
    ids = list(tenants)
    rows = reader(store).execute(
        "SELECT id, tenant, seal_id, key_id, request_id, envelope_id, before, after, at "  # noqa: S608
        f"FROM seal_uses WHERE tenant IN ({','.join('?' * len(ids))}) ORDER BY id DESC LIMIT ?",
        [*ids, limit],
    )
    return [
        {
            "id": r[0],
            "tenant": r[1],
            "seal": r[2],
            "key_id": r[3],
            "request_id": r[4],
            "envelope_id": r[5],
            "before_sha256": bytes(r[6]).hex(),
            "after_sha256": bytes(r[7]).hex(),
            "at": r[8],
        }
        for r in rows
    ]
