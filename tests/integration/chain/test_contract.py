"""The SealtrailAnchor contract on a real Ganache, driven with plain web3 (not our client):
access control, ordering, duplicates, events, eth_call look-ups, and gas."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from eth_abi.abi import decode
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from sealtrail.anchoring.contract import load_artifact

from .conftest import ADDRESSES, Ganache

pytestmark = pytest.mark.ganache

ARTIFACT = load_artifact(1)  # version 1 (version 2: test_contract_v2.py)
OWNER, ANCHORER, STRANGER = ADDRESSES
LOG_A = hashlib.sha256(b"sealtrail.local/log-aaaaaaaaaaaa").digest()
LOG_B = hashlib.sha256(b"sealtrail.local/log-bbbbbbbbbbbb").digest()
ZERO_ADDRESS = "0x" + "00" * 20

# Custom errors by selector (computed here from the ABI, independently of the chain client).
ERRORS: dict[bytes, dict[str, Any]] = {
    bytes(Web3.keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")[:4]): e
    for e in ARTIFACT.abi
    if e["type"] == "error"
}


def root(n: int) -> bytes:
    return hashlib.sha256(b"root %d" % n).digest()


def revert_of(exc: ContractLogicError) -> tuple[str, tuple[Any, ...]]:
    """(custom error name, decoded arguments) of a revert."""
    data = exc.data["result"] if isinstance(exc.data, dict) else exc.data
    assert data is not None
    raw = bytes.fromhex(data[2:])
    error = ERRORS[raw[:4]]
    return error["name"], decode([i["type"] for i in error["inputs"]], raw[4:])


def reverts(fn: Any, sender: str) -> tuple[str, tuple[Any, ...]]:
    """Call ``fn`` from ``sender`` (eth_call); return the custom error it reverts with."""
    with pytest.raises(ContractLogicError) as info:
        fn.call({"from": sender})
    return revert_of(info.value)


def transact(w3: Web3, fn: Any, sender: str) -> Any:
    """Send ``fn`` from ``sender`` (an unlocked Ganache account); return the mined receipt."""
    receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
    assert receipt["status"] == 1
    return receipt


@pytest.fixture
def w3(ganache: Ganache) -> Web3:
    return Web3(Web3.HTTPProvider(ganache.url))


@pytest.fixture
def deployed(w3: Web3) -> tuple[Contract, Any]:
    """A fresh contract deployed by OWNER, and the deploy receipt."""
    factory = w3.eth.contract(abi=list(ARTIFACT.abi), bytecode=ARTIFACT.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": OWNER}))
    assert receipt["status"] == 1
    assert receipt["contractAddress"] is not None
    address = Web3.to_checksum_address(receipt["contractAddress"])
    contract = w3.eth.contract(address=address, abi=list(ARTIFACT.abi))
    return contract, receipt


@pytest.fixture
def anchor(w3: Web3, deployed: tuple[Contract, Any]) -> Contract:
    """The contract with ANCHORER authorised for LOG_A."""
    c = deployed[0]
    transact(w3, c.functions.authorise(LOG_A, ANCHORER), OWNER)
    return c


def test_deployed_code_is_the_artifact(w3: Web3, deployed: tuple[Contract, Any]) -> None:
    c, receipt = deployed
    assert bytes(w3.eth.get_code(c.address)) == ARTIFACT.deployed_bytecode
    assert c.functions.owner().call() == OWNER
    assert c.functions.pendingOwner().call() == ZERO_ADDRESS
    (event,) = c.events.OwnershipTransferred().process_receipt(receipt)
    assert event["args"]["previousOwner"] == ZERO_ADDRESS
    assert event["args"]["newOwner"] == OWNER


# -- access control ----------------------------------------------------------------------------


def test_unauthorised_anchorer_reverts_with_not_anchorer(w3: Web3, deployed: Any) -> None:
    c = deployed[0]
    name, args = reverts(c.functions.anchor(LOG_A, 1, root(1)), ANCHORER)
    assert name == "NotAnchorer"
    assert args == (LOG_A, ANCHORER.lower())
    # The owner is no anchorer either unless it authorises itself.
    assert reverts(c.functions.anchor(LOG_A, 1, root(1)), OWNER)[0] == "NotAnchorer"
    # Mined anyway (gas given, no estimate): the transaction fails and stores nothing.
    tx = c.functions.anchor(LOG_A, 1, root(1)).transact({"from": ANCHORER, "gas": 100_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    assert c.functions.latestSize(LOG_A).call() == 0


def test_owner_authorises_and_revokes_per_log(w3: Web3, deployed: Any) -> None:
    c = deployed[0]
    receipt = transact(w3, c.functions.authorise(LOG_A, ANCHORER), OWNER)
    (event,) = c.events.AnchorerChanged().process_receipt(receipt)
    assert dict(event["args"]) == {"logId": LOG_A, "anchorer": ANCHORER, "authorised": True}
    assert c.functions.isAnchorer(LOG_A, ANCHORER).call()
    assert not c.functions.isAnchorer(LOG_B, ANCHORER).call()  # per log
    transact(w3, c.functions.anchor(LOG_A, 1, root(1)), ANCHORER)
    assert reverts(c.functions.anchor(LOG_B, 1, root(1)), ANCHORER)[0] == "NotAnchorer"

    receipt = transact(w3, c.functions.revoke(LOG_A, ANCHORER), OWNER)
    (event,) = c.events.AnchorerChanged().process_receipt(receipt)
    assert event["args"]["authorised"] is False
    assert not c.functions.isAnchorer(LOG_A, ANCHORER).call()
    assert reverts(c.functions.anchor(LOG_A, 2, root(2)), ANCHORER)[0] == "NotAnchorer"
    # What it anchored before stays.
    assert c.functions.anchorOf(LOG_A, root(1)).call()[0] == 1


def test_only_the_owner_manages_anchorers(deployed: Any) -> None:
    c = deployed[0]
    for fn in (c.functions.authorise(LOG_A, STRANGER), c.functions.revoke(LOG_A, ANCHORER)):
        name, args = reverts(fn, STRANGER)
        assert (name, args) == ("NotOwner", (STRANGER.lower(),))
    assert reverts(c.functions.authorise(LOG_A, ZERO_ADDRESS), OWNER) == ("ZeroAddress", ())


def test_ownership_moves_in_two_steps(w3: Web3, deployed: Any) -> None:
    c = deployed[0]
    assert reverts(c.functions.transferOwnership(STRANGER), STRANGER)[0] == "NotOwner"
    transact(w3, c.functions.transferOwnership(STRANGER), OWNER)
    assert c.functions.pendingOwner().call() == STRANGER
    assert c.functions.owner().call() == OWNER  # not yet
    assert reverts(c.functions.acceptOwnership(), ANCHORER) == (
        "NotPendingOwner",
        (ANCHORER.lower(),),
    )
    receipt = transact(w3, c.functions.acceptOwnership(), STRANGER)
    (event,) = c.events.OwnershipTransferred().process_receipt(receipt)
    assert (event["args"]["previousOwner"], event["args"]["newOwner"]) == (OWNER, STRANGER)
    assert c.functions.owner().call() == STRANGER
    assert c.functions.pendingOwner().call() == ZERO_ADDRESS
    assert reverts(c.functions.authorise(LOG_A, ANCHORER), OWNER)[0] == "NotOwner"
    transact(w3, c.functions.authorise(LOG_A, ANCHORER), STRANGER)


# -- ordering and duplicates -------------------------------------------------------------------


def test_tree_sizes_strictly_grow(w3: Web3, anchor: Contract) -> None:
    c = anchor
    name, args = reverts(c.functions.anchor(LOG_A, 0, root(0)), ANCHORER)
    assert (name, args) == ("TreeSizeNotIncreasing", (LOG_A, 0, 0))
    transact(w3, c.functions.anchor(LOG_A, 5, root(5)), ANCHORER)
    for size in (5, 4, 1):
        name, args = reverts(c.functions.anchor(LOG_A, size, root(size + 100)), ANCHORER)
        assert (name, args) == ("TreeSizeNotIncreasing", (LOG_A, size, 5))
    transact(w3, c.functions.anchor(LOG_A, 6, root(6)), ANCHORER)
    transact(w3, c.functions.anchor(LOG_A, 2**64 - 1, root(7)), ANCHORER)
    assert c.functions.latestSize(LOG_A).call() == 2**64 - 1


def test_same_root_twice_reverts(w3: Web3, anchor: Contract) -> None:
    c = anchor
    transact(w3, c.functions.anchor(LOG_A, 5, root(5)), ANCHORER)
    name, args = reverts(c.functions.anchor(LOG_A, 6, root(5)), ANCHORER)
    assert (name, args) == ("RootAlreadyAnchored", (LOG_A, root(5), 5))


def test_logs_are_independent(w3: Web3, anchor: Contract) -> None:
    c = anchor
    transact(w3, c.functions.authorise(LOG_B, ANCHORER), OWNER)
    transact(w3, c.functions.anchor(LOG_A, 10, root(1)), ANCHORER)
    # Another log: its own sizes, and the same root is no duplicate there.
    transact(w3, c.functions.anchor(LOG_B, 3, root(1)), ANCHORER)
    assert c.functions.latestSize(LOG_A).call() == 10
    assert c.functions.latestSize(LOG_B).call() == 3
    assert c.functions.anchorOf(LOG_A, root(1)).call()[0] == 10
    assert c.functions.anchorOf(LOG_B, root(1)).call()[0] == 3


# -- events and look-ups -----------------------------------------------------------------------


def test_anchored_event_in_the_receipt(w3: Web3, anchor: Contract) -> None:
    receipt = transact(w3, anchor.functions.anchor(LOG_A, 7, root(7)), ANCHORER)
    (log,) = receipt["logs"]
    assert log["address"] == anchor.address
    # Indexed: the log id and the size, so a verifier can filter eth_getLogs on both.
    assert log["topics"][0] == Web3.keccak(text="Anchored(bytes32,uint64,bytes32,address)")
    assert bytes(log["topics"][1]) == LOG_A
    assert int.from_bytes(log["topics"][2], "big") == 7
    (event,) = anchor.events.Anchored().process_receipt(receipt)
    assert dict(event["args"]) == {
        "logId": LOG_A,
        "treeSize": 7,
        "root": root(7),
        "anchorer": ANCHORER,
    }
    found = anchor.events.Anchored().get_logs(
        from_block=0, argument_filters={"logId": LOG_A, "treeSize": 7}
    )
    assert [e["transactionHash"] for e in found] == [receipt["transactionHash"]]


def test_lookup_with_eth_call(w3: Web3, anchor: Contract) -> None:
    assert anchor.functions.anchorOf(LOG_A, root(3)).call() == [0, 0, 0]
    receipt = transact(w3, anchor.functions.anchor(LOG_A, 3, root(3)), ANCHORER)
    block = w3.eth.get_block(receipt["blockNumber"])
    assert anchor.functions.anchorOf(LOG_A, root(3)).call() == [
        3,
        block["timestamp"],
        receipt["blockNumber"],
    ]
    assert anchor.functions.latestSize(LOG_A).call() == 3
    # At the block before, it was not anchored yet.
    before = receipt["blockNumber"] - 1
    assert anchor.functions.anchorOf(LOG_A, root(3)).call(block_identifier=before)[0] == 0
    assert anchor.functions.anchorOf(LOG_B, root(3)).call()[0] == 0


# -- gas -------------------------------------------------------------------------------------


def test_gas(w3: Web3, deployed: Any, record_property: Any) -> None:
    c, deploy_receipt = deployed
    authorise = transact(w3, c.functions.authorise(LOG_A, ANCHORER), OWNER)
    anchors = [
        transact(w3, c.functions.anchor(LOG_A, size, root(size)), ANCHORER)["gasUsed"]
        for size in (1, 2, 1000, 10**12)
    ]
    first, *later = anchors
    transact(w3, c.functions.authorise(LOG_B, ANCHORER), OWNER)
    first_other_log = transact(w3, c.functions.anchor(LOG_B, 1, root(1)), ANCHORER)["gasUsed"]
    figures = {
        "deploy": deploy_receipt["gasUsed"],
        "authorise": authorise["gasUsed"],
        "anchor_first": first,
        "anchor_later": later[0],
        "anchor_first_of_another_log": first_other_log,
    }
    for name, gas in figures.items():
        record_property(f"gas_{name}", gas)
    print("\ngas used:", ", ".join(f"{k} {v}" for k, v in figures.items()))
    assert first < 100_000
    assert all(g < 100_000 for g in later)
    # No growth with the number of anchors; only calldata (non-zero bytes of the size) varies.
    assert max(later) - min(later) < 100
    assert later[0] < first  # the log's latest size is already a non-zero slot
    assert deploy_receipt["gasUsed"] < 1_000_000
