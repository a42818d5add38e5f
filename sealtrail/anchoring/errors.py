"""Errors of trusted time (RFC 3161) and chain anchoring, in the project's one hierarchy."""

from __future__ import annotations

from sealtrail.core.errors import SealtrailError

# re-exported: RFC 3161 token verification (and its error) lives in the verifier
from sealtrail.verifier.errors import TimestampError as TimestampError


class AnchoringError(SealtrailError):
    """The chain refused, failed or could not be reached."""

    code = "anchoring_error"


class ChainUnavailableError(AnchoringError):
    """The JSON-RPC endpoint is down or timing out (retry later)."""

    code = "chain_unavailable"


class InsufficientFundsError(AnchoringError):
    """The anchorer account cannot pay for the transaction."""

    code = "insufficient_funds"


class WrongChainError(AnchoringError):
    """The node serves another chain than the configured one (a setting to fix; never retry)."""

    code = "wrong_chain"


class NonceConflictError(AnchoringError):
    """The node refused a transaction over its nonce; ``reason`` says how.

    ``"nonce_too_low"``: a transaction with this nonce was already mined (look for its receipt).
    ``"already_known"``: this very transaction is already in the node's pool.
    ``"underpriced"``: another transaction with this nonce is pending and the fees are not high
    enough to replace it (some nodes also say so for fees below their minimum).
    """

    code = "nonce_conflict"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ContractRevertError(AnchoringError):
    """The contract rejected the transaction or call.

    ``error`` names the contract's custom error (``"NotAnchorer"``, ``"TreeSizeNotIncreasing"``,
    ``"RootAlreadyAnchored"``, …; ``"revert"`` if the node gave no decodable reason) and
    ``error_args`` holds its arguments by name.
    """

    code = "contract_revert"

    def __init__(self, message: str, *, error: str, args: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.error_args: dict[str, object] = dict(args or {})


class LogForkedError(ContractRevertError):
    """The chain's latest anchor of this log is not a prefix of the log (a restore that lost
    events and then grew again, or an altered log): anchoring stops until an operator acts."""

    code = "log_forked"

    def __init__(self, message: str) -> None:
        super().__init__(message, error="LogForked")


class TsaUnavailableError(TimestampError):
    """Every configured TSA failed or timed out (retry later)."""

    code = "tsa_unavailable"
