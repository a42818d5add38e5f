"""The Python SDK (in the base install): HTTP clients for integrators and auditors, and the
local proof checks that let them trust the service's answers only as far as the proofs go.

Public surface (``__all__``): :class:`Client` (sync, standard library only) and
:class:`AsyncClient` (aiohttp); :func:`check_event_proof` (an event, its inclusion proof and the
signed checkpoint it leads to), :func:`check_consistency` (two signed checkpoints and the
proof between them), :func:`check_stream_head` and :func:`check_document_answer` (map proofs,
docs/MAP.md: a stream's head, every event naming a document), :func:`verify_callback` and
:func:`check_callback` (a callback's signature and proof, docs/WEBHOOKS.md), all pure and offline;
:class:`VerifiedEvent`, :class:`VerifiedStreamHead`, :class:`VerifiedDocument`,
:class:`RetryPolicy`; the errors :class:`ApiError`, :class:`VerificationError`,
:class:`MisbehaviourError` and :class:`NotProvableError`. The
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
from sealtrail.sdk.errors import (
    ApiError,
    MisbehaviourError,
    NotProvableError,
    VerificationError,
)
from sealtrail.sdk.maps import (
    VerifiedDocument,
    VerifiedStreamHead,
    check_document_answer,
    check_stream_head,
)
from sealtrail.sdk.state import FileState, MemoryState, StateStore, TrustedLog
from sealtrail.sdk.webhooks import VerifiedCallback, check_callback, verify_callback

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "FileState",
    "MemoryState",
    "MisbehaviourError",
    "NotProvableError",
    "RetryPolicy",
    "StateStore",
    "TrustedLog",
    "VerificationError",
    "VerifiedCallback",
    "VerifiedDocument",
    "VerifiedEvent",
    "VerifiedStreamHead",
    "check_callback",
    "check_consistency",
    "check_document_answer",
    "check_event_proof",
    "check_stream_head",
    "verify_callback",
]
