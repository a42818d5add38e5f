"""Seal private keys encrypted at rest under a master key (AES-256-GCM, NIST SP 800-38D).

The service reads the master key from its settings (never from the repository); this module
only takes it as bytes. A protected key is a self-describing blob::

    version (1 byte, 0x01) ‖ nonce (12 bytes, random) ‖ AES-256-GCM(PKCS#8 DER of the key)

encrypted under ``HKDF-SHA256(master key, info="sealtrail seal key v1")`` (RFC 5869), so the
master key can serve other purposes without key reuse. The caller's associated data (the seal
id, typically) is authenticated with the blob, so a blob copied onto another seal's row does
not open there.

Failures say nothing about why (wrong master key, tampered blob and wrong associated data look
alike, after Fernet's ``InvalidToken``), and no object here shows a key in ``repr``.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealtrail.signing.errors import KeyProtectionError
from sealtrail.signing.pki import SealPrivateKey

VERSION = 1
NONCE_BYTES = 12
MASTER_KEY_BYTES = 32
_HKDF_INFO = b"sealtrail seal key v1"
_AD_PREFIX = b"sealtrail-seal-key/v1\x00"
_OPEN_FAILED = "protected key does not open (wrong master key, or damaged or misplaced blob)"


class KeyProtector:
    """Encrypts and decrypts seal private keys under one master key.

    Requires a 32-byte ``master_key`` (e.g. 32 random bytes, kept in the service's key file or
    secret store). Construct one per master key; instances hold only the derived key and never
    show it.
    """

    __slots__ = ("_aead",)

    def __init__(self, master_key: bytes) -> None:
        if not isinstance(master_key, bytes):
            raise TypeError(f"master_key must be bytes, got {type(master_key).__name__}")
        if len(master_key) != MASTER_KEY_BYTES:
            # Only the length is said, never the bytes.
            raise KeyProtectionError(
                f"master key of {len(master_key)} bytes, want {MASTER_KEY_BYTES}"
            )
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
            master_key
        )
        self._aead = AESGCM(derived)

    def __repr__(self) -> str:
        return "KeyProtector(<master key hidden>)"

    def seal(self, private_key: SealPrivateKey, associated_data: bytes) -> bytes:
        """The protected blob of ``private_key``, bound to ``associated_data`` (e.g. the seal id).

        Requires an RSA or EC private key and non-empty ``associated_data``.
        """
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise TypeError(f"private_key must be RSA or EC, got {type(private_key).__name__}")
        _check_ad(associated_data)
        der = private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonces: fine far below 2^32 keys
        ct = self._aead.encrypt(nonce, der, _AD_PREFIX + associated_data)
        return bytes([VERSION]) + nonce + ct

    def open(self, blob: bytes, associated_data: bytes) -> SealPrivateKey:
        """The private key in ``blob``, which :meth:`seal` made with this master key and
        ``associated_data``; otherwise :class:`KeyProtectionError` (which reveals nothing more).
        """
        if not isinstance(blob, bytes):
            raise TypeError(f"blob must be bytes, got {type(blob).__name__}")
        _check_ad(associated_data)
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != VERSION:
            raise KeyProtectionError(_OPEN_FAILED)
        nonce, ct = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            der = self._aead.decrypt(nonce, ct, _AD_PREFIX + associated_data)
        except InvalidTag:
            raise KeyProtectionError(_OPEN_FAILED) from None
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError):  # authenticated yet unparsable: a bug, not an attack
            raise KeyProtectionError(_OPEN_FAILED) from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyProtectionError(_OPEN_FAILED)
        return key


def _check_ad(associated_data: bytes) -> None:
    if not isinstance(associated_data, bytes):
        raise TypeError(f"associated_data must be bytes, got {type(associated_data).__name__}")
    if not associated_data:
        raise ValueError("associated_data must not be empty (bind the blob to its seal id)")
