"""Salts: one draw from the injected source per commit group, 16 distinct bytes per new event."""

from __future__ import annotations

from pathlib import Path

from sealtrail import backend
from sealtrail.core.errors import ConflictError
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.sequencer import AppendRequest
from tests.conftest import counting_random, event_input, fixed_clock


def test_a_group_of_requests_draws_its_salts_at_once(data_dir: Path) -> None:
    draws: list[int] = []
    source = counting_random()

    def random_bytes(n: int) -> bytes:
        draws.append(n)
        return source(n)

    stores, signer = backend.open_store(data_dir)
    ledger = Ledger(stores.ledger, signer, clock=fixed_clock, random_bytes=random_bytes)
    try:
        ledger.append("acme", [event_input("a")])  # stored: a repeat below
        draws.clear()
        results = ledger.writer.commit(
            [
                AppendRequest("acme", [event_input("b"), event_input("c", stream="contract:2")]),
                AppendRequest("acme", [event_input("a", etype="view")]),  # conflicts: refused
                AppendRequest("acme", [event_input("a"), event_input(None)]),
                AppendRequest("acme", [event_input("d")]),
            ]
        )
    finally:
        ledger.close_sync()
    assert draws == [16 * 6]  # one draw, 16 bytes per input of the group
    assert isinstance(results[1], ConflictError)
    appended = [a for r in results if isinstance(r, list) for a in r]
    new = [a.event for a in appended if not a.duplicate]
    assert [a.duplicate for a in appended] == [False, False, True, False, False]
    salts = [ev.body()["salt"] for ev in new]
    assert all(len(s) == 32 for s in salts)  # hex of 16 bytes
    assert len(set(salts)) == len(salts) == 4
