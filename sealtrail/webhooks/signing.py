"""Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature scheme").

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` values, one per secret
that currently signs (two during a rotation's overlap), each over
``"{webhook-id}.{webhook-timestamp}.{body}"`` keyed with the base64-decoded part of the secret
after ``whsec_``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
#: random bytes in a new secret (Standard Webhooks: 24 to 64)
SECRET_BYTES = 32


def new_secret(random_bytes: Callable[[int], bytes]) -> str:
    """A fresh secret, ``whsec_`` + base64 of :data:`SECRET_BYTES` random bytes."""
    return SECRET_PREFIX + base64.b64encode(random_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret`` (the base64 after ``whsec_``). ValueError if malformed."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of the delivery."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every one of ``secrets``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
    }
