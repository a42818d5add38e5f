"""The SDK's trusted state (sealtrail/sdk/state.py) against an operator who holds the ledger's
key: it signs whatever it likes, so only the client's memory of what it verified stands between
it and a rolled-back or forked log (issue 14: "freeze or roll back the log it shows a client").

Checkpoints here are real signed notes over real RFC 9162 trees; nothing is mocked.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from sealtrail.core import merkle
from sealtrail.core.note import Checkpoint, NoteSigner, sign_checkpoint, verify_checkpoint
from sealtrail.sdk import (
    FileState,
    MemoryState,
    MisbehaviourError,
    TrustedLog,
    VerificationError,
)

SIGNER = NoteSigner.generate("test.example/trusted-state")
VERIFIER = SIGNER.verifier()
LEAVES = [merkle.leaf_hash(f"event {i}".encode()) for i in range(40)]


def note(size: int, leaves: list[bytes] = LEAVES) -> str:
    return sign_checkpoint(Checkpoint(SIGNER.name, size, merkle.root(leaves[:size])), SIGNER)


def answer(old: int, new: int, leaves: list[bytes] = LEAVES) -> dict[str, Any]:
    """``GET /v1/checkpoints/consistency?from=old&to=new`` as the API answers it."""
    return {
        "old_checkpoint": {"note": note(old, leaves)},
        "new_checkpoint": {"note": note(new, leaves)},
        "proof": [h.hex() for h in merkle.consistency_proof(old, leaves[:new])],
    }


def forked() -> list[bytes]:
    """Another history: the same first 9 events, then different ones."""
    return LEAVES[:9] + [merkle.leaf_hash(f"other {i}".encode()) for i in range(9, 40)]


def test_first_checkpoint_is_trusted_on_first_use_and_kept() -> None:
    store = MemoryState()
    log = TrustedLog(VERIFIER, store)
    assert log.trusted is None
    cp = log.observe(note(5))
    assert (cp.size, store.note) == (5, note(5))
    assert log.observe(note(5)) == cp  # the same again: nothing new, nothing wrong


def test_a_newer_checkpoint_needs_a_consistency_proof_from_the_trusted_one() -> None:
    log = TrustedLog(VERIFIER, MemoryState(note(5)))
    with pytest.raises(VerificationError, match="needs a consistency proof"):
        log.observe(note(9))
    assert log.trusted is not None
    assert log.trusted.size == 5
    assert log.advance(answer(5, 9)).size == 9
    assert log.advance(answer(9, 20)).size == 20
    assert log.trusted_note == note(20)


def test_rollback_is_misbehaviour_with_both_notes_kept_as_evidence() -> None:
    log = TrustedLog(VERIFIER, MemoryState(note(20)))
    with pytest.raises(MisbehaviourError, match="rollback: checkpoint 9 presented after 20") as e:
        log.observe(note(9))
    # both notes verify with the ledger's key: evidence anyone can check offline
    assert verify_checkpoint(e.value.trusted_note, VERIFIER).size == 20
    assert verify_checkpoint(e.value.presented_note, VERIFIER).size == 9
    assert e.value.code == "server_misbehaviour"
    assert log.trusted is not None
    assert log.trusted.size == 20  # unchanged


def test_fork_at_the_trusted_size_is_misbehaviour() -> None:
    other = forked()
    log = TrustedLog(VERIFIER, MemoryState(note(20)))
    with pytest.raises(MisbehaviourError, match="fork: two roots signed for size 20"):
        log.observe(note(20, other))


def test_a_proof_from_a_forked_old_checkpoint_is_misbehaviour() -> None:
    other = forked()
    log = TrustedLog(VERIFIER, MemoryState(note(20)))
    with pytest.raises(MisbehaviourError, match="fork"):
        log.advance(answer(20, 30, other))


def test_a_proof_that_does_not_start_at_the_trusted_checkpoint_is_refused() -> None:
    log = TrustedLog(VERIFIER, MemoryState(note(20)))
    with pytest.raises(MisbehaviourError, match="rollback"):
        log.advance(answer(9, 30))  # from an older checkpoint: the server rolls the client back
    with pytest.raises(VerificationError, match="starts at 25, not at the trusted 20"):
        log.advance(answer(25, 30))


def test_a_newer_checkpoint_of_another_history_does_not_extend_the_trusted_one() -> None:
    """The operator signs a size-30 checkpoint of a forked log and a 'proof' from the trusted
    size-20 one: the RFC 9162 consistency check refuses it."""
    other = forked()
    bad = answer(20, 30)
    bad["new_checkpoint"] = {"note": note(30, other)}
    log = TrustedLog(VERIFIER, MemoryState(note(20)))
    with pytest.raises(VerificationError, match="checkpoint 30 does not extend 20"):
        log.advance(bad)
    assert log.trusted is not None
    assert log.trusted.size == 20


def test_a_rolled_back_new_checkpoint_in_a_proof_is_misbehaviour() -> None:
    log = TrustedLog(VERIFIER, MemoryState(note(20)))
    bad = answer(20, 30)
    bad["new_checkpoint"] = {"note": note(12)}
    with pytest.raises(MisbehaviourError, match="rollback"):
        log.advance(bad)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda a: a.pop("proof"),
        lambda a: a.__setitem__("proof", "not a list"),
        lambda a: a.__setitem__("proof", ["zz"]),
        lambda a: a.__setitem__("old_checkpoint", {"note": 7}),
        lambda a: a.pop("new_checkpoint"),
    ],
    ids=["no-proof", "proof-not-a-list", "proof-not-hex", "note-not-a-string", "no-new"],
)
def test_malformed_answers_are_verification_errors(mutate: Any) -> None:
    log = TrustedLog(VERIFIER, MemoryState(note(20)))
    bad = answer(20, 30)
    mutate(bad)
    with pytest.raises(VerificationError):
        log.advance(bad)


def test_a_note_signed_by_another_key_is_refused() -> None:
    stranger = NoteSigner.generate(SIGNER.name)
    foreign = sign_checkpoint(Checkpoint(SIGNER.name, 3, merkle.root(LEAVES[:3])), stranger)
    with pytest.raises(VerificationError, match="checkpoint"):
        TrustedLog(VERIFIER, MemoryState()).observe(foreign)
    with pytest.raises(VerificationError, match="stored trusted state does not verify"):
        TrustedLog(VERIFIER, MemoryState(foreign))


def test_file_state_survives_a_restart_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "client" / "sealtrail-state"
    log = TrustedLog(VERIFIER, FileState(path))
    log.observe(note(5))
    log.advance(answer(5, 12))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = TrustedLog(VERIFIER, FileState(path))  # a new process
    assert again.trusted is not None
    assert again.trusted.size == 12
    with pytest.raises(MisbehaviourError, match="rollback"):
        again.observe(note(5))
    assert [p.name for p in path.parent.iterdir()] == ["sealtrail-state"]  # no temp left


def test_file_state_refuses_a_file_that_is_not_a_state(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_bytes(b"\xff" * 10)
    with pytest.raises(VerificationError, match="not UTF-8"):
        TrustedLog(VERIFIER, FileState(path))
    path.write_bytes(b"x" * (70 * 1024))
    with pytest.raises(VerificationError, match="not a state file"):
        TrustedLog(VERIFIER, FileState(path))


def test_seed_only_starts_a_new_state() -> None:
    log = TrustedLog(VERIFIER, MemoryState())
    assert log.seed(note(7)).size == 7
    with pytest.raises(VerificationError, match="already trusts"):
        log.seed(note(9))
    assert hashlib.sha256(note(7).encode()).hexdigest()  # notes are plain text
