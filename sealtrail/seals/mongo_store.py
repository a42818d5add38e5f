"""The :class:`~.store.SealStore` on MongoDB, through the ledger's :class:`MongoConnection`.

Collections (in the Sealtrail database, next to the ledger's), one document per SQLite row,
keyed by the SQLite primary key as ``_id`` (unique by definition):

* ``seal_cas`` (``_id``: tenant), ``seals`` (``_id``: seal id; ``chain`` an array of DER),
  ``seal_policies`` (``_id``: tenant), ``seal_requests`` (``_id``: request id);
* ``seal_uses`` and ``seal_outbox``: ``_id`` an integer drawn from ``seal_counters`` inside the
  writing transaction, so ids grow in commit order (the outbox is read by ``_id``);
* ``envelopes`` (``_id``: envelope id), with the PDF and the signer slots (``signers``, by
  position) embedded: a document holds the envelope's whole state, so the compare-and-swap on
  ``version`` and the slot update are one ``update_one``.

Binary values (DER, key blobs, PNGs, digests, PDFs) are stored as BSON binary and never
compared by equality in a query (every filter is on strings and integers).

**Size.** A BSON document holds at most 16 MiB. An envelope keeps its current PDF in its
document; with the default ``max_pdf_bytes`` of 8 MiB (plus the signatures' growth) that fits
with room to spare. A deployment raising ``max_pdf_bytes`` past :data:`MAX_DOCUMENT_BYTES` on
MongoDB gets PdfTooLargeError from envelopes instead of a driver error.

**Atomicity.** Every compound change runs in one :meth:`MongoConnection.transaction` (snapshot
reads, majority/journaled commit), which MongoDB re-runs from the start on a transient error
(write conflict with a concurrent transaction, election); the functions given to it only read
and write through its session and raise to abort, so a re-run is safe. **Compare-and-swap**:
a conditional ``update_one`` (``status``/``version`` in the filter) whose ``matched_count`` is
checked before anything else is written; a concurrent transaction that changed the document
after this one's snapshot makes the update a write conflict, so the re-run sees the new state
and refuses.

Collections, indexes and counters are this module's :data:`SEALS_PART`, laid out once when the
database is opened (:func:`~sealtrail.ledger.mongo_db.open_mongo`, idempotently); building a
:class:`MongoSealStore` does nothing to the database.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from sealtrail.core.errors import ConflictError, NotFoundError
from sealtrail.ledger.mongo_base import Doc, MongoConnection, Txn
from sealtrail.ledger.mongo_db import MongoSchemaPart
from sealtrail.seals.store import (
    PENDING_BATCH,
    InvitationAnswer,
    InvitationRef,
    OutboxEvent,
    QueuedEvent,
    RequestDecision,
    SealStatusChange,
    SealUse,
    SignatureCommit,
    StoredCa,
    StoredEnvelope,
    StoredKey,
    StoredLink,
    StoredPolicy,
    StoredRequest,
    StoredSeal,
    StoredSigner,
    StoredTerms,
    StoredUse,
)
from sealtrail.signing.errors import PdfTooLargeError

T = TypeVar("T")

#: the largest PDF an envelope document may hold: 16 MiB (BSON's limit) less room for the
#: envelope's other fields and its signer slots
MAX_DOCUMENT_BYTES = 15 * 1024 * 1024

CAS, SEALS, OUTBOX, POLICIES = "seal_cas", "seals", "seal_outbox", "seal_policies"
REQUESTS, USES, ENVELOPES, COUNTERS = "seal_requests", "seal_uses", "envelopes", "seal_counters"
#: links are keyed by the hex of the token's SHA-256 (not every MongoDB-compatible server
#: matches binary values in a filter)
TERMS, LINKS = "envelope_terms", "envelope_links"
_COLLECTIONS = (
    CAS, SEALS, OUTBOX, POLICIES, REQUESTS, USES, ENVELOPES, COUNTERS, TERMS, LINKS,
)  # fmt: skip
#: secondary indexes, per collection — the SQLite schema's, plus envelopes by tenant
_INDEXES: dict[str, list[IndexModel]] = {
    SEALS: [IndexModel([("tenant", ASCENDING), ("created_at", ASCENDING)], name="seals_tenant")],
    REQUESTS: [
        IndexModel([("tenant", ASCENDING), ("created_at", DESCENDING)], name="seal_requests_tenant")
    ],
    USES: [IndexModel([("tenant", ASCENDING), ("_id", DESCENDING)], name="seal_uses_tenant")],
    ENVELOPES: [
        IndexModel([("tenant", ASCENDING), ("created_at", DESCENDING)], name="envelopes_tenant"),
        IndexModel([("signers.party", ASCENDING)], name="envelopes_party"),
    ],
    LINKS: [
        IndexModel(
            [("envelope_id", ASCENDING), ("position", ASCENDING)],
            name="envelope_links_slot",
            unique=True,
        )
    ],
}


async def _counters(conn: MongoConnection) -> None:
    for counter in (OUTBOX, USES):
        with contextlib.suppress(DuplicateKeyError):  # another process's upsert won
            await conn.collection(COUNTERS).update_one(
                {"_id": counter}, {"$setOnInsert": {"n": 0}}, upsert=True
            )
    await _signer_parties(conn)


async def _signer_parties(conn: MongoConnection) -> None:
    """Envelopes written before signer slots named their party: each slot gets its seal's
    tenant (idempotent: only slots without ``party`` are touched, each to the same value)."""
    envelopes, seals = conn.collection(ENVELOPES), conn.collection(SEALS)
    cursor = envelopes.find({"signers.party": {"$exists": False}}, {"signers": 1})
    async for env in cursor:
        signers, changed = [], False
        for slot in env.get("signers", []):
            if "party" not in slot:
                seal = await seals.find_one({"_id": slot["seal_id"]}, {"tenant": 1})
                slot = {**slot, "party": "" if seal is None else seal["tenant"]}
                changed = True
            signers.append(slot)
        if changed:
            await envelopes.update_one({"_id": env["_id"]}, {"$set": {"signers": signers}})


#: the seal collections, their indexes and id counters
SEALS_PART = MongoSchemaPart("seals", _COLLECTIONS, _INDEXES, _counters)

_SEAL_SECRETS = {"appearance": 0, "key_blob": 0}


def _seal(d: Doc) -> StoredSeal:
    return StoredSeal(
        d["_id"], d["tenant"], d["kind"], d["name"], d["purpose"], d["code"], d["remarks"],
        d["status"], d["status_reason"], d["status_at"], d["source"], d["appearance_source"],
        bytes(d["certificate"]), tuple(bytes(c) for c in d["chain"]), d["created_at"],
    )  # fmt: skip


def _ca(d: Doc) -> StoredCa:
    return StoredCa(d["_id"], bytes(d["certificate"]), bytes(d["key_blob"]), d["created_at"])


def _request(d: Doc) -> StoredRequest:
    return StoredRequest(
        d["_id"], d["tenant"], d["seal_id"], bytes(d["document"]), d["purpose"],
        d["requester_key"], d["status"], d["decided_by"], d["decision_reason"], d["created_at"],
        d["decided_at"], d["used_at"], d.get("envelope_id"), d.get("position"),
    )  # fmt: skip


def _opt_bytes(v: Any) -> bytes | None:
    return None if v is None else bytes(v)


def _signer(d: Doc) -> StoredSigner:
    return StoredSigner(
        d["position"], d["seal_id"], d["key_id"], d["status"], d["signed_by"], d["signed_at"],
        _opt_bytes(d["before"]), _opt_bytes(d["after"]), d.get("party", ""),
        d.get("invitation"), d.get("answered_by"), d.get("answered_at"),
    )  # fmt: skip


def _envelope(d: Doc) -> StoredEnvelope:
    signers = sorted((_signer(s) for s in d["signers"]), key=lambda s: s.position)
    return StoredEnvelope(
        d["_id"], d["tenant"], d["title"], d["ordered"], d["status"], d["version"],
        bytes(d["original"]), bytes(d["current"]), d["created_by"], d["created_at"],
        d["completed_at"], tuple(signers),
    )  # fmt: skip


def _check_size(document: bytes) -> None:
    if len(document) > MAX_DOCUMENT_BYTES:
        raise PdfTooLargeError(
            f"PDF of {len(document)} bytes, want at most {MAX_DOCUMENT_BYTES} in a MongoDB "
            "envelope (BSON documents hold 16 MiB)"
        )


def _link(d: Doc) -> StoredLink:
    return StoredLink(
        bytes.fromhex(d["_id"]), d["envelope_id"], int(d["position"]), d["kind"], d["name"],
        d.get("email"), d["fields"], d["session"], int(d["rev"]),
    )  # fmt: skip


def _terms(d: Doc) -> StoredTerms:
    return StoredTerms(d["_id"], d.get("expires_at"), d.get("ended_reason"), d.get("ended_at"))


def _envelope_doc(e: StoredEnvelope, document: bytes) -> dict[str, Any]:
    """An envelope as its MongoDB document (signers embedded)."""
    return {
        "_id": e.id, "tenant": e.tenant, "title": e.title, "ordered": e.ordered,
        "status": e.status, "version": e.version, "original": e.original,
        "current": e.current, "document": document, "created_by": e.created_by,
        "created_at": e.created_at, "completed_at": e.completed_at,
        "signers": [
            {"position": s.position, "seal_id": s.seal_id, "key_id": s.key_id,
             "status": s.status, "signed_by": s.signed_by, "signed_at": s.signed_at,
             "before": s.before, "after": s.after, "party": s.party,
             "invitation": s.invitation, "answered_by": s.answered_by,
             "answered_at": s.answered_at}
            for s in e.signers
        ],
    }  # fmt: skip


class MongoSealStore:
    """Seal persistence in MongoDB (module docstring), on the shared connection."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn
        self._c = {name: conn.collection(name) for name in _COLLECTIONS}

    # -- helpers -------------------------------------------------------------------------------

    def _txn(self, fn: Callable[[AsyncClientSession], T]) -> T:
        """Run ``fn(session)``, which writes, in one transaction (re-run on transient errors)."""

        def body(t: Txn) -> T:
            t.wrote = True
            return fn(t.session)

        return self.conn.transaction(body)

    def _next_ids(self, counter: str, n: int, s: AsyncClientSession) -> int:
        """Reserve ``n`` ids of ``counter`` in the transaction of ``s``; return the first.

        The counter document is written by every transaction that draws from it, so two
        drawing concurrently conflict and commit one after the other: ids follow commit order.
        """
        doc = self.conn.run(
            self._c[COUNTERS].find_one_and_update(
                {"_id": counter},
                {"$inc": {"n": n}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=s,
            )
        )
        assert doc is not None
        return int(doc["n"]) - n + 1

    def _enqueue(self, events: Sequence[OutboxEvent], s: AsyncClientSession) -> None:
        if not events:
            return
        first = self._next_ids(OUTBOX, len(events), s)
        docs = [
            {"_id": first + i, "tenant": e.tenant, "event": e.body.decode()}
            for i, e in enumerate(events)
        ]
        self.conn.run(self._c[OUTBOX].insert_many(docs, ordered=True, session=s))

    def _record_use(self, use: SealUse, s: AsyncClientSession) -> None:
        run = self.conn.run
        if use.request_id is not None:  # a one-time authorisation: consumed by exactly one use
            r = run(
                self._c[REQUESTS].update_one(
                    {"_id": use.request_id, "status": "approved"},
                    {"$set": {"status": "used", "used_at": use.at}},
                    session=s,
                )
            )
            if r.matched_count != 1:
                raise ConflictError(f"seal request {use.request_id} was already used")
        doc = {
            "_id": self._next_ids(USES, 1, s),
            "tenant": use.tenant,
            "seal_id": use.seal_id,
            "key_id": use.key_id,
            "request_id": use.request_id,
            "envelope_id": use.envelope_id,
            "before": use.before,
            "after": use.after,
            "at": use.at,
        }
        run(self._c[USES].insert_one(doc, session=s))

    def restore_uses(self, uses: Sequence[StoredUse]) -> None:
        if not uses:
            return
        docs = [
            {"_id": u.id, "tenant": u.use.tenant, "seal_id": u.use.seal_id,
             "key_id": u.use.key_id, "request_id": u.use.request_id,
             "envelope_id": u.use.envelope_id, "before": u.use.before, "after": u.use.after,
             "at": u.use.at}
            for u in uses
        ]  # fmt: skip
        top = max(u.id for u in uses)

        def put(session: AsyncClientSession) -> None:
            self.conn.run(self._c[USES].insert_many(docs, ordered=True, session=session))
            self.conn.run(
                self._c[COUNTERS].update_one(
                    {"_id": USES}, {"$max": {"n": top}}, upsert=True, session=session
                )
            )

        self._txn(put)

    def _find(self, name: str, query: Doc, projection: Doc | None = None) -> Doc | None:
        return self.conn.run(self._c[name].find_one(query, projection=projection))

    def _list(
        self,
        name: str,
        query: Doc,
        sort: list[tuple[str, int]],
        limit: int | None = None,
        projection: Doc | None = None,
    ) -> list[Doc]:
        if limit is not None and limit < 1:
            return []  # (MongoDB's limit(0) would mean "no limit")

        async def go() -> list[Doc]:
            cursor = self._c[name].find(query, projection=projection).sort(sort)
            if limit is not None:
                cursor = cursor.limit(limit)
            return await cursor.to_list()

        return self.conn.run(go())

    # -- internal CAs ------------------------------------------------------------------------

    def ca(self, tenant: str) -> StoredCa | None:
        d = self._find(CAS, {"_id": tenant})
        return None if d is None else _ca(d)

    def add_ca(self, ca: StoredCa) -> StoredCa:
        doc = {
            "_id": ca.tenant,
            "certificate": ca.certificate,
            "key_blob": ca.key_blob,
            "created_at": ca.created_at,
        }
        with contextlib.suppress(ConflictError):  # another process's CA won: use that one
            self.conn.run(self._c[CAS].insert_one(doc))
        stored = self.ca(ca.tenant)
        assert stored is not None
        return stored

    def cas(self, tenants: Collection[str] | None = None) -> list[StoredCa]:
        query: Doc = {} if tenants is None else {"_id": {"$in": list(tenants)}}
        return [_ca(d) for d in self._list(CAS, query, [("_id", ASCENDING)])]

    def any_ca(self) -> StoredCa | None:
        d = self._find(CAS, {})
        return None if d is None else _ca(d)

    # -- seals -------------------------------------------------------------------------------

    def insert_seal(
        self,
        seal: StoredSeal,
        *,
        appearance: bytes,
        key_blob: bytes,
        events: Sequence[OutboxEvent],
    ) -> None:
        s = seal
        doc = {
            "_id": s.id, "tenant": s.tenant, "kind": s.kind, "name": s.name,
            "purpose": s.purpose, "code": s.code, "remarks": s.remarks, "status": s.status,
            "status_reason": s.status_reason, "status_at": s.status_at, "source": s.source,
            "appearance": appearance, "appearance_source": s.appearance_source,
            "certificate": s.certificate, "chain": list(s.chain), "key_blob": key_blob,
            "created_at": s.created_at,
        }  # fmt: skip

        def put(session: AsyncClientSession) -> None:
            self.conn.run(self._c[SEALS].insert_one(doc, session=session))
            self._enqueue(events, session)

        self._txn(put)

    def seal(self, seal_id: str) -> StoredSeal | None:
        d = self._find(SEALS, {"_id": seal_id}, _SEAL_SECRETS)
        return None if d is None else _seal(d)

    def seals(
        self, tenants: Collection[str] | None = None, status: str | None = None
    ) -> list[StoredSeal]:
        query: Doc = {}
        if tenants is not None:
            query["tenant"] = {"$in": list(tenants)}
        if status is not None:
            query["status"] = status
        sort = [("created_at", ASCENDING), ("_id", ASCENDING)]
        return [_seal(d) for d in self._list(SEALS, query, sort, projection=_SEAL_SECRETS)]

    def seal_appearance(self, seal_id: str) -> bytes | None:
        d = self._find(SEALS, {"_id": seal_id}, {"appearance": 1})
        return None if d is None else bytes(d["appearance"])

    def seal_key(self, seal_id: str) -> StoredKey | None:
        d = self._find(SEALS, {"_id": seal_id}, {"status": 1, "key_blob": 1})
        return None if d is None else StoredKey(d["_id"], d["status"], bytes(d["key_blob"]))

    def any_seal_key(self) -> StoredKey | None:
        d = self._find(SEALS, {}, {"status": 1, "key_blob": 1})
        return None if d is None else StoredKey(d["_id"], d["status"], bytes(d["key_blob"]))

    def set_seal_status(self, change: SealStatusChange, events: Sequence[OutboxEvent]) -> None:
        c = change
        run, seals = self.conn.run, self._c[SEALS]

        def put(session: AsyncClientSession) -> None:
            r = run(
                seals.update_one(
                    {"_id": c.seal_id, "status": c.expected},
                    {"$set": {"status": c.status, "status_reason": c.reason, "status_at": c.at}},
                    session=session,
                )
            )
            if r.matched_count != 1:
                d = run(seals.find_one({"_id": c.seal_id}, {"status": 1}, session=session))
                if d is None:
                    raise NotFoundError(f"no seal {c.seal_id!r}")
                raise ConflictError(f"seal {c.seal_id} is {d['status']}, want {c.expected}")
            self._enqueue(events, session)

        self._txn(put)

    # -- outbox ------------------------------------------------------------------------------

    def enqueue(self, events: Sequence[OutboxEvent]) -> None:
        if events:
            self._txn(lambda session: self._enqueue(events, session))

    def pending_events(self, limit: int = PENDING_BATCH) -> list[QueuedEvent]:
        docs = self._list(OUTBOX, {}, [("_id", ASCENDING)], limit)
        return [QueuedEvent(int(d["_id"]), d["tenant"], d["event"].encode()) for d in docs]

    def events_done(self, ids: Collection[int]) -> None:
        if ids:
            self.conn.run(self._c[OUTBOX].delete_many({"_id": {"$in": list(ids)}}))

    # -- seal-use policies ---------------------------------------------------------------------

    def policy(self, tenant: str) -> StoredPolicy | None:
        d = self._find(POLICIES, {"_id": tenant})
        if d is None:
            return None
        return StoredPolicy(
            d["_id"], tuple(d["controlled"]), tuple(d["approvers"]), d["updated_at"]
        )

    def put_policy(self, policy: StoredPolicy, events: Sequence[OutboxEvent]) -> None:
        p = policy
        doc = {
            "controlled": list(p.controlled),
            "approvers": list(p.approvers),
            "updated_at": p.updated_at,
        }

        def put(session: AsyncClientSession) -> None:
            self.conn.run(
                self._c[POLICIES].replace_one({"_id": p.tenant}, doc, upsert=True, session=session)
            )
            self._enqueue(events, session)

        self._txn(put)

    # -- seal-use requests ---------------------------------------------------------------------

    def insert_request(self, request: StoredRequest, events: Sequence[OutboxEvent]) -> None:
        r = request
        doc = {
            "_id": r.id, "tenant": r.tenant, "seal_id": r.seal_id, "document": r.document,
            "purpose": r.purpose, "requester_key": r.requester_key, "status": r.status,
            "decided_by": r.decided_by, "decision_reason": r.decision_reason,
            "created_at": r.created_at, "decided_at": r.decided_at, "used_at": r.used_at,
            "envelope_id": r.envelope_id, "position": r.position,
        }  # fmt: skip

        def put(session: AsyncClientSession) -> None:
            self.conn.run(self._c[REQUESTS].insert_one(doc, session=session))
            self._enqueue(events, session)

        self._txn(put)

    def request(self, request_id: str) -> StoredRequest | None:
        d = self._find(REQUESTS, {"_id": request_id})
        return None if d is None else _request(d)

    def requests(
        self, tenants: Collection[str], status: str | None = None, limit: int = 1000
    ) -> list[StoredRequest]:
        query: Doc = {"tenant": {"$in": list(tenants)}}
        if status is not None:
            query["status"] = status
        sort = [("created_at", DESCENDING), ("_id", ASCENDING)]
        return [_request(d) for d in self._list(REQUESTS, query, sort, limit)]

    def decide_request(self, decision: RequestDecision, events: Sequence[OutboxEvent]) -> None:
        d = decision
        run, requests = self.conn.run, self._c[REQUESTS]
        change = {
            "status": d.status,
            "decided_by": d.decided_by,
            "decision_reason": d.reason,
            "decided_at": d.at,
        }

        def put(session: AsyncClientSession) -> None:
            r = run(
                requests.update_one(
                    {"_id": d.request_id, "status": "pending"}, {"$set": change}, session=session
                )
            )
            if r.matched_count != 1:
                found = run(
                    requests.find_one({"_id": d.request_id}, {"status": 1}, session=session)
                )
                if found is None:
                    raise NotFoundError(f"no seal request {d.request_id[:80]!r}")
                raise ConflictError(
                    f"seal request {d.request_id} is {found['status']}, want pending"
                )
            self._enqueue(events, session)

        self._txn(put)

    # -- seal uses ---------------------------------------------------------------------------

    def record_use(self, use: SealUse, events: Sequence[OutboxEvent]) -> None:
        def put(session: AsyncClientSession) -> None:
            self._record_use(use, session)
            self._enqueue(events, session)

        self._txn(put)

    def uses(self, tenants: Collection[str], limit: int = 1000) -> list[StoredUse]:
        docs = self._list(USES, {"tenant": {"$in": list(tenants)}}, [("_id", DESCENDING)], limit)
        return [
            StoredUse(
                int(d["_id"]),
                SealUse(d["tenant"], d["seal_id"], d["key_id"], d["request_id"], d["envelope_id"],
                        bytes(d["before"]), bytes(d["after"]), d["at"]),
            )
            for d in docs
        ]  # fmt: skip

    def seal_use_counts(self, tenants: Collection[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(tenants))
        out = dict.fromkeys(ids, 0)
        if not ids:
            return out

        async def go() -> list[Doc]:
            cursor = await self._c[USES].aggregate(
                [
                    {"$match": {"tenant": {"$in": ids}}},
                    {"$group": {"_id": "$tenant", "n": {"$sum": 1}}},
                ]
            )
            return await cursor.to_list()

        out.update((d["_id"], int(d["n"])) for d in self.conn.run(go()))
        return out

    # -- envelopes ---------------------------------------------------------------------------

    def insert_envelope(
        self, envelope: StoredEnvelope, document: bytes, events: Sequence[OutboxEvent]
    ) -> None:
        _check_size(document)
        e = envelope
        doc = _envelope_doc(e, document)

        def put(session: AsyncClientSession) -> None:
            self.conn.run(self._c[ENVELOPES].insert_one(doc, session=session))
            self._enqueue(events, session)

        self._txn(put)

    def envelope(self, envelope_id: str) -> StoredEnvelope | None:
        d = self._find(ENVELOPES, {"_id": envelope_id}, {"document": 0})
        return None if d is None else _envelope(d)

    def envelope_document(self, envelope_id: str) -> bytes | None:
        d = self._find(ENVELOPES, {"_id": envelope_id}, {"document": 1})
        return None if d is None else bytes(d["document"])

    def envelope_ids(self, tenants: Collection[str], limit: int = 1000) -> list[str]:
        query = {"tenant": {"$in": list(tenants)}}
        sort = [("created_at", DESCENDING), ("_id", ASCENDING)]
        return [d["_id"] for d in self._list(ENVELOPES, query, sort, limit, {"_id": 1})]

    def completed_envelope_ids(self, after: str = "", limit: int = 100) -> list[str]:
        query = {"status": "completed", "_id": {"$gt": after}}
        sort = [("_id", ASCENDING)]
        return [d["_id"] for d in self._list(ENVELOPES, query, sort, limit, {"_id": 1})]

    def renew_envelope_document(
        self, envelope_id: str, before: bytes, document: bytes, events: Sequence[OutboxEvent]
    ) -> None:
        _check_size(document)
        query = {"_id": envelope_id, "status": "completed"}
        change = {"$set": {"document": document, "current": hashlib.sha256(document).digest()}}

        def put(session: AsyncClientSession) -> None:
            # compared here, not in the filter: not every MongoDB-compatible server matches
            # binary values in a filter; the transaction keeps the read and the write together
            got = self.conn.run(self._c[ENVELOPES].find_one(query, {"current": 1}, session=session))
            if got is None or bytes(got["current"]) != before:
                raise ConflictError(f"envelope {envelope_id} changed while renewing its archive")
            self.conn.run(self._c[ENVELOPES].update_one(query, change, session=session))
            self._enqueue(events, session)

        self._txn(put)

    def _update_signed(self, c: SignatureCommit, session: AsyncClientSession) -> None:
        """Store the signed document and mark the slot signed, if the envelope is still open at
        the version it was read at (ConflictError otherwise)."""
        # the filter names the slot so that "signers.$" below is that slot
        query = {"_id": c.envelope_id, "version": c.version, "status": "open",
                 "signers.position": c.position}  # fmt: skip
        change = {
            "$set": {
                "document": c.document,
                "current": c.after,
                "status": "completed" if c.completes else "open",
                "completed_at": c.at if c.completes else None,
                "signers.$.status": "signed",
                "signers.$.signed_by": c.signed_by,
                "signers.$.signed_at": c.at,
                "signers.$.before": c.before,
                "signers.$.after": c.after,
            },
            "$inc": {"version": 1},
        }
        r = self.conn.run(self._c[ENVELOPES].update_one(query, change, session=session))
        if r.matched_count != 1:
            raise ConflictError(f"envelope {c.envelope_id} changed while signing: sign again")

    def commit_signature(
        self, commit: SignatureCommit, use: SealUse, events: Sequence[OutboxEvent]
    ) -> None:
        _check_size(commit.document)

        def put(session: AsyncClientSession) -> None:
            self._update_signed(commit, session)
            self._record_use(use, session)
            self._enqueue(events, session)

        self._txn(put)

    # -- invitations -------------------------------------------------------------------------

    def invitations(self, parties: Collection[str], limit: int = 1000) -> list[InvitationRef]:
        wanted = set(parties)
        # a loose filter (any slot of a party, any slot invited), made exact below: neither
        # $elemMatch nor $in on an array element's field, which not every MongoDB-compatible
        # server takes
        query: Doc = {
            "status": "open",
            "signers.invitation": "invited",
            "$or": [{"signers.party": p} for p in sorted(wanted)],
        }
        if not wanted:
            return []
        sort = [("created_at", DESCENDING), ("_id", ASCENDING)]
        out: list[InvitationRef] = []
        for d in self._list(ENVELOPES, query, sort, None, {"signers": 1}):
            for slot in sorted(d["signers"], key=lambda x: x["position"]):
                if slot.get("invitation") == "invited" and slot.get("party") in wanted:
                    out.append(InvitationRef(d["_id"], slot["position"], slot["party"]))
            if len(out) >= limit:
                break
        return out[:limit]

    def answer_invitation(self, answer: InvitationAnswer, events: Sequence[OutboxEvent]) -> None:
        a = answer
        accepted = a.seal_id is not None
        run, envelopes = self.conn.run, self._c[ENVELOPES]

        def put(session: AsyncClientSession) -> None:
            # read, check and write the slots in one transaction: a concurrent answer writes
            # the same document, so one of the two conflicts and re-runs, and then refuses
            d = run(envelopes.find_one({"_id": a.envelope_id}, {"document": 0}, session=session))
            slots = [] if d is None or d["status"] != "open" else list(d["signers"])
            i = next(
                (i for i, x in enumerate(slots)
                 if x["position"] == a.position and x.get("invitation") == "invited"),
                None,
            )  # fmt: skip
            if d is None or i is None:
                raise ConflictError(
                    f"envelope {a.envelope_id} slot {a.position} is no longer an open invitation"
                )
            slots[i] = {
                **slots[i],
                "invitation": "accepted" if accepted else "declined",
                "seal_id": a.seal_id,
                "key_id": a.key_id,
                "answered_by": a.answered_by,
                "answered_at": a.at,
            }
            change: Doc = {"signers": slots}
            if not accepted:  # a declined invitation ends the envelope
                change |= {"status": "declined", "completed_at": a.at}
            r = run(
                envelopes.update_one(
                    {"_id": a.envelope_id, "version": d["version"], "status": "open"},
                    {"$set": change},
                    session=session,
                )
            )
            if r.matched_count != 1:
                raise ConflictError(f"envelope {a.envelope_id} changed meanwhile: answer again")
            self._enqueue(events, session)

        self._txn(put)

    # -- signer links and envelope terms (schema 10) -------------------------------------------

    def insert_envelope_with_links(
        self,
        envelope: StoredEnvelope,
        document: bytes,
        terms: StoredTerms,
        links: Sequence[StoredLink],
        events: Sequence[OutboxEvent],
    ) -> None:
        _check_size(document)
        e = envelope
        doc = _envelope_doc(e, document)
        tdoc = {"_id": e.id, "expires_at": terms.expires_at,
                "ended_reason": terms.ended_reason, "ended_at": terms.ended_at}  # fmt: skip
        ldocs = [
            {"_id": k.token_hash.hex(), "envelope_id": k.envelope_id, "position": k.position,
             "kind": k.kind, "name": k.name, "email": k.email, "fields": k.fields,
             "session": k.session, "rev": k.rev}
            for k in links
        ]  # fmt: skip

        def put(session: AsyncClientSession) -> None:
            self.conn.run(self._c[ENVELOPES].insert_one(doc, session=session))
            self.conn.run(self._c[TERMS].insert_one(tdoc, session=session))
            if ldocs:
                self.conn.run(self._c[LINKS].insert_many(ldocs, session=session))
            self._enqueue(events, session)

        self._txn(put)

    def envelope_terms(self, envelope_id: str) -> StoredTerms | None:
        d = self._find(TERMS, {"_id": envelope_id})
        return None if d is None else _terms(d)

    def link(self, token_hash: bytes) -> StoredLink | None:
        d = self._find(LINKS, {"_id": token_hash.hex()})
        return None if d is None else _link(d)

    def links(self, envelope_id: str) -> list[StoredLink]:
        docs = self._list(LINKS, {"envelope_id": envelope_id}, [("position", ASCENDING)])
        return [_link(d) for d in docs]

    def update_link(
        self, token_hash: bytes, rev: int, session: str, events: Sequence[OutboxEvent]
    ) -> None:
        def put(s: AsyncClientSession) -> None:
            r = self.conn.run(
                self._c[LINKS].update_one(
                    {"_id": token_hash.hex(), "rev": rev},
                    {"$set": {"session": session}, "$inc": {"rev": 1}},
                    session=s,
                )
            )
            if r.matched_count != 1:
                raise ConflictError("the signing link changed meanwhile: try again")
            self._enqueue(events, s)

        self._txn(put)

    def expiring_envelope_ids(self, before: str, limit: int = 100) -> list[str]:
        due = self._list(
            TERMS, {"expires_at": {"$ne": None, "$lte": before}},
            [("expires_at", ASCENDING), ("_id", ASCENDING)], None, {"_id": 1},
        )  # fmt: skip
        out: list[str] = []
        for d in due:
            env = self._find(ENVELOPES, {"_id": d["_id"]}, {"status": 1})
            if env is not None and env["status"] == "open":
                out.append(d["_id"])
                if len(out) >= limit:
                    break
        return out

    def replace_link_token(
        self, old_hash: bytes, new_hash: bytes, events: Sequence[OutboxEvent]
    ) -> None:
        links = self._c[LINKS]

        def put(s: AsyncClientSession) -> None:
            d = self.conn.run(links.find_one({"_id": old_hash.hex()}, session=s))
            if d is None:
                raise ConflictError("the signing link changed meanwhile: try again")
            self.conn.run(links.delete_one({"_id": old_hash.hex()}, session=s))
            moved = {**d, "_id": new_hash.hex(), "rev": int(d["rev"]) + 1}
            self.conn.run(links.insert_one(moved, session=s))
            self._enqueue(events, s)

        self._txn(put)

    def end_envelope(
        self, envelope_id: str, status: str, reason: str | None, at: str,
        events: Sequence[OutboxEvent],
    ) -> None:  # fmt: skip
        def put(s: AsyncClientSession) -> None:
            r = self.conn.run(
                self._c[ENVELOPES].update_one(
                    {"_id": envelope_id, "status": "open"},
                    {"$set": {"status": status, "completed_at": at}},
                    session=s,
                )
            )
            if r.matched_count != 1:
                raise ConflictError(f"envelope {envelope_id} is no longer open")
            self.conn.run(
                self._c[TERMS].update_one(
                    {"_id": envelope_id},
                    {"$set": {"ended_reason": reason, "ended_at": at}},
                    upsert=True,
                    session=s,
                )
            )
            self._enqueue(events, s)

        self._txn(put)

    def commit_link_signature(self, commit: SignatureCommit, events: Sequence[OutboxEvent]) -> None:
        _check_size(commit.document)

        def put(session: AsyncClientSession) -> None:
            self._update_signed(commit, session)
            self._enqueue(events, session)

        self._txn(put)
