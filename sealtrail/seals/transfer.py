"""Copy a whole seal registry between backends (``sealtrail migrate``), through the protocol.

Everything is read with :class:`~sealtrail.seals.store.SealStore` queries and written back
with the same inserts the service uses (with no events queued: the ledger already holds
them), except uses, which are restored with their ids (:meth:`SealStore.restore_uses`).
:func:`digest` condenses a registry into one SHA-256 per kind of record, so two registries on
different backends can be compared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from sealtrail.seals.store import (
    QueuedEvent,
    SealStore,
    StoredCa,
    StoredEnvelope,
    StoredLink,
    StoredPolicy,
    StoredRequest,
    StoredSeal,
    StoredTerms,
    StoredUse,
)

#: more than any registry holds: the listing queries take a limit
_ALL = 1 << 62


@dataclass
class SealExport:
    """Every record of a seal registry."""

    cas: list[StoredCa] = field(default_factory=list)
    #: each seal with its picture and encrypted key
    seals: list[tuple[StoredSeal, bytes, bytes]] = field(default_factory=list)
    policies: list[StoredPolicy] = field(default_factory=list)
    requests: list[StoredRequest] = field(default_factory=list)
    uses: list[StoredUse] = field(default_factory=list)
    #: each envelope with its current PDF
    envelopes: list[tuple[StoredEnvelope, bytes]] = field(default_factory=list)
    #: envelopes' terms and signer links (schema 10), by envelope id
    terms: dict[str, tuple[StoredTerms, list[StoredLink]]] = field(default_factory=dict)
    outbox: list[QueuedEvent] = field(default_factory=list)

    def rows(self) -> int:
        """How many records."""
        return sum(
            len(x)
            for x in (self.cas, self.seals, self.policies, self.requests, self.uses,
                      self.envelopes, self.outbox)
        )  # fmt: skip


def export_seals(store: SealStore, tenants: Sequence[str]) -> SealExport:
    """Read every record of ``store`` (``tenants``: every tenant of the directory)."""
    out = SealExport(cas=store.cas(None))
    for seal in store.seals(None):
        picture = store.seal_appearance(seal.id)
        key = store.seal_key(seal.id)
        if picture is None or key is None:
            raise LookupError(f"seal {seal.id} has no picture or key")
        out.seals.append((seal, picture, key.key_blob))
    out.policies = [p for t in tenants if (p := store.policy(t)) is not None]
    out.requests = sorted(store.requests(tenants, limit=_ALL), key=lambda r: r.id)
    out.uses = sorted(store.uses(tenants, limit=_ALL), key=lambda u: u.id)
    for env_id in sorted(store.envelope_ids(tenants, limit=_ALL)):
        env, doc = store.envelope(env_id), store.envelope_document(env_id)
        if env is None or doc is None:
            raise LookupError(f"envelope {env_id} vanished while exporting")
        out.envelopes.append((env, doc))
        terms = store.envelope_terms(env_id)
        if terms is not None:
            out.terms[env_id] = (terms, store.links(env_id))
    out.outbox = store.pending_events(_ALL)
    return out


def import_seals(store: SealStore, data: SealExport) -> int:
    """Write ``data`` into the empty ``store``; return how many records."""
    for ca in data.cas:
        store.add_ca(ca)
    for seal, picture, key_blob in data.seals:
        store.insert_seal(seal, appearance=picture, key_blob=key_blob, events=())
    for policy in data.policies:
        store.put_policy(policy, ())
    for request in data.requests:
        store.insert_request(request, ())
    store.restore_uses(data.uses)
    for env, doc in data.envelopes:
        if env.id in data.terms:
            terms, links = data.terms[env.id]
            store.insert_envelope_with_links(env, doc, terms, links, ())
        else:
            store.insert_envelope(env, doc, ())
    if data.outbox:
        from sealtrail.seals.store import OutboxEvent

        store.enqueue([OutboxEvent(e.tenant, e.body) for e in data.outbox])
    return data.rows()


def digest(data: SealExport) -> dict[str, str]:
    """One SHA-256 per kind of record (queued events without their queue ids)."""
    kinds: dict[str, object] = {
        "seal_cas": data.cas,
        "seals": data.seals,
        "seal_policies": data.policies,
        "seal_requests": data.requests,
        "seal_uses": data.uses,
        "envelopes": data.envelopes,
        "envelope_terms": sorted(data.terms.items()),
        "seal_outbox": [(e.tenant, e.body) for e in data.outbox],
    }
    return {k: hashlib.sha256(repr(v).encode()).hexdigest() for k, v in kinds.items()}
