"""Errors of seal administration (registry, seal-use approvals, envelopes), in the project's one
hierarchy (``sealtrail/core/errors.py``). PAdES and PKI errors are signing's
(``sealtrail/signing/errors.py``)."""

from __future__ import annotations

from sealtrail.core.errors import SealtrailError
from sealtrail.signing.errors import CertificateError


class SealStateError(SealtrailError):
    """The seal may not sign now (suspended or revoked)."""

    code = "seal_state"


class SealUseForbiddenError(SealtrailError):
    """This key may not approve, or use, this authorisation (self-approval, not an approver,
    not the requester)."""

    code = "seal_use_forbidden"


class ApprovalRequiredError(SealtrailError):
    """The seal is controlled: using it needs an approved request (send its id)."""

    code = "approval_required"


class SealCertificateUntrustedError(CertificateError):
    """An imported seal certificate chains to no CA trusted for its tenant's seals (or its path
    does not validate), and the tenant is not allowed self-declared seals."""

    code = "seal_certificate_untrusted"


class LinkLockedError(SealtrailError):
    """Too many wrong one-time codes: the signing link is locked for ``retry_after`` seconds."""

    code = "link_locked"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CodeRateLimitedError(SealtrailError):
    """One-time codes are sent too often to this link or address; retry after
    ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WrongCodeError(SealtrailError):
    """The one-time code is wrong or expired; ``attempts_left`` before the link locks."""

    code = "wrong_code"

    def __init__(self, message: str, attempts_left: int) -> None:
        super().__init__(message)
        self.attempts_left = attempts_left


class SigningSessionError(SealtrailError):
    """The request carries no verified signing session for this link (verify a code first)."""

    code = "signing_session_required"
