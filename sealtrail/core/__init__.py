"""The pure core: formats, hashing, proofs and checkpoint notes — no I/O, no clock, no
randomness of its own (time and salts are parameters), shared by the service, the verifier and
the SDK.

Modules: ``errors`` (the root of the one exception hierarchy), ``canonical`` (RFC 8785 JCS),
``strictjson`` (bounded, duplicate-rejecting JSON), ``event`` (the event model), ``merkle``
(RFC 9162 hashing, inclusion and consistency proofs), ``note`` (C2SP signed notes and
checkpoints). Public surface (``__all__``) below; other names in those modules are public to
the package's own code but not promised to users.
"""

from sealtrail.core.canonical import canonicalize
from sealtrail.core.errors import (
    EncodingError,
    EventValidationError,
    InvalidInputError,
    NoteError,
    ProofError,
    SealtrailError,
)
from sealtrail.core.event import Event, decode_event, parse_event_input
from sealtrail.core.merkle import (
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from sealtrail.core.note import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)

__all__ = [
    "Checkpoint",
    "EncodingError",
    "Event",
    "EventValidationError",
    "InvalidInputError",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "ProofError",
    "SealtrailError",
    "canonicalize",
    "decode_event",
    "leaf_hash",
    "node_hash",
    "parse_checkpoint",
    "parse_event_input",
    "root",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]
