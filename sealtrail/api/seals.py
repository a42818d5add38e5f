"""What the seal routes share: the :class:`SealDesk` (registry, master key, TSA policy, the
seal trust list), PDF bodies, signing and validation off the event loop, actors, and report
JSON.

The desk is created by the app's lifecycle after the ledger is open (:func:`setup`): it checks
that the master key opens the stored keys (a wrong key stops the service with a clear error) and
appends any events left in the outbox by a crash (:mod:`sealtrail.seals.outbox`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from cryptography import x509

from sealtrail.api.context import SERVICES, RateLimiter, in_thread, services
from sealtrail.api.directory import Principal
from sealtrail.api.errors import UnsupportedMediaTypeError
from sealtrail.api.settings import Settings
from sealtrail.core.errors import InvalidInputError
from sealtrail.directory.store import DirectoryStore
from sealtrail.ledger.log import Ledger, utc_now
from sealtrail.seals import registry, trust
from sealtrail.seals.outbox import flush_async
from sealtrail.seals.registry import SealRecord
from sealtrail.seals.store import SealStore
from sealtrail.seals.trust import AttributedReport, Attribution, TrustList
from sealtrail.signing.errors import PdfTooLargeError
from sealtrail.signing.keystore import KeyProtector
from sealtrail.signing.masterkey import load_master_key
from sealtrail.signing.pdfinput import open_pdf
from sealtrail.signing.sign import Box, Placement, SignatureLevel, SigningPolicy, sign_pdf
from sealtrail.signing.validate import SignatureReport

T = TypeVar("T")
#: Every role: reads of what a key sees.
ANY_ROLE = ("integrator", "auditor", "admin")
#: Where a seal goes when the caller names no box: lower right of the page, 140 pt square.
DEFAULT_BOX: Box = (400, 60, 540, 200)


@dataclass
class SealDesk:
    """The seal service's state: the directory, the ledger, the seal store (built once, with
    every other store, when the app starts), settings and the TSA the signatures use."""

    settings: Settings
    directory: DirectoryStore
    ledger: Ledger
    seals: SealStore
    tsa_urls: tuple[str, ...]
    tsa_roots: tuple[x509.Certificate, ...]
    trust: TrustList = field(default_factory=TrustList)
    clock: Callable[[], datetime] = utc_now
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _protector: KeyProtector | None = None
    _public_limiter: RateLimiter | None = None

    @property
    def public_limiter(self) -> RateLimiter:
        """The rate limit of the public PDF validation (``public_pdf_rate_limit``)."""
        if self._public_limiter is None:
            self._public_limiter = RateLimiter(self.settings.public_pdf_rate_limit)
        return self._public_limiter

    @property
    def protector(self) -> KeyProtector:
        """The master key's protector (``DATA_DIR/seal.key`` is created on first use)."""
        if self._protector is None:
            s = self.settings
            self._protector = KeyProtector(load_master_key(s.seal_key, s.seal_key_file, s.data_dir))
        return self._protector

    def lock(self, name: str) -> asyncio.Lock:
        """A lock per envelope (signatures on one envelope take turns in this process)."""
        if len(self.locks) > 10_000:
            self.locks = {k: v for k, v in self.locks.items() if v.locked()}
        return self.locks.setdefault(name, asyncio.Lock())

    async def flush(self) -> None:
        """Append the events queued by registry changes (outbox)."""
        await flush_async(self.ledger, self.seals, in_thread)

    def policy(
        self, seal: SealRecord, crls: tuple[x509.CertificateRevocationList, ...] = ()
    ) -> SigningPolicy:
        """The signing policy for ``seal``: its own roots, the configured TSAs, and the
        revocation data to embed at B-LT."""
        return SigningPolicy(
            timestamper_urls=self.tsa_urls,
            trust_roots=seal.signing_roots(),
            tsa_trust_roots=self.tsa_roots,
            crls=crls,
            max_pdf_bytes=self.settings.max_pdf_bytes,
        )

    async def sign(
        self,
        seal: SealRecord,
        pdf: bytes,
        placement: Placement,
        *,
        reason: str = "",
        location: str = "",
        level: SignatureLevel = SignatureLevel.B_T,
    ) -> bytes:
        """``pdf`` sealed with ``seal`` (must be active), in a worker thread."""

        def run() -> bytes:
            key = registry.open_key(self.seals, self.protector, seal)
            png = registry.appearance(self.seals, seal.id)
            crls: tuple[x509.CertificateRevocationList, ...] = ()
            if level is not SignatureLevel.B_T and seal.source == registry.SOURCE_INTERNAL:
                now = datetime.now(UTC)
                crls = (registry.tenant_crl(self.seals, self.protector, seal.tenant, now),)
            return sign_pdf(
                pdf,
                key,
                placement,
                self.policy(seal, crls),
                appearance_png=png,
                reason=reason,
                location=location,
                remarks=seal.remarks,
                level=level,
            )

        return await in_thread(run)

    async def validate(self, pdf: bytes, tenants: Collection[str] | None) -> AttributedReport:
        """Validate ``pdf`` against the seal roots of ``tenants`` (all when None: every root
        of this deployment, as the public route does), each signature attributed."""

        def run() -> AttributedReport:
            return trust.validate_attributed(
                pdf,
                trust.validation_roots(self.seals, self.trust, tenants),
                trust.seal_index(self.seals),
                self.tsa_roots,
                at_time=datetime.now(UTC),
                max_pdf_bytes=self.settings.max_pdf_bytes,
            )

        return await in_thread(run)


SEAL_DESK = web.AppKey("seal_desk", SealDesk)


def desk(request: web.Request) -> SealDesk:
    """The app's seal desk."""
    return request.config_dict[SEAL_DESK]


def actor(p: Principal) -> dict[str, Any]:
    """The ledger actor for an API key."""
    return {"id": f"key:{p.key_id}", "org": p.tenant, "role": p.role}


def field_name() -> str:
    """A fresh signature field name."""
    return f"Seal_{secrets.token_hex(6)}"


async def read_pdf(request: web.Request) -> bytes:
    """The request body as a PDF: ``application/pdf``, at most ``max_pdf_bytes``, parseable."""
    if request.content_type != "application/pdf":
        raise UnsupportedMediaTypeError(
            f"want Content-Type application/pdf, got {request.content_type or 'none'}"
        )
    limit = desk(request).settings.max_pdf_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PdfTooLargeError(f"PDF of {request.content_length} bytes, want at most {limit}")
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PdfTooLargeError(f"PDF exceeds {limit} bytes") from None
    await in_thread(lambda: open_pdf(data, max_bytes=limit))
    return data


def pdf_response(data: bytes, filename: str) -> web.Response:
    """A PDF download."""
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def parse_box(raw: str) -> Box:
    """``x1,y1,x2,y2`` in PDF points."""
    parts = raw.split(",")
    if len(parts) != 4 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        raise InvalidInputError(f"box {raw[:40]!r}: want x1,y1,x2,y2 (non-negative integers)")
    x1, y1, x2, y2 = (int(p) for p in parts)
    if not (x1 < x2 <= 20_000 and y1 < y2 <= 20_000):
        raise InvalidInputError(f"box {raw[:40]!r}: want x1 < x2 and y1 < y2, at most 20000")
    return (x1, y1, x2, y2)


def level_param(raw: str | None) -> SignatureLevel:
    """``level``: ``B-T`` (default), ``B-LT`` (validation data embedded) or ``B-LTA`` (and a
    document timestamp), PAdES baseline."""
    if raw is None:
        return SignatureLevel.B_T
    for level in SignatureLevel:
        if raw == level.value:
            return level
    raise InvalidInputError(f"level {raw[:20]!r}: want B-T, B-LT or B-LTA")


def text_param(value: str, name: str) -> str:
    """A signature reason or location: at most 1000 characters, printable."""
    if len(value) > 1000 or not value.isprintable():
        raise InvalidInputError(f"{name}: want at most 1000 printable characters")
    return value


def opt_str(body: dict[str, Any], key: str, default: str = "") -> str:
    """An optional string field."""
    v = body.get(key, default)
    if v is None:
        return default
    if not isinstance(v, str):
        raise InvalidInputError(f"{key}: want a string")
    return v


def str_list(body: dict[str, Any], key: str) -> list[str]:
    """A required array of strings."""
    v = body.get(key)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InvalidInputError(f"{key}: want an array of strings")
    return v


def _root_json(a: Attribution) -> dict[str, Any] | None:
    r = a.root
    if r is None:
        return None
    return {"subject": r.certificate.subject.rfc4514_string(), "sha256": r.sha256,
            "kind": r.scope, "tenant": r.tenant}  # fmt: skip


def _seal_json(a: Attribution) -> dict[str, Any] | None:
    return None if a.seal is None else {"id": a.seal.id, "tenant": a.seal.tenant}


def _signature_json(s: SignatureReport, a: Attribution) -> dict[str, Any]:
    ts = s.timestamp
    return {
        "field": s.field_name,
        "signer": s.signer_subject,
        "subject": s.subject,
        "issuer": s.issuer,
        "certificate_sha256": s.certificate_sha256,
        "trust_root": _root_json(a),
        "seal": _seal_json(a),
        "remarks": s.seal_remarks,
        "reason": s.reason,
        "location": s.location,
        "intact": s.intact,
        "valid": s.valid,
        "trusted": s.trusted,
        "revoked": s.revoked,
        "timestamp": {
            "present": ts.present,
            "valid": ts.valid,
            "trusted": ts.trusted,
            "time": None if ts.time is None else ts.time.isoformat(),
            "tsa": ts.tsa_subject,
        },
        "coverage": s.coverage.value,
        "modification": s.modification.value,
        "modification_allowed": s.modification_allowed,
        "modification_detail": s.modification_detail,
        "status": s.status.value,
        "reasons": list(s.reasons),
    }


def report_json(ar: AttributedReport) -> dict[str, Any]:
    """A validation report as JSON (the API's, the public route's and ``validate-pdf
    --json``'s shape). Per signature: who (``subject``, ``issuer``, ``certificate_sha256`` of
    the signer certificate), the ``trust_root`` it chained to (null: untrusted) and the
    registered ``seal`` it belongs to (``{"id", "tenant"}``, null: none registered here).
    Nothing else of the registry is shown: every other field comes from the PDF itself."""
    r = ar.report
    return {
        "status": r.status.value,
        "ok": r.ok,
        "reasons": list(r.reasons),
        "signatures": [_signature_json(s, a) for s, a in zip(r.signatures, ar.attributions,
                                                             strict=True)],
    }  # fmt: skip


def summary_lines(obj: dict[str, Any]) -> list[str]:
    """One line per signature of a :func:`report_json` object: status, subject, issuer,
    trust root and seal (the CLI's text output)."""
    lines = []
    for sig in obj["signatures"]:
        root, seal = sig["trust_root"], sig["seal"]
        flags = f" [{', '.join(sig['reasons'])}]" if sig["reasons"] else ""
        anchor = f"{root['subject']} ({root['kind']})" if root else "none (untrusted)"
        owner = f"{seal['id']} of tenant {seal['tenant']}" if seal else "not registered here"
        lines += [
            f"{sig['field']}: {sig['status']}{flags}",
            f"  subject:    {sig['subject'] or sig['signer']}",
            f"  issuer:     {sig['issuer']}",
            f"  trust root: {anchor}",
            f"  seal:       {owner}",
        ]
    return lines


def trust_list(s: Settings) -> TrustList:
    """The seal trust list the settings name (ConfigError for an unusable file)."""
    return trust.load_trust_list(
        s.seal_ca_files, s.seal_ca_dir, s.seal_tenant_ca_dir, s.self_declared_seal_tenants
    )


def setup(
    app: web.Application, tsa_urls: Sequence[str], tsa_roots: Sequence[x509.Certificate]
) -> None:
    """Create the desk when the app starts (after the ledger is open)."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        svc = app[SERVICES]
        d = await in_thread(
            lambda: SealDesk(
                svc.settings,
                svc.stores.directory,
                svc.ledger,
                svc.stores.seals,
                tuple(tsa_urls),
                tuple(tsa_roots),
                trust_list(svc.settings),
            )
        )
        if await in_thread(lambda: registry.has_keys(d.seals)):
            # a wrong master key stops the start, with a clear error
            await in_thread(lambda: registry.check_master_key(d.seals, d.protector))
        await d.flush()
        app[SEAL_DESK] = d
        yield

    app.cleanup_ctx.append(lifecycle)


__all__ = [
    "ANY_ROLE",
    "SEAL_DESK",
    "SealDesk",
    "actor",
    "desk",
    "opt_str",
    "read_pdf",
    "report_json",
    "services",
    "str_list",
    "summary_lines",
    "trust_list",
]
