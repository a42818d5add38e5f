"""The one table at the edge: an error's stable ``code`` → HTTP status and CLI exit code.

Exceptions below the edge (core, ledger, anchoring, signing, seals, verifier, export) carry only
a stable ``code`` and a message; how a code leaves the process is decided here, once, for the
problem+json middleware and the command line alike. A class without an entry of its own is
mapped as its nearest ancestor that has one (``_AttemptError`` as ``timestamp_error``).

This module imports nothing but the core's errors, so the light ``sealtrail verify`` command
can use it without the server's dependencies.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from sealtrail.core.errors import SealtrailError


class Mapping(NamedTuple):
    """How one error code leaves the process."""

    http_status: int
    exit_code: int


#: exit codes of the CLI (README.md, "Exit codes")
EXIT_FAILED: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_NOT_INITIALIZED: Final = 3
EXIT_NOT_FOUND: Final = 4
EXIT_CONFLICT: Final = 5
EXIT_BUSY: Final = 6
EXIT_UPSTREAM: Final = 7
#: ``sealtrail verify``: nothing failed, but something was not checked that the caller's policy
#: does not accept (an unpinned key, anchors without ``--rpc``…)
EXIT_INCOMPLETE: Final = 8
#: a running service holds the sequencer lease (``sealtrail checkpoint``, ``demo`` on its ledger)
EXIT_SERVICE_RUNNING: Final = 9
EXIT_INTERNAL: Final = 10

TABLE: Final[dict[str, Mapping]] = {
    # core
    "sealtrail_error": Mapping(500, EXIT_INTERNAL),
    "invalid_input": Mapping(400, EXIT_BAD_INPUT),
    "invalid_event": Mapping(400, EXIT_BAD_INPUT),
    "not_canonicalizable": Mapping(400, EXIT_BAD_INPUT),
    "invalid_proof": Mapping(400, EXIT_FAILED),
    "invalid_note": Mapping(400, EXIT_FAILED),
    "not_found": Mapping(404, EXIT_NOT_FOUND),
    "conflict": Mapping(409, EXIT_CONFLICT),
    "invalid_config": Mapping(500, EXIT_BAD_INPUT),
    # ledger (storage, sequencing, data directory)
    "storage_error": Mapping(500, EXIT_INTERNAL),
    "ledger_busy": Mapping(503, EXIT_BUSY),
    "lease_lost": Mapping(503, EXIT_BUSY),
    "sequencer_held": Mapping(503, EXIT_SERVICE_RUNNING),
    "not_initialized": Mapping(503, EXIT_NOT_INITIALIZED),
    # trusted time and anchoring
    "timestamp_error": Mapping(502, EXIT_UPSTREAM),
    "tsa_unavailable": Mapping(503, EXIT_UPSTREAM),
    "anchoring_error": Mapping(502, EXIT_UPSTREAM),
    "chain_unavailable": Mapping(503, EXIT_UPSTREAM),
    "insufficient_funds": Mapping(502, EXIT_UPSTREAM),
    "wrong_chain": Mapping(502, EXIT_UPSTREAM),
    "nonce_conflict": Mapping(502, EXIT_UPSTREAM),
    "contract_revert": Mapping(409, EXIT_UPSTREAM),
    "log_forked": Mapping(409, EXIT_UPSTREAM),
    # verification and packages
    "anchor_not_on_chain": Mapping(500, EXIT_FAILED),
    "map_root_mismatch": Mapping(500, EXIT_FAILED),
    "verification_failed": Mapping(500, EXIT_FAILED),
    "server_misbehaviour": Mapping(500, EXIT_FAILED),
    "unreadable_package": Mapping(400, EXIT_FAILED),
    "package_error": Mapping(409, EXIT_CONFLICT),
    "too_many_events": Mapping(400, EXIT_BAD_INPUT),
    "empty_package": Mapping(404, EXIT_NOT_FOUND),
    "not_provable": Mapping(409, EXIT_INCOMPLETE),
    # signing (PAdES/PKI) and seal administration
    "signing_error": Mapping(500, EXIT_INTERNAL),
    "invalid_pdf": Mapping(400, EXIT_BAD_INPUT),
    "pdf_too_large": Mapping(413, EXIT_BAD_INPUT),
    "invalid_appearance": Mapping(400, EXIT_BAD_INPUT),
    "missing_glyph": Mapping(422, EXIT_BAD_INPUT),
    "invalid_certificate": Mapping(400, EXIT_BAD_INPUT),
    "seal_certificate_untrusted": Mapping(400, EXIT_BAD_INPUT),
    "key_protection_error": Mapping(500, EXIT_BAD_INPUT),
    "seal_state": Mapping(409, EXIT_CONFLICT),
    "invalid_signature_field": Mapping(400, EXIT_BAD_INPUT),
    "signing_timestamp_error": Mapping(502, EXIT_UPSTREAM),
    "seal_use_forbidden": Mapping(403, EXIT_BAD_INPUT),
    "approval_required": Mapping(409, EXIT_CONFLICT),
    "link_locked": Mapping(423, EXIT_BUSY),
    "wrong_code": Mapping(400, EXIT_BAD_INPUT),
    "signing_session_required": Mapping(401, EXIT_BAD_INPUT),
    # callbacks (webhooks)
    "callback_url_refused": Mapping(400, EXIT_BAD_INPUT),
    # e-mail (one-time codes, signing links)
    "mail_unavailable": Mapping(503, EXIT_UPSTREAM),
    "webhooks_unavailable": Mapping(501, EXIT_BAD_INPUT),
    # the HTTP edge
    "unauthorized": Mapping(401, EXIT_BAD_INPUT),
    "forbidden": Mapping(403, EXIT_BAD_INPUT),
    "unsupported_media_type": Mapping(415, EXIT_BAD_INPUT),
    "payload_too_large": Mapping(413, EXIT_BAD_INPUT),
    "rate_limited": Mapping(429, EXIT_BUSY),
    "request_timeout": Mapping(408, EXIT_BAD_INPUT),
    "duplicate_header": Mapping(400, EXIT_BAD_INPUT),
}


def mapping_for(err: SealtrailError) -> Mapping:
    """How ``err`` leaves the process.

    An error that names its code per instance, differing from its class's (an error relayed
    from another process: ``QueuedAppendError``), is mapped by that code; otherwise by the
    nearest class in its MRO whose own ``code`` has an entry.
    """
    own = err.__dict__.get("code")
    if isinstance(own, str) and own in TABLE:
        return TABLE[own]
    for cls in type(err).__mro__:
        code = cls.__dict__.get("code")
        if isinstance(code, str) and code in TABLE:
            return TABLE[code]
    return TABLE["sealtrail_error"]


def http_status_for(err: SealtrailError) -> int:
    """The HTTP status of ``err`` (problem+json)."""
    return mapping_for(err).http_status


def exit_code_for(err: SealtrailError) -> int:
    """The CLI exit code of ``err``."""
    return mapping_for(err).exit_code
