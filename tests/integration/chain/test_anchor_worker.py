"""The anchoring worker's state machine on a real Ganache and a real SQLite ledger: the happy
path to ``final``, restarts at every stored state, and each fault the issue names — the node
down, a transaction stuck in the pool, a reorg, a nonce taken by another sender, an account
that cannot pay, an anchorer the contract refuses.

Each test drives :meth:`AnchorWorker.step` by hand (no timers) and mines blocks itself
(``evm_mine``); ``miner_stop`` keeps transactions pending where a test needs that.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from eth_account import Account

from sealtrail import backend
from sealtrail.anchoring.chain import ChainClient, connect
from sealtrail.anchoring.contract import log_id_for
from sealtrail.anchoring.errors import ChainUnavailableError, InsufficientFundsError
from sealtrail.anchoring.worker import AnchorWorker, anchor_json
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.store import StoredCheckpoint
from tests.conftest import FIXED_TIME, OpenLedger, event_input, stores_of

from .conftest import ADDRESSES, CHAIN_ID, KEYS, Ganache, start_ganache

pytestmark = pytest.mark.ganache

K = 3  # confirmations for final in these tests
UNFUNDED_KEY = "0x" + hashlib.sha256(b"sealtrail worker test: a poor anchorer").hexdigest()


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = FIXED_TIME

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def contract(ganache: Ganache) -> str:
    """A fresh SealtrailAnchor deployed by account 0."""
    owner = connect(ganache.url, KEYS[0], CHAIN_ID)
    return owner.deploy()


def authorise(ganache: Ganache, contract: str, origin: str, address: str) -> None:
    owner = connect(ganache.url, KEYS[0], CHAIN_ID, contract_address=contract)
    owner.authorise(log_id_for(origin), address)


def seal(ledger: Ledger, n: int = 1) -> StoredCheckpoint:
    """Append ``n`` fresh events and seal a checkpoint."""
    size = ledger.size()
    ledger.append("t1", [event_input(f"e-{size + i}") for i in range(n)])
    cp, new = ledger.seal()
    assert cp is not None
    assert new
    return cp


Make = Callable[..., AnchorWorker]


@pytest.fixture
def make_worker(ganache: Ganache, contract: str, ledger: Ledger) -> Make:
    """Workers anchoring ``ledger`` with account 1 (authorised), each with its own connection."""
    authorise(ganache, contract, ledger.origin, ADDRESSES[1])

    def make(
        *, key: str = KEYS[1], clock: Clock | None = None, url: str | None = None, **kw: object
    ) -> AnchorWorker:
        target = url or ganache.url
        return AnchorWorker(
            stores_of(ledger),
            lambda: connect(target, key, CHAIN_ID, contract_address=contract),
            log_id_for(ledger.origin),
            confirmations=K,
            clock=clock or Clock(),
            **kw,  # type: ignore[arg-type]
        )

    return make


def warm_up(ledger: Ledger, w: AnchorWorker) -> None:
    """Anchor two checkpoints first. Ganache 7 mishandles a replaced transaction of nonce 0
    (it mines both; the worker then adopts the one that anchored) and of nonce 1 (the receipt
    names a block that is not canonical); a long-running service is past both."""
    for _ in range(2):
        seal(ledger)
        w.step()
        w.step()


def start_mining(ganache: Ganache) -> None:
    """``miner_start``, then wait until the pool is mined. (Ganache 7 mines the pool
    asynchronously; an ``evm_mine`` racing it makes a second block of the same height, and
    the receipt then names a block that is not canonical.)"""
    ganache.rpc("miner_start")
    for _ in range(200):
        pool = ganache.rpc("txpool_content")
        if not any(pool.get("pending", {}).values()):
            return
        time.sleep(0.01)
    raise AssertionError(f"Ganache did not mine its pool: {pool}")


def anchored_on_chain(w: AnchorWorker, cp: StoredCheckpoint) -> int | None:
    """The size the contract holds for the checkpoint's root (None: not anchored)."""
    record = w.client().lookup(w.log_id, cp.root)
    return None if record is None else record.tree_size


def anchor_transactions(w: AnchorWorker, ledger: Ledger) -> int:
    """How many Anchored events the contract emitted for this log (any size)."""
    client = w.client()
    contract = client._require_contract()
    logs = contract.events.Anchored().get_logs(
        from_block=0, argument_filters={"logId": log_id_for(ledger.origin)}
    )
    return len(logs)


def test_checkpoints_go_pending_sent_confirmed_final(
    ganache: Ganache, ledger: Ledger, make_worker: Make
) -> None:
    w = make_worker()
    cp1 = seal(ledger, 3)
    assert anchor_json(stores_of(ledger).anchors.anchor(cp1.size), K) == {
        "status": "pending",
        "attempts": 0,
        "last_error": None,
    }
    assert anchor_json(None, None) == {"status": "off"}

    w.step()  # signs, stores, sends (Ganache mines it at once)
    a = stores_of(ledger).anchors.anchor(cp1.size)
    assert a is not None
    assert a.status == "sent"
    assert a.raw is not None
    assert a.tx_hashes == (a.tx_hash,)
    assert a.nonce == 0

    w.step()  # finds the receipt
    a = stores_of(ledger).anchors.anchor(cp1.size)
    assert a is not None
    assert a.status == "confirmed"
    assert a.confirmations == 1
    receipt = w.client().receipt(a.tx_hash or b"")
    assert receipt is not None
    assert (a.block_number, a.block_hash, a.log_index) == (
        receipt.block_number,
        receipt.block_hash,
        receipt.log_index,
    )
    assert a.gas_used == receipt.gas_used
    assert anchored_on_chain(w, cp1) == cp1.size

    ganache.mine(K - 2)
    w.step()
    a = stores_of(ledger).anchors.anchor(cp1.size)
    assert a is not None
    assert (a.status, a.confirmations) == ("confirmed", K - 1)
    ganache.mine(1)
    w.step()
    a = stores_of(ledger).anchors.anchor(cp1.size)
    assert a is not None
    assert (a.status, a.confirmations) == ("final", K)
    assert a.final_at is not None
    shown = anchor_json(a, K)
    assert shown["status"] == "final"
    assert shown["tx_hash"] == "0x" + (a.tx_hash or b"").hex()
    assert shown["block_hash"] == "0x" + (a.block_hash or b"").hex()
    assert shown["chain_id"] == CHAIN_ID
    assert w.stats.gas_used == receipt.gas_used

    cp2 = seal(ledger, 2)
    w.step()
    w.step()
    ganache.mine(K)
    w.step()
    a2 = stores_of(ledger).anchors.anchor(cp2.size)
    assert a2 is not None
    assert a2.status == "final"
    assert a2.nonce == 1
    assert anchored_on_chain(w, cp2) == cp2.size
    assert anchor_transactions(w, ledger) == 2
    assert w.stats.finalised == 2


def test_backlog_is_anchored_in_order_one_transaction_at_a_time(
    ganache: Ganache, ledger: Ledger, make_worker: Make
) -> None:
    cps = [seal(ledger) for _ in range(4)]
    w = make_worker()
    ganache.rpc("miner_stop")
    w.step()
    w.step()  # the first is still unmined: nothing else is sent
    assert [stores_of(ledger).anchors.anchor(cp.size) is not None for cp in cps] == [
        True,
        False,
        False,
        False,
    ]
    start_mining(ganache)
    for _ in range(12):
        ganache.mine(1)
        w.step()
    assert [a.size for a in stores_of(ledger).anchors.anchors(("final",))] == [
        cp.size for cp in cps
    ]
    assert w.client().latest_size(w.log_id) == cps[-1].size
    assert anchor_transactions(w, ledger) == 4


def test_crash_after_storing_before_sending_resends_the_same_transaction(
    ganache: Ganache, ledger: Ledger, make_worker: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    cp = seal(ledger)
    w = make_worker()

    class Crash(BaseException):
        pass

    def crash(self: ChainClient, tx: object) -> None:
        raise Crash  # the process dies between put_anchor and broadcast

    monkeypatch.setattr(ChainClient, "broadcast", crash)
    with pytest.raises(Crash):
        w.step()
    monkeypatch.undo()
    stored = stores_of(ledger).anchors.anchor(cp.size)
    assert stored is not None
    assert stored.status == "sent"
    assert anchored_on_chain(w, cp) is None  # never reached the node

    restarted = make_worker()  # a new process: state only from the store
    restarted.step()  # the node lacks it: the very same bytes are sent
    assert restarted.stats.resent == 1
    ganache.mine(K)
    restarted.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "final"
    assert a.tx_hash == stored.tx_hash  # same transaction, not a second anchor
    assert anchor_transactions(restarted, ledger) == 1


def test_lost_state_adopts_the_anchor_instead_of_anchoring_twice(
    ganache: Ganache, data_dir: Path, open_ledger: OpenLedger, make_worker: Make
) -> None:
    ledger = open_ledger()
    cp = seal(ledger)
    w = make_worker()
    w.step()
    sent = stores_of(ledger).anchors.anchor(cp.size)
    assert sent is not None
    # The anchors table is lost (say, a backup from before the anchor was sent is restored).
    ledger.store.db.write(lambda con: con.execute("DELETE FROM anchors"))  # type: ignore[attr-defined]
    nonce_before = w.client().mined_nonce()

    again = make_worker()
    again.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "confirmed"
    assert a.tx_hash == sent.tx_hash
    assert again.stats.adopted == 1
    assert again.client().mined_nonce() == nonce_before  # nothing new was sent
    assert anchor_transactions(again, ledger) == 1


def test_rpc_down_backs_off_and_resumes(tmp_path: Path, ledger: Ledger) -> None:
    db = tmp_path / "chain-db"
    g = start_ganache(tmp_path / "g1.log", "--database.dbPath", str(db))
    port = g.port
    try:
        contract = connect(g.url, KEYS[0], CHAIN_ID).deploy()
        authorise(g, contract, ledger.origin, ADDRESSES[1])
        w = AnchorWorker(
            stores_of(ledger),
            lambda: connect(g.url, KEYS[1], CHAIN_ID, contract_address=contract, timeout=2),
            log_id_for(ledger.origin),
            confirmations=K,
            clock=Clock(),
        )
        cp1 = seal(ledger)
        w.step()
        w.step()
        g.stop()  # the node goes away with an anchor confirmed but not final
        cp2 = seal(ledger)
        for _ in range(2):
            with pytest.raises(ChainUnavailableError):
                w.step()
        a = stores_of(ledger).anchors.anchor(cp1.size)
        assert a is not None
        assert a.status == "confirmed"
        assert (
            stores_of(ledger).anchors.anchor(cp2.size) is None
        )  # nothing was sent while it was down

        g = start_ganache(tmp_path / "g2.log", "--database.dbPath", str(db), port=port)
        w.step()  # reconnects: follows cp1, sends cp2
        for _ in range(K + 1):
            g.mine(1)
            w.step()
        assert [a.status for a in stores_of(ledger).anchors.anchors()] == ["final", "final"]
        assert w.client().latest_size(w.log_id) == cp2.size
    finally:
        g.stop()


def test_stuck_transaction_is_replaced_with_higher_fees(
    ganache: Ganache, ledger: Ledger, make_worker: Make
) -> None:
    clock = Clock()
    w = make_worker(clock=clock, replace_after=60)
    warm_up(ledger, w)
    cp = seal(ledger)
    ganache.rpc("miner_stop")
    w.step()
    first = stores_of(ledger).anchors.anchor(cp.size)
    assert first is not None
    assert first.status == "sent"
    clock.advance(30)
    w.step()  # not yet
    assert stores_of(ledger).anchors.anchor(cp.size) == first
    clock.advance(31)
    w.step()
    replaced = stores_of(ledger).anchors.anchor(cp.size)
    assert replaced is not None
    assert replaced.nonce == first.nonce
    assert replaced.tx_hashes == (first.tx_hash, replaced.tx_hash)
    assert replaced.max_fee is not None
    assert first.max_fee is not None
    assert replaced.max_fee >= first.max_fee * 113 // 100
    assert w.stats.replaced == 1

    start_mining(ganache)
    ganache.mine(K)
    w.step()
    ganache.mine(K)
    w.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "final"
    assert a.tx_hash == replaced.tx_hash
    assert w.client().receipt(first.tx_hash or b"") is None
    assert anchor_transactions(w, ledger) == 3  # two before, and one for this checkpoint


def test_reorg_dropping_the_block_is_detected_and_the_anchor_resent(
    ganache: Ganache, ledger: Ledger, make_worker: Make
) -> None:
    w = make_worker()
    cp = seal(ledger)
    fork_point = ganache.rpc("evm_snapshot")
    w.step()
    w.step()
    ganache.mine(1)
    w.step()
    before = stores_of(ledger).anchors.anchor(cp.size)
    assert before is not None
    assert (before.status, before.confirmations) == ("confirmed", 2)

    ganache.rpc("evm_revert", fork_point)  # the anchor's block is gone
    block = ganache.rpc("eth_getBlockByNumber", "latest", False)
    ganache.mine(2, timestamp=int(block["timestamp"], 16) + 500)  # another branch grows
    assert anchored_on_chain(w, cp) is None
    w.step()  # notices by block hash; sends the stored transaction again
    assert w.stats.reorgs == 1
    ganache.mine(1)
    w.step()
    after = stores_of(ledger).anchors.anchor(cp.size)
    assert after is not None
    assert after.status == "confirmed"
    assert after.tx_hash == before.tx_hash
    assert after.block_hash != before.block_hash
    ganache.mine(K)
    w.step()
    final = stores_of(ledger).anchors.anchor(cp.size)
    assert final is not None
    assert final.status == "final"
    assert anchored_on_chain(w, cp) == cp.size


def test_nonce_taken_by_another_sender_is_signed_anew(
    ganache: Ganache, ledger: Ledger, make_worker: Make
) -> None:
    w = make_worker()
    warm_up(ledger, w)
    cp = seal(ledger)
    ganache.rpc("miner_stop")
    w.step()
    ours = stores_of(ledger).anchors.anchor(cp.size)
    assert ours is not None
    assert ours.nonce is not None
    assert ours.max_fee is not None
    assert ours.priority_fee is not None
    # Someone else holding the same key sends a transfer with our nonce and higher fees: the
    # node replaces our transaction with theirs.
    other = Account.from_key(KEYS[1]).sign_transaction(
        {
            "type": 2,
            "chainId": CHAIN_ID,
            "nonce": ours.nonce,
            "to": ADDRESSES[2],
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": ours.max_fee * 2,
            "maxPriorityFeePerGas": ours.priority_fee * 2,
        }
    )
    ganache.rpc("eth_sendRawTransaction", "0x" + bytes(other.raw_transaction).hex())
    start_mining(ganache)
    assert w.client().receipt(ours.tx_hash or b"") is None

    w.step()  # our nonce is used and ours has no receipt: signed anew, with the next nonce
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "sent"
    assert a.nonce == ours.nonce + 1
    assert a.tx_hashes == (ours.tx_hash, a.tx_hash)
    assert "nonce" in (a.last_error or "")
    assert w.stats.nonce_conflicts == 1
    w.step()
    ganache.mine(K)
    w.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "final"
    assert a.nonce == ours.nonce + 1
    assert anchored_on_chain(w, cp) == cp.size


def test_insufficient_funds_is_an_alert_and_a_retry_not_a_crash(
    ganache: Ganache, contract: str, ledger: Ledger, make_worker: Make
) -> None:
    poor = Account.from_key(UNFUNDED_KEY).address
    authorise(ganache, contract, ledger.origin, poor)
    w = make_worker(key=UNFUNDED_KEY)
    cp = seal(ledger)
    for _ in range(2):
        with pytest.raises(InsufficientFundsError, match="fund the account"):
            w.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "retry"
    assert "cannot pay" in (a.last_error or "")
    assert w.stats.insufficient_funds
    assert anchored_on_chain(w, cp) is None

    # The operator funds the account: the next rounds anchor, the alert clears.
    ganache.rpc("eth_sendTransaction", {"from": ADDRESSES[0], "to": poor, "value": hex(10**18)})
    w.step()
    assert not w.stats.insufficient_funds
    w.step()
    ganache.mine(K)
    w.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "final"


def test_contract_refusal_fails_visibly_and_recovers_after_the_operator_acts(
    ganache: Ganache, contract: str, ledger: Ledger, make_worker: Make
) -> None:
    clock = Clock()
    w = make_worker(key=KEYS[2], clock=clock, failed_retry=300)  # account 2: not an anchorer
    cp = seal(ledger)
    w.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "failed"
    assert "NotAnchorer" in (a.last_error or "")
    assert w.stats.failures.get("NotAnchorer") == 1
    w.step()  # not retried before failed_retry
    assert w.stats.failures.get("NotAnchorer") == 1

    authorise(ganache, contract, ledger.origin, ADDRESSES[2])
    clock.advance(301)
    w.step()
    w.step()
    ganache.mine(K)
    w.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "final"


def test_state_survives_reopening_the_database(
    ganache: Ganache, data_dir: Path, ledger: Ledger, make_worker: Make
) -> None:
    cp = seal(ledger)
    w = make_worker()
    w.step()
    w.step()
    store, _ = backend.open_store(data_dir)
    try:
        a = store.anchors.anchor(cp.size)
        assert a is not None
        assert a.status == "confirmed"
        assert a == stores_of(ledger).anchors.anchor(cp.size)
        assert store.anchors.anchored_size(("confirmed", "final")) == cp.size
        assert store.anchors.oldest_unfinal() == (1, cp)
    finally:
        store.close()


def test_an_adopted_anchor_dropped_by_a_reorg_is_anchored_anew(
    ganache: Ganache, ledger: Ledger, make_worker: Make
) -> None:
    cp = seal(ledger)
    fork_point = ganache.rpc("evm_snapshot")
    make_worker().step()  # someone (a lost state, an old backup) anchored it
    ledger.store.db.write(lambda con: con.execute("DELETE FROM anchors"))  # type: ignore[attr-defined]
    w = make_worker()
    w.step()
    adopted = stores_of(ledger).anchors.anchor(cp.size)
    assert adopted is not None
    assert adopted.status == "confirmed"
    assert adopted.raw is None  # not ours: nothing to re-send

    ganache.rpc("evm_revert", fork_point)
    ganache.mine(2)
    w.step()  # the block is gone: back to sent, but there is nothing to re-send
    w.step()  # so it is anchored anew, by us
    ganache.mine(K)
    w.step()
    w.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "final"
    assert a.raw is not None
    assert anchored_on_chain(w, cp) == cp.size


def test_a_log_restored_without_its_latest_anchored_events_is_not_anchored_as_a_fork(
    ganache: Ganache, tmp_path: Path, ledger: Ledger, contract: str, make_worker: Make
) -> None:
    import sqlite3

    from tests.conftest import SQLiteLedger as SQLiteStore

    w = make_worker()
    seal(ledger, 2)
    w.step()
    backup = tmp_path / "backup.db"  # an online backup at size 2 …
    with sqlite3.connect(ledger.store.db.path) as live, sqlite3.connect(backup) as copy:  # type: ignore[attr-defined]
        live.backup(copy)
    cp4 = seal(ledger, 2)  # … then size 4 is anchored too
    for _ in range(K + 1):
        ganache.rpc("evm_mine")
        w.step()
    assert w.client().latest_size(w.log_id) == cp4.size

    # The backup is restored and the log grows again, past 4, with other events: a fork.
    restored = Ledger(SQLiteStore(backup), ledger.signer)
    try:
        restored.append("t1", [event_input(f"other-{i}") for i in range(3)])
        cp5, new = restored.seal()
        assert new
        assert cp5 is not None
        assert cp5.size == 5
        again = AnchorWorker(
            stores_of(restored),
            lambda: connect(ganache.url, KEYS[1], CHAIN_ID, contract_address=contract),
            w.log_id,
            confirmations=K,
            clock=Clock(),
        )
        nonce = again.client().mined_nonce()
        again.step()
        a = stores_of(restored).anchors.anchor(cp5.size)
        assert a is not None
        assert a.status == "failed"
        assert "not this log's tree of size 4" in (a.last_error or "")
        assert again.client().pending_nonce() == nonce  # nothing was sent
        assert again.client().latest_size(w.log_id) == cp4.size
    finally:
        restored.close_sync()
