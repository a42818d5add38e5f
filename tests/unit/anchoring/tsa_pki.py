"""Throw-away test PKIs and RFC 3161 tokens for the TSA tests, and the independent checkers.

Tokens come from pyHanko's ``DummyTimeStamper`` (as in the development TSA), so a bad TSA here
differs from a good one only in its certificate: no hand-made ASN.1. The mutations in
:func:`flip_signature_byte` and :func:`alter_gen_time` edit a good token's DER in one place.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms, keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from sealtrail.anchoring.tsa import build_request, token_from_response

NOW = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)

OPENSSL = shutil.which("openssl")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass(frozen=True)
class TsaPki:
    """A root CA and a TSA certificate it issued (RSA 2048: quick to make)."""

    ca_cert: x509.Certificate
    tsa_cert: x509.Certificate
    tsa_key: rsa.RSAPrivateKey

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write ca.pem and tsa.pem into ``directory``; return their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        ca, tsa = directory / "ca.pem", directory / "tsa.pem"
        ca.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))
        tsa.write_bytes(self.tsa_cert.public_bytes(serialization.Encoding.PEM))
        return ca, tsa


def make_pki(
    name: str,
    *,
    eku: list[x509.ObjectIdentifier] | None = None,
    eku_critical: bool = True,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=365),
) -> TsaPki:
    """A CA and TSA certificate; ``eku=[]`` leaves the EKU extension out entirely.

    ``eku`` defaults to ``[id-kp-timeStamping]``.
    """
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} root"))
        .issuer_name(_name(f"{name} root"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=3650))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} TSA"))
        .issuer_name(ca_cert.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    purposes = [ExtendedKeyUsageOID.TIME_STAMPING] if eku is None else eku
    if purposes:
        builder = builder.add_extension(x509.ExtendedKeyUsage(purposes), critical=eku_critical)
    return TsaPki(ca_cert, builder.sign(ca_key, hashes.SHA256()), tsa_key)


def make_crl(
    issuer: x509.Certificate, issuer_key: rsa.RSAPrivateKey, revoked: list[int], at: datetime
) -> bytes:
    """A DER CRL from ``issuer`` listing the ``revoked`` serial numbers."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(at - timedelta(hours=1))
        .next_update(at + timedelta(days=7))
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(at - timedelta(days=30))
            .build()
        )
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def make_token(
    pki: TsaPki,
    data: bytes,
    *,
    nonce: int | None = 4242,
    at: datetime = NOW,
    imprint_hash: str = "sha256",
    signer_digest: str | None = None,
) -> bytes:
    """A token over ``data`` signed by ``pki``'s TSA at ``at``, made by DummyTimeStamper.

    ``signer_digest``: the SignerInfo's digest algorithm (default: the imprint's).
    """
    stamper = DummyTimeStamper(
        asn1_x509.Certificate.load(pki.tsa_cert.public_bytes(serialization.Encoding.DER)),
        keys.PrivateKeyInfo.load(
            pki.tsa_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        fixed_dt=at,
        override_md=signer_digest,
    )
    request = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": imprint_hash},
            "hashed_message": hashlib.new(imprint_hash, data).digest(),
        },
        "cert_req": True,
    }
    if nonce is not None:
        request["nonce"] = nonce
    response = stamper.request_tsa_response(tsp.TimeStampReq(request))
    return token_from_response(bytes(response.dump()))


def flip_signature_byte(token: bytes) -> bytes:
    """``token`` with one bit of the SignerInfo's signature value flipped."""
    signature = cms.ContentInfo.load(token)["content"]["signer_infos"][0]["signature"].native
    at = token.index(signature) + len(signature) // 2
    assert token.count(signature) == 1
    return token[:at] + bytes([token[at] ^ 0x01]) + token[at + 1 :]


def alter_gen_time(token: bytes) -> bytes:
    """``token`` with its TSTInfo genTime a year later (the signed message digest now differs)."""
    tst_info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    encoded = tst_info["gen_time"].dump()
    year = encoded[2:6]
    assert token.count(encoded) == 1
    later = str(int(year) + 1).encode()
    return token.replace(encoded, encoded[:2] + later + encoded[6:])


def request_for(data: bytes, nonce: int) -> bytes:
    """The TimeStampReq our client would send for ``data`` with ``nonce`` (for -queryfile)."""
    return build_request(data, nonce)


@dataclass(frozen=True)
class OpensslResult:
    ok: bool
    output: str


def openssl_verify(
    token: bytes,
    data: bytes,
    ca_pem: Path,
    work: Path,
    *,
    untrusted: Path | None = None,
    query: bytes | None = None,
    token_in: bool = True,
) -> OpensslResult:
    """``openssl ts -verify`` on a token (``token_in``) or a TimeStampResp, as a notary would.

    With ``query`` it checks the imprint and nonce from that request (``-queryfile``);
    otherwise the imprint from ``-digest`` (SHA-256 of ``data``, hex).
    """
    assert OPENSSL is not None
    work.mkdir(parents=True, exist_ok=True)
    token_path = work / ("token.der" if token_in else "reply.tsr")
    token_path.write_bytes(token)
    cmd = [OPENSSL, "ts", "-verify", "-in", str(token_path), "-CAfile", str(ca_pem)]
    if token_in:
        cmd.append("-token_in")
    if query is not None:
        (work / "request.tsq").write_bytes(query)
        cmd += ["-queryfile", str(work / "request.tsq")]
    else:
        cmd += ["-digest", hashlib.sha256(data).hexdigest()]
    if untrusted is not None:
        cmd += ["-untrusted", str(untrusted)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    output = proc.stdout + proc.stderr
    ok = proc.returncode == 0 and "Verification: OK" in output
    return OpensslResult(ok, output)
