"""The seal registry: seals, their keys and certificates, and each tenant's internal CA.

Rows live in the ledger database (tables ``seals`` and ``seal_cas``, see
``sealtrail.ledger.sqlite_store``). Private keys are stored only as
:class:`~sealtrail.signing.keystore.KeyProtector` blobs: a seal's is bound to its seal id, a CA's
to ``"ca:" + tenant``, so a blob moved to another row does not open.

Every lifecycle change (``seal:created``, ``seal:suspended``, ``seal:resumed``,
``seal:revoked``) is queued as a ledger event in the same transaction as the change
(:mod:`sealtrail.signing.db`, outbox). Statuses: ``active`` ⇄ ``suspended`` → ``revoked``
(final). Only an active seal signs.

Time is a parameter (``now``, timezone-aware); nothing here reads the clock.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..ledger.errors import ConfigError, ConflictError, InvalidInputError, NotFoundError
from ..ledger.event import format_time
from ..ledger.sqlite_store import SQLiteStore
from . import pki
from .appearance import SealKind, generate_seal, validate_png
from .db import enqueue, new_id, reader, transaction
from .errors import KeyProtectionError, SealStateError
from .keystore import KeyProtector
from .sign import MAX_APPEARANCE_BYTES, MAX_APPEARANCE_PIXELS, MAX_TEXT_CHARS

STATUSES = ("active", "suspended", "revoked")
SOURCE_INTERNAL = "internal-ca"
SOURCE_PKCS12 = "pkcs12"
_DER = serialization.Encoding.DER

_COLS = (
    "id, tenant, kind, name, purpose, code, remarks, status, status_reason, status_at, source, "
    "appearance_source, certificate, chain, created_at"
)


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

    def trust_roots(self) -> tuple[x509.Certificate, ...]:
        """The roots this seal's certificate chains to: the chain's last certificate (the
        internal CA, or an imported chain's top), or the certificate itself without a chain."""
        return (self.chain[-1],) if self.chain else (self.certificate,)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of a certificate's DER, hex."""
    return hashlib.sha256(cert.public_bytes(_DER)).hexdigest()


def _pack(certs: Collection[x509.Certificate]) -> bytes:
    out = b""
    for c in certs:
        der = c.public_bytes(_DER)
        out += struct.pack(">I", len(der)) + der
    return out


def _unpack(data: bytes) -> tuple[x509.Certificate, ...]:
    certs, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        certs.append(x509.load_der_x509_certificate(data[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    return tuple(certs)


def _record(r: tuple[Any, ...]) -> SealRecord:
    return SealRecord(
        r[0], r[1], SealKind(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
        x509.load_der_x509_certificate(bytes(r[12])), _unpack(bytes(r[13])), r[14],
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
    store: SQLiteStore, protector: KeyProtector, tenant: str, now: datetime
) -> pki.InternalCa:
    """``tenant``'s internal CA, created (and its key protected) on first use."""
    row = (
        reader(store)
        .execute("SELECT certificate, key_blob FROM seal_cas WHERE tenant = ?", (tenant,))
        .fetchone()
    )
    if row is None:
        ca = pki.create_internal_ca(tenant, now=now)
        blob = protector.seal(ca.key, f"ca:{tenant}".encode())
        transaction(
            store,
            lambda con: con.execute(
                "INSERT OR IGNORE INTO seal_cas (tenant, certificate, key_blob, created_at) "
                "VALUES (?, ?, ?, ?)",
                (tenant, ca.certificate.public_bytes(_DER), blob, format_time(now)),
            ),
        )
        row = (
            reader(store)
            .execute(  # another process may have won the race: use its CA
                "SELECT certificate, key_blob FROM seal_cas WHERE tenant = ?", (tenant,)
            )
            .fetchone()
        )
    key = protector.open(bytes(row[1]), f"ca:{tenant}".encode())
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyProtectionError("the internal CA key is not an EC key")
    return pki.InternalCa(tenant, key, x509.load_der_x509_certificate(bytes(row[0])))


def tenant_crl(
    store: SQLiteStore, protector: KeyProtector, tenant: str, now: datetime
) -> x509.CertificateRevocationList:
    """A fresh CRL of ``tenant``'s internal CA listing its revoked seals' certificates (with
    their revocation times), for embedding at PAdES B-LT (RFC 5280 §5)."""
    ca = ensure_ca(store, protector, tenant, now)
    rows = reader(store).execute(
        "SELECT certificate, status_at FROM seals WHERE tenant = ? AND status = 'revoked' "
        "AND source = ?",
        (tenant, SOURCE_INTERNAL),
    )
    revoked = [
        (
            x509.load_der_x509_certificate(bytes(der)).serial_number,
            datetime.fromisoformat(at) if at else now,
        )
        for der, at in rows
    ]
    return pki.issue_crl(ca, revoked, now=now)


def ca_certificates(
    store: SQLiteStore, tenants: Collection[str] | None = None
) -> list[x509.Certificate]:
    """The internal CA certificates of ``tenants`` (all when None)."""
    con = reader(store)
    if tenants is None:
        rows = con.execute("SELECT certificate FROM seal_cas ORDER BY tenant")
    else:
        ids = list(tenants)
        marks = ",".join("?" * len(ids))
        sql = f"SELECT certificate FROM seal_cas WHERE tenant IN ({marks})"  # noqa: S608
        rows = con.execute(sql, ids)
    return [x509.load_der_x509_certificate(bytes(r[0])) for r in rows]


def trust_roots(
    store: SQLiteStore, tenants: Collection[str] | None = None
) -> list[x509.Certificate]:
    """Roots for validating seals of ``tenants`` (all when None): their internal CAs and the
    tops of their imported chains, without duplicates."""
    roots = {fingerprint(c): c for c in ca_certificates(store, tenants)}
    for seal in list_seals(store, tenants):
        if seal.source == SOURCE_PKCS12:
            for c in seal.trust_roots():
                roots.setdefault(fingerprint(c), c)
    return list(roots.values())


def check_master_key(store: SQLiteStore, protector: KeyProtector) -> None:
    """Raise ConfigError unless ``protector`` opens the stored keys (one CA and one seal key
    are tried): a wrong master key must stop the service at start, not at the first signing."""
    con = reader(store)
    probes = [
        (bytes(r[1]), f"ca:{r[0]}".encode())
        for r in con.execute("SELECT tenant, key_blob FROM seal_cas LIMIT 1")
    ] + [
        (bytes(r[1]), r[0].encode()) for r in con.execute("SELECT id, key_blob FROM seals LIMIT 1")
    ]
    for blob, ad in probes:
        try:
            protector.open(blob, ad)
        except KeyProtectionError:
            raise ConfigError(
                "the seal master key does not open the seal keys stored in this ledger "
                "(wrong seal_key / seal_key_file, or seal.key replaced)"
            ) from None


def create_seal(
    store: SQLiteStore,
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
) -> SealRecord:
    """Create a seal of ``tenant`` and queue its ``seal:created`` event.

    The appearance is ``png`` (validated) or generated; the certificate comes from ``pkcs12``
    (data, password) or from the tenant's internal CA. Requires an existing tenant.
    """
    name = _text("name", name, 40, required=True)
    purpose = _text("purpose", purpose, 24)
    code = _text("code", code, 24)
    remarks = _text("remarks", remarks, MAX_TEXT_CHARS)
    if store.tenant(tenant) is None:
        raise NotFoundError(f"no tenant {tenant!r}")
    seal_id = new_id("seal")
    if png is not None:
        validate_png(png, max_bytes=MAX_APPEARANCE_BYTES, max_pixels=MAX_APPEARANCE_PIXELS)
        appearance, appearance_source = png, "uploaded"
    else:
        shown = (purpose, code) if kind.is_round else ("", "")
        appearance = generate_seal(kind, name, purpose=shown[0], code=shown[1])
        appearance_source = "generated"
    if pkcs12 is not None:
        bundle = pki.import_pkcs12(pkcs12[0], pkcs12[1], at_time=now)
        source = SOURCE_PKCS12
    else:
        ca = ensure_ca(store, protector, tenant, now)
        bundle = pki.issue_seal_certificate(ca, seal_name=name, kind=kind, seal_id=seal_id, now=now)
        source = SOURCE_INTERNAL
    blob = protector.seal(bundle.key, seal_id.encode())
    at = format_time(now)
    row = (
        seal_id, tenant, kind.value, name, purpose, code, remarks, "active", None, None, source,
        appearance, appearance_source, bundle.certificate.public_bytes(_DER), _pack(bundle.chain),
        blob, at,
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
        },
    }

    def put(con: sqlite3.Connection) -> None:
        con.execute(
            "INSERT INTO seals (id, tenant, kind, name, purpose, code, remarks, status, "
            "status_reason, status_at, source, appearance, appearance_source, certificate, "
            "chain, key_blob, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?)",
            row,
        )
        enqueue(con, tenant, event)

    transaction(store, put)
    found = get_seal(store, seal_id)
    assert found is not None
    return found


def get_seal(store: SQLiteStore, seal_id: str) -> SealRecord | None:
    """The seal ``seal_id``, or None."""
    sql = f"SELECT {_COLS} FROM seals WHERE id = ?"  # noqa: S608 (constant columns)
    r = reader(store).execute(sql, (seal_id,)).fetchone()
    return None if r is None else _record(r)


def visible_seal(store: SQLiteStore, seal_id: str, tenants: Collection[str]) -> SealRecord:
    """The seal if it belongs to one of ``tenants``; NotFoundError otherwise (no existence
    leak across tenants)."""
    seal = get_seal(store, seal_id)
    if seal is None or seal.tenant not in tenants:
        raise NotFoundError(f"no seal {seal_id[:80]!r}")
    return seal


def list_seals(
    store: SQLiteStore, tenants: Collection[str] | None = None, status: str | None = None
) -> list[SealRecord]:
    """Seals of ``tenants`` (all when None), optionally of one status, oldest first."""
    where, args = [], []
    if tenants is not None:
        ids = list(tenants)
        where.append(f"tenant IN ({','.join('?' * len(ids))})")
        args += ids
    if status is not None:
        where.append("status = ?")
        args.append(status)
    sql = f"SELECT {_COLS} FROM seals"  # noqa: S608 (constant columns, placeholders)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [_record(r) for r in reader(store).execute(sql + " ORDER BY created_at, id", args)]


def appearance(store: SQLiteStore, seal_id: str) -> bytes:
    """The seal's PNG. Requires an existing seal."""
    row = reader(store).execute("SELECT appearance FROM seals WHERE id = ?", (seal_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no seal {seal_id!r}")
    return bytes(row[0])


def open_key(store: SQLiteStore, protector: KeyProtector, seal: SealRecord) -> pki.CertifiedKey:
    """The seal's key, certificate and chain, for signing. Raises SealStateError unless the
    seal is active (re-read inside, so a suspension is seen at once)."""
    row = (
        reader(store)
        .execute("SELECT status, key_blob FROM seals WHERE id = ?", (seal.id,))
        .fetchone()
    )
    if row is None:
        raise NotFoundError(f"no seal {seal.id!r}")
    if row[0] != "active":
        raise SealStateError(f"seal {seal.id} is {row[0]}, want active")
    key = protector.open(bytes(row[1]), seal.id.encode())
    return pki.CertifiedKey(key, seal.certificate, seal.chain)


_TRANSITIONS = {
    "suspended": ({"active"}, "seal:suspended"),
    "active": ({"suspended"}, "seal:resumed"),
    "revoked": ({"active", "suspended"}, "seal:revoked"),
}


def set_status(
    store: SQLiteStore,
    seal_id: str,
    status: str,
    *,
    reason: str,
    actor: dict[str, Any],
    now: datetime,
) -> SealRecord:
    """Suspend (``suspended``), resume (``active``) or revoke (``revoked``) a seal, with a
    reason, and queue the event. Raises ConflictError for a transition the state does not
    allow (revoked is final)."""
    if status not in _TRANSITIONS:
        raise InvalidInputError(f"status: want one of {', '.join(_TRANSITIONS)}, got {status!r}")
    reason = _text("reason", reason, 1000, required=status != "active")
    allowed, etype = _TRANSITIONS[status]
    at = format_time(now)

    def put(con: sqlite3.Connection) -> None:
        row = con.execute(
            "SELECT tenant, status, certificate FROM seals WHERE id = ?", (seal_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no seal {seal_id!r}")
        tenant, current, der = row
        if current not in allowed:
            raise ConflictError(f"seal {seal_id} is {current}: cannot become {status}")
        con.execute(
            "UPDATE seals SET status = ?, status_reason = ?, status_at = ? WHERE id = ?",
            (status, reason or None, at, seal_id),
        )
        cert = x509.load_der_x509_certificate(bytes(der))
        enqueue(
            con,
            tenant,
            {
                "stream": f"seal:{seal_id}",
                "type": etype,
                "actor": actor,
                "attributes": {
                    "seal_id": seal_id,
                    "from": current,
                    "to": status,
                    "reason": reason,
                    "cert_sha256": fingerprint(cert),
                },
            },
        )

    transaction(store, put)
    found = get_seal(store, seal_id)
    assert found is not None
    return found
