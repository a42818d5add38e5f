"""Errors of reading certification packages and RFC 3161 tokens, in the project's one
hierarchy (:mod:`sealtrail.core.errors`).

A package that fails a *check* is not an error: the verifier reports it (:mod:`.results`).
These are raised when a package cannot be read at all, or a token does not verify. Errors of
*building* a package are :mod:`sealtrail.export.errors`.
"""

from __future__ import annotations

from sealtrail.core.errors import InvalidInputError, SealtrailError


class UnreadablePackageError(InvalidInputError):
    """The file is not a ZIP the verifier is willing to open (caps, names, duplicates)."""

    code = "unreadable_package"


class TimestampError(SealtrailError):
    """No TSA gave a valid RFC 3161 token, or a token does not verify."""

    code = "timestamp_error"


class AnchorMismatch(SealtrailError):
    """The chain does not confirm an anchor receipt (or the node could not be asked)."""

    code = "anchor_not_on_chain"


class MapRootMismatch(AnchorMismatch):
    """The map root anchored on the chain differs from the one the checkpoint's note names (or
    from the receipt's): the note was re-signed with another map line after the anchor."""

    code = "map_root_mismatch"
