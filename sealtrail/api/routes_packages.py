"""Routes for certification packages (docs/FORMAT.md §8): exports for auditors, and the public
check of an uploaded package that the portal offers.

* ``GET /v1/streams/{stream}/package`` — one stream's package (HQ auditors name the
  subsidiary with ``?tenant=``, as for ``GET /v1/streams/{stream}``);
* ``GET /v1/package?stream=…&type=…&actor=…&document=…&from=…&to=…&tenant=…`` — the package of
  an auditor's query (the filters of ``GET /v1/events``), at most :data:`MAX_EVENTS` events;
* ``POST /v1/public/packages/verify`` — anyone: the verifier's report (JSON) on an uploaded
  ZIP, with this service's ledger key and roots pinned, and no chain look-up (no RPC).

An export is built off the event loop (:func:`~sealtrail.export.service_seal.make_package`:
reads, drawing and zipping in worker threads; the report sealed with a timestamp from the
service's TSA) into an unnamed temporary file, hashed, recorded as an ``export`` event (§8.7)
*before* a byte is sent, then streamed with its SHA-256 in ``X-Sealtrail-Package-SHA256``.
A client that disconnects gets nothing more; the record stays (the package was made).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from sealtrail.api.appends import append_events
from sealtrail.api.context import (
    in_thread,
    json_response,
    principal,
    query_params,
    services,
    visible_tenant,
)
from sealtrail.api.directory import Principal
from sealtrail.api.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from sealtrail.api.routes_events import FILTERS, event_query
from sealtrail.api.settings import Settings, public_url, report_language_for, timezone_for
from sealtrail.core.errors import NotFoundError
from sealtrail.core.event import format_time, parse_event_input
from sealtrail.export.evidence import Selection
from sealtrail.export.package import PackageInputs, export_event
from sealtrail.export.service_seal import ServiceSeal, load_service_seal, make_package
from sealtrail.ledger.log import utc_now
from sealtrail.ledger.store import EventQuery
from sealtrail.seals.store import SealStore
from sealtrail.signing.masterkey import load_master_key
from sealtrail.verifier.verify import verify_package

#: the most events one package served over HTTP may hold (larger: ``sealtrail export``)
MAX_EVENTS = 10_000
#: public verifications running at once (each holds a package in memory and a CPU)
MAX_VERIFYING = 2
SHA256_HEADER = "X-Sealtrail-Package-SHA256"
EVENT_HEADER = "X-Sealtrail-Export-Event"
ZIP_TYPES = ("application/zip", "application/octet-stream")
_CHUNK = 256 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class PackageDesk:
    """What package routes share: the TSA the report seals use, the service seal (loaded on
    first use, re-read when its certificate has expired) and the verification slots."""

    tsa_urls: tuple[str, ...]
    tsa_roots: tuple[x509.Certificate, ...]
    verifying: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_VERIFYING))
    _seal: ServiceSeal | None = None

    @property
    def tsa_roots_pem(self) -> bytes:
        """The TSA roots as ``certs/tsa-roots.pem`` holds them."""
        return b"".join(r.public_bytes(Encoding.PEM) for r in self.tsa_roots)

    def service_seal(self, s: Settings, now: datetime) -> ServiceSeal:
        """The service seal (blocking: reads and decrypts files; call in a worker thread)."""
        seal = self._seal
        if seal is None or now >= seal.key.certificate.not_valid_after_utc:
            key = load_master_key(s.seal_key, s.seal_key_file, s.data_dir)
            seal = self._seal = load_service_seal(s.data_dir, key, now=now)
        return seal


PACKAGES = web.AppKey("packages", PackageDesk)


def _actor(p: Principal) -> dict[str, str]:
    return {"id": f"key:{p.key_id}", "role": p.role}


def _seal_picture(seals: SealStore) -> Callable[[str, str], bytes | None]:
    """The report's seal pictures: a seal's registered picture, only for its own tenant."""

    def picture(tenant: str, seal_id: str) -> bytes | None:
        seal = seals.seal(seal_id)
        if seal is None or seal.tenant != tenant:
            return None
        return seals.seal_appearance(seal_id)

    return picture


def _sha256_of(f: IO[bytes]) -> tuple[str, int]:
    h = hashlib.sha256()
    f.seek(0)
    size = 0
    while chunk := f.read(1 << 20):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


async def _export(
    request: web.Request,
    p: Principal,
    selection: Selection,
    record_in: tuple[str, str | None],
    filename: str,
) -> web.StreamResponse:
    """Build the package of ``selection``, record it in ``record_in`` (tenant, stream or None
    for the exports stream), and stream it."""
    svc = services(request)
    desk = request.config_dict[PACKAGES]
    now = utc_now()
    seal = await in_thread(lambda: desk.service_seal(svc.settings, now))
    inputs = PackageInputs(
        created_at=format_time(now),
        created_by={"tenant": p.tenant, "key_id": p.key_id, "role": p.role},
        tsa_roots_pem=desk.tsa_roots_pem,
        service_seal_pem=seal.pem(),
        portal_url=public_url(svc.settings),
        timezone=timezone_for(svc.settings, p.tenant),
        language=report_language_for(svc.settings, p.tenant),
        seal_picture=_seal_picture(svc.stores.seals),
    )
    with tempfile.TemporaryFile(prefix="sealtrail-package-") as f:
        ev = await make_package(
            svc.ledger, svc.stores, selection, inputs, seal, desk.tsa_urls, desk.tsa_roots, f,
            max_events=MAX_EVENTS,
        )  # fmt: skip
        digest, size = await in_thread(lambda: _sha256_of(f))
        tenant, stream = record_in
        extra: dict[str, str | int] = {"exported_by_tenant": p.tenant}
        if selection.kind == "query":
            extra["query"] = " ".join(f"{k}={v}" for k, v in sorted(selection.filters.items()))
        record = export_event(stream, digest, ev, _actor(p), extra)
        (appended,) = await append_events(svc, tenant, [parse_event_input(record)])
        resp = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="{filename}-{digest[:12]}.zip"',
                SHA256_HEADER: digest,
                EVENT_HEADER: str(appended.event.index),
                "Cache-Control": "no-store",
            }
        )
        resp.content_length = size
        await resp.prepare(request)
        f.seek(0)
        while chunk := await in_thread(lambda: f.read(_CHUNK)):
            await resp.write(chunk)
        await resp.write_eof()
        return resp


async def stream_package(request: web.Request) -> web.StreamResponse:
    """GET /v1/streams/{stream}/package — the certification package of one stream."""
    p = await principal(request, "auditor")
    params = query_params(request, ("tenant",))
    stream = request.match_info["stream"]
    if not 1 <= len(stream) <= 256:
        raise NotFoundError(f"no stream {stream[:64]!r}")
    # Chains are per tenant: an HQ auditor names the subsidiary, else its own; another
    # tenant's auditor learns nothing (404, as for GET /v1/streams/{stream}).
    (tenant,) = visible_tenant(p, params.get("tenant") or p.tenant)
    store = services(request).stores
    head = await in_thread(
        lambda: store.ledger.query(EventQuery((tenant,), stream=stream), limit=1)
    )
    if not head:
        raise NotFoundError(f"no stream {stream!r}")
    safe = _UNSAFE.sub("_", stream)[:80].strip("_.") or "stream"
    return await _export(
        request,
        p,
        Selection.of_stream(tenant, stream),
        (tenant, stream),
        f"sealtrail-package-{safe}",
    )


async def query_package(request: web.Request) -> web.StreamResponse:
    """GET /v1/package — the certification package of an auditor's query (GET /v1/events's
    filters), at most MAX_EVENTS events (else 400 too_many_events)."""
    p = await principal(request, "auditor")
    params = query_params(request, FILTERS)
    q = event_query(params, visible_tenant(p, params.get("tenant")))
    selection = Selection.of_query(q, params)
    return await _export(request, p, selection, (p.tenant, None), "sealtrail-package-query")


async def public_verify(request: web.Request) -> web.Response:
    """POST /v1/public/packages/verify — the verifier's report on an uploaded package."""
    svc = services(request)
    svc.limiter.check(request.remote or "unknown")
    query_params(request, ())
    if request.content_type not in ZIP_TYPES:
        raise UnsupportedMediaTypeError(
            f"want Content-Type application/zip, got {request.content_type or 'none'}"
        )
    limit = svc.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLargeError(f"package of {request.content_length} bytes exceeds {limit}")
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLargeError(f"package exceeds {limit} bytes") from None
    desk = request.config_dict[PACKAGES]
    seal = await in_thread(lambda: desk.service_seal(svc.settings, utc_now()))
    roots = [*desk.tsa_roots, seal.ca]
    key = svc.ledger.verifier.vkey
    async with desk.verifying:
        # verify_package runs pyHanko with asyncio.run: never on this loop's thread.
        report = await in_thread(lambda: verify_package(data, trust_roots=roots, ledger_key=key))
    return json_response(report.to_json())


def setup(
    app: web.Application, tsa_urls: Sequence[str], tsa_roots: Sequence[x509.Certificate]
) -> None:
    """Register the package routes; reports are sealed with timestamps from ``tsa_urls``,
    whose tokens chain to ``tsa_roots``."""
    app[PACKAGES] = PackageDesk(tuple(tsa_urls), tuple(tsa_roots))
    r = app.router
    r.add_get("/v1/streams/{stream}/package", stream_package)
    r.add_get("/v1/package", query_package)
    r.add_post("/v1/public/packages/verify", public_verify)
