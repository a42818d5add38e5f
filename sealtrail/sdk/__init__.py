"""The Python SDK (in the base install): HTTP clients for integrators and auditors, and the
local proof checks that let them trust the service's answers only as far as the proofs go.

Public surface (``__all__``): :class:`Client` (sync, standard library only) and
:class:`AsyncClient` (aiohttp); :func:`check_event_proof` (an event, its inclusion proof and the
signed checkpoint it leads to) and :func:`check_consistency` (two signed checkpoints and the
proof between them), both pure and offline; :class:`VerifiedEvent`, :class:`RetryPolicy`; the
errors :class:`ApiError` and :class:`VerificationError`. Checkpoint verifier keys are
:class:`sealtrail.core.NoteVerifier`.
"""

from sealtrail.sdk.client import (
    ApiError,
    AsyncClient,
    Client,
    RetryPolicy,
    VerificationError,
    VerifiedEvent,
    check_consistency,
    check_event_proof,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "RetryPolicy",
    "VerificationError",
    "VerifiedEvent",
    "check_consistency",
    "check_event_proof",
]
