"""Checking anchors on a chain with plain JSON-RPC (docs/FORMAT.md §6.3) — no web3.

:class:`RpcAnchorChecker` asks one node, over ``urllib``, for the anchor transaction's receipt,
the block by number, and ``anchorOf(logId, root)`` at ``latest``; it raises
:class:`AnchorMismatch` naming the first fact that differs from the package's receipt
(:class:`MapRootMismatch` when it is the map root, contract version 2). This is the verifier's
only network access, and only when the caller gives an RPC URL.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from sealtrail.verifier.errors import AnchorMismatch as AnchorMismatch
from sealtrail.verifier.errors import MapRootMismatch as MapRootMismatch

#: keccak256("Anchored(bytes32,uint64,bytes32,address)") — contract version 1
ANCHORED_TOPIC = "0x7196d6002b555d592bc808cc522b6e167501be1b6185fd206cd187b7330acf7a"
#: keccak256("Anchored(bytes32,uint64,bytes32,bytes32,address)") — contract version 2
ANCHORED_TOPIC_V2 = "0xa5a075337b25e826b34aaec08938fe05a4c35aca3e469eb0debb58759e5a0b5b"
#: anchorOf(bytes32,bytes32) (both versions; version 2 returns a fourth word, the map root)
ANCHOR_OF_SELECTOR = "0x2f71a556"
MAX_REPLY_BYTES = 4 * 1024 * 1024
_ZERO = bytes(32)


def _word(n: int) -> str:
    return f"{n:064x}"


class RpcAnchorChecker:
    """Checks anchor receipts against one JSON-RPC node. Requires an http(s) ``url``."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"RPC URL {url!r} is not http(s)")
        self.url = url
        self.timeout = timeout
        self._id = 0

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; raises :class:`AnchorMismatch` on transport or RPC errors."""
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        req = urllib.request.Request(  # noqa: S310  # http(s) only, checked in __init__
            self.url, body.encode(), {"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:  # noqa: S310  # http(s) only
                reply = json.loads(r.read(MAX_REPLY_BYTES))
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise AnchorMismatch(f"RPC {method} failed: {e}") from None
        if not isinstance(reply, dict) or "error" in reply:
            raise AnchorMismatch(
                f"RPC {method} error: {reply.get('error') if isinstance(reply, dict) else reply}"
            )
        return reply.get("result")

    def chain_id(self) -> int:
        """The node's chain id."""
        return int(self.call("eth_chainId"), 16)

    def check(
        self,
        receipt: dict[str, Any],
        size: int,
        root: bytes,
        log_id: bytes,
        map_root: bytes | None = None,
    ) -> int:
        """Check ``receipt`` (an anchor receipt file) for the checkpoint (``size``, ``root``) of
        the log ``log_id``; return the block time ``anchorOf`` reports (seconds since 1970).

        ``map_root``: the map root the checkpoint's note names (None: no map line). A receipt of
        contract version 2 (``contract_version`` 2; absent means 1) must find it anchored, in
        the event and in ``anchorOf``, else :class:`MapRootMismatch`; version 1 records none."""
        version = receipt.get("contract_version", 1)
        if version not in (1, 2) or type(version) is not int:
            raise AnchorMismatch(f"contract_version {version!r} is not 1 or 2")
        if self.chain_id() != receipt["chain_id"]:
            raise AnchorMismatch(
                f"node serves chain {self.chain_id()}, receipt says {receipt['chain_id']}"
            )
        # 2. the transaction receipt, its block, and the Anchored log at log_index
        tx = self.call("eth_getTransactionReceipt", receipt["tx_hash"])
        if not tx:
            raise AnchorMismatch(f"transaction {receipt['tx_hash']} is not on the chain")
        if tx.get("status") != "0x1":
            raise AnchorMismatch(f"transaction {receipt['tx_hash']} reverted")
        if int(tx["blockNumber"], 16) != receipt["block_number"]:
            raise AnchorMismatch(
                f"transaction is in block {int(tx['blockNumber'], 16)}, "
                f"receipt says {receipt['block_number']}"
            )
        if tx["blockHash"].lower() != receipt["block_hash"]:
            raise AnchorMismatch(
                f"transaction's block hash {tx['blockHash']} differs from the receipt's"
            )
        logs = [lg for lg in tx.get("logs", []) if int(lg["logIndex"], 16) == receipt["log_index"]]
        if not logs:
            raise AnchorMismatch(f"no log at index {receipt['log_index']} in the transaction")
        lg = logs[0]
        topic = ANCHORED_TOPIC if version == 1 else ANCHORED_TOPIC_V2
        want_topics = [topic, "0x" + log_id.hex(), "0x" + _word(size)]
        if lg["address"].lower() != receipt["contract"].lower():
            raise AnchorMismatch(
                f"log emitted by {lg['address']}, not the contract {receipt['contract']}"
            )
        if [t.lower() for t in lg["topics"]] != want_topics:
            raise AnchorMismatch(
                f"log topics {lg['topics']} are not contract version {version}'s "
                f"Anchored(logId, {size})"
            )
        if not lg["data"].lower().startswith("0x" + root.hex()):
            raise AnchorMismatch("log data does not start with the checkpoint's root")
        if version == 2:
            words = bytes.fromhex(str(lg["data"])[2:])
            if len(words) != 96:
                raise AnchorMismatch(f"log data is {len(words)} bytes, want 96 (version 2)")
            _map_roots_agree("the Anchored event", words[32:64], receipt, map_root)
        # 3. the block is canonical
        block = self.call("eth_getBlockByNumber", hex(receipt["block_number"]), False)
        if not block or block["hash"].lower() != receipt["block_hash"]:
            raise AnchorMismatch(
                f"block {receipt['block_number']} on the chain has another hash (reorg?)"
            )
        # 4. anchorOf(logId, root) at latest
        data = ANCHOR_OF_SELECTOR + log_id.hex() + root.hex()
        out = self.call("eth_call", {"to": receipt["contract"], "data": data}, "latest")
        raw = bytes.fromhex(str(out).removeprefix("0x"))
        want = 96 if version == 1 else 128
        if len(raw) != want:
            raise AnchorMismatch(f"anchorOf returned {len(raw)} bytes, want {want}")
        tree_size, block_time, block_number = (
            int.from_bytes(raw[i : i + 32], "big") for i in (0, 32, 64)
        )
        if (tree_size, block_number) != (size, receipt["block_number"]):
            raise AnchorMismatch(
                f"anchorOf says size {tree_size} in block {block_number}, "
                f"want {size} in {receipt['block_number']}"
            )
        if version == 2:
            _map_roots_agree("anchorOf", raw[96:128], receipt, map_root)
        return block_time


def _map_roots_agree(
    where: str, on_chain: bytes, receipt: dict[str, Any], note_map_root: bytes | None
) -> None:
    """The map root ``where`` holds equals the note's and the receipt's (zero: none)."""
    note = note_map_root or _ZERO
    if on_chain != note:
        raise MapRootMismatch(
            f"{where} anchored map root {_shown(on_chain)}, the note names {_shown(note)}"
        )
    said = receipt.get("map_root")
    if ("0x" + on_chain.hex() if on_chain != _ZERO else None) != said:
        raise MapRootMismatch(
            f"{where} anchored map root {_shown(on_chain)}, the receipt says {said}"
        )


def _shown(root: bytes) -> str:
    return "none (zero)" if root == _ZERO else "0x" + root.hex()
