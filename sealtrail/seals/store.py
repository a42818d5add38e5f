"""What the signing code persists, as one protocol with a SQLite and a MongoDB implementation.

:class:`SealStore` covers the internal CAs, the seals, the event outbox, the seal-use policies,
requests and uses, and the envelopes with their signers. Its methods take and return the
records below (raw values: DER, key blobs, SHA-256 digests as ``bytes``, times in the ledger's
normal form); the domain modules (:mod:`.registry`, :mod:`.approvals`, :mod:`.envelopes`) turn
them into their own types and never see SQL or MongoDB.

**Atomicity.** A method that takes ``events`` performs its change *and* queues those events in
the outbox as one atomic operation (SQLite: one ``BEGIN IMMEDIATE`` transaction; MongoDB: one
multi-document transaction): afterwards both exist or neither does. That is what the outbox's
crash-consistency argument (:mod:`.db`) rests on, on either backend.

**Compare-and-swap.** :meth:`SealStore.set_seal_status`, :meth:`SealStore.decide_request`,
:meth:`SealStore.record_use` (consuming a one-time approval), :meth:`SealStore.commit_signature`
and :meth:`SealStore.answer_invitation` change a record only if it is still in the state the
caller read; otherwise they write nothing and raise ConflictError (got versus want), so of two
racing changes from the same state exactly one wins.

The implementations (:mod:`.sqlite_store`, :mod:`.mongo_store`) are built on the shared database
handle by the composition root (:func:`sealtrail.backend.open_backend`), once per process.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

#: how many outbox events :meth:`SealStore.pending_events` returns by default
PENDING_BATCH = 500


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """A ledger event waiting to be appended for ``tenant``: the event input JSON (UTF-8), with
    its ``client_event_id`` already set (:func:`sealtrail.seals.outbox.outbox_event`)."""

    tenant: str
    body: bytes


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """An outbox entry; ``id`` grows in the order the changes committed."""

    id: int
    tenant: str
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredCa:
    """A tenant's internal CA: its DER certificate and its protected key (associated data
    ``"ca:" + tenant``)."""

    tenant: str
    certificate: bytes
    key_blob: bytes
    created_at: str


@dataclass(frozen=True, slots=True)
class StoredSeal:
    """A seal without its key and picture (those are read with :meth:`SealStore.seal_key` and
    :meth:`SealStore.seal_appearance`). ``chain``: the DER certificates of its chain, in order."""

    id: str
    tenant: str
    kind: str
    name: str
    purpose: str
    code: str
    remarks: str
    status: str  # active, suspended, revoked
    status_reason: str | None
    status_at: str | None
    source: str  # internal-ca, pkcs12
    appearance_source: str  # generated, uploaded
    certificate: bytes
    chain: tuple[bytes, ...]
    created_at: str


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A seal's protected key (associated data: the seal id) and its status at read time."""

    seal_id: str
    status: str
    key_blob: bytes


@dataclass(frozen=True, slots=True)
class SealStatusChange:
    """Set seal ``seal_id`` to ``status`` if it is still ``expected``."""

    seal_id: str
    expected: str
    status: str
    reason: str | None
    at: str


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """A tenant's seal-use policy: controlled seal ids (or ``"*"``) and approver key ids."""

    tenant: str
    controlled: tuple[str, ...]
    approvers: tuple[str, ...]
    updated_at: str


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A request to use a seal once: on one stand-alone document (``document``: its SHA-256),
    or, with ``envelope_id``, for the envelope's signer slot ``position`` (``document`` is then
    the envelope's PDF when the request was made, for the record: other signers may change it
    before the use, which records the hashes before and after)."""

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
    envelope_id: str | None = None
    position: int | None = None


@dataclass(frozen=True, slots=True)
class RequestDecision:
    """Approve (``status="approved"``) or reject (``"rejected"``) a request still pending."""

    request_id: str
    status: str
    decided_by: str
    reason: str | None
    at: str


@dataclass(frozen=True, slots=True)
class SealUse:
    """One use of a seal: the PDF's SHA-256 before and after. With ``request_id``, recording it
    consumes that approved request (a one-time authorisation)."""

    tenant: str
    seal_id: str
    key_id: str
    request_id: str | None
    envelope_id: str | None
    before: bytes
    after: bytes
    at: str


@dataclass(frozen=True, slots=True)
class StoredUse:
    """A recorded use; ``id`` grows with every use."""

    id: int
    use: SealUse


@dataclass(frozen=True, slots=True)
class StoredSigner:
    """One signer slot of an envelope: ``party`` (the tenant that signs it) and its seal.

    A slot the creator filled with a seal it sees has ``invitation`` None. A slot for another
    tenant is an invitation (``invitation`` ``invited``, then ``accepted`` or ``declined``):
    ``seal_id`` and ``key_id`` stay None until ``party`` accepts and chooses them."""

    position: int
    seal_id: str | None  # None: an invitation not accepted yet
    key_id: str | None  # None: any integrator key of the party
    status: str  # pending, signed
    signed_by: str | None
    signed_at: str | None
    before: bytes | None
    after: bytes | None
    party: str
    invitation: str | None = None  # None, invited, accepted, declined
    answered_by: str | None = None
    answered_at: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEnvelope:
    """An envelope without its PDF (:meth:`SealStore.envelope_document`). ``original`` and
    ``current``: SHA-256 of the uploaded and of the current PDF; ``version``: signatures applied.
    """

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
    signers: tuple[StoredSigner, ...]


@dataclass(frozen=True, slots=True)
class SignatureCommit:
    """Replace envelope ``envelope_id``'s PDF by ``document`` (one more signature) if it is
    still open at ``version``, and mark slot ``position`` signed; ``completes``: it was the last
    pending slot. ``before``/``after``: SHA-256 of the PDF before and after."""

    envelope_id: str
    version: int
    position: int
    document: bytes
    signed_by: str
    at: str
    before: bytes
    after: bytes
    completes: bool


@dataclass(frozen=True, slots=True)
class InvitationAnswer:
    """Accept (``seal_id`` set) or decline (``seal_id`` None) the invitation in slot
    ``position`` of envelope ``envelope_id``, if it is still ``invited`` and the envelope open.
    ``key_id``: the one key that must sign (None: any integrator key of the party)."""

    envelope_id: str
    position: int
    seal_id: str | None
    key_id: str | None
    answered_by: str
    at: str


@dataclass(frozen=True, slots=True)
class InvitationRef:
    """An open invitation: envelope ``envelope_id``'s slot ``position`` awaits ``party``."""

    envelope_id: str
    position: int
    party: str


@dataclass(frozen=True, slots=True)
class StoredTerms:
    """An envelope's terms beyond its signers (schema 10): the deadline, and why and when it
    ended early (voided, declined, expired). Envelopes made before have none."""

    envelope_id: str
    expires_at: str | None
    ended_reason: str | None = None
    ended_at: str | None = None


@dataclass(frozen=True, slots=True)
class StoredLink:
    """A signer's link (schema 10): slot ``position`` of envelope ``envelope_id``, found by the
    SHA-256 of its token (the token itself is never stored). ``kind``: individual or
    enterprise; ``name`` and ``email`` the identity channel; ``fields`` JSON ``[{"page",
    "box"}]``; ``session`` JSON, the link's changing state (codes, tries, lock, verification),
    updated by compare-and-swap on ``rev``."""

    token_hash: bytes
    envelope_id: str
    position: int
    kind: str
    name: str
    email: str | None
    fields: str
    session: str
    rev: int = 0


class SealStore(Protocol):
    """Persistence of the seal registry, seal-use control, envelopes and their event outbox.

    Listing methods take the tenants to look in (an empty collection finds nothing) and a
    ``limit`` of at least 1 where they have one.
    """

    # -- internal CAs ------------------------------------------------------------------------

    def ca(self, tenant: str) -> StoredCa | None:
        """``tenant``'s internal CA, or None."""

    def add_ca(self, ca: StoredCa) -> StoredCa:
        """Store ``ca`` unless its tenant has one already; return the stored one (another
        process may have created it first)."""

    def cas(self, tenants: Collection[str] | None = None) -> list[StoredCa]:
        """The CAs of ``tenants`` (all when None), by tenant."""

    def any_ca(self) -> StoredCa | None:
        """One stored CA, any, or None when there is none."""

    # -- seals -------------------------------------------------------------------------------

    def insert_seal(
        self,
        seal: StoredSeal,
        *,
        appearance: bytes,
        key_blob: bytes,
        events: Sequence[OutboxEvent],
    ) -> None:
        """Store a new seal with its PNG and protected key, and queue ``events``, atomically.
        ConflictError if the id exists."""

    def seal(self, seal_id: str) -> StoredSeal | None:
        """The seal ``seal_id``, or None."""

    def seals(
        self, tenants: Collection[str] | None = None, status: str | None = None
    ) -> list[StoredSeal]:
        """Seals of ``tenants`` (all when None), optionally of one status, by creation time
        then id."""

    def seal_appearance(self, seal_id: str) -> bytes | None:
        """The seal's PNG, or None when there is no such seal."""

    def seal_key(self, seal_id: str) -> StoredKey | None:
        """The seal's protected key and current status, or None."""

    def any_seal_key(self) -> StoredKey | None:
        """One stored seal key, any, or None when there is no seal."""

    def set_seal_status(self, change: SealStatusChange, events: Sequence[OutboxEvent]) -> None:
        """Apply ``change`` and queue ``events``, atomically, if the seal's status is still
        ``change.expected``; else nothing is written and ConflictError is raised
        (NotFoundError when there is no such seal)."""

    # -- outbox ------------------------------------------------------------------------------

    def enqueue(self, events: Sequence[OutboxEvent]) -> None:
        """Queue ``events`` on their own (all or none)."""

    def pending_events(self, limit: int = PENDING_BATCH) -> list[QueuedEvent]:
        """The oldest ``limit`` queued events, in queue order."""

    def events_done(self, ids: Collection[int]) -> None:
        """Remove appended events from the queue (ids no longer queued are ignored)."""

    # -- seal-use policies ---------------------------------------------------------------------

    def policy(self, tenant: str) -> StoredPolicy | None:
        """``tenant``'s policy, or None when none was set."""

    def put_policy(self, policy: StoredPolicy, events: Sequence[OutboxEvent]) -> None:
        """Create or replace the tenant's policy and queue ``events``, atomically."""

    # -- seal-use requests ---------------------------------------------------------------------

    def insert_request(self, request: StoredRequest, events: Sequence[OutboxEvent]) -> None:
        """Store a new request and queue ``events``, atomically. ConflictError if the id
        exists."""

    def request(self, request_id: str) -> StoredRequest | None:
        """The request ``request_id``, or None."""

    def requests(
        self, tenants: Collection[str], status: str | None = None, limit: int = 1000
    ) -> list[StoredRequest]:
        """Requests of ``tenants`` (optionally of one status), newest first (then by id)."""

    def decide_request(self, decision: RequestDecision, events: Sequence[OutboxEvent]) -> None:
        """Record ``decision`` and queue ``events``, atomically, if the request is still
        pending; else nothing is written and ConflictError is raised (NotFoundError when there
        is no such request)."""

    # -- seal uses ---------------------------------------------------------------------------

    def record_use(self, use: SealUse, events: Sequence[OutboxEvent]) -> None:
        """Record ``use`` and queue ``events``, atomically. With ``use.request_id``, also mark
        that request used if it is approved — else nothing is written and ConflictError is
        raised (the authorisation was used meanwhile)."""

    def restore_uses(self, uses: Sequence[StoredUse]) -> None:
        """Insert uses exactly as given, ids included (``sealtrail migrate`` into an empty
        store; nothing is consumed and no event queued)."""

    def uses(self, tenants: Collection[str], limit: int = 1000) -> list[StoredUse]:
        """Uses of the seals of ``tenants``, newest first."""

    def seal_use_counts(self, tenants: Collection[str]) -> dict[str, int]:
        """How many seal uses each of ``tenants`` has (0 included)."""

    # -- envelopes ---------------------------------------------------------------------------

    def insert_envelope(
        self, envelope: StoredEnvelope, document: bytes, events: Sequence[OutboxEvent]
    ) -> None:
        """Store a new envelope with its PDF and signers and queue ``events``, atomically.

        The service inserts new envelopes (``status`` open, ``version`` 0, ``original ==
        current == SHA-256(document)``, every signer pending at positions 0, 1, …);
        ``sealtrail migrate`` inserts them as they were. ConflictError if the id exists.
        """

    def envelope(self, envelope_id: str) -> StoredEnvelope | None:
        """The envelope ``envelope_id`` (signers by position), or None."""

    def envelope_document(self, envelope_id: str) -> bytes | None:
        """The envelope's current PDF, or None."""

    def envelope_ids(self, tenants: Collection[str], limit: int = 1000) -> list[str]:
        """Ids of envelopes created by ``tenants``, newest first (then by id)."""

    def completed_envelope_ids(self, after: str = "", limit: int = 100) -> list[str]:
        """Ids of completed envelopes (every tenant's) greater than ``after``, in id order: the
        archive renewal walks them page by page."""

    def renew_envelope_document(
        self, envelope_id: str, before: bytes, document: bytes, events: Sequence[OutboxEvent]
    ) -> None:
        """Replace a completed envelope's PDF whose SHA-256 is ``before`` by ``document`` (the
        same PDF with its archive timestamp chain renewed) and queue ``events``, atomically;
        ConflictError, writing nothing, if the envelope is not completed or its PDF changed."""

    def commit_signature(
        self, commit: SignatureCommit, use: SealUse, events: Sequence[OutboxEvent]
    ) -> None:
        """Apply ``commit``, record ``use`` (consuming its request, as :meth:`record_use`) and
        queue ``events``, atomically, if the envelope is still open at ``commit.version``;
        else nothing is written and ConflictError is raised."""

    # -- invitations -------------------------------------------------------------------------

    def invitations(self, parties: Collection[str], limit: int = 1000) -> list[InvitationRef]:
        """Invitations still ``invited`` in open envelopes, to ``parties``, newest envelope
        first (then by id and position)."""

    def answer_invitation(self, answer: InvitationAnswer, events: Sequence[OutboxEvent]) -> None:
        """Apply ``answer`` and queue ``events``, atomically, if the slot is still ``invited``
        and the envelope open; else nothing is written and ConflictError is raised."""

    # -- signer links and envelope terms (schema 10) -------------------------------------------

    def insert_envelope_with_links(
        self,
        envelope: StoredEnvelope,
        document: bytes,
        terms: StoredTerms,
        links: Sequence[StoredLink],
        events: Sequence[OutboxEvent],
    ) -> None:
        """:meth:`insert_envelope` plus the envelope's terms and signer links, atomically."""

    def envelope_terms(self, envelope_id: str) -> StoredTerms | None:
        """The envelope's terms, or None (an envelope made before schema 10, or none)."""

    def link(self, token_hash: bytes) -> StoredLink | None:
        """The link whose token hashes to ``token_hash``, or None."""

    def links(self, envelope_id: str) -> list[StoredLink]:
        """The envelope's links, by position."""

    def update_link(
        self, token_hash: bytes, rev: int, session: str, events: Sequence[OutboxEvent]
    ) -> None:
        """Set the link's ``session`` (and ``rev`` + 1) and queue ``events``, atomically, if
        its ``rev`` is still ``rev``; else nothing is written and ConflictError is raised."""

    def expiring_envelope_ids(self, before: str, limit: int = 100) -> list[str]:
        """Ids of open envelopes whose deadline is at or before ``before`` (the ledger's time
        form), oldest deadline first."""

    def replace_link_token(
        self, old_hash: bytes, new_hash: bytes, events: Sequence[OutboxEvent]
    ) -> None:
        """Give the link found by ``old_hash`` the token hash ``new_hash`` (the old link stops
        working) and queue ``events``, atomically; ConflictError, writing nothing, when no link
        has ``old_hash`` any more."""

    def end_envelope(
        self,
        envelope_id: str,
        status: str,
        reason: str | None,
        at: str,
        events: Sequence[OutboxEvent],
    ) -> None:
        """Set an open envelope's status to ``status`` (voided, declined, expired), record
        ``reason`` and ``at`` in its terms and queue ``events``, atomically; ConflictError,
        writing nothing, if it is no longer open."""

    def commit_link_signature(self, commit: SignatureCommit, events: Sequence[OutboxEvent]) -> None:
        """:meth:`commit_signature` for an individual signer (no seal, so no seal use)."""
