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


class InvalidPdfError(SigningError):
    """An uploaded PDF is malformed, encrypted, empty or larger than the configured limit."""

    code = "invalid_pdf"


class PdfTooLargeError(InvalidPdfError):
    """A PDF is larger than the configured limit (checked before it is parsed)."""

    code = "pdf_too_large"


class AppearanceError(SigningError):
    """A seal appearance is unusable: not a PNG, too large, no transparency, bad text."""

    code = "invalid_appearance"


class MissingGlyphError(AppearanceError):
    """Text to draw has a character the font has no glyph for (it would be an empty box), or
    no font able to draw Chinese is available (:mod:`sealtrail.signing.fonts`)."""

    code = "missing_glyph"


class CertificateError(SigningError):
    """A certificate or PKCS#12 bundle is unusable for sealing (expired, wrong key, bad file)."""

    code = "invalid_certificate"


class KeyProtectionError(SigningError):
    """A protected private key cannot be opened: wrong or missing master key, or a damaged blob.

    On purpose the message never says which (after Fernet's bare ``InvalidToken``), and never
    contains key material.
    """

    code = "key_protection_error"


class SignatureFieldError(SigningError):
    """The signature field or position is unusable (no such page, field already signed)."""

    code = "invalid_signature_field"


class SigningTimestampError(SigningError):
    """No configured TSA gave a usable RFC 3161 token for the signature."""

    code = "signing_timestamp_error"
