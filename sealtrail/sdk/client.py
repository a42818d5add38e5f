"""A small Python SDK for integrators and auditors: sync (:class:`Client`, stdlib only) and async
(:class:`AsyncClient`, aiohttp).

* ``append`` gives every event a ``client_event_id`` (a random UUID) unless it has one, and
  retries connection failures, 429, 502, 503 and 504 with backoff — safe, because the server
  returns the original event for a repeated id;
* ``events`` walks every page of a query;
* ``stream_head`` and ``document_events_complete`` fetch map proofs (docs/MAP.md) and check
  them locally against a checkpoint accepted through the caller's :class:`TrustedLog`, with
  the map root from its signed note: a stream's head, every event naming a document;
* ``verified_event`` fetches an event and its inclusion proof and checks them *locally* with the
  pure core against a checkpoint signed by a verifier key the caller trusts: the event's
  canonical bytes hash to the leaf, the leaf is in the tree, the tree is the signed one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from sealtrail.core.canonical import canonicalize
from sealtrail.core.errors import SealtrailError
from sealtrail.core.merkle import leaf_hash, verify_consistency, verify_inclusion
from sealtrail.core.note import Checkpoint, NoteVerifier, verify_checkpoint
from sealtrail.sdk.errors import ApiError as ApiError
from sealtrail.sdk.errors import NotProvableError as NotProvableError
from sealtrail.sdk.errors import VerificationError as VerificationError
from sealtrail.sdk.maps import (
    VerifiedDocument,
    VerifiedStreamHead,
    check_document_answer,
    check_stream_head,
    map_root,
)
from sealtrail.sdk.state import TrustedLog

RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = "sealtrail-client/1"


@dataclass(frozen=True)
class VerifiedEvent:
    """An event whose inclusion in a signed checkpoint was checked locally."""

    event: dict[str, Any]
    checkpoint: Checkpoint


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry transient failures."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.max_delay)
        backoff: float = min(self.max_delay, self.base_delay * 2**attempt)
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


def _with_id(event: Mapping[str, Any]) -> dict[str, Any]:
    e = dict(event)
    if e.get("client_event_id") is None:
        e["client_event_id"] = str(uuid.uuid4())
    return e


def _error(status: int, body: bytes) -> ApiError:
    try:
        p = json.loads(body)
        code = str(p.get("type", "")).rsplit("/", 1)[-1] or "http_error"
        return ApiError(status, code, str(p.get("detail", "")))
    except (ValueError, AttributeError):
        return ApiError(status, "http_error", body[:200].decode("utf-8", "replace"))


def check_event_proof(
    event: Mapping[str, Any],
    proof: Mapping[str, Any],
    verifier: NoteVerifier,
    index: int | None = None,
) -> VerifiedEvent:
    """Check an event (as the API shows it) against its inclusion proof and signed checkpoint.

    With ``index``, the event and the proof must also be of that index (a server must not
    answer with another, genuine event). Raises :class:`VerificationError` naming the first
    thing that does not hold.
    """
    if index is not None and not event.get("index") == proof.get("index") == index:
        raise VerificationError(
            f"asked for event {index}, got event {event.get('index')} "
            f"with a proof for {proof.get('index')}"
        )
    if event.get("index") != proof.get("index"):
        raise VerificationError("the proof is for another event")
    body = {k: v for k, v in event.items() if k not in ("leaf_hash", "duplicate")}
    leaf = leaf_hash(canonicalize(body))
    if leaf.hex() != event.get("leaf_hash") or leaf.hex() != proof.get("leaf_hash"):
        raise VerificationError(f"event {event.get('index')}: its bytes do not hash to its leaf")
    try:
        cp = verify_checkpoint(proof["checkpoint"]["note"], verifier)
        if cp.size != proof["size"] or cp.root.hex() != proof["root"]:
            raise VerificationError("the proof's size or root is not the signed checkpoint's")
        verify_inclusion(
            leaf, proof["index"], proof["size"], [bytes.fromhex(h) for h in proof["proof"]], cp.root
        )
    except (SealtrailError, KeyError, ValueError, TypeError) as e:
        if isinstance(e, VerificationError):
            raise
        raise VerificationError(f"event {event.get('index')}: {e}") from e
    return VerifiedEvent(dict(event), cp)


def check_consistency(
    proof: Mapping[str, Any],
    verifier: NoteVerifier,
    old_size: int | None = None,
    new_size: int | None = None,
) -> tuple[Checkpoint, ...]:
    """Check a consistency proof between two signed checkpoints. Raises VerificationError.

    With ``old_size`` / ``new_size``, the signed checkpoints must be of those sizes.
    """
    try:
        old = verify_checkpoint(proof["old_checkpoint"]["note"], verifier)
        new = verify_checkpoint(proof["new_checkpoint"]["note"], verifier)
        for want, got, which in ((old_size, old, "old"), (new_size, new, "new")):
            if want is not None and got.size != want:
                raise VerificationError(f"asked for {which} size {want}, got {got.size}")
        verify_consistency(
            old.size, new.size, old.root, new.root, [bytes.fromhex(h) for h in proof["proof"]]
        )
    except VerificationError:
        raise
    except (SealtrailError, KeyError, ValueError, TypeError) as e:
        raise VerificationError(f"consistency: {e}") from e
    return old, new


class Client:
    """Synchronous client (standard library only)."""

    def __init__(
        self,
        base_url: str,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.retry = retry or RetryPolicy()

    def _request(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        return self._send(method, path, body=body, params=params)[1]

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        pdf: bytes | None = None,
        raw: bool = False,
        once: bool = False,
    ) -> tuple[int, Any]:
        """One request: a JSON ``body`` or a ``pdf``; the answer parsed as JSON, or its bytes
        with ``raw``; ``once``: no retry (operations that are not idempotent)."""
        url = self.base_url + path
        if params:
            pairs = params.items() if isinstance(params, Mapping) else params
            url += "?" + urllib.parse.urlencode([(k, v) for k, v in pairs if v is not None])
        data = None if body is None else json.dumps(body).encode()
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if pdf is not None:
            data = pdf
            headers["Content-Type"] = "application/pdf"
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        attempts = 1 if once else self.retry.attempts
        for attempt in range(attempts):
            req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                    payload = resp.read()
                    return resp.status, payload if raw else json.loads(payload)
            except urllib.error.HTTPError as e:
                payload = e.read()
                if e.code in RETRY_STATUSES and attempt + 1 < attempts:
                    time.sleep(self.retry.delay(attempt, e.headers.get("Retry-After")))
                    continue
                raise _error(e.code, payload) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if attempt + 1 >= attempts:
                    raise
                time.sleep(self.retry.delay(attempt, None))
        raise AssertionError("unreachable")

    def append(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Append one event (retried safely); returns the stored event, with ``duplicate`` true
        when it had been stored before (a retry)."""
        status, result = self._send("POST", "/v1/events", body=_with_id(event))
        return {**result, "duplicate": status == 200}

    def append_batch(self, events: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append events atomically (retried safely); returns the stored events."""
        body = {"events": [_with_id(e) for e in events]}
        page = self._request("POST", "/v1/events/batch", body=body)
        result: list[dict[str, Any]] = page["events"]
        return result

    def events(self, *, page_size: int = 500, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every event matching ``filters`` (stream, type, actor, document, from, to, tenant)."""
        cursor = None
        while True:
            page = self._request(
                "GET", "/v1/events", params={**filters, "limit": page_size, "cursor": cursor}
            )
            yield from page["events"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def event(self, index: int) -> dict[str, Any]:
        """One event."""
        result: dict[str, Any] = self._request("GET", f"/v1/events/{index}")
        return result

    def proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        """The inclusion proof of event ``index`` (to checkpoint ``size``, default latest)."""
        result: dict[str, Any] = self._request(
            "GET", f"/v1/events/{index}/proof", params={"size": size}
        )
        return result

    def checkpoint(self, size: int | None = None) -> dict[str, Any]:
        """A checkpoint (latest by default)."""
        result: dict[str, Any] = self._request(
            "GET", f"/v1/checkpoints/{'latest' if size is None else size}"
        )
        return result

    def verified_event(self, index: int, verifier: NoteVerifier) -> VerifiedEvent:
        """Fetch event ``index`` and its proof and check them locally against ``verifier``."""
        return check_event_proof(self.event(index), self.proof(index), verifier, index)

    def verified_consistency(
        self, old_size: int, new_size: int | None, verifier: NoteVerifier
    ) -> tuple[Checkpoint, ...]:
        """Fetch and check that checkpoint ``new_size`` extends ``old_size``."""
        proof = self._request(
            "GET", "/v1/checkpoints/consistency", params={"from": old_size, "to": new_size}
        )
        return check_consistency(proof, verifier, old_size, new_size)

    def public_fingerprint(self, sha256: str) -> dict[str, Any]:
        """Public facts about a document fingerprint (no key needed)."""
        result: dict[str, Any] = self._request("GET", f"/v1/public/fingerprints/{sha256}")
        return result

    def verified_latest(self, log: TrustedLog) -> Checkpoint:
        """The service's latest checkpoint, accepted only if it extends the one ``log`` trusts
        (with a consistency proof from it); a rollback or fork raises
        :class:`~sealtrail.sdk.errors.MisbehaviourError`. Returns the trusted checkpoint."""
        return self._trust(log, self.checkpoint())

    def _trust(self, log: TrustedLog, answer: Mapping[str, Any]) -> Checkpoint:
        span = _needs_proof(log, answer)
        if span is None:
            return log.observe(_latest_note(answer))
        proof = self._request("GET", "/v1/checkpoints/consistency", params=span)
        return log.advance(proof)

    def stream_head(
        self, stream: str, log: TrustedLog, *, tenant: str | None = None
    ) -> VerifiedStreamHead:
        """The head of ``stream`` (of the key's tenant, or ``tenant`` for an HQ auditor) in the
        map of the latest checkpoint, verified here: the checkpoint through ``log``
        (:meth:`verified_latest`), the head against the map root its signed note commits to.
        Raises VerificationError, NotProvableError (a checkpoint before the map) or ApiError
        (404: no such stream as of that checkpoint)."""
        cp = self.verified_latest(log)
        map_root(cp)  # before the map: say so without asking
        answer = self._request(
            "GET", _map_proof_path(stream), params={"size": cp.size, "tenant": tenant}
        )
        return check_stream_head(answer, cp, stream, tenant)

    def document_events_complete(self, sha256: str, log: TrustedLog) -> VerifiedDocument:
        """Every event naming the document ``sha256`` as of the service's latest checkpoint,
        proven complete (or proven none) here: the answer's checkpoint is accepted through
        ``log`` (consistent with the one it trusts), each event's inclusion and the map proof
        are checked against it (no key needed). Raises VerificationError or NotProvableError."""
        answer = self.public_fingerprint(sha256)
        return check_document_answer(answer, self._trust(log, _checkpoint_of(answer)), sha256)

    # -- seals, seal requests and envelopes (docs/FORMAT.md §7; operationIds in /v1/openapi.json).
    # Operations that change state are sent once (no automatic retry): a repeated signature or
    # decision is not harmless, unlike a repeated append.

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._send(method, path, once=method != "GET", **kw)[1]
        return result

    def seals(
        self, *, tenant: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Seals the key sees (listSeals)."""
        page = self._json("GET", "/v1/seals", params={"tenant": tenant, "status": status})
        result: list[dict[str, Any]] = page["seals"]
        return result

    def seal(self, seal_id: str) -> dict[str, Any]:
        """One seal (getSeal)."""
        return self._json("GET", f"/v1/seals/{_seg(seal_id)}")

    def create_seal(self, kind: str, name: str, **fields: Any) -> dict[str, Any]:
        """Create a seal (createSeal; admins): ``fields`` as SealCreate (tenant, purpose, code,
        remarks, appearance_png, pkcs12, pkcs12_password)."""
        return self._json("POST", "/v1/seals", body={"kind": kind, "name": name, **fields})

    def set_seal_status(self, seal_id: str, verb: str, reason: str | None = None) -> dict[str, Any]:
        """``verb`` one of suspend, resume, revoke (suspendSeal, resumeSeal, revokeSeal)."""
        if verb not in ("suspend", "resume", "revoke"):
            raise ValueError(f"verb: want suspend, resume or revoke, got {verb!r}")
        body = {} if reason is None else {"reason": reason}
        return self._json("POST", f"/v1/seals/{_seg(seal_id)}/{verb}", body=body)

    def sign_pdf(self, seal_id: str, pdf: bytes, **params: Any) -> bytes:
        """Seal ``pdf`` (signPdfWithSeal); ``params``: page, box, reason, location, request (an
        approved seal request, for controlled seals), level (B-T or B-LT). The sealed PDF."""
        path = f"/v1/seals/{_seg(seal_id)}/sign"
        result: bytes = self._send("POST", path, pdf=pdf, params=params, raw=True, once=True)[1]
        return result

    def seal_policy(self, tenant: str | None = None) -> dict[str, Any]:
        """A tenant's seal-use policy (getSealPolicy)."""
        return self._json("GET", "/v1/seal-policy", params={"tenant": tenant})

    def set_seal_policy(
        self, controlled: Sequence[str], approvers: Sequence[str], tenant: str | None = None
    ) -> dict[str, Any]:
        """Replace a tenant's seal-use policy (putSealPolicy; admins): the ``controlled`` seals
        need a request approved by one of the ``approvers`` (API key ids)."""
        body: dict[str, Any] = {"controlled": list(controlled), "approvers": list(approvers)}
        if tenant is not None:
            body["tenant"] = tenant
        return self._json("PUT", "/v1/seal-policy", body=body)

    def create_seal_request(
        self, seal_id: str, document_sha256: str, purpose: str
    ) -> dict[str, Any]:
        """Ask to use a controlled seal on one document (createSealRequest)."""
        body = {"seal": seal_id, "document_sha256": document_sha256, "purpose": purpose}
        return self._json("POST", "/v1/seal-requests", body=body)

    def seal_requests(
        self, *, tenant: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Seal requests the key sees (listSealRequests)."""
        page = self._json("GET", "/v1/seal-requests", params={"tenant": tenant, "status": status})
        result: list[dict[str, Any]] = page["requests"]
        return result

    def seal_request(self, request_id: str) -> dict[str, Any]:
        """One seal request (getSealRequest)."""
        return self._json("GET", f"/v1/seal-requests/{_seg(request_id)}")

    def decide_seal_request(
        self, request_id: str, approve: bool, reason: str | None = None
    ) -> dict[str, Any]:
        """Approve or reject a pending request (approveSealRequest, rejectSealRequest)."""
        verb = "approve" if approve else "reject"
        body = {} if reason is None else {"reason": reason}
        return self._json("POST", f"/v1/seal-requests/{_seg(request_id)}/{verb}", body=body)

    def create_envelope(
        self,
        pdf: bytes,
        title: str,
        signers: Sequence[str] | Sequence[Mapping[str, Any]],
        *,
        order: str = "sequential",
        expires_at: str | None = None,
        deliver: str | None = None,
    ) -> dict[str, Any]:
        """An envelope for ``pdf`` (createEnvelope), ``signers`` in order. Strings (SEAL_ID,
        SEAL_ID:KEY_ID or tenant:TENANT_ID) make the raw-PDF form; objects (``{"kind":
        "individual", "name", "email", "fields": [{"page", "box"}]}`` or ``{"kind":
        "enterprise", "tenant", "fields"}``) the JSON form, whose answer holds each signer's
        ``sign_url`` (shown once), with ``expires_at`` (RFC 3339) and ``deliver``
        (``"email"``: the service mails the links) — docs/FORMAT.md §7.1."""
        body = envelope_body(pdf, title, signers, order, expires_at, deliver)
        if body is not None:
            return self._json("POST", "/v1/envelopes", body=body)
        params = [("title", title), ("order", order), *(("signer", s) for s in signers)]
        return self._json("POST", "/v1/envelopes", pdf=pdf, params=params)

    def envelopes(self, *, page_size: int = 50, **filters: Any) -> Iterator[dict[str, Any]]:
        """The inbox (listEnvelopes), newest first: ``filters`` state, signer, from, to."""
        cursor = None
        while True:
            params = {**filters, "limit": page_size, "cursor": cursor}
            page = self._request("GET", "/v1/envelopes", params=params)
            yield from page["envelopes"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def void_envelope(self, envelope_id: str, reason: str) -> dict[str, Any]:
        """End an open envelope (voidEnvelope): its links stop working."""
        path = f"/v1/envelopes/{_seg(envelope_id)}/void"
        return self._json("POST", path, body={"reason": reason})

    def remind_envelope(self, envelope_id: str, *, new_links: bool = False) -> dict[str, Any]:
        """E-mail the pending signers whose turn it is (remindEnvelopeSigners): ``reminded``
        positions; with ``new_links``, new links replace theirs (``links``: position and
        ``sign_url``, shown once)."""
        path = f"/v1/envelopes/{_seg(envelope_id)}/remind"
        return self._json("POST", path, body={"new_links": new_links})

    def envelope(self, envelope_id: str) -> dict[str, Any]:
        """An envelope's status (getEnvelope; recorded as a view)."""
        return self._json("GET", f"/v1/envelopes/{_seg(envelope_id)}")

    def envelope_document(self, envelope_id: str) -> bytes:
        """The envelope's current PDF (getEnvelopeDocument; recorded as a download)."""
        path = f"/v1/envelopes/{_seg(envelope_id)}/document"
        result: bytes = self._send("GET", path, raw=True)[1]
        return result

    def sign_envelope(self, envelope_id: str, seal_id: str, **fields: Any) -> dict[str, Any]:
        """Apply the caller's seal to its slot (signEnvelope); ``fields``: request, reason,
        location, level."""
        body = {"seal": seal_id, **fields}
        return self._json("POST", f"/v1/envelopes/{_seg(envelope_id)}/sign", body=body)

    def envelope_seal_request(self, envelope_id: str, seal_id: str, purpose: str) -> dict[str, Any]:
        """Ask to use a controlled seal once, for its slot in the envelope
        (createEnvelopeSealRequest)."""
        path = f"/v1/envelopes/{_seg(envelope_id)}/seal-requests"
        return self._json("POST", path, body={"seal": seal_id, "purpose": purpose})

    def envelope_invitations(self) -> list[dict[str, Any]]:
        """Open invitations to the key's tenants (listEnvelopeInvitations)."""
        page = self._json("GET", "/v1/envelope-invitations")
        result: list[dict[str, Any]] = page["invitations"]
        return result

    def answer_invitation(
        self,
        envelope_id: str,
        position: int,
        *,
        seal_id: str | None = None,
        key_id: str | None = None,
        decline_reason: str | None = None,
    ) -> dict[str, Any]:
        """Accept an invitation with ``seal_id`` (and ``key_id``), or decline it when no seal is
        given (acceptEnvelopeInvitation, declineEnvelopeInvitation)."""
        base = f"/v1/envelopes/{_seg(envelope_id)}/invitations/{int(position)}"
        if seal_id is None:
            body = {} if decline_reason is None else {"reason": decline_reason}
            return self._json("POST", base + "/decline", body=body)
        accept: dict[str, Any] = {"seal": seal_id}
        if key_id is not None:
            accept["key_id"] = key_id
        return self._json("POST", base + "/accept", body=accept)

    def envelope_validation(self, envelope_id: str) -> dict[str, Any]:
        """The envelope's PDF validated against every participant's seal roots
        (getEnvelopeValidation)."""
        return self._json("GET", f"/v1/envelopes/{_seg(envelope_id)}/validation")

    # -- callback subscriptions (an admin key; docs/WEBHOOKS.md) ---------------------------

    def create_webhook(
        self, url: str, events: list[str], *, receipts: bool = False
    ) -> dict[str, Any]:
        """Subscribe ``url`` to ``events`` (``["*"]``: all); the answer holds ``id`` and the
        ``secret`` (``whsec_…``), shown only here."""
        body = {"url": url, "events": events, "receipts": receipts}
        result: dict[str, Any] = self._json("POST", "/v1/webhooks", body=body)
        return result

    def webhooks(self) -> list[dict[str, Any]]:
        """The tenant's subscriptions (without secrets)."""
        result: list[dict[str, Any]] = self._request("GET", "/v1/webhooks")["webhooks"]
        return result

    def delete_webhook(self, webhook_id: str) -> None:
        """Unsubscribe (pending deliveries are cancelled)."""
        self._json("DELETE", f"/v1/webhooks/{_seg(webhook_id)}")

    def rotate_webhook_secret(self, webhook_id: str) -> dict[str, Any]:
        """A new secret; the old one keeps signing beside it for the overlap period."""
        path = f"/v1/webhooks/{_seg(webhook_id)}/rotate-secret"
        result: dict[str, Any] = self._json("POST", path, body={})
        return result

    def webhook_deliveries(self, webhook_id: str, *, page_size: int = 100) -> Iterator[Any]:
        """The subscription's delivery log, oldest first."""
        path = f"/v1/webhooks/{_seg(webhook_id)}/deliveries"
        cursor = None
        while True:
            page = self._request("GET", path, params={"limit": page_size, "cursor": cursor})
            yield from page["deliveries"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def replay_webhook(
        self,
        webhook_id: str,
        *,
        delivery_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[str]:
        """Queue again one delivery, or those queued in [``since``, ``until``) (RFC 3339);
        returns the new deliveries' ids."""
        body = _replay_body(delivery_id, since, until)
        path = f"/v1/webhooks/{_seg(webhook_id)}/replay"
        result: list[str] = self._json("POST", path, body=body)["replayed"]
        return result


def _replay_body(delivery_id: str | None, since: str | None, until: str | None) -> dict[str, Any]:
    """The body of ``POST /v1/webhooks/{id}/replay``: one delivery, or a time range."""
    if delivery_id is not None:
        return {"delivery_id": delivery_id}
    return {"from": since, "to": until}


def envelope_body(
    pdf: bytes,
    title: str,
    signers: Sequence[str] | Sequence[Mapping[str, Any]],
    order: str,
    expires_at: str | None,
    deliver: str | None,
) -> dict[str, Any] | None:
    """The JSON form of createEnvelope when ``signers`` are objects; None when they are
    strings (the raw-PDF form); TypeError when mixed."""
    kinds = {isinstance(s, str) for s in signers}
    if kinds == {True}:
        return None
    if kinds != {False}:
        raise TypeError("signers: all strings (seals, tenant:ID) or all objects, not both")
    body: dict[str, Any] = {
        "title": title,
        "document": {"name": title, "pdf_base64": base64.b64encode(pdf).decode()},
        "order": order,
        "signers": [dict(s) for s in signers],  # type: ignore[arg-type]
    }
    if expires_at is not None:
        body["expires_at"] = expires_at
    if deliver is not None:
        body["deliver"] = deliver
    return body


def _seg(value: str) -> str:
    """``value`` as one URL path segment (``/`` and the rest percent-encoded)."""
    return urllib.parse.quote(str(value), safe="")


def _needs_proof(log: TrustedLog, latest: Mapping[str, Any]) -> dict[str, int] | None:
    """The consistency proof to fetch (``from``, ``to``) when ``latest`` claims to be newer
    than the trusted checkpoint; None when :meth:`TrustedLog.observe` judges it alone (the
    first checkpoint, the same size, an older one, or a malformed answer)."""
    trusted, size = log.trusted, latest.get("size")
    if trusted is None or not isinstance(size, int) or size <= trusted.size:
        return None
    return {"from": trusted.size, "to": size}


def _map_proof_path(stream: str) -> str:
    return f"/v1/streams/{urllib.parse.quote(stream, safe='')}/map-proof"


def _checkpoint_of(answer: Any) -> Mapping[str, Any]:
    """The ``checkpoint`` member of a public fingerprint answer (must be a signed one)."""
    cp = answer.get("checkpoint") if isinstance(answer, Mapping) else None
    if not isinstance(cp, Mapping):
        raise NotProvableError("the answer names no checkpoint: nothing is sealed yet")
    return cp


def _latest_note(answer: Mapping[str, Any]) -> str:
    note = answer.get("note")
    if not isinstance(note, str):
        raise VerificationError("the checkpoint answer holds no signed note")
    return note


class AsyncClient:
    """Asynchronous client (aiohttp). Use as ``async with AsyncClient(...) as c``."""

    def __init__(
        self,
        base_url: str,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.retry = retry or RetryPolicy()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncClient:
        headers = {"User-Agent": USER_AGENT}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        self._session = aiohttp.ClientSession(headers=headers, timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        return (await self._send(method, path, body=body, params=params))[1]

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        once: bool = False,
    ) -> tuple[int, Any]:
        """One request; ``once``: no retry (operations that are not idempotent)."""
        if self._session is None:
            raise RuntimeError("use 'async with AsyncClient(...)'")
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        attempts = 1 if once else self.retry.attempts
        for attempt in range(attempts):
            try:
                async with self._session.request(
                    method, self.base_url + path, json=body, params=query
                ) as resp:
                    payload = await resp.read()
                    if resp.status < 400:
                        return resp.status, json.loads(payload)
                    if resp.status in RETRY_STATUSES and attempt + 1 < attempts:
                        await asyncio.sleep(
                            self.retry.delay(attempt, resp.headers.get("Retry-After"))
                        )
                        continue
                    raise _error(resp.status, payload)
            except (TimeoutError, aiohttp.ClientConnectionError):
                if attempt + 1 >= attempts:
                    raise
                await asyncio.sleep(self.retry.delay(attempt, None))
        raise AssertionError("unreachable")

    async def append(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Append one event (retried safely); returns the stored event, with ``duplicate`` true
        when it had been stored before (a retry)."""
        status, result = await self._send("POST", "/v1/events", body=_with_id(event))
        return {**result, "duplicate": status == 200}

    async def append_batch(self, events: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append events atomically (retried safely); returns the stored events."""
        body = {"events": [_with_id(e) for e in events]}
        page = await self._request("POST", "/v1/events/batch", body=body)
        result: list[dict[str, Any]] = page["events"]
        return result

    async def events(
        self, *, page_size: int = 500, **filters: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every event matching ``filters``."""
        cursor = None
        while True:
            page = await self._request(
                "GET", "/v1/events", params={**filters, "limit": page_size, "cursor": cursor}
            )
            for e in page["events"]:
                yield e
            cursor = page["next_cursor"]
            if cursor is None:
                return

    async def event(self, index: int) -> dict[str, Any]:
        """One event."""
        result: dict[str, Any] = await self._request("GET", f"/v1/events/{index}")
        return result

    async def proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        """The inclusion proof of event ``index``."""
        result: dict[str, Any] = await self._request(
            "GET", f"/v1/events/{index}/proof", params={"size": size}
        )
        return result

    async def verified_event(self, index: int, verifier: NoteVerifier) -> VerifiedEvent:
        """Fetch event ``index`` and its proof and check them locally against ``verifier``."""
        return check_event_proof(await self.event(index), await self.proof(index), verifier, index)

    async def checkpoint(self, size: int | None = None) -> dict[str, Any]:
        """A checkpoint (latest by default)."""
        result: dict[str, Any] = await self._request(
            "GET", f"/v1/checkpoints/{'latest' if size is None else size}"
        )
        return result

    async def verified_consistency(
        self, old_size: int, new_size: int | None, verifier: NoteVerifier
    ) -> tuple[Checkpoint, ...]:
        """Fetch and check that checkpoint ``new_size`` extends ``old_size``."""
        proof = await self._request(
            "GET", "/v1/checkpoints/consistency", params={"from": old_size, "to": new_size}
        )
        return check_consistency(proof, verifier, old_size, new_size)

    async def verified_latest(self, log: TrustedLog) -> Checkpoint:
        """:meth:`Client.verified_latest`, asynchronously."""
        return await self._trust(log, await self.checkpoint())

    async def _trust(self, log: TrustedLog, answer: Mapping[str, Any]) -> Checkpoint:
        span = _needs_proof(log, answer)
        if span is None:
            return log.observe(_latest_note(answer))
        proof = await self._request("GET", "/v1/checkpoints/consistency", params=span)
        return log.advance(proof)

    async def stream_head(
        self, stream: str, log: TrustedLog, *, tenant: str | None = None
    ) -> VerifiedStreamHead:
        """:meth:`Client.stream_head`, asynchronously."""
        cp = await self.verified_latest(log)
        map_root(cp)
        answer = await self._request(
            "GET", _map_proof_path(stream), params={"size": cp.size, "tenant": tenant}
        )
        return check_stream_head(answer, cp, stream, tenant)

    async def document_events_complete(self, sha256: str, log: TrustedLog) -> VerifiedDocument:
        """:meth:`Client.document_events_complete`, asynchronously."""
        answer = await self.public_fingerprint(sha256)
        cp = await self._trust(log, _checkpoint_of(answer))
        return check_document_answer(answer, cp, sha256)

    async def public_fingerprint(self, sha256: str) -> dict[str, Any]:
        """Public facts about a document fingerprint (no key needed)."""
        result: dict[str, Any] = await self._request("GET", f"/v1/public/fingerprints/{sha256}")
        return result

    # -- envelopes signed from links (docs/FORMAT.md §7.1) -------------------------------------

    async def create_envelope(
        self,
        pdf: bytes,
        title: str,
        signers: Sequence[Mapping[str, Any]],
        *,
        order: str = "sequential",
        expires_at: str | None = None,
        deliver: str | None = None,
    ) -> dict[str, Any]:
        """:meth:`Client.create_envelope`'s JSON form, asynchronously (sent once)."""
        body = envelope_body(pdf, title, signers, order, expires_at, deliver)
        if body is None:
            raise TypeError("signers: want objects (the JSON form)")
        result: dict[str, Any] = (await self._send("POST", "/v1/envelopes", body=body,
                                                   once=True))[1]  # fmt: skip
        return result

    async def envelopes(
        self, *, page_size: int = 50, **filters: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """:meth:`Client.envelopes`, asynchronously."""
        cursor = None
        while True:
            params = {**filters, "limit": page_size, "cursor": cursor}
            page = await self._request("GET", "/v1/envelopes", params=params)
            for e in page["envelopes"]:
                yield e
            cursor = page["next_cursor"]
            if cursor is None:
                return

    async def void_envelope(self, envelope_id: str, reason: str) -> dict[str, Any]:
        """:meth:`Client.void_envelope`, asynchronously (sent once)."""
        path = f"/v1/envelopes/{_seg(envelope_id)}/void"
        result: dict[str, Any] = (await self._send("POST", path, body={"reason": reason},
                                                   once=True))[1]  # fmt: skip
        return result

    # -- callback subscriptions (an admin key; docs/WEBHOOKS.md) ---------------------------
    # Changes are sent once (no automatic retry): a repeated subscription, rotation or replay
    # is not harmless.

    async def create_webhook(
        self, url: str, events: list[str], *, receipts: bool = False
    ) -> dict[str, Any]:
        """:meth:`Client.create_webhook`, asynchronously: the answer holds ``id`` and the
        ``secret`` (``whsec_…``), shown only here."""
        body = {"url": url, "events": events, "receipts": receipts}
        result: dict[str, Any] = (await self._send("POST", "/v1/webhooks", body=body, once=True))[1]
        return result

    async def webhooks(self) -> list[dict[str, Any]]:
        """The tenant's subscriptions (without secrets)."""
        result: list[dict[str, Any]] = (await self._request("GET", "/v1/webhooks"))["webhooks"]
        return result

    async def delete_webhook(self, webhook_id: str) -> None:
        """Unsubscribe (pending deliveries are cancelled)."""
        await self._send("DELETE", f"/v1/webhooks/{_seg(webhook_id)}", once=True)

    async def rotate_webhook_secret(self, webhook_id: str) -> dict[str, Any]:
        """A new secret; the old one keeps signing beside it for the overlap period."""
        path = f"/v1/webhooks/{_seg(webhook_id)}/rotate-secret"
        result: dict[str, Any] = (await self._send("POST", path, body={}, once=True))[1]
        return result

    async def webhook_deliveries(
        self, webhook_id: str, *, page_size: int = 100
    ) -> AsyncIterator[dict[str, Any]]:
        """The subscription's delivery log, oldest first."""
        path = f"/v1/webhooks/{_seg(webhook_id)}/deliveries"
        cursor = None
        while True:
            page = await self._request("GET", path, params={"limit": page_size, "cursor": cursor})
            for d in page["deliveries"]:
                yield d
            cursor = page["next_cursor"]
            if cursor is None:
                return

    async def replay_webhook(
        self,
        webhook_id: str,
        *,
        delivery_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[str]:
        """Queue again one delivery, or those queued in [``since``, ``until``) (RFC 3339);
        returns the new deliveries' ids."""
        body = _replay_body(delivery_id, since, until)
        path = f"/v1/webhooks/{_seg(webhook_id)}/replay"
        result: list[str] = (await self._send("POST", path, body=body, once=True))[1]["replayed"]
        return result
