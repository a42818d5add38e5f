"""Seal-use control: a per-tenant policy, requests, approvals, one-time authorisations, uses.

Policy (one per tenant, :meth:`~.store.SealStore.policy`), explicit on purpose:

* ``controlled``: the seal ids that need an approval before each use (``["*"]``: every seal of
  the tenant);
* ``approvers``: the API key ids that may approve or reject requests for those seals — keys of
  the tenant itself or of one of its parents (group headquarters).

Flow: the requester (an integrator key of the seal's tenant) asks to use the seal once for a
purpose — on one stand-alone document (its SHA-256), or for one signer slot of an envelope →
an approver, never the requesting key, approves or rejects → the approval is a one-time
authorisation for that requester, seal and signing act, consumed in the same atomic operation
that records the use (:func:`record_use`, a compare-and-swap from
``approved`` to ``used``), so it cannot be used twice even by racing requests. Each step is
queued as a ledger event carrying the document fingerprint: ``seal-use:requested``,
``seal-use:approved``, ``seal-use:rejected``, ``seal-use:used`` (stream ``seal:<id>``, next to
the seal's lifecycle).

**Bound to the act, not to a hash.** An envelope's PDF changes every time one of its signers
signs, so an approval for an envelope slot names the envelope and the slot, never the PDF's
hash (the request records the hash it saw, for the record). The use records the hashes before
and after, so what was approved and what was sealed are both in the ledger.

Every use of any seal is also recorded as a use (what HQ auditors list).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from sealtrail.core.errors import ConflictError, InvalidInputError, NotFoundError
from sealtrail.core.event import format_time
from sealtrail.seals.errors import ApprovalRequiredError as ApprovalRequiredError
from sealtrail.seals.errors import SealStateError
from sealtrail.seals.errors import SealUseForbiddenError as SealUseForbiddenError
from sealtrail.seals.outbox import new_id, outbox_event
from sealtrail.seals.registry import SealRecord, Tenants
from sealtrail.seals.store import RequestDecision, SealStore, SealUse, StoredPolicy, StoredRequest


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


@dataclass(frozen=True, slots=True)
class SealRequest(StoredRequest):
    """A request to use a seal on one document, and what became of it (as stored)."""

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
            "envelope_id": self.envelope_id,
            "position": self.position,
        }


class KeyRecord(Protocol):
    """What the policy checks read of an API key record (``directory.store.ApiKey`` is one)."""

    @property
    def tenant(self) -> str:
        """The key's tenant."""

    @property
    def role(self) -> str:
        """integrator, auditor or admin."""

    @property
    def revoked_at(self) -> str | None:
        """When it was revoked, if it was."""


class Directory(Tenants, Protocol):
    """The part of the directory the policy checks read (a ``DirectoryStore``)."""

    def key(self, key_id: str) -> KeyRecord | None:
        """One API key record, or None."""


def _request(r: StoredRequest) -> SealRequest:
    return SealRequest(**{f.name: getattr(r, f.name) for f in fields(StoredRequest)})


def _ancestors(directory: Tenants, tenant: str) -> set[str]:
    out: set[str] = set()
    t = directory.tenant(tenant)
    while t is not None and t.id not in out:
        out.add(t.id)
        t = directory.tenant(t.parent) if t.parent else None
    return out


def get_policy(seals: SealStore, tenant: str) -> SealPolicy:
    """``tenant``'s policy (no seal controlled when none was set)."""
    p = seals.policy(tenant)
    if p is None:
        return SealPolicy(tenant, (), (), None)
    return SealPolicy(p.tenant, p.controlled, p.approvers, p.updated_at)


def set_policy(
    seals: SealStore,
    directory: Directory,
    tenant: str,
    controlled: list[str],
    approvers: list[str],
    *,
    actor: dict[str, Any],
    now: datetime,
) -> SealPolicy:
    """Replace ``tenant``'s policy and queue a ``seal-policy:updated`` event.

    Requires seal ids of ``tenant`` (or ``"*"``) and approver keys of ``tenant`` or a parent,
    with role integrator or admin, not revoked (keys and tenants looked up in ``directory``,
    the ledger store).
    """
    if len(controlled) > 1000 or len(approvers) > 100:
        raise InvalidInputError("at most 1000 controlled seals and 100 approvers")
    ancestors = _ancestors(directory, tenant)
    for seal_id in controlled:
        if seal_id == "*":
            continue
        found = seals.seal(seal_id)
        if found is None or found.tenant != tenant:
            raise InvalidInputError(f"controlled: no seal {seal_id[:80]!r} in tenant {tenant}")
    for key_id in approvers:
        key = directory.key(key_id)
        if key is None or key.tenant not in ancestors or key.revoked_at:
            raise InvalidInputError(
                f"approvers: no active key {key_id[:40]!r} of {tenant} or a parent"
            )
        if key.role not in ("integrator", "admin"):
            raise InvalidInputError(
                f"approvers: key {key_id} has role {key.role}, want integrator or admin"
            )
    c, a = sorted(set(controlled)), sorted(set(approvers))
    event = {
        "stream": f"seal-policy:{tenant}",
        "type": "seal-policy:updated",
        "actor": actor,
        "attributes": {"controlled": ",".join(c)[:4096], "approvers": ",".join(a)},
    }
    policy = StoredPolicy(tenant, tuple(c), tuple(a), format_time(now))
    seals.put_policy(policy, [outbox_event(tenant, event)])
    return get_policy(seals, tenant)


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
    seals: SealStore,
    seal: SealRecord,
    document: bytes,
    purpose: str,
    *,
    requester_key: str,
    actor: dict[str, Any],
    now: datetime,
    slot: tuple[str, int] | None = None,
) -> SealRequest:
    """Ask to use ``seal`` on the document with SHA-256 ``document`` — or, with ``slot``
    (envelope id, position), for that envelope signer slot, ``document`` being the envelope's
    PDF as the requester saw it; queue the event.

    Requires an active seal and a 32-byte ``document``; the caller checked that ``seal`` fills
    ``slot``.
    """
    if len(document) != 32:
        raise InvalidInputError("document_sha256: want 64 hex digits")
    if not isinstance(purpose, str) or not 1 <= len(purpose.strip()) <= 1000:
        raise InvalidInputError("purpose: want 1 to 1000 characters")
    if seal.status != "active":
        raise SealStateError(f"seal {seal.id} is {seal.status}, want active")
    req_id = new_id("sreq")
    env_id, position = slot if slot is not None else (None, None)
    stored = StoredRequest(
        req_id, seal.tenant, seal.id, document, purpose.strip(), requester_key, "pending", None,
        None, format_time(now), None, None, env_id, position,
    )  # fmt: skip
    bound = {} if slot is None else {"envelope_id": env_id, "position": position}
    event = _event(seal.id, "seal-use:requested", actor, document, request_id=req_id,
                   purpose=purpose.strip(), **bound)  # fmt: skip
    seals.insert_request(stored, [outbox_event(seal.tenant, event)])
    return get_request(seals, req_id)


def get_request(seals: SealStore, request_id: str) -> SealRequest:
    """The request ``request_id``; NotFoundError when there is none."""
    stored = seals.request(request_id)
    if stored is None:
        raise NotFoundError(f"no seal request {request_id[:80]!r}")
    return _request(stored)


def list_requests(
    seals: SealStore, tenants: Collection[str], status: str | None = None, limit: int = 1000
) -> list[SealRequest]:
    """Requests of ``tenants`` (optionally of one status), newest first."""
    return [_request(r) for r in seals.requests(tenants, status, limit)]


def decide(
    seals: SealStore,
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
    of the tenant's policy, ConflictError when the request is no longer pending (also when
    another decision lands between this read and the write: compare-and-swap).
    """
    if not isinstance(reason, str) or len(reason) > 1000:
        raise InvalidInputError("reason: want at most 1000 characters")
    req = get_request(seals, request_id)
    if approver_key == req.requester_key:
        raise SealUseForbiddenError("a request cannot be decided by the key that made it")
    if approver_key not in get_policy(seals, req.tenant).approvers:
        raise SealUseForbiddenError(f"key {approver_key} is not an approver of {req.tenant}")
    if req.status != "pending":
        raise ConflictError(f"seal request {request_id} is {req.status}, want pending")
    status = "approved" if approve else "rejected"
    event = _event(req.seal_id, f"seal-use:{status}", actor, req.document,
                   request_id=request_id, reason=reason)  # fmt: skip
    decision = RequestDecision(request_id, status, approver_key, reason or None, format_time(now))
    seals.decide_request(decision, [outbox_event(req.tenant, event)])
    return get_request(seals, request_id)


def check_authorisation(
    seals: SealStore,
    request_id: str,
    seal_id: str,
    document: bytes,
    key_id: str,
    *,
    slot: tuple[str, int] | None = None,
) -> SealRequest:
    """The approved request that lets ``key_id`` use ``seal_id`` now — on the stand-alone
    ``document`` (``slot`` None), or for envelope signer ``slot`` (envelope id, position;
    ``document`` is then not compared: other signers change it) — or an error (ConflictError
    when it authorises another act, is not approved or already used; NotFoundError when the
    key does not see it)."""
    req = get_request(seals, request_id)
    if req.tenant != seals_tenant(seals, seal_id):
        raise NotFoundError(f"no seal request {request_id[:80]!r}")
    act = None if req.envelope_id is None else (req.envelope_id, req.position)
    if req.seal_id != seal_id or act != slot:
        raise ConflictError(
            f"seal request {request_id} authorises seal {req.seal_id} "
            f"{_act(act, req.document)}, not seal {seal_id} {_act(slot, document)}"
        )
    if slot is None and req.document != document:
        raise ConflictError(
            f"seal request {request_id} authorises seal {req.seal_id} "
            f"{_act(act, req.document)}, not seal {seal_id} {_act(slot, document)}"
        )
    if req.requester_key != key_id:
        raise SealUseForbiddenError("only the key that made the request may use its approval")
    if req.status != "approved":
        raise ConflictError(f"seal request {request_id} is {req.status}, want approved")
    return req


def seals_tenant(seals: SealStore, seal_id: str) -> str | None:
    """The tenant of seal ``seal_id``, or None."""
    found = seals.seal(seal_id)
    return None if found is None else found.tenant


def _act(slot: tuple[str, int | None] | None, document: bytes) -> str:
    if slot is None:
        return f"on document {document.hex()}"
    return f"for envelope {slot[0]} slot {slot[1]}"


def use_of(
    seal: SealRecord,
    *,
    key_id: str,
    before: bytes,
    after: bytes,
    actor: dict[str, Any],
    at: str,
    request_id: str | None = None,
    envelope_id: str | None = None,
) -> tuple[SealUse, dict[str, Any]]:
    """One use of ``seal`` and its ``seal-use:used`` event (for the seal's tenant), to be
    recorded by :func:`record_use` or with an envelope signature."""
    use = SealUse(seal.tenant, seal.id, key_id, request_id, envelope_id, before, after, at)
    attrs: dict[str, Any] = {"request_id": request_id, "envelope_id": envelope_id}
    event = _event(seal.id, "seal-use:used", actor, before, **attrs)
    event["documents"] = [
        {"name": "before", "sha256": before.hex()},
        {"name": "after", "sha256": after.hex()},
    ]
    return use, event


def record_use(
    seals: SealStore,
    seal: SealRecord,
    *,
    key_id: str,
    before: bytes,
    after: bytes,
    actor: dict[str, Any],
    at: str,
    request_id: str | None = None,
) -> None:
    """Record one use of ``seal`` and queue its ``seal-use:used`` event, atomically, consuming
    ``request_id``'s authorisation if given (ConflictError if it was used meanwhile)."""
    use, event = use_of(
        seal, key_id=key_id, before=before, after=after, actor=actor, at=at,
        request_id=request_id,
    )  # fmt: skip
    seals.record_use(use, [outbox_event(seal.tenant, event)])


def list_uses(
    seals: SealStore, tenants: Collection[str], limit: int = 1000
) -> list[dict[str, Any]]:
    """Uses of the seals of ``tenants``, newest first, as JSON objects."""
    return [
        {
            "id": u.id,
            "tenant": u.use.tenant,
            "seal": u.use.seal_id,
            "key_id": u.use.key_id,
            "request_id": u.use.request_id,
            "envelope_id": u.use.envelope_id,
            "before_sha256": u.use.before.hex(),
            "after_sha256": u.use.after.hex(),
            "at": u.use.at,
        }
        for u in seals.uses(tenants, limit)
    ]
