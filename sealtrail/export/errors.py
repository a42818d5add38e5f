"""Errors of building certification packages, in the project's one hierarchy
(:mod:`sealtrail.core.errors`).

Reading or verifying a package raises :mod:`sealtrail.verifier.errors`; these are raised when a
package cannot be built at all (nothing sealed yet, nothing selected, too much selected).
"""

from __future__ import annotations

from sealtrail.core.errors import SealtrailError


class PackageError(SealtrailError):
    """A certification package cannot be built (nothing sealed yet, nothing selected…)."""

    code = "package_error"


class TooManyEventsError(PackageError):
    """The stream or query selects more events than one package may hold; narrow it."""

    code = "too_many_events"


class EmptySelectionError(PackageError):
    """The stream or query selects no event that a checkpoint covers."""

    code = "empty_package"
