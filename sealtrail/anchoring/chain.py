"""Chain client: anchors checkpoints through the SealtrailAnchor contract over JSON-RPC.

The only module that imports web3. Every web3, requests or socket exception is translated here
into the project's hierarchy (sealtrail/anchoring/errors.py):

* the node cannot be reached, times out or answers garbage → :class:`ChainUnavailableError`
  (retry later);
* the account cannot pay → :class:`InsufficientFundsError`;
* the nonce is taken (mined, already pending, underpriced replacement) →
  :class:`NonceConflictError` with a ``reason``;
* the contract rejects the call → :class:`ContractRevertError` naming the contract's custom error;
* the node serves another chain → :class:`WrongChainError`; anything else →
  :class:`AnchoringError`.

Transactions are EIP-1559 (type 2), signed locally with the anchorer's key and sent raw; the key
never leaves this process, and neither it nor the RPC URL's path or query (where providers put
API keys) appears in a repr, a log line or an error message.

Synchronous; one client serves one thread (the anchoring worker runs it in an executor). The
worker drives the state machine: :meth:`ChainClient.prepare_anchor` signs (persist the result),
:meth:`ChainClient.broadcast` sends, :meth:`ChainClient.receipt` and
:meth:`ChainClient.confirmations` follow it, :meth:`ChainClient.replace` re-prices a stuck one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from statistics import median
from typing import Any, NoReturn
from urllib.parse import urlsplit

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import (
    BlockNotFound,
    ContractLogicError,
    ProviderConnectionError,
    RequestTimedOut,
    TooManyRequests,
    TransactionIndexingInProgress,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import TxParams, TxReceipt, Wei

from sealtrail.anchoring.contract import (
    ANCHORED_TOPICS,
    ARTIFACT_FILES,
    NO_MAP_ROOT,
    ContractArtifact,
    load_artifact,
    log_id_for,
)
from sealtrail.anchoring.errors import (
    AnchoringError,
    ChainUnavailableError,
    ContractRevertError,
    InsufficientFundsError,
    NonceConflictError,
    WrongChainError,
)
from sealtrail.anchoring.records import (
    AnchoredEvent,
    AnchorRecord,
    AnchorTransaction,
    FeePolicy,
    Fees,
    Receipt,
)
from sealtrail.core.errors import ConfigError, InvalidInputError, SealtrailError

__all__ = [
    "AnchorRecord",
    "AnchorTransaction",
    "AnchoredEvent",
    "ChainClient",
    "FeePolicy",
    "Fees",
    "Receipt",
    "connect",
    "log_id_for",
]

logger = logging.getLogger(__name__)

_MAX_UINT64 = 2**64 - 1


@dataclass(frozen=True)
class _Signed:
    tx_hash: bytes
    raw: bytes = field(repr=False)
    nonce: int
    fees: Fees
    gas_limit: int


def _redact(url: str) -> str:
    """``scheme://host:port`` of a URL: providers put API keys in paths, queries and userinfo."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _bytes32(value: bytes, name: str) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != 32:
        raise InvalidInputError(f"{name} must be 32 bytes, got {len(value)}")
    return value


def _checksummed(address: str) -> str:
    try:
        return str(Web3.to_checksum_address(address))
    except (ValueError, TypeError):
        raise InvalidInputError(f"not an address: {address!r}") from None


def _load_account(private_key: str | bytes) -> LocalAccount:
    try:
        account: LocalAccount = Account.from_key(private_key)
    except Exception:
        # Not chained and not echoed: the message of a key parser may quote the key.
        raise ConfigError(
            "the anchoring private key is not a secp256k1 private key "
            "(want 32 bytes or 64 hex digits)"
        ) from None
    return account


def _error_table(abi: Sequence[dict[str, Any]]) -> dict[bytes, tuple[str, list[str], list[str]]]:
    """Selector → (name, argument names, argument types) of the ABI's custom errors."""
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for entry in abi:
        if entry.get("type") == "error":
            types = [i["type"] for i in entry["inputs"]]
            names = [i["name"] for i in entry["inputs"]]
            selector = bytes(Web3.keccak(text=f"{entry['name']}({','.join(types)})")[:4])
            table[selector] = (str(entry["name"]), names, types)
    return table


def _rpc_message(e: Web3RPCError) -> str:
    """The node's own error message (without Ganache's JavaScript stack)."""
    response = e.rpc_response
    if isinstance(response, dict):
        error = response.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return str(e.message)


def _bump(old: int, percent: int) -> int:
    return max(-(-old * (100 + percent) // 100), old + 1)


class ChainClient:
    """One anchorer account on one chain, and (once bound) one SealtrailAnchor contract, of
    version 1 (log roots) or 2 (log roots and map roots): :attr:`contract_version` says which.

    Make one with :func:`connect`. Methods that need the contract raise :class:`AnchoringError`
    until :meth:`deploy` or :meth:`use_contract` bound one.
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount | None,
        chain_id: int,
        *,
        endpoint: str,
        fee_policy: FeePolicy,
        artifact: ContractArtifact,
    ) -> None:
        """Internal: use :func:`connect`."""
        self._w3 = w3
        self._account = account
        self.chain_id = chain_id
        #: the node, redacted to ``scheme://host:port``
        self.endpoint = endpoint
        self.fee_policy = fee_policy
        #: the artifact :meth:`deploy` deploys (the current version unless told otherwise)
        self._artifact = artifact
        #: every version's artifact, to recognise a deployed contract by its code
        self._artifacts = {v: load_artifact(v) for v in sorted(ARTIFACT_FILES)}
        self._artifacts[artifact.version] = artifact
        self._contract: Contract | None = None
        #: the bound contract's version (1: log roots; 2: log and map roots), None if unbound
        self.contract_version: int | None = None
        #: the receipt of the latest :meth:`deploy` (its transaction hash and block)
        self.last_deploy_receipt: Receipt | None = None
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for a in self._artifacts.values():
            self._errors.update(_error_table(a.abi))

    @property
    def _anchored_topic(self) -> bytes:
        return ANCHORED_TOPICS[self.contract_version or self._artifact.version]

    def __repr__(self) -> str:
        return (
            f"ChainClient(endpoint={self.endpoint!r}, chain_id={self.chain_id}, "
            f"account={self._account.address if self._account else None!r}, "
            f"contract={self.contract_address!r})"
        )

    # -- identity -----------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The checksummed address of the account that signs (the anchorer).

        A read-only client (made without a key) raises :class:`ConfigError`."""
        return str(self._signer().address)

    def _signer(self) -> LocalAccount:
        if self._account is None:
            raise ConfigError("this chain client is read-only: no anchoring key was given")
        return self._account

    @property
    def contract_address(self) -> str | None:
        """The bound contract's checksummed address, or None."""
        return None if self._contract is None else str(self._contract.address)

    def _require_contract(self) -> Contract:
        if self._contract is None:
            raise AnchoringError("no contract bound: call deploy() or use_contract(address)")
        return self._contract

    # -- the error boundary -------------------------------------------------------------------

    @contextmanager
    def _boundary(self, what: str) -> Iterator[None]:
        try:
            yield
        except SealtrailError:
            raise
        except ContractLogicError as e:
            raise self._revert_error(e, what) from e
        except requests.HTTPError as e:
            status = e.response.status_code if e.response is not None else 0
            if 400 <= status < 500 and status not in (408, 429):
                raise AnchoringError(
                    f"{what}: the node at {self.endpoint} said HTTP {status}"
                ) from e
            raise ChainUnavailableError(f"{what}: {self.endpoint} answered HTTP {status}") from e
        except (
            requests.RequestException,
            ProviderConnectionError,
            RequestTimedOut,
            TooManyRequests,
            OSError,
        ) as e:
            raise ChainUnavailableError(
                f"{what}: chain node {self.endpoint} unreachable ({type(e).__name__})"
            ) from e
        except json.JSONDecodeError as e:
            raise ChainUnavailableError(f"{what}: {self.endpoint} sent no JSON-RPC answer") from e
        except Web3RPCError as e:
            raise self._rpc_error(e, what) from e
        except Web3Exception as e:
            raise AnchoringError(f"{what}: {type(e).__name__}: {e}") from e

    def _rpc_error(self, e: Web3RPCError, what: str) -> AnchoringError:
        message = _rpc_message(e)
        low = message.lower()
        if "insufficient funds" in low:
            return InsufficientFundsError(
                f"{what}: account {self.address} cannot pay for the transaction "
                f"(fund it on chain {self.chain_id}): {message}"
            )
        if "nonce too low" in low or "correct nonce" in low or "nonce is too low" in low:
            return NonceConflictError(f"{what}: {message}", reason="nonce_too_low")
        if "already known" in low or "known transaction" in low or "already imported" in low:
            return NonceConflictError(f"{what}: {message}", reason="already_known")
        if "underpriced" in low:
            return NonceConflictError(f"{what}: {message}", reason="underpriced")
        return AnchoringError(f"{what}: the node refused: {message}")

    def _revert_error(self, e: ContractLogicError, what: str) -> ContractRevertError:
        decoded = self._decode_revert(e.data)
        if decoded is None:
            reason = e.message or "no reason given"
            return ContractRevertError(f"{what}: the contract reverted ({reason})", error="revert")
        name, args = decoded
        shown = ", ".join(
            f"{n}={'0x' + v.hex() if isinstance(v, bytes) else v}" for n, v in args.items()
        )
        return ContractRevertError(
            f"{what}: the contract refused: {name}({shown})", error=name, args=args
        )

    def _decode_revert(self, data: object) -> tuple[str, dict[str, object]] | None:
        """(custom error, arguments by name) of revert data, or None if it is none of ours."""
        if isinstance(data, dict):  # Ganache: {"result": "0x…", "message": "revert", …}
            data = data.get("result") or data.get("data")
        if not isinstance(data, str) or not data.startswith("0x"):
            return None
        try:
            raw = bytes.fromhex(data[2:])
            known = self._errors.get(raw[:4])
            if known is None:
                return None
            name, names, types = known
            values = self._w3.codec.decode(types, raw[4:])
        except Exception:  # malformed revert data: report a bare revert
            return None
        args: dict[str, object] = {}
        for n, t, v in zip(names, types, values, strict=True):
            args[n] = Web3.to_checksum_address(v) if t == "address" else v
        return name, args

    # -- contract -----------------------------------------------------------------------------

    def use_contract(
        self, address: str, *, check_code: bool = True, version: int | None = None
    ) -> None:
        """Bind the SealtrailAnchor contract at ``address``, of either version.

        With ``check_code`` (the default), its code on chain must equal the ``deployedBytecode``
        of one version's artifact, which sets :attr:`contract_version`; otherwise
        :class:`AnchoringError` (wrong address, or another build). Without, ``version`` (default:
        the version :meth:`deploy` deploys) is taken on trust.
        """
        checksummed = Web3.to_checksum_address(_checksummed(address))
        if check_code:
            with self._boundary("reading the contract's code"):
                code = bytes(self._w3.eth.get_code(checksummed))
            found = [v for v, a in self._artifacts.items() if a.deployed_bytecode == code]
            if not found:
                raise AnchoringError(
                    f"no SealtrailAnchor at {checksummed} on chain {self.chain_id}: its code "
                    f"({len(code)} bytes) differs from the artifacts of versions "
                    f"{sorted(self._artifacts)} built by solc {self._artifact.compiler_version}"
                )
            version = found[0]
        elif version is None:
            version = self._artifact.version
        artifact = self._artifacts[version]
        self._contract = self._w3.eth.contract(address=checksummed, abi=list(artifact.abi))
        self.contract_version = version
        if version < 2:
            logger.warning(
                "the anchoring contract at %s is version %d: it anchors log roots only, so the "
                "checkpoints' map roots are not anchored; deploy version 2 (`sealtrail contract "
                "deploy --force`) and switch the address (docs/FORMAT.md §6.1)",
                checksummed,
                version,
            )

    def deploy(self, *, timeout: float = 120.0, version: int | None = None) -> str:
        """Deploy a new contract owned by this account, bind it, return its address.

        ``version``: of the contract (default: the current one, 2; 1 only to test what older
        deployments do). Waits until it is mined (not for confirmations).
        """
        if version is not None and version not in self._artifacts:
            raise InvalidInputError(f"no anchoring contract version {version!r}")
        artifact = self._artifacts[version or self._artifact.version]
        receipt = self._transact(None, artifact.bytecode, "deploying the contract", timeout)
        if receipt.contract_address is None:
            raise AnchoringError(f"deploy transaction 0x{receipt.tx_hash.hex()} made no contract")
        self.last_deploy_receipt = receipt
        self.use_contract(receipt.contract_address, check_code=False, version=artifact.version)
        logger.info("deployed %s at %s", artifact.contract_name, receipt.contract_address)
        return receipt.contract_address

    def authorise(self, log_id: bytes, anchorer: str, *, timeout: float = 120.0) -> Receipt:
        """Allow ``anchorer`` to anchor log ``log_id`` (owner only); waits until mined."""
        return self._admin("authorise", log_id, anchorer, timeout)

    def revoke(self, log_id: bytes, anchorer: str, *, timeout: float = 120.0) -> Receipt:
        """Stop ``anchorer`` anchoring log ``log_id`` (owner only); waits until mined."""
        return self._admin("revoke", log_id, anchorer, timeout)

    def _admin(self, function: str, log_id: bytes, anchorer: str, timeout: float) -> Receipt:
        contract = self._require_contract()
        _bytes32(log_id, "log_id")
        who = _checksummed(anchorer)
        data = bytes.fromhex(contract.encode_abi(function, [log_id, who])[2:])
        return self._transact(str(contract.address), data, f"{function} {who}", timeout)

    def _transact(self, to: str | None, data: bytes, what: str, timeout: float) -> Receipt:
        signed = self._sign(to, data, what)
        self._send_raw(signed, what)
        tx_hash = signed.tx_hash
        receipt = self.wait_for_receipt(tx_hash, timeout=timeout)
        if not receipt.succeeded:
            raise ContractRevertError(
                f"{what}: transaction 0x{tx_hash.hex()} reverted in block {receipt.block_number}",
                error="revert",
            )
        return receipt

    # -- reads --------------------------------------------------------------------------------

    def lookup(
        self, log_id: bytes, root: bytes, *, block: int | None = None
    ) -> AnchorRecord | None:
        """What the contract holds for ``root`` of log ``log_id`` (at ``block``, default the
        latest), or None if it was never anchored. One ``eth_call``. The map root is None on a
        version-1 contract, and for a version-2 anchor of a checkpoint without map line."""
        contract = self._require_contract()
        _bytes32(log_id, "log_id")
        _bytes32(root, "root")
        with self._boundary("looking up an anchor"):
            values = contract.functions.anchorOf(log_id, root).call(
                block_identifier="latest" if block is None else block
            )
        size, block_time, block_number = values[:3]
        if size == 0:
            return None
        map_root = bytes(values[3]) if len(values) > 3 else None
        return AnchorRecord(
            int(size),
            int(block_time),
            int(block_number),
            None if map_root == NO_MAP_ROOT else map_root,
        )

    def find_anchor(self, log_id: bytes, tree_size: int, *, from_block: int = 0) -> Receipt | None:
        """The receipt of the transaction whose ``Anchored`` event recorded size ``tree_size``
        of ``log_id`` (``eth_getLogs`` on both indexed topics), or None."""
        contract = self._require_contract()
        _bytes32(log_id, "log_id")
        with self._boundary("searching anchoring events"):
            logs = self._w3.eth.get_logs(
                {
                    "address": contract.address,
                    "fromBlock": from_block,
                    "toBlock": "latest",
                    "topics": [
                        HexBytes(self._anchored_topic),
                        HexBytes(log_id),
                        HexBytes(tree_size.to_bytes(32, "big")),
                    ],
                }
            )
        for entry in logs:
            receipt = self.receipt(bytes(entry["transactionHash"]))
            if receipt is not None and receipt.event is not None:
                return receipt
        return None

    def latest_size(self, log_id: bytes) -> int:
        """The size of the latest checkpoint anchored for ``log_id`` (0 if none)."""
        contract = self._require_contract()
        with self._boundary("reading the latest anchored size"):
            return int(contract.functions.latestSize(_bytes32(log_id, "log_id")).call())

    def is_anchorer(self, log_id: bytes, account: str | None = None) -> bool:
        """Whether ``account`` (default: ours) may anchor ``log_id``."""
        contract = self._require_contract()
        who = Web3.to_checksum_address(_checksummed(account or self.address))
        with self._boundary("reading anchorers"):
            return bool(contract.functions.isAnchorer(_bytes32(log_id, "log_id"), who).call())

    def block_number(self) -> int:
        """The node's latest block number."""
        with self._boundary("reading the block number"):
            return int(self._w3.eth.block_number)

    def balance(self) -> int:
        """Our account's balance in wei (latest block)."""
        with self._boundary("reading the balance"):
            return int(self._w3.eth.get_balance(self._signer().address))

    def pending_nonce(self) -> int:
        """The node's next nonce for our account, counting its pending transactions.

        Ganache 7 answers the *mined* count here, so a caller with transactions in flight must
        track its own nonces too (the worker persists them).
        """
        with self._boundary("reading the nonce"):
            return int(self._w3.eth.get_transaction_count(self._signer().address, "pending"))

    def mined_nonce(self) -> int:
        """How many of our account's transactions the latest block includes (its next nonce
        once nothing is pending). A transaction of ours with a nonce below this that has no
        receipt was displaced: another transaction took its nonce."""
        with self._boundary("reading the nonce"):
            return int(self._w3.eth.get_transaction_count(self._signer().address, "latest"))

    # -- fees ---------------------------------------------------------------------------------

    def suggest_fees(self) -> Fees:
        """Fees for a transaction sent now, per :class:`FeePolicy`."""
        p = self.fee_policy
        with self._boundary("reading fee history"):
            history = self._w3.eth.fee_history(p.history_blocks, "latest", [p.priority_percentile])
        base_fees = history.get("baseFeePerGas") or []
        if not base_fees:
            raise AnchoringError(f"chain {self.chain_id} reports no base fee (no EIP-1559)")
        rewards = [int(r[0]) for r in history.get("reward") or [] if r]
        tip = max(int(median(rewards)) if rewards else 0, p.min_priority_fee)
        max_fee = int(base_fees[-1]) * p.base_fee_multiplier + tip
        if p.max_fee_cap is not None and max_fee > p.max_fee_cap:
            max_fee = p.max_fee_cap
            tip = min(tip, max_fee)
        return Fees(max_fee, tip)

    def replacement_fees(self, tx: AnchorTransaction) -> Fees:
        """Fees to replace ``tx``: today's suggestion, but both at least the policy's bump above
        ``tx``'s. Raises :class:`AnchoringError` if that exceeds ``max_fee_cap``."""
        now = self.suggest_fees()
        bump = self.fee_policy.replacement_bump_percent
        tip = max(now.priority_fee, _bump(tx.fees.priority_fee, bump))
        max_fee = max(now.max_fee, _bump(tx.fees.max_fee, bump), tip)
        cap = self.fee_policy.max_fee_cap
        if cap is not None and max_fee > cap:
            raise AnchoringError(
                f"replacing needs a max fee of {max_fee} wei/gas, above the cap {cap}"
            )
        return Fees(max_fee, tip)

    # -- anchoring ----------------------------------------------------------------------------

    def prepare_anchor(
        self,
        log_id: bytes,
        tree_size: int,
        root: bytes,
        *,
        nonce: int | None = None,
        max_fee: int | None = None,
        priority_fee: int | None = None,
        gas_limit: int | None = None,
        map_root: bytes | None = None,
    ) -> AnchorTransaction:
        """Sign ``anchor(log_id, tree_size, root)`` (version 1) or ``anchor(log_id, tree_size,
        root, map_root)`` (version 2; None is sent as zero, "no map line"); nothing is sent.
        A version-1 contract has no place for ``map_root``: it is not sent, and the returned
        transaction's ``map_root`` is None.

        Requires 32-byte ``log_id``, ``root`` and ``map_root`` (unless None, and not 32 zero
        bytes) and ``1 <= tree_size < 2**64``. Defaults: the node's pending nonce,
        :meth:`suggest_fees`, and a gas limit from ``eth_estimateGas`` (which also surfaces a
        revert, e.g. ``NotAnchorer``, as :class:`ContractRevertError` before anything is sent).
        """
        contract = self._require_contract()
        _bytes32(log_id, "log_id")
        _bytes32(root, "root")
        if map_root is not None:
            _bytes32(map_root, "map_root")
            if map_root == NO_MAP_ROOT:
                raise InvalidInputError("map_root of 32 zero bytes means none: pass None")
        if not isinstance(tree_size, int) or isinstance(tree_size, bool):
            raise TypeError(f"tree_size must be int, got {type(tree_size).__name__}")
        if not 1 <= tree_size <= _MAX_UINT64:
            raise InvalidInputError(f"tree_size must be in [1, 2^64), got {tree_size}")
        if self.contract_version == 1:
            map_root = None
            args: list[Any] = [log_id, tree_size, root]
        else:
            args = [log_id, tree_size, root, map_root or NO_MAP_ROOT]
        data = bytes.fromhex(contract.encode_abi("anchor", args)[2:])
        what = f"anchoring size {tree_size}"
        s = self._sign(str(contract.address), data, what, nonce, max_fee, priority_fee, gas_limit)
        return AnchorTransaction(
            s.tx_hash, s.nonce, log_id, tree_size, root, s.fees, s.gas_limit, s.raw, map_root
        )

    def broadcast(self, tx: AnchorTransaction) -> None:
        """Send a prepared transaction to the node (again, if need be: same bytes, same hash).

        Raises :class:`NonceConflictError` (``already_known`` if the node holds this very
        transaction), :class:`InsufficientFundsError` or :class:`ChainUnavailableError`; after
        the last the transaction may or may not have reached the node: look it up by hash.
        """
        signed = _Signed(tx.tx_hash, tx.raw, tx.nonce, tx.fees, tx.gas_limit)
        self._send_raw(signed, f"anchoring size {tx.tree_size}")
        logger.info(
            "sent anchor of size %d, nonce %d, max fee %d, tip %d: tx 0x%s",
            tx.tree_size,
            tx.nonce,
            tx.fees.max_fee,
            tx.fees.priority_fee,
            tx.tx_hash.hex(),
        )

    def send_anchor(
        self,
        log_id: bytes,
        tree_size: int,
        root: bytes,
        *,
        nonce: int | None = None,
        max_fee: int | None = None,
        priority_fee: int | None = None,
        gas_limit: int | None = None,
        map_root: bytes | None = None,
    ) -> AnchorTransaction:
        """:meth:`prepare_anchor` then :meth:`broadcast`; returns what was sent."""
        tx = self.prepare_anchor(
            log_id,
            tree_size,
            root,
            nonce=nonce,
            max_fee=max_fee,
            priority_fee=priority_fee,
            gas_limit=gas_limit,
            map_root=map_root,
        )
        self.broadcast(tx)
        return tx

    def replace(self, tx: AnchorTransaction, *, fees: Fees | None = None) -> AnchorTransaction:
        """Re-send ``tx``'s anchor with the same nonce and higher fees (a stuck transaction).

        ``fees`` default to :meth:`replacement_fees`. The old transaction may still be mined
        instead: follow both hashes until one has a receipt. ``NonceConflictError`` with reason
        ``nonce_too_low`` means one already was.
        """
        new_fees = fees or self.replacement_fees(tx)
        return self.send_anchor(
            tx.log_id,
            tx.tree_size,
            tx.root,
            nonce=tx.nonce,
            max_fee=new_fees.max_fee,
            priority_fee=new_fees.priority_fee,
            gas_limit=tx.gas_limit,
            map_root=tx.map_root,
        )

    def _sign(
        self,
        to: str | None,
        data: bytes,
        what: str,
        nonce: int | None = None,
        max_fee: int | None = None,
        priority_fee: int | None = None,
        gas_limit: int | None = None,
    ) -> _Signed:
        if nonce is None:
            nonce = self.pending_nonce()
        if max_fee is None or priority_fee is None:
            suggested = self.suggest_fees()
            if priority_fee is None:
                priority_fee = suggested.priority_fee
                if max_fee is not None:
                    priority_fee = min(priority_fee, max_fee)
            if max_fee is None:
                max_fee = suggested.max_fee - suggested.priority_fee + priority_fee
        if not 0 <= priority_fee <= max_fee:
            raise InvalidInputError(
                f"want 0 <= priority fee <= max fee, got {priority_fee}, {max_fee}"
            )
        if gas_limit is None:
            params: TxParams = {"from": self._signer().address, "data": data, "value": Wei(0)}
            if to is not None:
                params["to"] = to
            with self._boundary(what):
                estimate = int(self._w3.eth.estimate_gas(params))
            gas_limit = estimate + estimate * self.fee_policy.gas_margin_percent // 100
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "gas": gas_limit,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": priority_fee,
            "value": 0,
            "data": data,
        }
        if to is not None:
            tx["to"] = to
        signed = self._signer().sign_transaction(tx)
        return _Signed(
            bytes(signed.hash),
            bytes(signed.raw_transaction),
            nonce,
            Fees(max_fee, priority_fee),
            gas_limit,
        )

    def _send_raw(self, signed: _Signed, what: str) -> None:
        tx_hash = signed.tx_hash
        try:
            with self._boundary(what):
                sent = bytes(self._w3.eth.send_raw_transaction(signed.raw))
        except NonceConflictError as e:
            # Nodes differ on a re-sent transaction ("already known", or Ganache's
            # "transaction underpriced"): ask whether the node holds this very one.
            if e.reason != "nonce_too_low" and self.has_transaction(tx_hash):
                raise NonceConflictError(
                    f"{what}: the node already holds transaction 0x{tx_hash.hex()}",
                    reason="already_known",
                ) from e
            raise
        except InsufficientFundsError as e:
            self._explain_funds(e, signed.gas_limit * signed.fees.max_fee)
        if sent != tx_hash:
            raise AnchoringError(
                f"{what}: node returned hash 0x{sent.hex()}, want 0x{tx_hash.hex()}"
            )

    def has_transaction(self, tx_hash: bytes) -> bool:
        """Whether the node knows transaction ``tx_hash`` (pending in its pool, or mined)."""
        with self._boundary("looking up a transaction"):
            try:
                self._w3.eth.get_transaction(HexBytes(tx_hash))
            except TransactionNotFound:
                return False
        return True

    def _explain_funds(self, e: InsufficientFundsError, need: int) -> NoReturn:
        try:
            have: int | str = self.balance()
        except AnchoringError:
            have = "unknown"
        raise InsufficientFundsError(
            f"account {self.address} cannot pay for the transaction on chain {self.chain_id}: "
            f"balance {have} wei, want up to {need} wei (gas limit × max fee); fund the account"
        ) from e

    # -- following transactions ---------------------------------------------------------------

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        """The receipt of a mined transaction, or None while it is pending or unknown."""
        with self._boundary("reading a receipt"):
            try:
                r = self._w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except (TransactionNotFound, TransactionIndexingInProgress):
                return None
        return self._receipt_from(r)

    def wait_for_receipt(
        self, tx_hash: bytes, *, timeout: float = 120.0, poll_interval: float = 0.2
    ) -> Receipt:
        """Poll :meth:`receipt` until the transaction is mined; :class:`AnchoringError` after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.receipt(tx_hash)
            if r is not None:
                return r
            if time.monotonic() >= deadline:
                raise AnchoringError(f"transaction 0x{tx_hash.hex()} not mined within {timeout} s")
            time.sleep(poll_interval)

    def confirmations(self, block_number: int, block_hash: bytes) -> int | None:
        """How many blocks, counting its own, build on block ``block_number``, or None if the
        canonical chain no longer holds a block ``block_hash`` at that height (a reorg dropped
        it: look up the receipt again)."""
        with self._boundary("reading a block"):
            try:
                block = self._w3.eth.get_block(block_number)
            except BlockNotFound:
                return None
            head = int(self._w3.eth.block_number)
        if bytes(block["hash"]) != block_hash or head < block_number:
            return None
        return head - block_number + 1

    def _receipt_from(self, r: TxReceipt) -> Receipt:
        event = None
        log_index = None
        contract = self._contract
        if contract is not None:
            for log in r["logs"]:
                topics = log["topics"]
                if (
                    log["address"] == contract.address
                    and topics
                    and topics[0] == self._anchored_topic
                ):
                    args = contract.events.Anchored().process_log(log)["args"]
                    map_root = bytes(args["mapRoot"]) if "mapRoot" in args else None
                    event = AnchoredEvent(
                        log_id=bytes(args["logId"]),
                        tree_size=int(args["treeSize"]),
                        root=bytes(args["root"]),
                        anchorer=str(args["anchorer"]),
                        map_root=None if map_root == NO_MAP_ROOT else map_root,
                        contract_version=self.contract_version or 1,
                    )
                    log_index = int(log["logIndex"])
                    break
        created = r.get("contractAddress")
        return Receipt(
            tx_hash=bytes(r["transactionHash"]),
            block_number=int(r["blockNumber"]),
            block_hash=bytes(r["blockHash"]),
            status=int(r["status"]),
            gas_used=int(r["gasUsed"]),
            effective_gas_price=int(r["effectiveGasPrice"]),
            log_index=log_index,
            event=event,
            contract_address=None if created is None else str(created),
        )


def connect(
    rpc_url: str,
    private_key: str | bytes | None,
    expected_chain_id: int | None = None,
    *,
    contract_address: str | None = None,
    fee_policy: FeePolicy | None = None,
    timeout: float = 10.0,
) -> ChainClient:
    """Connect to the JSON-RPC node at ``rpc_url`` (http or https) as the account of
    ``private_key`` (32 bytes, or 64 hex digits with or without ``0x``); with None, a read-only
    client (look-ups and receipts, no transactions).

    Asks the node its chain id; raises :class:`WrongChainError` if ``expected_chain_id`` is
    given and differs, :class:`ChainUnavailableError` if the node does not answer within
    ``timeout`` seconds, :class:`ConfigError` for a bad URL or key. With ``contract_address``,
    binds that contract (see :meth:`ChainClient.use_contract`). Nothing is retried here.
    """
    parts = urlsplit(rpc_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"the chain RPC URL must be http(s)://host[:port]/…, got {_redact(rpc_url)!r}"
        )
    account = None if private_key is None else _load_account(private_key)
    provider = Web3.HTTPProvider(
        rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
    )
    w3 = Web3(provider)
    client = ChainClient(
        w3,
        account,
        0,
        endpoint=_redact(rpc_url),
        fee_policy=fee_policy or FeePolicy(),
        artifact=load_artifact(),
    )
    with client._boundary("reading the chain id"):
        chain_id = int(w3.eth.chain_id)
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise WrongChainError(
            f"the node at {client.endpoint} serves chain id {chain_id}, want {expected_chain_id}"
        )
    client.chain_id = chain_id
    if contract_address is not None:
        client.use_contract(contract_address)
    return client
