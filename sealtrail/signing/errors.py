"""Errors of electronic seals and PAdES signing, in the project's one hierarchy.

Only :mod:`sealtrail.signing` imports pyHanko; its exceptions (and cryptography's) are wrapped in
these classes at that boundary (``raise … from e``). Messages say got-versus-want and never carry
key material, passwords or master keys.
"""

from __future__ import annotations

from sealtrail.core.errors import SealtrailError


class SigningError(SealtrailError):
    """The root of this package's errors: signing or validating a PDF failed."""

    code = "signing_error"
    http_status = 500
    exit_code = 10


class InvalidPdfError(SigningError):
    """An uploaded PDF is malformed, encrypted, empty or larger than the configured limit."""

    code = "invalid_pdf"
    http_status = 400
    exit_code = 2


class PdfTooLargeError(InvalidPdfError):
    """A PDF is larger than the configured limit (checked before it is parsed)."""

    code = "pdf_too_large"
    http_status = 413


class AppearanceError(SigningError):
    """A seal appearance is unusable: not a PNG, too large, no transparency, bad text."""

    code = "invalid_appearance"
    http_status = 400
    exit_code = 2


class CertificateError(SigningError):
    """A certificate or PKCS#12 bundle is unusable for sealing (expired, wrong key, bad file)."""

    code = "invalid_certificate"
    http_status = 400
    exit_code = 2


class KeyProtectionError(SigningError):
    """A protected private key cannot be opened: wrong or missing master key, or a damaged blob.

    On purpose the message never says which (after Fernet's bare ``InvalidToken``), and never
    contains key material.
    """

    code = "key_protection_error"
    http_status = 500
    exit_code = 2


class SealStateError(SigningError):
    """The seal may not sign now (suspended or revoked)."""

    code = "seal_state"
    http_status = 409
    exit_code = 5


class SignatureFieldError(SigningError):
    """The signature field or position is unusable (no such page, field already signed)."""

    code = "invalid_signature_field"
    http_status = 400
    exit_code = 2


class SigningTimestampError(SigningError):
    """No configured TSA gave a usable RFC 3161 token for the signature."""

    code = "signing_timestamp_error"
    http_status = 502
    exit_code = 7
