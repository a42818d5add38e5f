"""Receiving Sealtrail's callbacks: the Standard Webhooks signature check
(:func:`verify_callback`) and the offline check of the proof a ledger event's callback carries
(:func:`check_callback`), both pure (docs/WEBHOOKS.md, docs/FORMAT.md §10).

A receiver first checks the signature with the subscription's secret (this proves Sealtrail
sent the body, recently), then, with the ledger's published verifier key, that the event is in
the log: its inclusion proof leads to a signed checkpoint, and the stream's map proof in that
checkpoint shows the stream's head (how many events it has) — so a receiver can also tell that
it has missed none. The signature alone proves nothing about the log; the proof alone nothing
about who sent it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sealtrail.core import strictjson
from sealtrail.core.errors import SealtrailError
from sealtrail.core.note import NoteVerifier
from sealtrail.sdk.client import VerifiedEvent, check_event_proof
from sealtrail.sdk.errors import NotProvableError, VerificationError
from sealtrail.sdk.maps import VerifiedStreamHead, check_stream_head

#: how far a callback's timestamp may be from the receiver's clock (Standard Webhooks: 5 min)
TOLERANCE_SECONDS = 300
_MAX_SIGNATURES = 16
_MAX_BODY = 64 * 1024 * 1024


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if isinstance(k, str) and k.lower() == name:
            if not isinstance(v, str) or not v or len(v) > 4096:
                raise VerificationError(f"{name}: malformed header")
            return v
    raise VerificationError(f"{name}: header missing")


def verify_callback(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """Check a callback's Standard Webhooks signature and return its parsed payload.

    ``secret`` is the subscription's ``whsec_…``; ``headers`` the request's (any case);
    ``body`` its raw bytes, exactly as received. Raises VerificationError when a header is
    missing or malformed, the timestamp is more than ``tolerance`` seconds from ``now``
    (default: the clock), no ``v1`` signature matches, or the body is not a JSON object.
    """
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise VerificationError("secret: want the subscription's whsec_… secret")
    try:
        key = base64.b64decode(secret[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("secret: not base64 after whsec_") from None
    if not isinstance(body, bytes | bytearray) or len(body) > _MAX_BODY:
        raise VerificationError("body: want the raw request body (bytes)")
    msg_id = _header(headers, "webhook-id")
    raw_ts = _header(headers, "webhook-timestamp")
    sigs = _header(headers, "webhook-signature")
    if not (raw_ts.isascii() and raw_ts.isdigit()) or len(raw_ts) > 12:
        raise VerificationError("webhook-timestamp: want Unix seconds")
    ts = int(raw_ts)
    clock = time.time() if now is None else now
    if abs(clock - ts) > tolerance:
        raise VerificationError(f"webhook-timestamp: {ts} is more than {tolerance:g} s from now")
    signed = f"{msg_id}.{ts}.".encode() + bytes(body)
    want = hmac.new(key, signed, hashlib.sha256).digest()
    parts = sigs.split(" ")
    if len(parts) > _MAX_SIGNATURES:
        raise VerificationError("webhook-signature: too many signatures")
    for part in parts:
        version, _, value = part.partition(",")
        if version != "v1":
            continue
        try:
            got = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(got, want):
            break
    else:
        raise VerificationError("webhook-signature: no v1 signature matches this secret")
    try:
        payload = strictjson.loads(bytes(body))
    except SealtrailError as e:
        raise VerificationError(f"body: not JSON: {e}") from None
    if not isinstance(payload, dict):
        raise VerificationError("body: want a JSON object")
    return payload


@dataclass(frozen=True)
class VerifiedCallback:
    """A ledger event's callback checked offline: the event is in ``event.checkpoint``; with a
    map proof, ``stream`` is its stream's head in that checkpoint (``stream.count`` events, the
    last at ``stream.last_index``)."""

    event: VerifiedEvent
    stream: VerifiedStreamHead | None


def check_callback(payload: Mapping[str, Any], verifier: NoteVerifier) -> VerifiedCallback:
    """Check the proof of a ledger event's callback (its ``data.proof``) against the ledger's
    verifier key. Raises VerificationError when something does not hold, NotProvableError when
    the callback carries no proof (sent before a checkpoint held the event: fetch
    ``GET /v1/events/{index}/proof`` later) or the checkpoint predates the map."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, Mapping) or not isinstance(data.get("event"), Mapping):
        raise VerificationError("data.event: want the event object")
    ev = data["event"]
    proof = data.get("proof")
    if proof is None:
        raise NotProvableError("the callback carries no proof (the event was not yet sealed)")
    if not isinstance(proof, Mapping) or not isinstance(proof.get("inclusion"), Mapping):
        raise VerificationError("data.proof.inclusion: want an inclusion proof")
    if data.get("tenant") != ev.get("tenant"):
        raise VerificationError("data.tenant is not the event's tenant")
    verified = check_event_proof(ev, proof["inclusion"], verifier)
    answer = proof.get("map")
    if answer is None:
        return VerifiedCallback(verified, None)
    if not isinstance(answer, Mapping):
        raise VerificationError("data.proof.map: want a map proof")
    tenant, stream = ev.get("tenant"), ev.get("stream")
    if type(tenant) is not str or type(stream) is not str:
        raise VerificationError("event: tenant and stream must be strings")
    head = check_stream_head(answer, verified.checkpoint, stream, tenant)
    index = ev.get("index")
    if type(index) is not int or index > head.last_index:
        raise VerificationError(
            f"event {index!r} is after its stream's proven head ({head.last_index})"
        )
    if index == head.last_index and ev.get("leaf_hash") != head.last_leaf_hash.hex():
        raise VerificationError("the stream's proven head is another event at this index")
    return VerifiedCallback(verified, head)
