"""Envelopes: one PDF, several signers (each a seal), signed in order or in any order.

An envelope keeps the current PDF (tables ``envelopes`` and ``envelope_signers``); each
signature is appended as an incremental update, so earlier signatures stay intact. Parallel
envelopes still sign one at a time: every signature is committed with a compare-and-swap on the
envelope's ``version`` (the number of signatures applied), so two signers racing from the same
revision cannot both win — the loser gets a ConflictError and signs the newer revision.

Events (stream ``envelope:<id>``, in the creator's tenant): ``envelope:created`` (the uploaded
document's fingerprint), ``envelope:signed`` (fingerprints before and after, the seal, and the
signer's position), ``envelope:completed`` (the final fingerprint), and the core types ``view``
and ``download`` for every status view and download. The signing seal's tenant also gets its
``seal-use:used`` event (:func:`sealtrail.signing.approvals.record_use`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ..ledger.event import format_time
from ..ledger.sqlite_store import SQLiteStore
from .approvals import SealUseForbiddenError, record_use
from .db import enqueue, new_id, reader, transaction
from .registry import SealRecord, get_seal

MAX_SIGNERS = 15  # 3 × 5 seal boxes on the last page


@dataclass(frozen=True)
class EnvelopeSigner:
    """One signer's slot: the seal to apply, and who must apply it."""

    position: int
    seal_id: str
    key_id: str | None  # None: any integrator key of the seal's tenant
    status: str  # pending, signed
    signed_by: str | None
    signed_at: str | None
    before: bytes | None
    after: bytes | None

    def to_json(self) -> dict[str, Any]:
        """The slot as the API shows it."""
        return {
            "position": self.position,
            "seal": self.seal_id,
            "key_id": self.key_id,
            "status": self.status,
            "signed_by": self.signed_by,
            "signed_at": self.signed_at,
            "before_sha256": None if self.before is None else self.before.hex(),
            "after_sha256": None if self.after is None else self.after.hex(),
        }


@dataclass(frozen=True)
class Envelope:
    """An envelope's state (the PDF itself is read with :func:`document`)."""

    id: str
    tenant: str
    title: str
    ordered: bool
    status: str  # open, completed
    version: int
    original: bytes
    current: bytes
    created_by: str
    created_at: str
    completed_at: str | None
    signers: tuple[EnvelopeSigner, ...]

    def tenants(self, store: SQLiteStore) -> set[str]:
        """The creator's tenant and every signing seal's tenant (who may see the envelope)."""
        out = {self.tenant}
        for s in self.signers:
            seal = get_seal(store, s.seal_id)
            if seal is not None:
                out.add(seal.tenant)
        return out

    def to_json(self) -> dict[str, Any]:
        """The envelope as the API shows it."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "title": self.title,
            "order": "sequential" if self.ordered else "parallel",
            "status": self.status,
            "signatures": self.version,
            "original_sha256": self.original.hex(),
            "current_sha256": self.current.hex(),
            "created_by": self.created_by,
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "signers": [s.to_json() for s in self.signers],
        }


def sha256(data: bytes) -> bytes:
    """SHA-256 of ``data``."""
    return hashlib.sha256(data).digest()


def create_envelope(
    store: SQLiteStore,
    *,
    tenant: str,
    title: str,
    ordered: bool,
    signers: list[tuple[SealRecord, str | None]],
    pdf: bytes,
    created_by: str,
    actor: dict[str, Any],
    now: datetime,
) -> Envelope:
    """Create an envelope for ``pdf`` (already checked to parse) with ``signers`` (seal, and
    the key that must sign, or None); queue ``envelope:created``."""
    if not 1 <= len(signers) <= MAX_SIGNERS:
        raise InvalidInputError(f"signers: want 1 to {MAX_SIGNERS}, got {len(signers)}")
    if len({s.id for s, _ in signers}) != len(signers):
        raise InvalidInputError("signers: a seal may appear once")
    if not isinstance(title, str) or not 1 <= len(title) <= 256 or not title.isprintable():
        raise InvalidInputError("title: want 1 to 256 printable characters")
    env_id = new_id("env")
    digest = sha256(pdf)
    at = format_time(now)

    def put(con: sqlite3.Connection) -> None:
        con.execute(
            "INSERT INTO envelopes (id, tenant, title, ordered, status, document, original, "
            "version, created_by, created_at, completed_at) "
            "VALUES (?, ?, ?, ?, 'open', ?, ?, 0, ?, ?, NULL)",
            (env_id, tenant, title, int(ordered), pdf, digest, created_by, at),
        )
        con.executemany(
            "INSERT INTO envelope_signers (envelope_id, position, seal_id, key_id, status) "
            "VALUES (?, ?, ?, ?, 'pending')",
            [(env_id, i, seal.id, key) for i, (seal, key) in enumerate(signers)],
        )
        enqueue(
            con,
            tenant,
            {
                "stream": f"envelope:{env_id}",
                "type": "envelope:created",
                "actor": actor,
                "documents": [{"name": title[:512], "sha256": digest.hex()}],
                "attributes": {
                    "envelope_id": env_id,
                    "order": "sequential" if ordered else "parallel",
                    "signers": ",".join(seal.id for seal, _ in signers),
                },
            },
        )

    transaction(store, put)
    return get_envelope(store, env_id)


def get_envelope(store: SQLiteStore, env_id: str) -> Envelope:
    """The envelope ``env_id``; NotFoundError when there is none."""
    con = reader(store)
    row = con.execute(
        "SELECT id, tenant, title, ordered, status, version, original, created_by, created_at, "
        "completed_at, length(document) FROM envelopes WHERE id = ?",
        (env_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no envelope {env_id[:80]!r}")
    doc = document(store, env_id)
    signers = tuple(
        EnvelopeSigner(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            None if r[6] is None else bytes(r[6]),
            None if r[7] is None else bytes(r[7]),
        )
        for r in con.execute(
            "SELECT position, seal_id, key_id, status, signed_by, signed_at, before, after "
            "FROM envelope_signers WHERE envelope_id = ? ORDER BY position",
            (env_id,),
        )
    )
    return Envelope(
        row[0], row[1], row[2], bool(row[3]), row[4], row[5], bytes(row[6]), sha256(doc),
        row[7], row[8], row[9], signers,
    )  # fmt: skip


def document(store: SQLiteStore, env_id: str) -> bytes:
    """The envelope's current PDF."""
    row = reader(store).execute("SELECT document FROM envelopes WHERE id = ?", (env_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no envelope {env_id[:80]!r}")
    return bytes(row[0])


def envelopes_of(store: SQLiteStore, tenants: Collection[str], limit: int = 1000) -> list[str]:
    """Ids of envelopes created by ``tenants``, newest first."""
    ids = list(tenants)
    rows = reader(store).execute(
        f"SELECT id FROM envelopes WHERE tenant IN ({','.join('?' * len(ids))}) "  # noqa: S608
        "ORDER BY created_at DESC, id LIMIT ?",
        [*ids, limit],
    )
    return [r[0] for r in rows]


def slot_for(env: Envelope, seal: SealRecord, key_id: str) -> EnvelopeSigner:
    """The slot ``key_id`` fills by signing with ``seal`` now, or an error: the envelope is
    complete, the seal is not a signer, it already signed, it is not its turn (sequential), or
    the slot names another key."""
    if env.status != "open":
        raise ConflictError(f"envelope {env.id} is {env.status}")
    slot = next((s for s in env.signers if s.seal_id == seal.id), None)
    if slot is None:
        raise InvalidInputError(f"seal {seal.id} is not a signer of envelope {env.id}")
    if slot.status != "pending":
        raise ConflictError(f"seal {seal.id} already signed envelope {env.id}")
    if slot.key_id is not None and slot.key_id != key_id:
        raise SealUseForbiddenError(f"this slot must be signed by key {slot.key_id}")
    if env.ordered:
        first = next(s for s in env.signers if s.status == "pending")
        if first.position != slot.position:
            raise ConflictError(
                f"envelope {env.id} is signed in order: position {first.position} "
                f"(seal {first.seal_id}) signs next, not {slot.position}"
            )
    return slot


def commit_signature(
    store: SQLiteStore,
    env: Envelope,
    slot: EnvelopeSigner,
    seal: SealRecord,
    signed: bytes,
    *,
    key_id: str,
    actor: dict[str, Any],
    now: datetime,
    request_id: str | None = None,
) -> Envelope:
    """Store ``signed`` (``env``'s document plus one signature) if the envelope is still at the
    version it was read at; record the use and queue the events. ConflictError otherwise."""
    at = format_time(now)
    before, after = env.current, sha256(signed)
    done = sum(1 for s in env.signers if s.status == "signed") + 1 == len(env.signers)
    stream = f"envelope:{env.id}"

    def put(con: sqlite3.Connection) -> None:
        cur = con.execute(
            "UPDATE envelopes SET document = ?, version = version + 1, status = ?, "
            "completed_at = ? WHERE id = ? AND version = ? AND status = 'open'",
            (signed, "completed" if done else "open", at if done else None, env.id, env.version),
        )
        if cur.rowcount != 1:
            raise ConflictError(f"envelope {env.id} changed while signing: sign again")
        con.execute(
            "UPDATE envelope_signers SET status = 'signed', signed_by = ?, signed_at = ?, "
            "before = ?, after = ? WHERE envelope_id = ? AND position = ?",
            (key_id, at, before, after, env.id, slot.position),
        )
        record_use(
            con, seal, key_id=key_id, before=before, after=after, actor=actor, at=at,
            request_id=request_id, envelope_id=env.id,
        )  # fmt: skip
        docs = [
            {"name": "before", "sha256": before.hex()},
            {"name": "after", "sha256": after.hex()},
        ]
        attrs = {"envelope_id": env.id, "seal_id": seal.id, "position": slot.position}
        enqueue(con, env.tenant, {"stream": stream, "type": "envelope:signed", "actor": actor,
                                  "documents": docs, "attributes": attrs})  # fmt: skip
        if done:
            enqueue(
                con,
                env.tenant,
                {
                    "stream": stream,
                    "type": "envelope:completed",
                    "actor": actor,
                    "documents": [{"name": env.title[:512], "sha256": after.hex()}],
                    "attributes": {"envelope_id": env.id, "signatures": env.version + 1},
                },
            )

    transaction(store, put)
    return get_envelope(store, env.id)


def record_access(store: SQLiteStore, env: Envelope, kind: str, actor: dict[str, Any]) -> None:
    """Queue a ``view`` or ``download`` event of the envelope's current document."""
    if kind not in ("view", "download"):
        raise ValueError(f"kind {kind!r}, want view or download")
    event = {
        "stream": f"envelope:{env.id}",
        "type": kind,
        "actor": actor,
        "documents": [{"name": env.title[:512], "sha256": env.current.hex()}],
        "attributes": {"envelope_id": env.id, "signatures": env.version},
    }
    transaction(store, lambda con: enqueue(con, env.tenant, event))
