"""The chain client (sealtrail.anchoring.chain) against a real Ganache: deploy, anchor, receipts,
confirmations, reorgs, replacement of a pending transaction, and every error at the boundary."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from sealtrail.anchoring.chain import ChainClient, FeePolicy, connect, log_id_for
from sealtrail.anchoring.errors import (
    AnchoringError,
    ChainUnavailableError,
    ContractRevertError,
    InsufficientFundsError,
    NonceConflictError,
    WrongChainError,
)
from sealtrail.core.errors import ConfigError, InvalidInputError

from .conftest import ADDRESSES, CHAIN_ID, KEYS, Ganache, free_port

pytestmark = pytest.mark.ganache

LOG = log_id_for("sealtrail.local/log-0123456789ab")
OTHER_LOG = log_id_for("sealtrail.local/log-ba9876543210")
UNFUNDED_KEY = "0x" + hashlib.sha256(b"sealtrail test: an account with no ether").hexdigest()


def root(n: int) -> bytes:
    return hashlib.sha256(b"root %d" % n).digest()


@pytest.fixture
def owner(ganache: Ganache) -> ChainClient:
    """The owner's client, with a freshly deployed contract."""
    client = connect(ganache.url, KEYS[0], CHAIN_ID)
    client.deploy()
    return client


@pytest.fixture
def anchorer(ganache: Ganache, owner: ChainClient) -> ChainClient:
    """An anchorer of LOG (account 1), bound to the owner's contract."""
    assert owner.contract_address is not None
    client = connect(ganache.url, KEYS[1], CHAIN_ID, contract_address=owner.contract_address)
    owner.authorise(LOG, client.address)
    return client


# -- connecting ------------------------------------------------------------------------------


def test_connect_checks_the_chain_id(ganache: Ganache) -> None:
    assert connect(ganache.url, KEYS[0]).chain_id == CHAIN_ID
    assert connect(ganache.url, KEYS[0], CHAIN_ID).address == ADDRESSES[0]
    with pytest.raises(WrongChainError, match=r"chain id 1337, want 1$"):
        connect(ganache.url, KEYS[0], 1)


def test_secrets_stay_out_of_repr_and_errors(ganache: Ganache) -> None:
    secret_url = f"http://user:hunter2@127.0.0.1:{ganache.port}/?apikey=SECRET"
    client = connect(secret_url, KEYS[0], CHAIN_ID)
    text = repr(client)
    assert ADDRESSES[0] in text
    assert f"127.0.0.1:{ganache.port}" in text
    for secret in (KEYS[0][2:], "hunter2", "SECRET"):
        assert secret not in text
    dead = f"http://user:hunter2@127.0.0.1:{free_port()}/v3/SECRET"
    with pytest.raises(ChainUnavailableError) as info:
        connect(dead, KEYS[0])
    assert "hunter2" not in str(info.value)
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize("bad", ["0x1234", "not a key", "0x" + "00" * 32, b"\x01" * 31])
def test_bad_private_key_is_a_config_error_that_does_not_echo_it(bad: str | bytes) -> None:
    with pytest.raises(ConfigError) as info:
        connect("http://127.0.0.1:1", bad)
    shown = bad if isinstance(bad, str) else bad.hex()
    assert shown not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8545", "127.0.0.1:8545", "http://"])
def test_bad_rpc_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        connect(url, KEYS[0])


def test_deploy_and_bind(ganache: Ganache, owner: ChainClient) -> None:
    address = owner.contract_address
    assert address is not None
    again = connect(ganache.url, KEYS[2], CHAIN_ID, contract_address=address)
    assert again.contract_address == address
    # An account is no contract; a wrong address is caught before any transaction.
    with pytest.raises(AnchoringError, match="differs from the artifact"):
        again.use_contract(ADDRESSES[1])
    with pytest.raises(InvalidInputError):
        again.use_contract("0x1234")
    unbound = connect(ganache.url, KEYS[2])
    with pytest.raises(AnchoringError, match="no contract bound"):
        unbound.lookup(LOG, root(1))


# -- anchoring ---------------------------------------------------------------------------------


def test_send_anchor_receipt_and_lookup(ganache: Ganache, anchorer: ChainClient) -> None:
    assert anchorer.is_anchorer(LOG)
    assert anchorer.lookup(LOG, root(5)) is None
    tx = anchorer.send_anchor(LOG, 5, root(5))
    assert (tx.log_id, tx.tree_size, tx.root) == (LOG, 5, root(5))
    assert tx.fees.priority_fee <= tx.fees.max_fee
    assert tx.raw.hex() not in repr(tx)

    receipt = anchorer.receipt(tx.tx_hash)  # Ganache mines at once (instamine eager)
    assert receipt is not None
    assert receipt.succeeded
    assert receipt.tx_hash == tx.tx_hash
    assert receipt.event is not None
    assert (receipt.event.log_id, receipt.event.tree_size, receipt.event.root) == (LOG, 5, root(5))
    assert receipt.event.anchorer == anchorer.address
    assert receipt.log_index == 0
    assert 50_000 < receipt.gas_used < tx.gas_limit
    assert receipt.effective_gas_price <= tx.fees.max_fee

    record = anchorer.lookup(LOG, root(5))
    assert record is not None
    block = ganache.rpc("eth_getBlockByNumber", hex(receipt.block_number), False)
    assert (record.tree_size, record.block_number) == (5, receipt.block_number)
    assert record.block_time == int(block["timestamp"], 16)
    assert bytes.fromhex(block["hash"][2:]) == receipt.block_hash
    assert anchorer.latest_size(LOG) == 5
    assert anchorer.lookup(LOG, root(5), block=receipt.block_number - 1) is None


def test_contract_refusals_are_typed(ganache: Ganache, owner: ChainClient) -> None:
    assert owner.contract_address is not None
    stranger = connect(ganache.url, KEYS[2], CHAIN_ID, contract_address=owner.contract_address)
    with pytest.raises(ContractRevertError) as info:
        stranger.send_anchor(LOG, 1, root(1))
    assert info.value.error == "NotAnchorer"
    assert info.value.error_args == {"logId": LOG, "caller": stranger.address}
    assert stranger.address in str(info.value)
    with pytest.raises(ContractRevertError) as info:
        stranger.authorise(LOG, stranger.address)
    assert info.value.error == "NotOwner"

    owner.authorise(LOG, stranger.address)
    stranger.send_anchor(LOG, 10, root(10))
    with pytest.raises(ContractRevertError) as info:
        stranger.send_anchor(LOG, 9, root(9))
    assert info.value.error == "TreeSizeNotIncreasing"
    assert info.value.error_args == {"logId": LOG, "treeSize": 9, "latestSize": 10}
    with pytest.raises(ContractRevertError) as info:
        stranger.send_anchor(LOG, 11, root(10))
    assert info.value.error == "RootAlreadyAnchored"
    assert info.value.error_args["treeSize"] == 10

    owner.revoke(LOG, stranger.address)
    assert not stranger.is_anchorer(LOG)
    with pytest.raises(ContractRevertError, match="NotAnchorer"):
        stranger.send_anchor(LOG, 11, root(11))


@pytest.mark.parametrize(
    ("log_id", "size", "root_", "error"),
    [
        (LOG[:31], 1, root(1), InvalidInputError),
        (LOG, 0, root(1), InvalidInputError),
        (LOG, 2**64, root(1), InvalidInputError),
        (LOG, 1, root(1) + b"\x00", InvalidInputError),
        (LOG.hex(), 1, root(1), TypeError),
        (LOG, True, root(1), TypeError),
    ],
)
def test_anchor_arguments_are_checked(
    anchorer: ChainClient, log_id: bytes, size: int, root_: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        anchorer.send_anchor(log_id, size, root_)


# -- following a transaction --------------------------------------------------------------------


def test_confirmations_grow_as_blocks_are_mined(ganache: Ganache, anchorer: ChainClient) -> None:
    receipt = anchorer.wait_for_receipt(anchorer.send_anchor(LOG, 1, root(1)).tx_hash)
    assert anchorer.confirmations(receipt.block_number, receipt.block_hash) == 1
    ganache.mine(3)
    assert anchorer.confirmations(receipt.block_number, receipt.block_hash) == 4
    assert anchorer.block_number() == receipt.block_number + 3
    assert anchorer.receipt(b"\x42" * 32) is None  # unknown transaction


def test_reorg_is_detected(ganache: Ganache, anchorer: ChainClient) -> None:
    fork_point = ganache.rpc("evm_snapshot")
    tx = anchorer.send_anchor(LOG, 1, root(1))
    receipt = anchorer.wait_for_receipt(tx.tx_hash)
    ganache.mine(2)
    assert anchorer.confirmations(receipt.block_number, receipt.block_hash) == 3

    ganache.rpc("evm_revert", fork_point)  # the chain drops the anchor's block and two more
    assert anchorer.confirmations(receipt.block_number, receipt.block_hash) is None
    assert anchorer.receipt(tx.tx_hash) is None
    assert anchorer.lookup(LOG, root(1)) is None
    # Another block now holds that height: its hash differs, the anchor is still gone.
    block = ganache.rpc("eth_getBlockByNumber", "latest", False)
    ganache.mine(timestamp=int(block["timestamp"], 16) + 1000)
    assert ganache.block_number() == receipt.block_number
    assert anchorer.confirmations(receipt.block_number, receipt.block_hash) is None

    # The worker re-broadcasts the very transaction it persisted; it lands in a new block.
    anchorer.broadcast(tx)
    again = anchorer.wait_for_receipt(tx.tx_hash)
    assert again.block_hash != receipt.block_hash
    assert anchorer.confirmations(again.block_number, again.block_hash) == 1
    assert anchorer.lookup(LOG, root(1)) is not None


def test_replacing_a_pending_transaction(ganache: Ganache, anchorer: ChainClient) -> None:
    anchorer.send_anchor(LOG, 1, root(1))  # mined: the next one is no first transaction
    ganache.rpc("miner_stop")  # transactions now wait in the pool
    tx1 = anchorer.send_anchor(LOG, 2, root(2))
    assert anchorer.receipt(tx1.tx_hash) is None
    # Sending it again: Ganache says "transaction underpriced" (geth: "already known"); the
    # client sees that the node holds this very transaction.
    with pytest.raises(NonceConflictError) as info:
        anchorer.broadcast(tx1)
    assert info.value.reason == "already_known"
    with pytest.raises(NonceConflictError) as info:  # same nonce, fees not raised
        anchorer.send_anchor(
            LOG,
            3,
            root(3),
            nonce=tx1.nonce,
            max_fee=tx1.fees.max_fee,
            priority_fee=tx1.fees.priority_fee,
        )
    assert info.value.reason == "underpriced"

    tx2 = anchorer.replace(tx1)
    assert tx2.nonce == tx1.nonce
    assert tx2.tx_hash != tx1.tx_hash
    assert tx2.fees.max_fee >= tx1.fees.max_fee * 113 // 100
    assert tx2.fees.priority_fee >= tx1.fees.priority_fee * 113 // 100
    assert (tx2.log_id, tx2.tree_size, tx2.root) == (tx1.log_id, tx1.tree_size, tx1.root)

    ganache.rpc("miner_start")
    receipt = anchorer.wait_for_receipt(tx2.tx_hash, timeout=10)
    assert receipt.succeeded
    assert receipt.event is not None
    assert receipt.event.tree_size == 2
    assert anchorer.receipt(tx1.tx_hash) is None  # replaced, never mined
    with pytest.raises(NonceConflictError) as info:
        anchorer.broadcast(tx1)
    assert info.value.reason == "nonce_too_low"


def test_explicit_nonces_keep_several_in_flight(ganache: Ganache, anchorer: ChainClient) -> None:
    ganache.rpc("miner_stop")
    n = anchorer.pending_nonce()
    txs = [anchorer.send_anchor(LOG, i, root(i), nonce=n + i - 1) for i in (1, 2, 3)]
    ganache.rpc("miner_start")
    receipts = [anchorer.wait_for_receipt(tx.tx_hash, timeout=10) for tx in txs]
    assert all(r.succeeded for r in receipts)
    assert anchorer.latest_size(LOG) == 3
    assert anchorer.pending_nonce() == n + 3


def test_fee_cap(ganache: Ganache, anchorer: ChainClient) -> None:
    suggested = anchorer.suggest_fees()
    assert suggested.priority_fee >= FeePolicy().min_priority_fee
    cap = suggested.max_fee - 1
    assert anchorer.contract_address is not None
    capped = connect(
        ganache.url,
        KEYS[1],
        CHAIN_ID,
        contract_address=anchorer.contract_address,
        fee_policy=FeePolicy(max_fee_cap=cap),
    )
    assert capped.suggest_fees().max_fee == cap
    ganache.rpc("miner_stop")
    tx = capped.send_anchor(LOG, 1, root(1))
    assert tx.fees.max_fee == cap
    with pytest.raises(AnchoringError, match="above the cap"):
        capped.replacement_fees(tx)


# -- failures at the boundary ------------------------------------------------------------------


def test_insufficient_funds(ganache: Ganache, owner: ChainClient) -> None:
    assert owner.contract_address is not None
    poor = connect(ganache.url, UNFUNDED_KEY, CHAIN_ID, contract_address=owner.contract_address)
    owner.authorise(LOG, poor.address)
    assert poor.balance() == 0
    with pytest.raises(InsufficientFundsError) as info:
        poor.send_anchor(LOG, 1, root(1))
    message = str(info.value)
    assert poor.address in message
    assert "balance 0 wei" in message
    assert UNFUNDED_KEY[2:] not in message
    assert poor.latest_size(LOG) == 0


def test_node_down(own_ganache: Ganache) -> None:
    client = connect(own_ganache.url, KEYS[0], CHAIN_ID)
    client.deploy()
    client.authorise(LOG, client.address)
    tx = client.send_anchor(LOG, 1, root(1))
    own_ganache.stop()
    for call in (
        lambda: client.receipt(tx.tx_hash),
        lambda: client.confirmations(1, b"\x00" * 32),
        lambda: client.send_anchor(LOG, 2, root(2)),
        lambda: client.broadcast(tx),
        lambda: client.lookup(LOG, root(1)),
        lambda: connect(own_ganache.url, KEYS[0]),
    ):
        with pytest.raises(ChainUnavailableError, match="unreachable"):
            call()


def test_nothing_listening() -> None:
    with pytest.raises(ChainUnavailableError, match="unreachable"):
        connect(f"http://127.0.0.1:{free_port()}", KEYS[0])


def test_silent_node_times_out() -> None:
    with socket.socket() as server:  # accepts connections (backlog), never answers
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        with pytest.raises(ChainUnavailableError, match="unreachable"):
            connect(f"http://127.0.0.1:{port}", KEYS[0], timeout=0.5)


@pytest.fixture
def http_answer() -> Iterator[tuple[int, list[tuple[int, bytes]]]]:
    """A tiny HTTP server answering each POST with the next (status, body) of the list."""
    answers: list[tuple[int, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, body = answers.pop(0) if answers else (500, b"")
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], answers
    server.shutdown()
    server.server_close()


def test_garbage_and_http_errors(http_answer: tuple[int, list[tuple[int, bytes]]]) -> None:
    port, answers = http_answer
    url = f"http://127.0.0.1:{port}"
    answers.append((200, b"<html>a captive portal</html>"))
    with pytest.raises(ChainUnavailableError):
        connect(url, KEYS[0])
    answers.append((503, b"busy"))
    with pytest.raises(ChainUnavailableError, match="HTTP 503"):
        connect(url, KEYS[0])
    answers.append((401, b"bad api key"))
    with pytest.raises(AnchoringError, match="HTTP 401") as info:
        connect(url, KEYS[0])
    assert not isinstance(info.value, ChainUnavailableError)  # not worth retrying
