"""The ledger: appends, checkpoints and proofs over one store.

This is the object the CLI and the HTTP service hold. Appends from synchronous code go straight
through the :class:`LogWriter`; async code uses :attr:`Ledger.sequencer` for group commit.
Both paths serialise on the store's write lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sealtrail.core.errors import LeaseLostError, NotFoundError, ProofError, SealtrailError
from sealtrail.core.event import Event, EventInput, format_time
from sealtrail.core.merkle import (
    EMPTY_ROOT,
    assemble,
    consistency_subtrees,
    fold,
    inclusion_subtrees,
    root_subtrees,
    verify_consistency,
)
from sealtrail.core.note import Checkpoint, NoteSigner, NoteVerifier, sign_checkpoint
from sealtrail.core.vmap import map_extension
from sealtrail.ledger.coordination import Coordinator, events_of
from sealtrail.ledger.maps import (
    MapDraft,
    advance_map,
    commit_map,
    prepare_map,
    store_draft_nodes,
)
from sealtrail.ledger.sequencer import (
    Appended,
    AppendRequest,
    Clock,
    LogWriter,
    RandomBytes,
    Sequencer,
    commit_round,
)
from sealtrail.ledger.store import Lease, LedgerStore, StoredCheckpoint, WriteView

#: the lease a process that is the only writer acts under (no coordinator: nothing to fence)
_SOLE = Lease("sequencer", "this process", 0, float("inf"))


def utc_now() -> datetime:
    """The wall clock, in UTC (the default clock at the edges)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class InclusionProof:
    """Leaf ``index`` is in the tree of ``size`` leaves with ``root``."""

    index: int
    size: int
    leaf_hash: bytes
    root: bytes
    proof: list[bytes]

    def to_json(self) -> dict[str, Any]:
        """Hex-encoded JSON form (docs/FORMAT.md §Proofs)."""
        return {
            "type": "inclusion",
            "index": self.index,
            "size": self.size,
            "leaf_hash": self.leaf_hash.hex(),
            "root": self.root.hex(),
            "proof": [p.hex() for p in self.proof],
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``new_size`` with ``new_root`` extends the one of ``old_size``."""

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]

    def to_json(self) -> dict[str, Any]:
        """Hex-encoded JSON form (docs/FORMAT.md §Proofs)."""
        return {
            "type": "consistency",
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root.hex(),
            "new_root": self.new_root.hex(),
            "proof": [p.hex() for p in self.proof],
        }


class MapPreparer(Protocol):
    """Computes the map's draft for a checkpoint of ``size`` and stores its nodes."""

    def prepare(self, store: LedgerStore, size: int) -> MapDraft:
        """The draft (MapDraft), its nodes already written."""


class Ledger:
    """Appends, checkpoints and proofs over one store, signed with one checkpoint key."""

    def __init__(
        self,
        store: LedgerStore,
        signer: NoteSigner,
        *,
        clock: Clock = utc_now,
        random_bytes: RandomBytes = secrets.token_bytes,
        coordinator: Coordinator | None = None,
    ) -> None:
        self.store = store
        #: the sequencer lease (background jobs) when several processes share the database
        self.coordinator = coordinator
        self.signer = signer
        self.origin = signer.name
        self.verifier: NoteVerifier = signer.verifier()
        self._clock = clock
        self.writer = LogWriter(store, clock=clock, random_bytes=random_bytes)
        self._sequencer: Sequencer | None = None
        #: prepares the map's draft before sealing (e.g. a ``MapProcess`` on SQLite); None:
        #: in this process
        self.map_preparer: MapPreparer | None = None

    @property
    def sequencer(self) -> Sequencer:
        """The async group-commit front (created on first use, inside a running loop)."""
        if self._sequencer is None:
            self._sequencer = Sequencer(self.writer, coordinator=self.coordinator)
        return self._sequencer

    def append(self, tenant: str, inputs: list[EventInput]) -> list[Appended]:
        """Append ``inputs`` atomically from synchronous code; durable on return.

        Commits itself, serialised with every other writer by the store. Only with a
        coordinator that queues appends (MongoDB): commits itself when this process holds (or
        can take) the sequencer lease, else queues the request for the holder and waits for it.
        """
        coord = self.coordinator
        if coord is not None and not coord.queue_appends:
            coord = None  # appends need no lease (sealtrail/ledger/sequencer.py)
        lease = None if coord is None else coord.current() or coord.refresh()
        if coord is None or lease is not None:
            try:
                (result,), _ = commit_round(
                    self.writer, coord, [AppendRequest(tenant, tuple(inputs))], lease
                )
            except LeaseLostError:
                if coord is None or lease is None:
                    raise
                coord.lost(lease)
            else:
                if isinstance(result, SealtrailError):
                    raise result
                return result
        assert coord is not None
        pairs = coord.wait(coord.submit(tenant, inputs))
        return [Appended(ev, dup) for ev, dup in events_of(pairs, self.store.event)]

    def sequencer_lease(self) -> Lease | None:
        """The sequencer lease when this process holds it (None: another process does).
        Without a coordinator this process is the only writer: a placeholder lease of epoch 0.
        """
        if self.coordinator is None:
            return _SOLE
        return self.coordinator.current()

    def is_sequencer(self) -> bool:
        """Whether this process sequences the log (and so seals, timestamps and anchors)."""
        return self.sequencer_lease() is not None

    async def append_async(self, tenant: str, inputs: list[EventInput]) -> list[Appended]:
        """Append through the group-commit sequencer; durable on return."""
        return await self.sequencer.append(tenant, inputs)

    # -- checkpoints ----------------------------------------------------------------------

    def seal(self) -> tuple[StoredCheckpoint | None, bool]:
        """Seal a checkpoint of the current log if it grew; return it and whether it is new.

        The new checkpoint is checked to be consistent with the previous one before it is
        stored. An empty log has no checkpoint: ``(None, False)``. With a coordinator only
        the holder of the sequencer lease seals (fenced); others get LeaseLostError.
        """
        coord = self.coordinator
        if coord is None:
            draft = self._prepare_map()
            return self.store.write(lambda view: self._seal_in(view, draft))
        lease = coord.current() or coord.refresh()
        if lease is None:
            raise LeaseLostError("another process holds the sequencer lease; it seals checkpoints")
        draft = self._prepare_map()

        def fenced(view: WriteView) -> tuple[StoredCheckpoint | None, bool]:
            view.check_fence(lease)
            return self._seal_in(view, draft)

        try:
            return self.store.write(fenced)
        except LeaseLostError:
            coord.lost(lease)
            raise

    def _prepare_map(self) -> MapDraft | None:
        """The map of the log as it is now, computed before the write lock is taken (the
        checkpoint is then sealed at that size) and its nodes written in short transactions:
        appends wait only for the short transaction that records the values, the root and the
        checkpoint. None when there is no map or nothing new to seal."""
        maps = self.store.maps
        if maps is None:
            return None
        size = self.store.size()
        latest = self.store.latest_checkpoint()
        if size == 0 or (latest is not None and latest.size >= size):
            return None
        if self.map_preparer is not None:
            return self.map_preparer.prepare(self.store, size)
        draft = prepare_map(self.store, maps, size)
        store_draft_nodes(self.store, maps, draft)
        return draft

    def _seal_in(
        self, view: WriteView, draft: MapDraft | None = None
    ) -> tuple[StoredCheckpoint | None, bool]:
        latest = view.latest_checkpoint()
        size = view.size()
        if draft is not None and (latest is None or latest.size < draft.size):
            size = draft.size  # seal what the map was prepared for; later events go next time
        else:
            draft = None
        if size == 0:
            return None, False
        if latest is not None and latest.size == size:
            return latest, False
        ids = root_subtrees(size)
        got = view.subtrees(ids)
        root = fold([got[i] for i in ids])
        if latest is not None:
            groups = consistency_subtrees(latest.size, size)
            nodes = view.subtrees({n for g in groups for n in g})
            verify_consistency(latest.size, size, latest.root, root, assemble(groups, nodes))
        # The map of the first `size` events: its values and root commit with the checkpoint
        # naming the root, or neither does (its nodes, content-addressed, may precede them).
        maps = self.store.maps
        ext: tuple[str, ...] = ()
        if maps is not None:
            if draft is not None and commit_map(maps, view, draft, nodes=False):
                map_root = draft.root
            else:  # no draft, or the map moved since: bring it to `size` in this transaction
                map_root = advance_map(self.store, maps, view, size)
            ext = (map_extension(map_root),)
        note = sign_checkpoint(Checkpoint(self.origin, size, root, ext), self.signer)
        cp = StoredCheckpoint(size, root, note, format_time(self._clock()))
        view.add_checkpoint(cp)
        return cp, True

    def checkpoint(self, size: int | None = None) -> StoredCheckpoint:
        """The checkpoint of ``size`` (latest when None); NotFoundError if there is none."""
        cp = self.store.latest_checkpoint() if size is None else self.store.checkpoint(size)
        if cp is None:
            what = (
                "no checkpoint has been sealed yet"
                if size is None
                else f"no checkpoint of size {size}"
            )
            raise NotFoundError(what)
        return cp

    # -- reads and proofs -----------------------------------------------------------------

    def size(self) -> int:
        """Number of committed events."""
        return self.store.size()

    def event(self, index: int) -> Event:
        """The event at ``index``; NotFoundError when there is none."""
        ev = self.store.event(index) if index >= 0 else None
        if ev is None:
            raise NotFoundError(f"no event at index {index} (log size {self.store.size()})")
        return ev

    def root(self, size: int) -> bytes:
        """Root hash of the tree of the first ``size`` events (O(log N) reads)."""
        self._check_size(size)
        if size == 0:
            return EMPTY_ROOT
        ids = root_subtrees(size)
        got = self.store.subtrees(ids)
        return fold([got[i] for i in ids])

    def _check_size(self, size: int) -> None:
        current = self.store.size()
        if not 0 <= size <= current:
            raise NotFoundError(f"tree size {size} is beyond the log size {current}")

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """Proof that event ``index`` is in the tree of ``size`` (latest checkpoint if None).

        O(log N) reads of stored subtree hashes.
        """
        if size is None:
            size = self.checkpoint().size
        self._check_size(size)
        if not 0 <= index < size:
            raise NotFoundError(f"index {index} is not in a tree of size {size}")
        groups = inclusion_subtrees(index, size)
        ids = root_subtrees(size)
        nodes = self.store.subtrees({n for g in groups for n in g} | set(ids) | {(0, index)})
        return InclusionProof(
            index, size, nodes[(0, index)], fold([nodes[i] for i in ids]), assemble(groups, nodes)
        )

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that the tree of ``new_size`` (latest checkpoint if None) extends ``old_size``."""
        if new_size is None:
            new_size = self.checkpoint().size
        self._check_size(new_size)
        if not 0 < old_size <= new_size:
            raise ProofError(f"need 0 < old_size <= new_size, got {old_size} and {new_size}")
        groups = consistency_subtrees(old_size, new_size)
        old_ids, new_ids = root_subtrees(old_size), root_subtrees(new_size)
        nodes = self.store.subtrees({n for g in groups for n in g} | set(old_ids) | set(new_ids))
        return ConsistencyProof(
            old_size,
            new_size,
            fold([nodes[i] for i in old_ids]),
            fold([nodes[i] for i in new_ids]),
            assemble(groups, nodes),
        )

    async def close(self) -> None:
        """Drain the sequencer (if started) and close the store."""
        if self._sequencer is not None:
            await self._sequencer.close()
        self.store.close()

    def close_sync(self) -> None:
        """Close from synchronous code (no sequencer must be running); gives the lease up."""
        if self.coordinator is not None:
            self.coordinator.release()
        self.store.close()
