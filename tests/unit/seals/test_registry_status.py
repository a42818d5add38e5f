"""registry.set_status against a change that lands between its read and its compare-and-swap
(another process suspending or revoking the seal meanwhile), on the SQLite seal store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization

from sealtrail.core.errors import ConflictError
from sealtrail.seals import registry
from sealtrail.seals.sqlite_store import SQLiteSealStore
from sealtrail.seals.store import OutboxEvent, SealStatusChange, StoredSeal
from sealtrail.signing import pki
from tests.conftest import SQLiteLedger as SQLiteStore

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ACTOR = {"id": "test"}


class Interleaved(SQLiteSealStore):
    """A seal store on which ``meanwhile`` lands just before the first status change."""

    def __init__(self, store: SQLiteStore, meanwhile: SealStatusChange) -> None:
        super().__init__(store.db)
        self.meanwhile: SealStatusChange | None = meanwhile

    def set_seal_status(self, change: SealStatusChange, events: Sequence[OutboxEvent]) -> None:
        if self.meanwhile is not None:
            other, self.meanwhile = self.meanwhile, None
            super().set_seal_status(other, [])
        super().set_seal_status(change, events)


@pytest.fixture
def ledger_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "ledger.db")
    yield store
    store.close()


def _add_seal(ledger_store: SQLiteStore) -> None:
    cert = pki.create_internal_ca("acme", now=NOW).certificate
    der = cert.public_bytes(serialization.Encoding.DER)
    seal = StoredSeal("seal-1", "acme", "contract", "Acme", "", "", "", "active", None, None,
                      "internal-ca", "generated", der, (), "2026-11-24T10:00:00Z")  # fmt: skip
    SQLiteSealStore(ledger_store.db).insert_seal(seal, appearance=b"png", key_blob=b"k", events=[])


def test_a_status_change_that_lost_the_race_is_rechecked_and_applied(
    ledger_store: SQLiteStore,
) -> None:
    _add_seal(ledger_store)
    seals = Interleaved(ledger_store, SealStatusChange("seal-1", "active", "suspended", "x", "t"))
    got = registry.set_status(seals, "seal-1", "revoked", reason="key lost", actor=ACTOR, now=NOW)
    assert got.status == "revoked"
    events = [orjson.loads(q.body) for q in seals.pending_events()]
    assert [(e["type"], e["attributes"]["from"]) for e in events] == [("seal:revoked", "suspended")]


def test_a_status_change_the_new_state_forbids_is_refused(ledger_store: SQLiteStore) -> None:
    _add_seal(ledger_store)
    seals = Interleaved(ledger_store, SealStatusChange("seal-1", "active", "revoked", "x", "t"))
    with pytest.raises(ConflictError, match="seal seal-1 is revoked: cannot become suspended"):
        registry.set_status(seals, "seal-1", "suspended", reason="audit", actor=ACTOR, now=NOW)
    assert seals.pending_events() == []
    seal = registry.get_seal(seals, "seal-1")
    assert seal is not None
    assert seal.status == "revoked"
