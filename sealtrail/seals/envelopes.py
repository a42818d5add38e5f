"""Envelopes: one PDF, several signers (each a seal), signed in order or in any order.

An envelope keeps the current PDF (:meth:`~.store.SealStore.envelope_document`); each
signature is appended as an incremental update, so earlier signatures stay intact. Parallel
envelopes still sign one at a time: every signature is committed with a compare-and-swap on the
envelope's ``version`` (the number of signatures applied), so two signers racing from the same
revision cannot both win — the loser gets a ConflictError and signs the newer revision.

Events (stream ``envelope:<id>``, in the creator's tenant): ``envelope:created`` (the uploaded
document's fingerprint), ``envelope:signed`` (fingerprints before and after, the seal, and the
signer's position), ``envelope:completed`` (the final fingerprint), and the core types ``view``
and ``download`` for every status view and download. The signing seal's tenant also gets its
``seal-use:used`` event (:func:`sealtrail.seals.approvals.use_of`), recorded in the same
atomic operation as the signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sealtrail.core.errors import ConflictError, InvalidInputError, NotFoundError
from sealtrail.core.event import format_time
from sealtrail.seals.approvals import use_of
from sealtrail.seals.errors import SealUseForbiddenError
from sealtrail.seals.outbox import new_id, outbox_event
from sealtrail.seals.registry import SealRecord, get_seal
from sealtrail.seals.store import SealStore, SignatureCommit, StoredEnvelope, StoredSigner

MAX_SIGNERS = 15  # 3 × 5 seal boxes on the last page


@dataclass(frozen=True, slots=True)
class EnvelopeSigner(StoredSigner):
    """One signer's slot: the seal to apply, and who must apply it (as stored)."""

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


@dataclass(frozen=True, slots=True)
class Envelope(StoredEnvelope):
    """An envelope's state as stored (the PDF itself is read with :func:`document`)."""

    signers: tuple[EnvelopeSigner, ...]

    def tenants(self, seals: SealStore) -> set[str]:
        """The creator's tenant and every signing seal's tenant (who may see the envelope)."""
        out = {self.tenant}
        for s in self.signers:
            seal = get_seal(seals, s.seal_id)
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


def _envelope(e: StoredEnvelope) -> Envelope:
    signers = tuple(
        EnvelopeSigner(**{f.name: getattr(s, f.name) for f in fields(StoredSigner)})
        for s in e.signers
    )
    return Envelope(**{**{f.name: getattr(e, f.name) for f in fields(StoredEnvelope)},
                       "signers": signers})  # fmt: skip


def create_envelope(
    seals: SealStore,
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
    slots = tuple(
        StoredSigner(i, seal.id, key, "pending", None, None, None, None)
        for i, (seal, key) in enumerate(signers)
    )
    stored = StoredEnvelope(
        env_id, tenant, title, ordered, "open", 0, digest, digest, created_by, format_time(now),
        None, slots,
    )  # fmt: skip
    event = {
        "stream": f"envelope:{env_id}",
        "type": "envelope:created",
        "actor": actor,
        "documents": [{"name": title[:512], "sha256": digest.hex()}],
        "attributes": {
            "envelope_id": env_id,
            "order": "sequential" if ordered else "parallel",
            "signers": ",".join(seal.id for seal, _ in signers),
        },
    }
    seals.insert_envelope(stored, pdf, [outbox_event(tenant, event)])
    return get_envelope(seals, env_id)


def get_envelope(seals: SealStore, env_id: str) -> Envelope:
    """The envelope ``env_id``; NotFoundError when there is none."""
    stored = seals.envelope(env_id)
    if stored is None:
        raise NotFoundError(f"no envelope {env_id[:80]!r}")
    return _envelope(stored)


def document(seals: SealStore, env_id: str) -> bytes:
    """The envelope's current PDF."""
    pdf = seals.envelope_document(env_id)
    if pdf is None:
        raise NotFoundError(f"no envelope {env_id[:80]!r}")
    return pdf


def envelopes_of(seals: SealStore, tenants: Collection[str], limit: int = 1000) -> list[str]:
    """Ids of envelopes created by ``tenants``, newest first."""
    return seals.envelope_ids(tenants, limit)


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
    seals: SealStore,
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
    use, use_event = use_of(
        seal, key_id=key_id, before=before, after=after, actor=actor, at=at,
        request_id=request_id, envelope_id=env.id,
    )  # fmt: skip
    docs = [
        {"name": "before", "sha256": before.hex()},
        {"name": "after", "sha256": after.hex()},
    ]
    attrs = {"envelope_id": env.id, "seal_id": seal.id, "position": slot.position}
    events = [
        outbox_event(seal.tenant, use_event),
        outbox_event(env.tenant, {"stream": stream, "type": "envelope:signed", "actor": actor,
                                  "documents": docs, "attributes": attrs}),
    ]  # fmt: skip
    if done:
        completed = {
            "stream": stream,
            "type": "envelope:completed",
            "actor": actor,
            "documents": [{"name": env.title[:512], "sha256": after.hex()}],
            "attributes": {"envelope_id": env.id, "signatures": env.version + 1},
        }
        events.append(outbox_event(env.tenant, completed))
    commit = SignatureCommit(
        env.id, env.version, slot.position, signed, key_id, at, before, after, done
    )
    seals.commit_signature(commit, use, events)
    return get_envelope(seals, env.id)


def record_access(seals: SealStore, env: Envelope, kind: str, actor: dict[str, Any]) -> None:
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
    seals.enqueue([outbox_event(env.tenant, event)])
