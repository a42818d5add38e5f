"""Errors of the ledger's storage and coordination, in the project's one hierarchy
(``sealtrail/core/errors.py``, which holds the storage errors every domain shares).
"""

from __future__ import annotations

from sealtrail.core.errors import SealtrailError


class QueuedAppendError(SealtrailError):
    """The error the sequencer stored for a queued append (same code and message; the edge
    maps it by that code, as it would the original)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
