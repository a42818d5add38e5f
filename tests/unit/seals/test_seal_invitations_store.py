"""Envelope invitations and slot-bound seal requests in the seal store (schema version 5), on
SQLite and MongoDB, and the upgrade of databases written before them: SQLite's version-4 file
is migrated in place (every old slot gets its seal's tenant as party), MongoDB's envelopes
without parties are back-filled when the database is opened."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from sealtrail.backend import SQLITE_PARTS, open_mongodb, open_sqlite
from sealtrail.core.errors import ConflictError
from sealtrail.ledger.sqlite_db import SCHEMA_VERSION
from sealtrail.seals.mongo_store import ENVELOPES, MongoSealStore
from sealtrail.seals.store import InvitationAnswer, InvitationRef, SealStore, StoredSigner

from . import test_seal_store_contract as contract
from .test_seal_store_contract import (
    ID_IN_INDEX,
    ISOLATION,
    PDF,
    POSITIONAL_BINARY,
    T1,
    Backend,
    MongoBackend,
    _race,
    add_seal,
    commit_rec,
    envelope_rec,
    ev,
    on_backends,
    queued,
    request_rec,
    use_rec,
)

# the contract suite's fixtures: each backend, a fresh database per test
mongo_server = contract.mongo_server
backend = contract.backend
store = contract.store


def _invited(eid: str = "env-1", tenant: str = "acme", party: str = "beta") -> object:
    env = envelope_rec(eid, tenant)
    slot = StoredSigner(1, None, None, "pending", None, None, None, None, party, "invited")
    return replace(env, signers=(env.signers[0], slot))


def test_an_invitation_is_listed_to_its_party_until_answered(store: SealStore) -> None:
    env = _invited()
    store.insert_envelope(env, PDF, [])  # type: ignore[arg-type]
    got = store.envelope("env-1")
    assert got is not None
    assert got.signers[1] == env.signers[1]  # type: ignore[attr-defined]
    assert store.invitations(["beta"]) == [InvitationRef("env-1", 1, "beta")]
    assert store.invitations(["acme", "gamma"]) == []
    accept = InvitationAnswer("env-1", 1, "seal-b", "key-b", "key-b-admin", T1)
    store.answer_invitation(accept, [ev("acme", 7)])
    got = store.envelope("env-1")
    assert got is not None
    slot = got.signers[1]
    assert (slot.invitation, slot.seal_id, slot.key_id, slot.answered_by, slot.answered_at) == (
        "accepted", "seal-b", "key-b", "key-b-admin", T1,
    )  # fmt: skip
    assert got.status == "open"
    assert store.invitations(["beta"]) == []
    assert [b["attributes"]["n"] for _, b in queued(store)] == [7]
    # answered once: a second answer (accept or decline) writes nothing
    with pytest.raises(ConflictError, match="no longer an open invitation"):
        store.answer_invitation(replace(accept, seal_id=None), [ev("acme", 8)])
    with pytest.raises(ConflictError):  # slot 0 was never an invitation
        store.answer_invitation(replace(accept, position=0), [ev("acme", 9)])
    assert [b["attributes"]["n"] for _, b in queued(store)] == [7]


def test_a_declined_invitation_ends_the_envelope(store: SealStore) -> None:
    store.insert_envelope(_invited(), PDF, [])  # type: ignore[arg-type]
    store.answer_invitation(InvitationAnswer("env-1", 1, None, None, "k", T1), [])
    got = store.envelope("env-1")
    assert got is not None
    assert (got.status, got.completed_at, got.signers[1].invitation) == ("declined", T1, "declined")
    assert got.signers[1].seal_id is None


@on_backends(ISOLATION)
def test_racing_answers_to_one_invitation_one_wins(backend: Backend) -> None:
    n = 6
    handles = [backend.open() for _ in range(n)]
    handles[0].insert_envelope(_invited(), PDF, [])  # type: ignore[arg-type]

    def attempt(i: int) -> None:
        seal = f"seal-{i}" if i % 2 else None  # accept or decline
        handles[i].answer_invitation(
            InvitationAnswer("env-1", 1, seal, seal and f"key-{i}", f"k{i}", T1), [ev("acme", i)]
        )

    wins, errors = _race(n, attempt)
    assert wins == 1, errors
    assert all(isinstance(e, ConflictError) for e in errors), errors
    ((_, event),) = queued(handles[0])
    got = handles[0].envelope("env-1")
    assert got is not None
    winner = event["attributes"]["n"]
    assert got.signers[1].answered_by == f"k{winner}"
    assert got.status == ("open" if winner % 2 else "declined")


@on_backends(ISOLATION, POSITIONAL_BINARY, ID_IN_INDEX)
def test_a_decline_racing_the_completing_signature_never_undoes_it(backend: Backend) -> None:
    """The last signature completes the envelope while the invited party declines: one of them
    happens first and the other is refused. Never both (a declined envelope with a signature
    that completed it, its completion overwritten)."""
    signer, party = backend.open(), backend.open()
    for round_ in range(8):
        eid = f"env-{round_}"
        env = _invited(eid)
        signer.insert_envelope(env, PDF, [])  # type: ignore[arg-type]

        def attempt(i: int, eid: str = eid, env: object = env) -> None:
            if i == 0:
                commit = commit_rec(env, 0, PDF + b"signed", completes=True)  # type: ignore[arg-type]
                signer.commit_signature(commit, use_rec(envelope_id=eid), [ev("acme", 1)])
            else:
                answer = InvitationAnswer(eid, 1, None, None, "k-beta", T1)
                party.answer_invitation(answer, [ev("acme", 2)])

        wins, errors = _race(2, attempt)
        assert wins == 1, errors
        assert all(isinstance(e, ConflictError) for e in errors), errors
        got = signer.envelope(eid)
        assert got is not None
        if got.status == "completed":
            assert (got.version, got.signers[1].invitation) == (1, "invited")
        else:
            assert (got.status, got.version, got.signers[0].status) == ("declined", 0, "pending")


def test_a_request_bound_to_a_slot_round_trips(store: SealStore) -> None:
    store.insert_request(request_rec(envelope_id="env-1", position=3), [])
    store.insert_request(request_rec("sreq-2"), [])
    a, b = store.request("sreq-1"), store.request("sreq-2")
    assert a is not None
    assert b is not None
    assert (a.envelope_id, a.position) == ("env-1", 3)
    assert (b.envelope_id, b.position) == (None, None)


def test_a_version_4_sqlite_database_is_upgraded_with_parties(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    con = sqlite3.connect(db)  # the version-4 schema: the parts of versions 1 to 4
    con.executescript("".join(p.ddl for p in SQLITE_PARTS if p.version <= 4))
    con.execute("PRAGMA user_version = 4")
    con.execute(
        "INSERT INTO seals VALUES ('seal-a', 'acme', 'contract', 'n', 'p', 'c', 'r', 'active', "
        "NULL, NULL, 'internal-ca', x'00', 'generated', x'00', x'', x'00', 't')"
    )
    con.execute(
        "INSERT INTO envelopes VALUES ('env-old', 'beta', 'T', 1, 'open', ?, ?, 0, 'k', 't', NULL)",
        (PDF, b"\x01" * 32),
    )
    con.execute(
        "INSERT INTO envelope_signers VALUES ('env-old', 0, 'seal-a', NULL, 'pending', NULL, "
        "NULL, NULL, NULL)"
    )
    con.execute(
        "INSERT INTO seal_requests VALUES ('sreq-old', 'acme', 'seal-a', ?, 'p', 'k', "
        "'approved', 'a', NULL, 't', 't', NULL)",
        (b"\x02" * 32,),
    )
    con.commit()
    con.close()

    stores = open_sqlite(db)
    try:
        assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        env = stores.seals.envelope("env-old")
        assert env is not None
        assert (env.signers[0].party, env.signers[0].invitation) == ("acme", None)
        assert env.signers[0].seal_id == "seal-a"
        req = stores.seals.request("sreq-old")
        assert req is not None
        assert (req.status, req.envelope_id, req.position) == ("approved", None, None)
        # and the upgraded file takes the new records
        stores.seals.insert_envelope(_invited("env-new"), PDF, [])  # type: ignore[arg-type]
        assert stores.seals.invitations(["beta"]) == [InvitationRef("env-new", 1, "beta")]
    finally:
        stores.close()
    again = open_sqlite(db)  # opening an upgraded file changes nothing
    try:
        env = again.seals.envelope("env-old")
        assert env is not None
        assert env.signers[0].party == "acme"
    finally:
        again.close()


@pytest.mark.parametrize("backend", ["mongodb"], indirect=True)
def test_mongodb_envelopes_without_parties_are_back_filled_on_open(backend: Backend) -> None:
    assert isinstance(backend, MongoBackend)
    first = backend.open()
    assert isinstance(first, MongoSealStore)
    add_seal(first, "seal-0", "acme")
    first.insert_envelope(envelope_rec("env-old", "beta", signers=1), PDF, [])
    coll = first.conn.collection(ENVELOPES)
    raw = first.conn.run(coll.find_one({"_id": "env-old"}))
    assert raw is not None
    old = [{k: v for k, v in s.items() if k != "party"} for s in raw["signers"]]
    first.conn.run(coll.update_one({"_id": "env-old"}, {"$set": {"signers": old}}))
    raw = first.conn.run(coll.find_one({"_id": "env-old"}))
    assert raw is not None
    assert "party" not in raw["signers"][0]  # as written before parties existed
    reopened = open_mongodb(backend.url)
    backend.conns.append(reopened)
    env = reopened.seals.envelope("env-old")
    assert env is not None
    assert env.signers[0].party == "acme"
