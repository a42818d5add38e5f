"""Contract version 2 anchors the map root with the log root (issue 14): the contract's rules,
the chain client recognising either version by its code, the worker sending the note's map root
and recording what it anchored, a version-1 deployment still anchoring log roots, and the
on-chain audit comparing anchored map roots with the notes' lines — on a real Ganache and a
real SQLite ledger."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from sealtrail.anchoring.chain import ChainClient, connect
from sealtrail.anchoring.contract import ANCHORED_TOPICS, load_artifact, log_id_for
from sealtrail.anchoring.errors import AnchoringError, ContractRevertError
from sealtrail.anchoring.onchain_audit import check_final_anchors
from sealtrail.anchoring.worker import AnchorWorker, anchor_json, note_map_root
from sealtrail.core.errors import InvalidInputError
from sealtrail.ledger.log import Ledger
from tests.conftest import stores_of

from .conftest import ADDRESSES, CHAIN_ID, KEYS, Ganache
from .test_anchor_worker import Clock, seal

pytestmark = pytest.mark.ganache

LOG = b"\x11" * 32


def root(i: int) -> bytes:
    return bytes([i]) * 32


def owner(g: Ganache, version: int | None = None) -> ChainClient:
    c = connect(g.url, KEYS[0], CHAIN_ID)
    c.deploy(version=version)
    return c


def test_v2_stores_and_emits_the_map_root_and_refuses_dropping_it(ganache: Ganache) -> None:
    c = owner(ganache)
    assert c.contract_version == 2
    c.authorise(LOG, c.address)
    # before the map: a zero map root ("none") is taken while the log never had one
    tx = c.send_anchor(LOG, 1, root(1))
    r = c.wait_for_receipt(tx.tx_hash)
    assert r.event is not None
    assert (r.event.map_root, r.event.contract_version) == (None, 2)
    record = c.lookup(LOG, root(1))
    assert record is not None
    assert (record.tree_size, record.map_root) == (1, None)
    # with the map
    tx = c.send_anchor(LOG, 2, root(2), map_root=root(0xA2))
    r = c.wait_for_receipt(tx.tx_hash)
    assert r.event is not None
    assert r.event.map_root == root(0xA2)
    record = c.lookup(LOG, root(2))
    assert record is not None
    assert (record.tree_size, record.block_number, record.map_root) == (
        2,
        r.block_number,
        root(0xA2),
    )
    # the raw log: topic 0 is version 2's, data = root ‖ map root ‖ anchorer
    logs = ganache.rpc("eth_getTransactionReceipt", "0x" + tx.tx_hash.hex())["logs"]
    assert logs[0]["topics"][0] == "0x" + ANCHORED_TOPICS[2].hex()
    data = bytes.fromhex(logs[0]["data"][2:])
    assert data[:32] == root(2)
    assert data[32:64] == root(0xA2)
    # once mapped, a later anchor without map root is refused before anything is sent
    with pytest.raises(ContractRevertError) as e:
        c.send_anchor(LOG, 3, root(3))
    assert e.value.error == "MapRootRequired"
    # and a zero map root cannot be passed as if it were one
    with pytest.raises(InvalidInputError):
        c.prepare_anchor(LOG, 3, root(3), map_root=bytes(32))


def test_client_recognises_either_version_by_its_code(ganache: Ganache) -> None:
    v1 = owner(ganache, version=1).contract_address
    v2 = owner(ganache).contract_address
    assert v1 is not None
    assert v2 is not None
    reader = connect(ganache.url, None, CHAIN_ID, contract_address=v1)
    assert reader.contract_version == 1
    reader.use_contract(v2)
    assert reader.contract_version == 2
    with pytest.raises(AnchoringError, match="differs from the artifacts"):
        reader.use_contract(ADDRESSES[2])  # an account: no code
    # v1: anchor(logId, size, root) only; a map root given is not sent
    c1 = connect(ganache.url, KEYS[0], CHAIN_ID, contract_address=v1)
    c1.authorise(LOG, c1.address)
    tx = c1.send_anchor(LOG, 1, root(1), map_root=root(0xA1))
    assert tx.map_root is None
    r = c1.wait_for_receipt(tx.tx_hash)
    assert r.event is not None
    assert (r.event.map_root, r.event.contract_version) == (None, 1)
    record = c1.lookup(LOG, root(1))
    assert record is not None
    assert record.map_root is None
    assert len(load_artifact(1).deployed_bytecode) != len(load_artifact(2).deployed_bytecode)


def _worker(g: Ganache, ledger: Ledger, contract: str) -> AnchorWorker:
    connect(g.url, KEYS[0], CHAIN_ID, contract_address=contract).authorise(
        log_id_for(ledger.origin), ADDRESSES[1]
    )
    return AnchorWorker(
        stores_of(ledger),
        lambda: connect(g.url, KEYS[1], CHAIN_ID, contract_address=contract),
        log_id_for(ledger.origin),
        confirmations=1,
        clock=Clock(),
    )


def test_worker_anchors_the_notes_map_root_on_v2_and_audit_compares_it(
    ganache: Ganache, ledger: Ledger
) -> None:
    contract = owner(ganache).contract_address
    assert contract is not None
    w = _worker(ganache, ledger, contract)
    stores = stores_of(ledger)
    cps = [seal(ledger, 2), seal(ledger, 1)]
    for _ in range(4):
        w.step()
    for cp in cps:
        want = note_map_root(cp.note)
        assert want is not None  # SQLite checkpoints carry the map line
        a = stores.anchors.anchor(cp.size)
        assert a is not None
        assert (a.status, a.contract_version, a.map_root) == ("final", 2, want)
        record = w.client().lookup(w.log_id, cp.root)
        assert record is not None
        assert record.map_root == want  # the chain holds the note's map root
        shown = anchor_json(a, 1)
        assert shown["contract_version"] == 2
        assert shown["map_root"] == "0x" + want.hex()
    reader = connect(ganache.url, None, CHAIN_ID, contract_address=contract)
    assert check_final_anchors(stores, reader) == (2, [])
    # a stored anchor whose map root was rewritten afterwards is caught against the chain
    a = stores.anchors.anchor(cps[1].size)
    assert a is not None
    stores.anchors.put_anchor(replace(a, map_root=root(0xEE)))
    _, problems = check_final_anchors(stores, reader)
    assert problems == [
        (
            cps[1].size,
            f"the stored anchor has map root 0x{root(0xEE).hex()}, "
            f"the note names 0x{note_map_root(cps[1].note).hex()}",  # type: ignore[union-attr]
        )
    ]


def test_worker_refuses_to_adopt_an_anchor_of_another_map_root(
    ganache: Ganache, ledger: Ledger
) -> None:
    """Someone (the operator's other key) anchored this root with another map root: the worker
    does not adopt it as the checkpoint's anchor."""
    contract = owner(ganache).contract_address
    assert contract is not None
    w = _worker(ganache, ledger, contract)
    cp = seal(ledger, 2)
    rogue = connect(ganache.url, KEYS[1], CHAIN_ID, contract_address=contract)
    rogue.wait_for_receipt(
        rogue.send_anchor(w.log_id, cp.size, cp.root, map_root=root(0xBB)).tx_hash
    )
    w.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert a.status == "failed"
    assert "map root" in (a.last_error or "")


def test_v1_deployment_keeps_anchoring_log_roots_and_says_map_roots_are_not(
    ganache: Ganache, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    contract = owner(ganache, version=1).contract_address
    assert contract is not None
    w = _worker(ganache, ledger, contract)
    cp = seal(ledger, 2)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            w.step()
    a = stores_of(ledger).anchors.anchor(cp.size)
    assert a is not None
    assert (a.status, a.contract_version, a.map_root) == ("final", 1, None)
    record = w.client().lookup(w.log_id, cp.root)
    assert record is not None
    assert record.tree_size == cp.size
    assert "map roots are NOT anchored" in caplog.text
    assert "deploy version 2" in caplog.text
    reader = connect(ganache.url, None, CHAIN_ID, contract_address=contract)
    assert check_final_anchors(stores_of(ledger), reader) == (1, [])
