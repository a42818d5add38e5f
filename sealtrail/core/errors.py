"""The root of Sealtrail's exception hierarchy.

Every error the project raises on purpose derives from :class:`SealtrailError`. Each class has a
stable machine-readable ``code`` and nothing about transport: one table at the edge
(``sealtrail/api/error_codes.py``) maps codes to HTTP status (problem+json) and CLI exit codes.
Other packages add their subclasses in their own ``errors.py``.

Wrong *types* passed by programmers raise the built-in :class:`TypeError`; these classes are for
wrong *values* and failed checks. Messages say what was got and what was wanted.
"""

from __future__ import annotations


class SealtrailError(Exception):
    """Base class of every error Sealtrail raises on purpose."""

    #: stable, machine-readable; the problem+json ``type`` suffix over HTTP
    code: str = "sealtrail_error"


class InvalidInputError(SealtrailError):
    """Input that does not satisfy the documented format (bad JSON, bad field)."""

    code = "invalid_input"


class EventValidationError(InvalidInputError):
    """An event failed validation; ``field`` names the offending field path."""

    code = "invalid_event"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class EncodingError(InvalidInputError):
    """A value cannot be canonically encoded (RFC 8785) exactly."""

    code = "not_canonicalizable"


class ProofError(SealtrailError):
    """A Merkle inclusion or consistency proof does not verify, or is malformed."""

    code = "invalid_proof"


class MapProofError(ProofError):
    """A map proof is malformed or does not verify; ``reason`` says which check failed.

    Reasons (stable, machine-readable): ``malformed`` (a field has the wrong type, length,
    encoding or range, or is missing or unknown), ``too_many_siblings``, ``no_siblings``,
    ``no_leaf`` (an inclusion proof without a leaf), ``key_mismatch``, ``value_mismatch``,
    ``key_present`` (a non-inclusion proof whose leaf is the key itself), ``leaf_off_path``
    (the leaf's key hash does not share the proof's path), ``root_mismatch``.

    Its ``code`` stays ProofError's ``invalid_proof`` (one entry in the error table); ``reason``
    says what failed.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NoteError(SealtrailError):
    """A signed note or checkpoint is malformed or its signature does not verify."""

    code = "invalid_note"


class NotFoundError(SealtrailError):
    """The requested event, checkpoint or size does not exist."""

    code = "not_found"


class ConflictError(SealtrailError):
    """The request conflicts with stored state (same client event id, different body)."""

    code = "conflict"


class StorageError(SealtrailError):
    """The storage backend failed or holds data it cannot read."""

    code = "storage_error"


class LedgerBusyError(StorageError):
    """Another process holds the ledger's write lock for longer than we may wait."""

    code = "ledger_busy"


class DatabaseUnavailableError(LedgerBusyError):
    """The database server cannot be reached (down, restarting, failing over, or the
    connection was lost); transient like a busy ledger, so the edge answers 503 with
    Retry-After. Raised after the connection was lost during a commit too: then the outcome is
    unknown, and an append's retry with the same client event id finds it if it committed."""

    code = "database_unavailable"


class CommitPendingError(LedgerBusyError):
    """An append's commit has not returned within the service's bound (``append_timeout``):
    the database has neither confirmed nor refused it — e.g. a synchronous standby is away and
    the primary waits for it. The commit goes on; its outcome is unknown to the caller, and a
    retry with the same client event id returns the event if it committed (never a second one).
    """

    code = "commit_pending"


class LeaseLostError(LedgerBusyError):
    """This process no longer holds the lease a fenced write needs (another took it over)."""

    code = "lease_lost"


class SequencerHeldError(LedgerBusyError):
    """Another process — a running service — holds the sequencer lease: it alone seals
    checkpoints, so a command that would seal one stops before writing anything."""

    code = "sequencer_held"


class NotInitializedError(SealtrailError):
    """The data directory has no ledger yet (run ``sealtrail init``)."""

    code = "not_initialized"


class ConfigError(SealtrailError):
    """Settings are missing, unknown or invalid."""

    code = "invalid_config"
