"""Tampering with a stored ledger is found by audit(), with the right code and index.

Each test builds the same ledger (50 events over four streams of two tenants, checkpoints at
16, 33 and 50), proves it audits clean, edits ledger.db with raw sqlite3 as an operator could,
and checks the report: which problem codes, at which indices, and that each message names the
event index or checkpoint size it concerns. Tests are named after the mutation they apply.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealtrail import backend
from sealtrail.core.event import Event
from sealtrail.core.note import Checkpoint, NoteSigner, sign_checkpoint
from sealtrail.ledger import datadir
from sealtrail.ledger.audit import DEFAULT_PAGE_SIZE, AuditReport, audit
from sealtrail.ledger.log import Ledger
from tests.conftest import counting_random, event_input, fixed_clock

SIZE = 50
SEAL_AT = (16, 33, 50)
STREAMS = (
    ("acme", "contract:1"),
    ("acme", "contract:2"),
    ("globex", "contract:1"),
    ("globex", "contract:3"),
)
CHECKPOINT_CODES = {
    "checkpoint_signature",
    "checkpoint_mismatch",
    "checkpoint_root_mismatch",
    "checkpoint_inconsistent",
    "checkpoint_beyond_log",
}


@dataclass
class Built:
    data_dir: Path
    db: Path
    events: list[Event]
    page_size: int = DEFAULT_PAGE_SIZE

    def audit(self) -> AuditReport:
        store, signer = backend.open_store(self.data_dir)
        try:
            return audit(store.ledger, signer.verifier(), page_size=self.page_size)
        finally:
            store.close()

    def next_in_stream(self, i: int) -> int:
        ev = self.events[i]
        return next(
            e.index for e in self.events[i + 1 :] if (e.tenant, e.stream) == (ev.tenant, ev.stream)
        )

    def row(self, sql: str, *params: Any) -> tuple[Any, ...]:
        con = sqlite3.connect(self.db)
        try:
            return con.execute(sql, params).fetchone()
        finally:
            con.close()

    def tamper(self, sql: str, *params: Any) -> None:
        con = sqlite3.connect(self.db)
        try:
            with con:
                changed = con.execute(sql, params).rowcount
            assert changed >= 1, f"tampering changed nothing: {sql}"
        finally:
            con.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Event]]:
    """The ledger every test starts from, built once; tests tamper with copies."""
    data_dir = tmp_path_factory.mktemp("audit-template") / "data"
    backend.init(data_dir)
    store, signer = backend.open_store(data_dir)
    ledger = Ledger(store.ledger, signer, clock=fixed_clock, random_bytes=counting_random())
    pick = random.Random(50)
    for i in range(SIZE):
        tenant, stream = STREAMS[pick.randrange(len(STREAMS))] if i >= 4 else STREAMS[i]
        ledger.append(tenant, [event_input(f"erp-{i}", stream=stream)])
        if i + 1 in SEAL_AT:
            ledger.seal()
    events = [e.event for e in store.ledger.entries()]
    store.close()  # the last close checkpoints the WAL into ledger.db
    return data_dir, events


@pytest.fixture(params=[DEFAULT_PAGE_SIZE, 7], ids=["one-page", "pages-of-7"])
def built(
    template: tuple[Path, list[Event]], tmp_path: Path, request: pytest.FixtureRequest
) -> Built:
    """A copy of the template; every test runs with the whole log in one page and with pages of
    7 entries (streams, checkpoints and subtrees then span pages)."""
    data_dir = tmp_path / "data"
    shutil.copytree(template[0], data_dir)
    b = Built(data_dir, data_dir / "ledger.db", template[1], request.param)
    report = b.audit()
    assert report.ok, [p.to_json() for p in report.problems]  # so the tests below can fail
    assert (report.size, report.checkpoints, report.streams) == (SIZE, 3, 4)
    return b


def by_code(report: AuditReport) -> dict[str, list[int | None]]:
    out: dict[str, list[int | None]] = {}
    for p in report.problems:
        out.setdefault(p.code, []).append(p.index)
    return out


def messages(report: AuditReport, code: str) -> list[str]:
    return [p.message for p in report.problems if p.code == code]


def covering(i: int, size: int = SIZE) -> list[int]:
    """Entries that store a perfect subtree (level >= 1) containing leaf ``i``."""
    out = []
    for level in range(1, size.bit_length() + 1):
        holder = (((i >> level) + 1) << level) - 1
        if holder < size:
            out.append(holder)
    return sorted(set(out))


def sealed_over(i: int) -> list[int]:
    return [s for s in SEAL_AT if s > i]


def test_untampered_ledger_audits_clean(built: Built) -> None:
    report = built.audit()
    assert report.ok
    assert report.problems == []
    assert not report.truncated
    assert report.to_json()["ok"] is True


def test_covering_helper() -> None:
    assert covering(16) == [17, 19, 23, 31]
    assert covering(17) == [17, 19, 23, 31]
    assert covering(49) == [49]
    assert covering(48) == [49]


# (a) one byte of a stored body changed --------------------------------------------------


@pytest.mark.parametrize(
    ("mutation", "old", "new", "malformed"),
    [
        pytest.param("actor-name-byte", b"Li Lei", b"Li Lej", False, id="value-byte"),
        pytest.param(
            "opening-brace",
            b"{",
            b"[",
            True,
            id="structural-byte",
        ),
        pytest.param("salt-hex-to-upper", None, None, True, id="salt-byte-uppercased"),
    ],
)
def test_body_byte_changed(
    built: Built, mutation: str, old: bytes | None, new: bytes | None, malformed: bool
) -> None:
    i = 17
    (body,) = built.row("SELECT body FROM events WHERE idx = ?", i)
    body = bytes(body)
    if old is None:  # uppercase one hex digit of the salt: still valid JSON, not normal form
        at = body.index(b'"salt":"') + len(b'"salt":"')
        at += next(k for k, c in enumerate(body[at:]) if chr(c) in "abcdef")
        tampered = body[:at] + body[at : at + 1].upper() + body[at + 1 :]
    else:
        tampered = body.replace(old, new, 1)
    assert len(tampered) == len(body)
    assert sum(a != b for a, b in zip(body, tampered, strict=True)) == 1
    built.tamper("UPDATE events SET body = ? WHERE idx = ?", tampered, i)

    report = built.audit()
    got = by_code(report)
    assert got["leaf_hash_mismatch"] == [i]
    assert messages(report, "leaf_hash_mismatch")[0].startswith(f"event {i}:")
    if malformed:
        assert got["malformed_event"] == [i]
        assert messages(report, "malformed_event")[0].startswith(f"event {i}:")
    else:
        assert "malformed_event" not in got
    assert got["subtree_mismatch"] == covering(i)
    assert got["chain_broken"] == [built.next_in_stream(i)]
    roots = messages(report, "checkpoint_root_mismatch")
    assert [m.split(":")[0] for m in roots] == [f"checkpoint {s}" for s in sealed_over(i)]
    assert set(got) <= {
        "leaf_hash_mismatch",
        "malformed_event",
        "subtree_mismatch",
        "chain_broken",
        "checkpoint_root_mismatch",
    }


# (b) one byte changed, leaf hash recomputed: the row is self-consistent ------------------


@pytest.mark.parametrize("i", [16, 17, 40])
def test_body_byte_changed_and_leaf_hash_recomputed(built: Built, i: int) -> None:
    (body,) = built.row("SELECT body FROM events WHERE idx = ?", i)
    body = bytes(body)
    at = body.index(b'"salt":"') + len(b'"salt":"')
    digit = body[at : at + 1]
    tampered = body[:at] + (b"1" if digit != b"1" else b"2") + body[at + 1 :]
    leaf = hashlib.sha256(b"\x00" + tampered).digest()
    built.tamper("UPDATE events SET body = ?, leaf_hash = ? WHERE idx = ?", tampered, leaf, i)

    report = built.audit()
    got = by_code(report)
    assert set(got) == {"subtree_mismatch", "chain_broken", "checkpoint_root_mismatch"}
    # The first stored hash over leaf i that no longer matches is where i's subtree closes.
    assert got["subtree_mismatch"] == covering(i)
    assert got["subtree_mismatch"][0] == (i if i % 2 else i + 1)
    nxt = built.next_in_stream(i)
    assert got["chain_broken"] == [nxt]
    assert messages(report, "chain_broken")[0].startswith(f"event {nxt}:")
    # It links to the original leaf hash, the audit wants the rewritten one.
    original = built.events[i].leaf_hash.hex()
    assert f"links to prev {original}, want {leaf.hex()}" in messages(report, "chain_broken")[0]
    assert [m.split(":")[0] for m in messages(report, "checkpoint_root_mismatch")] == [
        f"checkpoint {s}" for s in sealed_over(i)
    ]


# (c) events deleted -------------------------------------------------------------------


def test_middle_event_deleted(built: Built) -> None:
    built.tamper("DELETE FROM events WHERE idx = 23")
    report = built.audit()
    got = by_code(report)
    assert got["missing_event"] == [23]
    assert "23" in messages(report, "missing_event")[0]
    assert got["chain_broken"] == [built.next_in_stream(23)]
    assert not report.ok
    assert report.root is None  # the tree cannot be recomputed without the leaf


def test_run_of_events_deleted(built: Built) -> None:
    built.tamper("DELETE FROM events WHERE idx BETWEEN 23 AND 25")
    report = built.audit()
    assert by_code(report)["missing_event"] == [23]
    assert "23..25" in messages(report, "missing_event")[0]


def test_first_event_deleted(built: Built) -> None:
    built.tamper("DELETE FROM events WHERE idx = 0")
    report = built.audit()
    assert by_code(report)["missing_event"] == [0]


def test_sealed_tail_truncated(built: Built) -> None:
    built.tamper("DELETE FROM events WHERE idx >= 45")
    report = built.audit()
    assert report.size == 45
    assert by_code(report) == {
        "checkpoint_beyond_log": [None],
        # the look-up index still names the deleted events
        "document_index_mismatch": [45, 46, 47, 48, 49],
    }
    assert messages(report, "checkpoint_beyond_log")[0].startswith("checkpoint 50 ")
    assert messages(report, "document_index_mismatch")[0].endswith("the log ends at 45")


# (d) two events swapped ----------------------------------------------------------------


def test_bodies_and_leaf_hashes_of_two_events_swapped(built: Built) -> None:
    a, b = 10, 30
    ra = built.row("SELECT body, leaf_hash FROM events WHERE idx = ?", a)
    rb = built.row("SELECT body, leaf_hash FROM events WHERE idx = ?", b)
    built.tamper("UPDATE events SET body = ?, leaf_hash = ? WHERE idx = ?", *rb, a)
    built.tamper("UPDATE events SET body = ?, leaf_hash = ? WHERE idx = ?", *ra, b)

    report = built.audit()
    got = by_code(report)
    assert got["index_mismatch"] == [a, b]
    assert messages(report, "index_mismatch") == [
        f"event stored at {a} says index {b}",
        f"event stored at {b} says index {a}",
    ]
    # The client event id columns no longer match the bodies either.
    assert {a, b} <= set(got["column_mismatch"])
    assert "leaf_hash_mismatch" not in got
    assert a + 1 in got["subtree_mismatch"]


# (e)-(g) checkpoints --------------------------------------------------------------------


@pytest.mark.parametrize("where", ["size-line", "root-line", "signature"])
def test_checkpoint_note_byte_changed(built: Built, where: str) -> None:
    (note,) = built.row("SELECT note FROM checkpoints WHERE size = 33")
    text, sig = note.split("\n\n")
    if where == "size-line":
        forged = text.replace("\n33\n", "\n34\n") + "\n\n" + sig
    elif where == "root-line":
        lines = text.split("\n")
        c = lines[2][5]
        lines[2] = lines[2][:5] + ("B" if c != "B" else "C") + lines[2][6:]
        forged = "\n".join(lines) + "\n\n" + sig
    else:
        k = len(sig) // 2
        forged = text + "\n\n" + sig[:k] + ("B" if sig[k] != "B" else "C") + sig[k + 1 :]
    assert len(forged) == len(note)
    assert sum(x != y for x, y in zip(note, forged, strict=True)) == 1
    built.tamper("UPDATE checkpoints SET note = ? WHERE size = 33", forged)

    report = built.audit()
    assert by_code(report) == {"checkpoint_signature": [None]}
    assert messages(report, "checkpoint_signature")[0].startswith("checkpoint 33:")


def test_checkpoint_root_changed(built: Built) -> None:
    (root,) = built.row("SELECT root FROM checkpoints WHERE size = 33")
    forged = bytes([root[0] ^ 1]) + bytes(root[1:])
    built.tamper("UPDATE checkpoints SET root = ? WHERE size = 33", forged)

    report = built.audit()
    got = by_code(report)
    assert set(got) == {
        "checkpoint_mismatch",
        "checkpoint_root_mismatch",
        "checkpoint_inconsistent",
    }
    assert len(messages(report, "checkpoint_mismatch")) == 1
    assert messages(report, "checkpoint_mismatch")[0].startswith("checkpoint 33:")
    assert messages(report, "checkpoint_root_mismatch")[0].startswith("checkpoint 33:")
    inconsistent = messages(report, "checkpoint_inconsistent")
    assert [m.split(" is not")[0] for m in inconsistent] == ["checkpoint 33", "checkpoint 50"]
    assert "with checkpoint 16" in inconsistent[0]
    assert "with checkpoint 33" in inconsistent[1]


def forger(built: Built) -> NoteSigner:
    """A different key under the ledger's own origin name."""
    origin = datadir.load_signer(built.data_dir).name
    return NoteSigner(origin, Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))


def test_forged_checkpoint_signed_with_another_key(built: Built) -> None:
    origin = datadir.load_signer(built.data_dir).name
    forged_root = bytes(32)
    note = sign_checkpoint(Checkpoint(origin, 33, forged_root), forger(built))
    built.tamper("UPDATE checkpoints SET note = ?, root = ? WHERE size = 33", note, forged_root)

    report = built.audit()
    got = by_code(report)
    assert set(got) == {
        "checkpoint_signature",
        "checkpoint_root_mismatch",
        "checkpoint_inconsistent",
    }
    assert messages(report, "checkpoint_signature") == ["checkpoint 33: no verifiable signatures"]
    assert messages(report, "checkpoint_root_mismatch")[0].startswith("checkpoint 33:")


def test_genuine_checkpoint_resigned_with_another_key(built: Built) -> None:
    origin = datadir.load_signer(built.data_dir).name
    (root,) = built.row("SELECT root FROM checkpoints WHERE size = 50")
    note = sign_checkpoint(Checkpoint(origin, 50, bytes(root)), forger(built))
    built.tamper("UPDATE checkpoints SET note = ? WHERE size = 50", note)

    report = built.audit()
    assert by_code(report) == {"checkpoint_signature": [None]}
    assert messages(report, "checkpoint_signature")[0].startswith("checkpoint 50:")


# (h) index columns changed, body untouched ----------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("stream", "contract:9"),
        ("tenant", "initech"),
        ("client_event_id", "erp-999"),
        ("type", "revoke"),
        ("actor_id", "u-1"),
        ("recorded_at", "2027-01-01T00:00:00.000000Z"),
    ],
)
def test_index_column_changed(built: Built, column: str, value: str) -> None:
    i = 21
    built.tamper(f"UPDATE events SET {column} = ? WHERE idx = ?", value, i)
    report = built.audit()
    assert by_code(report) == {"column_mismatch": [i]}
    (msg,) = messages(report, "column_mismatch")
    assert msg.startswith(f"event {i}: stored {column} {value!r}")


def test_document_index_row_deleted(built: Built) -> None:
    built.tamper("DELETE FROM documents WHERE idx = 12")
    report = built.audit()
    assert by_code(report) == {"document_index_mismatch": [12]}
    assert messages(report, "document_index_mismatch")[0].startswith("event 12:")


def test_document_index_row_added(built: Built) -> None:
    built.tamper("INSERT INTO documents (fp, idx) VALUES (?, 12)", 0x0101010101010101)
    report = built.audit()
    assert by_code(report) == {"document_index_mismatch": [12]}
    assert "lists documents ['0101010101010101']" in messages(report, "document_index_mismatch")[0]


# other stored state ---------------------------------------------------------------------


def test_stored_subtree_hash_changed(built: Built) -> None:
    (subs,) = built.row("SELECT subtrees FROM events WHERE idx = 31")
    subs = bytes(subs)
    forged = subs[:40] + bytes([subs[40] ^ 0x80]) + subs[41:]
    built.tamper("UPDATE events SET subtrees = ? WHERE idx = 31", forged)
    report = built.audit()
    got = by_code(report)
    assert got["subtree_mismatch"] == [31]
    assert messages(report, "subtree_mismatch")[0].startswith("event 31:")
    assert set(got) <= {"subtree_mismatch", "checkpoint_inconsistent"}


def test_origin_changed(built: Built) -> None:
    built.tamper("UPDATE meta SET value = 'evil.example/log' WHERE key = 'origin'")
    report = built.audit()
    assert by_code(report) == {"origin_mismatch": [None]}
    assert "evil.example/log" in messages(report, "origin_mismatch")[0]
