"""Envelopes: one PDF, several signers (each a seal), signed in order or in any order.

An envelope keeps the current PDF (:meth:`~.store.SealStore.envelope_document`); each
signature is appended as an incremental update, so earlier signatures stay intact. Parallel
envelopes still sign one at a time: every signature is committed with a compare-and-swap on the
envelope's ``version`` (the number of signatures applied), so two signers racing from the same
revision cannot both win — the loser gets a ConflictError and signs the newer revision.

**Parties and invitations.** The creator fills a signer slot either with a seal it sees (its
own tenant's, or a subsidiary's) or with an *invitation* to another party, named by its tenant
id (an individual signs as a tenant of its own). Naming a seal the creator does not see is
answered as naming one that does not exist; naming a party never checks that the party exists,
so creating an envelope confirms nothing about anyone else. The invited party lists its
invitations, and accepts one by choosing which of its seals (and optionally which key) signs,
or declines it (the envelope then ends, ``declined``). Until it accepts, the envelope names no
seal or key of the party.

Events (stream ``envelope:<id>``, in the creator's tenant): ``envelope:created`` (the uploaded
document's fingerprint, the seal slots and the invited parties),
``envelope:invitation-accepted`` (the seal the party chose) and
``envelope:invitation-declined``, ``envelope:signed`` (fingerprints before and after, the seal,
and the signer's position), ``envelope:completed`` (the final fingerprint), and the core types
``view`` and ``download`` for every status view and download. The signing seal's tenant also
gets its ``seal-use:used`` event (:func:`sealtrail.seals.approvals.use_of`), recorded in the
same atomic operation as the signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sealtrail.core.errors import ConflictError, InvalidInputError, NotFoundError
from sealtrail.core.event import format_time
from sealtrail.seals.approvals import use_of
from sealtrail.seals.errors import SealStateError, SealUseForbiddenError
from sealtrail.seals.outbox import new_id, outbox_event
from sealtrail.seals.registry import SealRecord, get_seal
from sealtrail.seals.store import (
    InvitationAnswer,
    SealStore,
    SignatureCommit,
    StoredEnvelope,
    StoredSigner,
)

MAX_SIGNERS = 15  # 3 × 5 seal boxes on the last page
#: what a tenant id may look like in an invitation (the directory's own rule is not consulted:
#: looking the party up would tell the creator whether it exists)
MAX_PARTY = 64


@dataclass(frozen=True, slots=True)
class SealSlot:
    """A slot the creator fills: ``seal`` (one it sees), and the one key that must apply it."""

    seal: SealRecord
    key_id: str | None = None


@dataclass(frozen=True, slots=True)
class Invitation:
    """A slot for another party (a tenant id), which chooses its seal when it accepts."""

    party: str


@dataclass(frozen=True, slots=True)
class EnvelopeSigner(StoredSigner):
    """One signer's slot: the party, the seal to apply, and who must apply it (as stored)."""

    def to_json(self, viewer: Collection[str] | None = None) -> dict[str, Any]:
        """The slot as the API shows it to a key seeing ``viewer`` tenants (None: everything).
        Which key of another party signs, or must sign, is that party's business."""
        own = viewer is None or self.party in viewer
        return {
            "position": self.position,
            "party": self.party,
            "invitation": self.invitation,
            "seal": self.seal_id,
            "key_id": self.key_id if own else None,
            "status": self.status,
            "signed_by": self.signed_by if own else None,
            "signed_at": self.signed_at,
            "before_sha256": None if self.before is None else self.before.hex(),
            "after_sha256": None if self.after is None else self.after.hex(),
        }


@dataclass(frozen=True, slots=True)
class Envelope(StoredEnvelope):
    """An envelope's state as stored (the PDF itself is read with :func:`document`)."""

    signers: tuple[EnvelopeSigner, ...]

    def tenants(self) -> set[str]:
        """The creator's tenant and every slot's party, invited or not (who may see the
        envelope and validate its PDF)."""
        return {self.tenant} | {s.party for s in self.signers if s.party}

    def to_json(self, viewer: Collection[str] | None = None) -> dict[str, Any]:
        """The envelope as the API shows it (``viewer``: as :meth:`EnvelopeSigner.to_json`)."""
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
            "signers": [s.to_json(viewer) for s in self.signers],
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
    signers: Sequence[SealSlot | Invitation],
    pdf: bytes,
    created_by: str,
    actor: dict[str, Any],
    now: datetime,
) -> Envelope:
    """Create an envelope for ``pdf`` (already checked to parse) with ``signers`` (seals the
    creator sees, and invitations to other parties); queue ``envelope:created``."""
    if not 1 <= len(signers) <= MAX_SIGNERS:
        raise InvalidInputError(f"signers: want 1 to {MAX_SIGNERS}, got {len(signers)}")
    sealed = [s.seal.id for s in signers if isinstance(s, SealSlot)]
    if len(set(sealed)) != len(sealed):
        raise InvalidInputError("signers: a seal may appear once")
    for s in signers:
        if isinstance(s, Invitation) and not valid_party(s.party):
            raise InvalidInputError(
                f"signer: party {s.party[:64]!r}: want a tenant id (1 to {MAX_PARTY} letters, "
                "digits, '.', '_' or '-')"
            )
    if not isinstance(title, str) or not 1 <= len(title) <= 256 or not title.isprintable():
        raise InvalidInputError("title: want 1 to 256 printable characters")
    env_id = new_id("env")
    digest = sha256(pdf)
    slots = tuple(
        StoredSigner(i, s.seal.id, s.key_id, "pending", None, None, None, None, s.seal.tenant)
        if isinstance(s, SealSlot)
        else StoredSigner(i, None, None, "pending", None, None, None, None, s.party, "invited")
        for i, s in enumerate(signers)
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
            "signers": ",".join(sealed),
            "invited": ",".join(s.party for s in signers if isinstance(s, Invitation)),
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


def valid_party(party: str) -> bool:
    """True when ``party`` has the shape of a tenant id (nothing is looked up)."""
    return (
        isinstance(party, str)
        and 1 <= len(party) <= MAX_PARTY
        and party.isascii()
        and all(c.isalnum() or c in "._-" for c in party)
    )


def visible_envelope(seals: SealStore, env_id: str, tenants: Collection[str]) -> Envelope:
    """The envelope if one of ``tenants`` created it or is one of its parties (invited or
    not); NotFoundError otherwise, worded as for an envelope that does not exist."""
    stored = seals.envelope(env_id)
    if stored is None or not _envelope(stored).tenants() & set(tenants):
        raise NotFoundError(f"no envelope {env_id[:80]!r}")
    return _envelope(stored)


def invitations_for(
    seals: SealStore, tenants: Collection[str], limit: int = 1000
) -> list[tuple[Envelope, EnvelopeSigner]]:
    """Open invitations to ``tenants``: each envelope with the slot that awaits an answer."""
    out = []
    for ref in seals.invitations(tenants, limit):
        env = get_envelope(seals, ref.envelope_id)
        out.append((env, env.signers[ref.position]))
    return out


def _invited_slot(env: Envelope, position: int, tenants: Collection[str]) -> EnvelopeSigner:
    """Slot ``position`` of ``env`` if it is an invitation to one of ``tenants``, else
    NotFoundError (worded as for a missing invitation); ConflictError once answered."""
    slot = next((s for s in env.signers if s.position == position), None)
    if slot is None or slot.invitation is None or slot.party not in tenants:
        raise NotFoundError(f"no invitation {position} in envelope {env.id}")
    if slot.invitation != "invited" or env.status != "open":
        raise ConflictError(
            f"invitation {position} of envelope {env.id} is {slot.invitation} "
            f"(envelope {env.status})"
        )
    return slot


def answer_invitation(
    seals: SealStore,
    env: Envelope,
    position: int,
    tenants: Collection[str],
    seal: SealSlot | None,
    *,
    answered_by: str,
    actor: dict[str, Any],
    now: datetime,
    reason: str = "",
) -> Envelope:
    """Accept the invitation in slot ``position`` with ``seal`` (a seal of the invited party,
    active, not already in the envelope), or decline it (``seal`` None, for ``reason``); queue
    the event."""
    if not isinstance(reason, str) or len(reason) > 1000:
        raise InvalidInputError("reason: want at most 1000 characters")
    slot = _invited_slot(env, position, tenants)
    attrs: dict[str, Any] = {"envelope_id": env.id, "position": position, "party": slot.party}
    if reason:
        attrs["reason"] = reason
    if seal is not None:
        if seal.seal.tenant != slot.party:
            raise InvalidInputError(f"seal: no seal {seal.seal.id[:80]!r} of {slot.party}")
        if seal.seal.status != "active":
            raise SealStateError(f"seal {seal.seal.id} is {seal.seal.status}, want active")
        if any(s.seal_id == seal.seal.id for s in env.signers):
            raise InvalidInputError("seal: a seal may appear once in an envelope")
        attrs["seal_id"] = seal.seal.id
    etype = "envelope:invitation-" + ("accepted" if seal is not None else "declined")
    event = {"stream": f"envelope:{env.id}", "type": etype, "actor": actor, "attributes": attrs}
    answer = InvitationAnswer(
        env.id, position, None if seal is None else seal.seal.id,
        None if seal is None else seal.key_id, answered_by, format_time(now),
    )  # fmt: skip
    seals.answer_invitation(answer, [outbox_event(env.tenant, event)])
    return get_envelope(seals, env.id)


def participant_tenants(seals: SealStore, env: Envelope) -> list[str]:
    """The envelope's trust context: the tenants whose seals signed it or were chosen to (in
    slot order, each once). Their seal roots — the configured trust list, their own CAs and
    their internal CAs, never a self-declared seal (:mod:`sealtrail.seals.trust`) — are what
    every party validates the envelope's PDF against."""
    out: dict[str, None] = {}
    for s in env.signers:
        seal = None if s.seal_id is None else get_seal(seals, s.seal_id)
        if seal is not None:
            out.setdefault(seal.tenant, None)
    return list(out)


def slot_for(env: Envelope, seal: SealRecord, key_id: str) -> EnvelopeSigner:
    """The slot ``key_id`` fills by signing with ``seal`` now, or an error: the envelope is
    complete, the seal is not a signer, it already signed, it is not its turn (sequential), or
    the slot names another key."""
    if env.status != "open":
        raise ConflictError(f"envelope {env.id} is {env.status}")
    slot = next((s for s in env.signers if s.seal_id is not None and s.seal_id == seal.id), None)
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
                f"signs next, not {slot.position}"
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
    ceremony: Mapping[str, Any] | None = None,
) -> Envelope:
    """Store ``signed`` (``env``'s document plus one signature) if the envelope is still at the
    version it was read at; record the use and queue the events. ConflictError otherwise.
    ``ceremony`` (a signing link's signer: :func:`~sealtrail.seals.signing_links.
    ceremony_attributes`) adds the ceremony's attributes (signer, signer_kind, client_ip,
    user_agent, email_sha256) to ``envelope:signed`` and its ``occurred_at``, as an
    individual's signature has them."""
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
    attrs: dict[str, Any] = {"envelope_id": env.id, "seal_id": seal.id, "position": slot.position}
    signed_event: dict[str, Any] = {
        "stream": stream, "type": "envelope:signed", "actor": actor, "documents": docs,
        "attributes": attrs,
    }  # fmt: skip
    if ceremony is not None:
        attrs.update({k: v for k, v in ceremony.items() if k not in attrs})
        signed_event["occurred_at"] = at
    events = [outbox_event(seal.tenant, use_event), outbox_event(env.tenant, signed_event)]
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
