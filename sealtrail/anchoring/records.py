"""Values the chain client takes and returns: fee policy, fees, signed anchor transactions,
receipts, anchor records. Pure (no web3), so the anchoring worker can persist and reload them and
the verifier can read them without a chain library."""

from __future__ import annotations

from dataclasses import dataclass, field

from sealtrail.core.errors import ConfigError

GWEI = 10**9


@dataclass(frozen=True)
class FeePolicy:
    """How transactions are priced when the caller gives no fees (EIP-1559).

    ``priority_fee`` = the ``priority_percentile`` reward of the last ``history_blocks`` blocks
    (``eth_feeHistory``, median over the blocks), at least ``min_priority_fee``;
    ``max_fee`` = next block's base fee × ``base_fee_multiplier`` + ``priority_fee`` (so the
    transaction stays includable while the base fee rises, ×1.125 a full block, for a few blocks),
    at most ``max_fee_cap`` if set. Gas limit = ``eth_estimateGas`` + ``gas_margin_percent``.
    A replacement raises both fees by at least ``replacement_bump_percent`` (geth wants 10).
    """

    base_fee_multiplier: int = 2
    priority_percentile: float = 50.0
    history_blocks: int = 10
    min_priority_fee: int = GWEI // 10
    max_fee_cap: int | None = None
    gas_margin_percent: int = 25
    replacement_bump_percent: int = 13

    def __post_init__(self) -> None:
        if self.base_fee_multiplier < 1 or not 1 <= self.history_blocks <= 1024:
            raise ConfigError("fee policy: want base_fee_multiplier >= 1, 1 <= history_blocks")
        if not 0 <= self.priority_percentile <= 100 or self.min_priority_fee < 0:
            raise ConfigError("fee policy: want 0 <= priority_percentile <= 100, fees >= 0")
        if self.gas_margin_percent < 0 or self.replacement_bump_percent < 10:
            raise ConfigError("fee policy: want gas_margin_percent >= 0, replacement bump >= 10")


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fees per gas, in wei."""

    max_fee: int
    priority_fee: int


@dataclass(frozen=True)
class AnchorTransaction:
    """A signed ``anchor(log_id, tree_size, root)`` transaction (contract version 1), or
    ``anchor(log_id, tree_size, root, map_root)`` (version 2; ``map_root`` None is sent as 32
    zero bytes, "no map line").

    Everything the worker must persist before broadcasting, so that after a crash it can
    re-broadcast ``raw`` (same hash), look up its receipt or replace it (same ``nonce``).
    """

    tx_hash: bytes
    nonce: int
    log_id: bytes
    tree_size: int
    root: bytes
    fees: Fees
    gas_limit: int
    raw: bytes = field(repr=False)
    #: the map root sent (version 2), None if none was (version 1, or a note without map line)
    map_root: bytes | None = None


@dataclass(frozen=True)
class AnchoredEvent:
    """The contract's ``Anchored`` event, decoded. ``map_root`` is None for a version-1 event
    (which has none) and for a version-2 event whose map root is zero (no map line)."""

    log_id: bytes
    tree_size: int
    root: bytes
    anchorer: str
    map_root: bytes | None = None
    #: the version of the contract that emitted it
    contract_version: int = 1


@dataclass(frozen=True)
class Receipt:
    """A mined transaction. ``status`` is 1 on success, 0 if it reverted.

    ``log_index`` and ``event`` are those of the ``Anchored`` event our contract emitted in
    this transaction (None for other transactions). ``block_hash`` is what
    :meth:`ChainClient.confirmations` needs to notice a reorg.
    """

    tx_hash: bytes
    block_number: int
    block_hash: bytes
    status: int
    gas_used: int
    effective_gas_price: int
    log_index: int | None = None
    event: AnchoredEvent | None = None
    contract_address: str | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the transaction did not revert."""
        return self.status == 1


@dataclass(frozen=True)
class AnchorRecord:
    """What the contract stores for an anchored root (``anchorOf``). ``map_root``: as in
    :class:`AnchoredEvent`."""

    tree_size: int
    block_time: int
    block_number: int
    map_root: bytes | None = None
