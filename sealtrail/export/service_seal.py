"""The Sealtrail service seal: the key and certificate that seal every ``report.pdf``.

It is the service's own, not a tenant's: a self-signed internal CA "Sealtrail service seal CA"
and one seal certificate under it, made on first use in ``DATA_DIR/service-seal/``::

    ca.pem     the CA certificate (what a verifier pins with --trust-root)
    ca.key     the CA's private key, encrypted at rest (keystore.KeyProtector, AES-256-GCM)
    seal.pem   the seal certificate
    seal.key   the seal's private key, encrypted at rest the same way

Both keys are encrypted under the seal master key (``seal_key`` / ``seal_key_file`` /
``DATA_DIR/seal.key``, :mod:`sealtrail.signing.masterkey`), never stored in clear. The directory
is created whole in a temporary sibling and renamed into place, so a crash or a race never
leaves half of it; a seal certificate that has expired is re-issued under the same CA.

This module is the builder's adapter to :mod:`sealtrail.signing` (PAdES with pyHanko); the
verifier proper never imports it. It also holds :func:`make_package`, the one pipeline that
builds a package (collect, draw, seal, render the files, zip), used by the CLI and the HTTP
export alike.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sealtrail.core.errors import ConfigError
from sealtrail.export.evidence import (
    MAX_PACKAGE_EVENTS,
    Evidence,
    EvidenceStore,
    Selection,
    collect,
)
from sealtrail.export.package import PackageInputs, package_files
from sealtrail.export.report_pdf import render_report
from sealtrail.ledger.files import fsync_dir, write_new
from sealtrail.ledger.log import Ledger
from sealtrail.signing.appearance import SealKind
from sealtrail.signing.keystore import KeyProtector
from sealtrail.signing.pki import (
    CertifiedKey,
    InternalCa,
    create_internal_ca,
    issue_crl,
    issue_seal_certificate,
)
from sealtrail.signing.sign import Placement, SignatureLevel, SigningPolicy, async_sign_pdf
from sealtrail.verifier.layout import write_zip

SEAL_DIR = "service-seal"
CA_NAME = "Sealtrail service seal"
SEAL_ID = "sealtrail-service-seal"
FIELD = "SealtrailServiceSeal"
_CA_AD = b"service-seal-ca"
_SEAL_AD = b"service-seal"


@dataclass(frozen=True)
class ServiceSeal:
    """The service seal's key and certificate (with the CA as its chain)."""

    key: CertifiedKey
    ca: x509.Certificate
    #: an empty CRL of the CA, issued when the seal was loaded: the revocation data that the
    #: report's B-LTA DSS carries (without it no validator can place the seal in the past)
    crl: x509.CertificateRevocationList | None = None

    def pem(self) -> bytes:
        """The seal certificate then the CA certificate, PEM (``certs/service-seal.pem``)."""
        enc = serialization.Encoding.PEM
        return self.key.certificate.public_bytes(enc) + self.ca.public_bytes(enc)


def _issue(ca: InternalCa, now: datetime) -> CertifiedKey:
    return issue_seal_certificate(
        ca, seal_name=CA_NAME, kind=SealKind.ORGANIZATION, seal_id=SEAL_ID, now=now
    )


def _create(directory: Path, protector: KeyProtector, now: datetime) -> None:
    ca = create_internal_ca("Sealtrail", now=now)
    seal = _issue(ca, now)
    tmp = directory.with_name(f".{directory.name}.tmp-{secrets.token_hex(4)}")
    tmp.mkdir(mode=0o700)
    pem = serialization.Encoding.PEM
    try:
        write_new(tmp / "ca.pem", ca.certificate.public_bytes(pem), 0o644)
        write_new(tmp / "ca.key", protector.seal(ca.key, _CA_AD), 0o600)
        write_new(tmp / "seal.pem", seal.certificate.public_bytes(pem), 0o644)
        write_new(tmp / "seal.key", protector.seal(seal.key, _SEAL_AD), 0o600)
        fsync_dir(tmp)
        try:
            tmp.rename(directory)
        except OSError:
            if not directory.is_dir():  # not another process that won the race: a real error
                raise
        fsync_dir(directory.parent)
    finally:
        if tmp.exists():
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"service seal: cannot read {path}: {type(e).__name__}") from None


def load_service_seal(data_dir: Path, master_key: bytes, *, now: datetime) -> ServiceSeal:
    """The service seal of ``data_dir``, made on first use (module docstring).

    Requires the 32-byte seal master key and an aware ``now``. Raises ConfigError for a
    damaged directory; KeyProtectionError when the master key does not open the keys.
    """
    protector = KeyProtector(master_key)
    directory = data_dir / SEAL_DIR
    if not directory.exists():
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _create(directory, protector, now)
    ca_cert = x509.load_pem_x509_certificate(_read(directory / "ca.pem"))
    cert = x509.load_pem_x509_certificate(_read(directory / "seal.pem"))
    key = protector.open(_read(directory / "seal.key"), _SEAL_AD)
    ca_key = protector.open(_read(directory / "ca.key"), _CA_AD)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ConfigError("service seal: the CA key is not an EC key")
    crl = issue_crl(InternalCa("Sealtrail", ca_key, ca_cert), [], now=now)
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    mismatched = key.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw)
    # Renewal replaces seal.key, then seal.pem: a crash between the two leaves a key that does
    # not match the certificate, and the next load simply renews again.
    if now >= cert.not_valid_after_utc or mismatched:
        fresh = _issue(InternalCa("Sealtrail", ca_key, ca_cert), now)
        tmp_key = directory / f".seal.key.tmp-{secrets.token_hex(4)}"
        write_new(tmp_key, protector.seal(fresh.key, _SEAL_AD), 0o600)
        tmp_key.replace(directory / "seal.key")
        tmp = directory / f".seal.pem.tmp-{secrets.token_hex(4)}"
        write_new(tmp, fresh.certificate.public_bytes(serialization.Encoding.PEM), 0o644)
        tmp.replace(directory / "seal.pem")
        fsync_dir(directory)
        return ServiceSeal(fresh, ca_cert, crl)
    return ServiceSeal(CertifiedKey(key, cert, (ca_cert,)), ca_cert, crl)


async def seal_report(
    pdf: bytes,
    seal: ServiceSeal,
    tsa_urls: Sequence[str],
    tsa_roots: Sequence[x509.Certificate],
) -> bytes:
    """``pdf`` sealed by the service seal, PAdES B-LTA: a signature timestamp from the first of
    ``tsa_urls`` that answers with a token chaining to ``tsa_roots``, the DSS (certificates and
    the seal CA's CRL; the development TSA publishes no revocation data) and a document
    timestamp over it. Reports are made anew at each export, so they are never renewed."""
    policy = SigningPolicy(
        timestamper_urls=tuple(tsa_urls),
        trust_roots=(seal.ca,),
        tsa_trust_roots=tuple(tsa_roots),
        crls=() if seal.crl is None else (seal.crl,),
    )
    return await async_sign_pdf(
        pdf,
        seal.key,
        Placement(FIELD),
        policy,
        reason="Sealtrail certificate of evidence",
        location="Sealtrail",
        level=SignatureLevel.B_LTA,
    )


async def make_package(
    ledger: Ledger,
    store: EvidenceStore,
    selection: Selection,
    inputs: PackageInputs,
    seal: ServiceSeal,
    tsa_urls: Sequence[str],
    tsa_roots: Sequence[x509.Certificate],
    out: BinaryIO,
    progress: Callable[[str], None] | None = None,
    *,
    max_events: int = MAX_PACKAGE_EVENTS,
) -> Evidence:
    """Build a package with a report sealed by ``seal``, writing the ZIP to ``out``; at most
    ``max_events`` events (else :class:`~.errors.TooManyEventsError`).

    The store reads, the drawing and the zipping run in worker threads, so a service's event
    loop keeps serving (the report's timestamp may come from that very service's TSA).
    """
    say = progress or (lambda _: None)
    say("collecting events and proofs")
    ev = await asyncio.to_thread(lambda: collect(ledger, store, selection, max_events=max_events))
    say(f"{len(ev.events)} events, proven in checkpoint {ev.target.size}; drawing the report")
    pdf = await asyncio.to_thread(render_report, ev, inputs)
    say("sealing the report (PAdES B-LTA)")
    sealed = await seal_report(pdf, seal, tsa_urls, tsa_roots)
    files = await asyncio.to_thread(package_files, ev, inputs, sealed)
    await asyncio.to_thread(
        write_zip, files, out, lambda done, total: say(f"writing {done}/{total} files")
    )
    return ev
