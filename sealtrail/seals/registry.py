"""The seal registry: seals, their keys and certificates, and each tenant's internal CA.

Records live in the ledger's database, behind :class:`~.store.SealStore` (seals and CAs).
Private keys are stored only as :class:`~sealtrail.signing.keystore.KeyProtector` blobs: a
seal's is bound to its seal id, a CA's to ``"ca:" + tenant``, so a blob moved to another record
does not open.

Every lifecycle change (``seal:created``, ``seal:suspended``, ``seal:resumed``,
``seal:revoked``) is queued as a ledger event in the same atomic operation as the change
(:mod:`sealtrail.seals.outbox`, outbox). Statuses: ``active`` ⇄ ``suspended`` → ``revoked``
(final). Only an active seal signs.

Time is a parameter (``now``, timezone-aware); nothing here reads the clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sealtrail.core.errors import ConfigError, ConflictError, InvalidInputError, NotFoundError
from sealtrail.core.event import format_time
from sealtrail.seals import trust as trust_mod
from sealtrail.seals.errors import SealStateError
from sealtrail.seals.outbox import new_id, outbox_event
from sealtrail.seals.store import SealStatusChange, SealStore, StoredCa, StoredSeal
from sealtrail.signing import pki
from sealtrail.signing.appearance import SealKind, generate_seal, validate_png
from sealtrail.signing.errors import KeyProtectionError
from sealtrail.signing.keystore import KeyProtector
from sealtrail.signing.sign import MAX_APPEARANCE_BYTES, MAX_APPEARANCE_PIXELS, MAX_TEXT_CHARS

STATUSES = ("active", "suspended", "revoked")
SOURCE_INTERNAL = "internal-ca"
#: imported, chaining to a configured CA (the operator's trust list or the tenant's own)
SOURCE_PKCS12 = "pkcs12"
#: imported, chaining to no configured CA (allowed per tenant; never trusted)
SOURCE_SELF_DECLARED = trust_mod.SELF_DECLARED
_DER = serialization.Encoding.DER
#: how often a status change is re-tried when the seal changed between read and write
_STATUS_ATTEMPTS = 3


class TenantRecord(Protocol):
    """What the seal code reads of a tenant (``sealtrail.directory.store.Tenant`` is one)."""

    @property
    def id(self) -> str:
        """The tenant's id."""

    @property
    def parent(self) -> str | None:
        """Its group headquarters, if any."""


class Tenants(Protocol):
    """The part of the directory the registry reads (a ``DirectoryStore``)."""

    def tenant(self, tenant_id: str) -> TenantRecord | None:
        """One tenant, or None."""


@dataclass(frozen=True)
class SealRecord:
    """A seal as stored, without its key and picture (those are read on demand)."""

    id: str
    tenant: str
    kind: SealKind
    name: str
    purpose: str
    code: str
    remarks: str
    status: str
    status_reason: str | None
    status_at: str | None
    source: str
    appearance_source: str
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """The seal as the API and CLI show it (never the key)."""
        c = self.certificate
        return {
            "id": self.id,
            "tenant": self.tenant,
            "kind": self.kind.value,
            "name": self.name,
            "purpose": self.purpose,
            "code": self.code,
            "remarks": self.remarks,
            "status": self.status,
            "status_reason": self.status_reason,
            "status_at": self.status_at,
            "source": self.source,
            "appearance": self.appearance_source,
            "certificate": {
                "subject": c.subject.rfc4514_string(),
                "issuer": c.issuer.rfc4514_string(),
                "serial": format(c.serial_number, "x"),
                "not_before": format_time(c.not_valid_before_utc),
                "not_after": format_time(c.not_valid_after_utc),
                "sha256": fingerprint(c),
            },
            "created_at": self.created_at,
        }

    def signing_roots(self) -> tuple[x509.Certificate, ...]:
        """The top of this seal's own chain (or the certificate itself without one), for the
        signer's own checks while signing (pyHanko builds the B-LT validation data along it).

        Never a trust root for validation: validators use :mod:`sealtrail.seals.trust`, whose
        roots are configured, so a self-signed import does not vouch for itself."""
        return (self.chain[-1],) if self.chain else (self.certificate,)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of a certificate's DER, hex."""
    return hashlib.sha256(cert.public_bytes(_DER)).hexdigest()


def _record(r: StoredSeal) -> SealRecord:
    return SealRecord(
        r.id, r.tenant, SealKind(r.kind), r.name, r.purpose, r.code, r.remarks, r.status,
        r.status_reason, r.status_at, r.source, r.appearance_source,
        x509.load_der_x509_certificate(r.certificate),
        tuple(x509.load_der_x509_certificate(c) for c in r.chain), r.created_at,
    )  # fmt: skip


def _text(what: str, value: str, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what}: want a string")
    value = value.strip()
    if required and not value:
        raise InvalidInputError(f"{what}: is required")
    if len(value) > limit or not value.isprintable():
        raise InvalidInputError(f"{what}: want at most {limit} printable characters")
    return value


def ensure_ca(
    seals: SealStore, protector: KeyProtector, tenant: str, now: datetime
) -> pki.InternalCa:
    """``tenant``'s internal CA, created (and its key protected) on first use."""
    stored = seals.ca(tenant)
    if stored is None:
        ca = pki.create_internal_ca(tenant, now=now)
        blob = protector.seal(ca.key, f"ca:{tenant}".encode())
        # another process may win the race: add_ca returns its CA, which is used instead
        stored = seals.add_ca(
            StoredCa(tenant, ca.certificate.public_bytes(_DER), blob, format_time(now))
        )
    key = protector.open(stored.key_blob, f"ca:{tenant}".encode())
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyProtectionError("the internal CA key is not an EC key")
    return pki.InternalCa(tenant, key, x509.load_der_x509_certificate(stored.certificate))


def tenant_crl(
    seals: SealStore, protector: KeyProtector, tenant: str, now: datetime
) -> x509.CertificateRevocationList:
    """A fresh CRL of ``tenant``'s internal CA listing its revoked seals' certificates (with
    their revocation times), for embedding at PAdES B-LT (RFC 5280 §5)."""
    ca = ensure_ca(seals, protector, tenant, now)
    revoked = [
        (
            x509.load_der_x509_certificate(s.certificate).serial_number,
            datetime.fromisoformat(s.status_at) if s.status_at else now,
        )
        for s in seals.seals([tenant], "revoked")
        if s.source == SOURCE_INTERNAL
    ]
    return pki.issue_crl(ca, revoked, now=now)


def ca_certificates(
    seals: SealStore, tenants: Collection[str] | None = None
) -> list[x509.Certificate]:
    """The internal CA certificates of ``tenants`` (all when None)."""
    return [x509.load_der_x509_certificate(ca.certificate) for ca in seals.cas(tenants)]


def has_keys(seals: SealStore) -> bool:
    """True when a CA key or a seal key is stored (so the master key must open it)."""
    return seals.any_ca() is not None or seals.any_seal_key() is not None


def check_master_key(seals: SealStore, protector: KeyProtector) -> None:
    """Raise ConfigError unless ``protector`` opens the stored keys (one CA and one seal key
    are tried): a wrong master key must stop the service at start, not at the first signing."""
    probes = []
    if (ca := seals.any_ca()) is not None:
        probes.append((ca.key_blob, f"ca:{ca.tenant}".encode()))
    if (key := seals.any_seal_key()) is not None:
        probes.append((key.key_blob, key.seal_id.encode()))
    for blob, ad in probes:
        try:
            protector.open(blob, ad)
        except KeyProtectionError:
            raise ConfigError(
                "the seal master key does not open the seal keys stored in this ledger "
                "(wrong seal_key / seal_key_file, or seal.key replaced)"
            ) from None


def create_seal(
    seals: SealStore,
    directory: Tenants,
    protector: KeyProtector,
    *,
    tenant: str,
    kind: SealKind,
    name: str,
    actor: dict[str, Any],
    now: datetime,
    purpose: str = "",
    code: str = "",
    remarks: str = "",
    png: bytes | None = None,
    pkcs12: tuple[bytes, bytes] | None = None,
    trust: trust_mod.TrustList | None = None,
) -> SealRecord:
    """Create a seal of ``tenant`` and queue its ``seal:created`` event.

    The appearance is ``png`` (validated) or generated; the certificate comes from ``pkcs12``
    (data, password) or from the tenant's internal CA. An imported certificate must chain to a
    CA of ``trust`` allowed for ``tenant`` (none when None), or the tenant must be allowed
    self-declared seals (:func:`sealtrail.seals.trust.check_import`; raises
    SealCertificateUntrustedError otherwise). Requires an existing tenant (looked up in
    ``directory``, the ledger store).
    """
    name = _text("name", name, 40, required=True)
    purpose = _text("purpose", purpose, 24)
    code = _text("code", code, 24)
    remarks = _text("remarks", remarks, MAX_TEXT_CHARS)
    if directory.tenant(tenant) is None:
        raise NotFoundError(f"no tenant {tenant!r}")
    seal_id = new_id("seal")
    if png is not None:
        validate_png(png, max_bytes=MAX_APPEARANCE_BYTES, max_pixels=MAX_APPEARANCE_PIXELS)
        picture, appearance_source = png, "uploaded"
    else:
        shown = (purpose, code) if kind.is_round else ("", "")
        picture = generate_seal(kind, name, purpose=shown[0], code=shown[1])
        appearance_source = "generated"
    if pkcs12 is not None:
        bundle = pki.import_pkcs12(pkcs12[0], pkcs12[1], at_time=now)
        verdict = trust_mod.check_import(bundle, tenant, trust or trust_mod.TrustList(), now)
        source = SOURCE_SELF_DECLARED if verdict == trust_mod.SELF_DECLARED else SOURCE_PKCS12
    else:
        ca = ensure_ca(seals, protector, tenant, now)
        bundle = pki.issue_seal_certificate(ca, seal_name=name, kind=kind, seal_id=seal_id, now=now)
        source = SOURCE_INTERNAL
    blob = protector.seal(bundle.key, seal_id.encode())
    stored = StoredSeal(
        seal_id, tenant, kind.value, name, purpose, code, remarks, "active", None, None, source,
        appearance_source, bundle.certificate.public_bytes(_DER),
        tuple(c.public_bytes(_DER) for c in bundle.chain), format_time(now),
    )  # fmt: skip
    event = {
        "stream": f"seal:{seal_id}",
        "type": "seal:created",
        "actor": actor,
        "attributes": {
            "seal_id": seal_id,
            "kind": kind.value,
            "name": name,
            "purpose": purpose,
            "remarks": remarks,
            "source": source,
            "appearance": appearance_source,
            "cert_sha256": fingerprint(bundle.certificate),
            "cert_subject": bundle.certificate.subject.rfc4514_string()[:4096],
            "cert_issuer": bundle.certificate.issuer.rfc4514_string()[:4096],
        },
    }
    seals.insert_seal(
        stored, appearance=picture, key_blob=blob, events=[outbox_event(tenant, event)]
    )
    found = get_seal(seals, seal_id)
    assert found is not None
    return found


def get_seal(seals: SealStore, seal_id: str) -> SealRecord | None:
    """The seal ``seal_id``, or None."""
    stored = seals.seal(seal_id)
    return None if stored is None else _record(stored)


def visible_seal(seals: SealStore, seal_id: str, tenants: Collection[str]) -> SealRecord:
    """The seal if it belongs to one of ``tenants``; NotFoundError otherwise (no existence
    leak across tenants)."""
    seal = get_seal(seals, seal_id)
    if seal is None or seal.tenant not in tenants:
        raise NotFoundError(f"no seal {seal_id[:80]!r}")
    return seal


def list_seals(
    seals: SealStore, tenants: Collection[str] | None = None, status: str | None = None
) -> list[SealRecord]:
    """Seals of ``tenants`` (all when None), optionally of one status, oldest first."""
    return [_record(s) for s in seals.seals(tenants, status)]


def appearance(seals: SealStore, seal_id: str) -> bytes:
    """The seal's PNG. Requires an existing seal."""
    png = seals.seal_appearance(seal_id)
    if png is None:
        raise NotFoundError(f"no seal {seal_id!r}")
    return png


def open_key(seals: SealStore, protector: KeyProtector, seal: SealRecord) -> pki.CertifiedKey:
    """The seal's key, certificate and chain, for signing. Raises SealStateError unless the
    seal is active (re-read inside, so a suspension is seen at once)."""
    stored = seals.seal_key(seal.id)
    if stored is None:
        raise NotFoundError(f"no seal {seal.id!r}")
    if stored.status != "active":
        raise SealStateError(f"seal {seal.id} is {stored.status}, want active")
    key = protector.open(stored.key_blob, seal.id.encode())
    return pki.CertifiedKey(key, seal.certificate, seal.chain)


_TRANSITIONS = {
    "suspended": ({"active"}, "seal:suspended"),
    "active": ({"suspended"}, "seal:resumed"),
    "revoked": ({"active", "suspended"}, "seal:revoked"),
}


def set_status(
    seals: SealStore,
    seal_id: str,
    status: str,
    *,
    reason: str,
    actor: dict[str, Any],
    now: datetime,
) -> SealRecord:
    """Suspend (``suspended``), resume (``active``) or revoke (``revoked``) a seal, with a
    reason, and queue the event. Raises ConflictError for a transition the state does not
    allow (revoked is final).

    The change is a compare-and-swap on the status read here: if another change lands in
    between, the seal is read again and the transition re-checked against its new status.
    """
    if status not in _TRANSITIONS:
        raise InvalidInputError(f"status: want one of {', '.join(_TRANSITIONS)}, got {status!r}")
    reason = _text("reason", reason, 1000, required=status != "active")
    allowed, etype = _TRANSITIONS[status]
    at = format_time(now)
    for attempt in range(_STATUS_ATTEMPTS):
        seal = seals.seal(seal_id)
        if seal is None:
            raise NotFoundError(f"no seal {seal_id!r}")
        if seal.status not in allowed:
            raise ConflictError(f"seal {seal_id} is {seal.status}: cannot become {status}")
        cert = x509.load_der_x509_certificate(seal.certificate)
        event = {
            "stream": f"seal:{seal_id}",
            "type": etype,
            "actor": actor,
            "attributes": {
                "seal_id": seal_id,
                "from": seal.status,
                "to": status,
                "reason": reason,
                "cert_sha256": fingerprint(cert),
            },
        }
        change = SealStatusChange(seal_id, seal.status, status, reason or None, at)
        try:
            seals.set_seal_status(change, [outbox_event(seal.tenant, event)])
            break
        except ConflictError:
            if attempt + 1 == _STATUS_ATTEMPTS:
                raise
    found = get_seal(seals, seal_id)
    assert found is not None
    return found
