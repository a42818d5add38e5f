"""Errors of certification packages, in the project's one hierarchy (``ledger/errors.py``).

A package that fails a *check* is not an error: the verifier reports it (:mod:`.results`).
These are raised when a package cannot be built, or cannot be read at all.
"""

from __future__ import annotations

from sealtrail.core.errors import InvalidInputError, SealtrailError


class PackageError(SealtrailError):
    """A certification package cannot be built (nothing sealed yet, nothing selected…)."""

    code = "package_error"


class TooManyEventsError(PackageError):
    """The stream or query selects more events than one package may hold; narrow it."""

    code = "too_many_events"


class EmptySelectionError(PackageError):
    """The stream or query selects no event that a checkpoint covers."""

    code = "empty_package"


class UnreadablePackageError(InvalidInputError):
    """The file is not a ZIP the verifier is willing to open (caps, names, duplicates)."""

    code = "unreadable_package"


class TimestampError(SealtrailError):
    """No TSA gave a valid RFC 3161 token, or a token does not verify."""

    code = "timestamp_error"
