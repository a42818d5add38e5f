"""The SDK's trusted state: the newest checkpoint this client has verified, kept between runs, so
that a server can neither roll back nor fork the log it shows the client (in the manner of
immudb's client state, and of a CT monitor's "last seen STH").

A :class:`TrustedLog` holds the newest verified signed note in a :class:`StateStore` (a file:
:class:`FileState`; memory: :class:`MemoryState`; or the caller's own). Every checkpoint the
server presents as the log's current one is then judged against it:

* older than the trusted one (a smaller size): a rollback — :class:`MisbehaviourError`;
* the same size with another root: a fork — :class:`MisbehaviourError`;
* the same checkpoint: nothing new (a server may well have sealed nothing since);
* newer: accepted only with a consistency proof (RFC 9162 §2.1.4) *from the trusted checkpoint*,
  which then becomes the trusted one.

A :class:`MisbehaviourError` carries both signed notes: each is signed with the ledger's key, so
together they are evidence of the operator's misbehaviour that anyone can check offline.

The first checkpoint a new state sees is trusted on first use, unless the state is seeded with
a note obtained out of band (:meth:`TrustedLog.seed`). Time and I/O are the caller's: the store
does the only I/O, and nothing here reads the clock.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from sealtrail.core.errors import SealtrailError
from sealtrail.core.merkle import verify_consistency
from sealtrail.core.note import Checkpoint, NoteVerifier, verify_checkpoint
from sealtrail.sdk.errors import MisbehaviourError, VerificationError

#: a signed note is a few hundred bytes; a state file larger than this is not ours
MAX_STATE_BYTES = 64 * 1024


class StateStore(Protocol):
    """Where a :class:`TrustedLog` keeps the signed note of its newest verified checkpoint."""

    def load(self) -> str | None:
        """The stored note, or None if nothing was trusted yet."""

    def save(self, note: str) -> None:
        """Replace the stored note durably (a crash leaves the old or the new one)."""


class MemoryState:
    """A state kept in memory only (tests; a process that needs no memory across runs)."""

    def __init__(self, note: str | None = None) -> None:
        self.note = note

    def load(self) -> str | None:
        """The stored note."""
        return self.note

    def save(self, note: str) -> None:
        """Keep ``note``."""
        self.note = note


class FileState:
    """A state in one file (mode 0600), replaced atomically: written to a temporary file in the
    same directory, flushed to disk, renamed over the old one, the directory synced."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> str | None:
        """The stored note; None when the file does not exist."""
        try:
            with self.path.open("rb") as f:
                data = f.read(MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return None
        if len(data) > MAX_STATE_BYTES:
            raise VerificationError(f"{self.path}: over {MAX_STATE_BYTES} bytes, not a state file")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise VerificationError(f"{self.path}: not UTF-8 ({e})") from e

    def save(self, note: str) -> None:
        """Replace the file's note durably."""
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(note.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


class TrustedLog:
    """The newest checkpoint this client verified, and the rules for moving past it.

    Requires ``verifier``: the ledger's checkpoint key, obtained out of band (the ledger's
    published ``ledger.pub``). Not thread-safe: one per client.
    """

    def __init__(self, verifier: NoteVerifier, store: StateStore) -> None:
        self.verifier = verifier
        self.store = store
        self._note: str | None = None
        self._trusted: Checkpoint | None = None
        stored = store.load()
        if stored is not None:
            try:
                self._trusted = verify_checkpoint(stored, verifier)
            except SealtrailError as e:
                raise VerificationError(f"the stored trusted state does not verify: {e}") from e
            self._note = stored

    @property
    def trusted(self) -> Checkpoint | None:
        """The newest verified checkpoint (None before the first)."""
        return self._trusted

    @property
    def trusted_note(self) -> str | None:
        """Its signed note."""
        return self._note

    def seed(self, note: str) -> Checkpoint:
        """Trust ``note`` (obtained out of band) as the starting point; only for a new state."""
        if self._trusted is not None:
            raise VerificationError("the state already trusts a checkpoint; seed a new one")
        return self._accept(note, self._open(note))

    def observe(self, note: str) -> Checkpoint:
        """Judge a checkpoint the server presents as the log's current one, without a proof.

        Returns the trusted checkpoint after the call. A first checkpoint is trusted on first
        use; the same one again changes nothing; an older one or another root at the same size
        raises :class:`MisbehaviourError`; a newer one raises :class:`VerificationError`
        (it needs a consistency proof: :meth:`advance`).
        """
        cp = self._open(note)
        old = self._trusted
        if old is None:
            return self._accept(note, cp)
        self._judge(old, note, cp)
        if cp.size > old.size:
            raise VerificationError(
                f"checkpoint {cp.size} is newer than the trusted {old.size}: "
                "it needs a consistency proof from the trusted one"
            )
        return old

    def advance(self, proof: Mapping[str, Any]) -> Checkpoint:
        """Move to a newer checkpoint with the API's consistency proof answer
        (``GET /v1/checkpoints/consistency?from=<trusted size>``: ``old_checkpoint``,
        ``new_checkpoint``, ``proof``). Returns the trusted checkpoint after the call.

        The proof must start at the trusted checkpoint (same size, same root); a new
        checkpoint equal to the trusted one changes nothing; an older one, or another root at
        the trusted size, raises :class:`MisbehaviourError`.
        """
        try:
            old_note = _note_of(proof, "old_checkpoint")
            new_note = _note_of(proof, "new_checkpoint")
            hashes = proof["proof"]
            if not isinstance(hashes, Sequence) or isinstance(hashes, str | bytes):
                raise VerificationError("consistency proof: 'proof' is not a list")
            path = [bytes.fromhex(h) for h in hashes]
        except (KeyError, TypeError, ValueError) as e:
            raise VerificationError(f"consistency proof: malformed ({e})") from e
        old_cp, new_cp = self._open(old_note), self._open(new_note)
        trusted = self._trusted
        if trusted is None:
            self._accept(old_note, old_cp)  # trust on first use, then move on with the proof
            trusted = old_cp
        self._judge(trusted, old_note, old_cp)
        if old_cp.size != trusted.size:
            raise VerificationError(
                f"the consistency proof starts at {old_cp.size}, not at the trusted {trusted.size}"
            )
        self._judge(trusted, new_note, new_cp)
        if new_cp.size == trusted.size:
            return trusted
        try:
            verify_consistency(old_cp.size, new_cp.size, old_cp.root, new_cp.root, path)
        except SealtrailError as e:
            raise VerificationError(
                f"checkpoint {new_cp.size} does not extend {old_cp.size}: {e}"
            ) from e
        return self._accept(new_note, new_cp)

    def _open(self, note: str) -> Checkpoint:
        try:
            return verify_checkpoint(note, self.verifier)
        except SealtrailError as e:
            raise VerificationError(f"checkpoint: {e}") from e

    def _judge(self, trusted: Checkpoint, note: str, cp: Checkpoint) -> None:
        """Raise MisbehaviourError if ``cp`` rolls back or forks the trusted checkpoint."""
        assert self._note is not None
        if cp.size < trusted.size:
            raise MisbehaviourError(
                f"rollback: checkpoint {cp.size} presented after {trusted.size} was verified",
                trusted_note=self._note,
                presented_note=note,
            )
        if cp.size == trusted.size and cp.root != trusted.root:
            raise MisbehaviourError(
                f"fork: two roots signed for size {cp.size} "
                f"({trusted.root.hex()[:16]}… trusted, {cp.root.hex()[:16]}… presented)",
                trusted_note=self._note,
                presented_note=note,
            )

    def _accept(self, note: str, cp: Checkpoint) -> Checkpoint:
        self.store.save(note)
        self._note, self._trusted = note, cp
        return cp


def _note_of(proof: Mapping[str, Any], which: str) -> str:
    note = proof[which]["note"]
    if not isinstance(note, str):
        raise VerificationError(f"consistency proof: {which}.note is not a string")
    return note
