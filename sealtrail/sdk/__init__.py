"""The Python SDK (in the base install): HTTP clients for integrators and auditors, and the
local proof checks that let them trust the service's answers only as far as the proofs go.

Public surface (``__all__``): :class:`Client` (sync, standard library only) and
:class:`AsyncClient` (aiohttp); :func:`check_event_proof` (an event, its inclusion proof and the
signed checkpoint it leads to) and :func:`check_consistency` (two signed checkpoints and the
proof between them), both pure and offline; :class:`VerifiedEvent`, :class:`RetryPolicy`; the
errors :class:`ApiError`, :class:`VerificationError` and :class:`MisbehaviourError`. The
client's trusted state (:class:`TrustedLog` over a :class:`FileState`, :class:`MemoryState` or
any :class:`StateStore`) remembers the newest verified checkpoint, so that ``verified_latest``
catches a server that rolls back or forks the log it shows. Checkpoint verifier keys are
:class:`sealtrail.core.NoteVerifier`.
"""

from sealtrail.sdk.client import (
    AsyncClient,
    Client,
    RetryPolicy,
    VerifiedEvent,
    check_consistency,
    check_event_proof,
)
from sealtrail.sdk.errors import ApiError, MisbehaviourError, VerificationError
from sealtrail.sdk.state import FileState, MemoryState, StateStore, TrustedLog

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "FileState",
    "MemoryState",
    "MisbehaviourError",
    "RetryPolicy",
    "StateStore",
    "TrustedLog",
    "VerificationError",
    "VerifiedEvent",
    "check_consistency",
    "check_event_proof",
]
