"""The development time-stamping authority — FOR DEVELOPMENT AND TESTS ONLY.

A real RFC 3161 TSA that needs nothing but a directory: on first use it makes its own root CA and
a TSA certificate (critical extended key usage id-kp-timeStamping only, RFC 3161 §2.3) and serves
``POST /`` (``application/timestamp-query`` in, ``application/timestamp-reply`` out) over plain
HTTP. Tokens are made by pyHanko's ``DummyTimeStamper``; this module only checks requests, sets
our policy OID and honours ``certReq`` — no hand-written ASN.1.

Its tokens prove nothing to anyone but you: the CA key lies next to the certificates, anyone who
can read the directory can mint tokens for any time, the clock is this machine's, and nothing is
audited. Never configure its CA as a trust root in production; use a real TSA there
(docs/TIMESTAMPS.md).

Layout of its directory (all PEM; created as a whole, see :func:`load_or_create`)::

    ca.pem    the development root CA certificate  (the trust root for verifying its tokens)
    ca.key    its private key                      (mode 0600)
    tsa.pem   the TSA certificate, issued by ca.pem
    tsa.key   its private key                      (mode 0600)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from asn1crypto import cms, core, keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.general import as_signing_certificate
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from sealtrail.anchoring.tsa import TimeStampResponse
from sealtrail.core.errors import ConfigError
from sealtrail.ledger.files import fsync_dir, write_new

log = logging.getLogger("sealtrail.devtsa")

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
TSA_CERT_FILE = "tsa.pem"
TSA_KEY_FILE = "tsa.key"

#: The policy under which the development TSA issues tokens (RFC 3161 §2.1 item 5): a UUID OID
#: (ITU-T X.667, arc 2.25), so it needs no registration and can clash with no real TSA's policy.
DEV_POLICY_OID = "2.25.100663342404440558980417701518901138739"

#: Message imprint algorithms the development TSA accepts, with their digest lengths.
ACCEPTED_HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}

#: Largest request body served; a TimeStampReq with a SHA-512 imprint is about 100 bytes.
MAX_REQUEST_BYTES = 4096

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"

# RSA because DummyTimeStamper signs with RSA only; 2048 bits because it re-parses (and so
# re-validates) the key for every token: ~0.1 s at 2048 bits, ~0.3 s at 3072.
_RSA_BITS = 2048
_CA_LIFETIME = timedelta(days=20 * 365)
_TSA_LIFETIME = timedelta(days=10 * 365)
_BACKDATE = timedelta(hours=1)  # tolerate clocks a little behind ours

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DevTsa:
    """The development TSA's certificates and signing key, as loaded from its directory."""

    directory: Path
    ca_cert: x509.Certificate
    tsa_cert: x509.Certificate
    tsa_key: rsa.RSAPrivateKey

    @property
    def ca_pem_path(self) -> Path:
        """The root CA certificate file: the trust root (and ``-CAfile``) for its tokens."""
        return self.directory / CA_CERT_FILE

    @property
    def tsa_pem_path(self) -> Path:
        """The TSA certificate file (``-untrusted`` for tokens made without ``certReq``)."""
        return self.directory / TSA_CERT_FILE


# -- the PKI -------------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sealtrail development (not trusted)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _make_pki(
    now: datetime, tsa_lifetime: timedelta = _TSA_LIFETIME
) -> tuple[rsa.RSAPrivateKey, x509.Certificate, rsa.RSAPrivateKey, x509.Certificate]:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    ca_name = _name("Sealtrail development TSA root - for development and tests only")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Sealtrail development TSA - for development and tests only"))
        .issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + tsa_lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # RFC 3161 §2.3: exactly one KeyPurposeId, id-kp-timeStamping, in a critical extension.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, ca_cert, tsa_key, tsa_cert


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _create(directory: Path, now: datetime, tsa_lifetime: timedelta = _TSA_LIFETIME) -> None:
    """Make the four files in a fresh sibling directory and rename it into place.

    Crash-consistency: ``directory`` either does not exist (or is empty) or holds all four files;
    a crash leaves at most a ``.<name>.tmp-*`` sibling behind. Of two processes racing, the
    second rename fails (the target is no longer empty) and that process loads the winner's PKI.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.tmp-{secrets.token_hex(4)}")
    tmp.mkdir(mode=0o700)
    try:
        ca_key, ca_cert, tsa_key, tsa_cert = _make_pki(now, tsa_lifetime)
        write_new(tmp / CA_KEY_FILE, _key_pem(ca_key), 0o600)
        write_new(tmp / TSA_KEY_FILE, _key_pem(tsa_key), 0o600)
        write_new(tmp / CA_CERT_FILE, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
        write_new(tmp / TSA_CERT_FILE, tsa_cert.public_bytes(serialization.Encoding.PEM), 0o644)
        fsync_dir(tmp)
        try:
            tmp.rename(directory)  # atomic; replaces an empty directory, fails on a full one
        except OSError:
            if not (directory / CA_CERT_FILE).exists():
                raise
            return  # another process made it first
        fsync_dir(directory.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"development TSA directory lacks {path.name}: {path}") from None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None


def _check_private(path: Path) -> None:
    try:
        mode = path.stat().st_mode & 0o077
    except FileNotFoundError:
        raise ConfigError(f"development TSA directory lacks {path.name}: {path}") from None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    if mode:
        raise ConfigError(f"{path} is readable by others (mode {oct(mode)}); chmod 600 it")


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    _check_private(path)
    key = serialization.load_pem_private_key(_read(path), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{path}: want an RSA key (pyHanko's DummyTimeStamper signs RSA only)")
    return key


def load_or_create(
    directory: Path, *, clock: Clock = _utc_now, tsa_lifetime: timedelta = _TSA_LIFETIME
) -> DevTsa:
    """Load the development TSA from ``directory``, creating its CA and TSA first if needed
    (the TSA certificate valid for ``tsa_lifetime``: tests make short-lived ones).

    Creates ``directory`` (mode 0700) when it is missing or empty; a directory holding only some
    of the files, or files that do not belong together, raises :class:`ConfigError` (delete it
    to start over: every token it issued then stops verifying against the new CA).
    """
    if not directory.exists() or (directory.is_dir() and not any(directory.iterdir())):
        _create(directory, clock(), tsa_lifetime)
    ca_cert = x509.load_pem_x509_certificate(_read(directory / CA_CERT_FILE))
    tsa_cert = x509.load_pem_x509_certificate(_read(directory / TSA_CERT_FILE))
    _check_private(directory / CA_KEY_FILE)  # unused at run time; signs CRLs or certs by hand
    tsa_key = _load_key(directory / TSA_KEY_FILE)
    try:
        tsa_cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as e:
        raise ConfigError(f"{directory}: {TSA_CERT_FILE} is not issued by {CA_CERT_FILE}") from e
    if _spki(tsa_key.public_key()) != _spki(tsa_cert.public_key()):
        raise ConfigError(f"{directory}: {TSA_KEY_FILE} does not match {TSA_CERT_FILE}")
    now = clock()
    if not tsa_cert.not_valid_before_utc <= now <= tsa_cert.not_valid_after_utc:
        raise ConfigError(
            f"{directory}: the TSA certificate is valid from {tsa_cert.not_valid_before_utc} to "
            f"{tsa_cert.not_valid_after_utc}, not at {now}; delete the directory to start over"
        )
    return DevTsa(directory, ca_cert, tsa_cert, tsa_key)


# -- the RFC 3161 responder ----------------------------------------------------------------------


def _attribute(kind: str, value: object) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": cms.CMSAttributeType(kind), "values": (value,)})


_SIGNING_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


class _Stamper(DummyTimeStamper):
    """pyHanko's ``DummyTimeStamper`` issuing under :data:`DEV_POLICY_OID` instead of its default
    (a commercial TSA's policy OID, which a development TSA must not claim), and signing with
    the key object loaded once (pyHanko re-parses the DER key, with RSA's slow validation, for
    every token: ~70 ms of ~90 ms per request)."""

    def __init__(self, tsa: DevTsa, now: datetime) -> None:
        super().__init__(_asn1_cert(tsa.tsa_cert), _asn1_key(tsa.tsa_key), fixed_dt=now)
        self._key = tsa.tsa_key
        self._cert = _asn1_cert(tsa.tsa_cert)

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        # RFC 5652 §5.3–5.4: the signed attributes (content type id-ct-TSTInfo, signing time,
        # the ESS signing-certificate of RFC 3161 §2.4.1 / RFC 2634, the message digest of the
        # TSTInfo), and a PKCS #1 v1.5 signature over their DER SET.
        algorithm = _SIGNING_HASHES[md_algorithm.lower()]
        digest = hashes.Hash(algorithm)
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                _attribute("signing_certificate", as_signing_certificate(self._cert)),
                _attribute("message_digest", digest.finalize()),
            ]
        )
        signature = self._key.sign(signed_attrs.dump(), padding.PKCS1v15(), algorithm)
        return signature, signed_attrs

    def _build_tst_info(
        self, message_imprint: tsp.MessageImprint, dt: datetime, req: tsp.TimeStampReq
    ) -> tsp.TSTInfo:
        tst_info = super()._build_tst_info(message_imprint, dt, req)
        tst_info["policy"] = DEV_POLICY_OID
        return tst_info


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _asn1_key(key: rsa.RSAPrivateKey) -> keys.PrivateKeyInfo:
    return keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


class _Rejected(Exception):
    """A request the TSA turns down with status ``rejection`` (RFC 3161 §2.4.2)."""

    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


_FAIL_INFO_BITS = frozenset(tsp.PKIFailureInfo._map.values())


def rejection(fail_info: str, text: str) -> bytes:
    """A DER TimeStampResp with status ``rejection``, one PKIFailureInfo bit and a statusString.

    ``fail_info`` is an asn1crypto bit name: ``bad_alg``, ``bad_request``, ``bad_data_format``,
    ``time_not_available``, ``unaccepted_policy``, ``unaccepted_extensions``,
    ``add_info_not_available`` or ``system_failure``.
    """
    if fail_info not in _FAIL_INFO_BITS:  # asn1crypto would silently drop an unknown name
        raise ValueError(f"fail_info {fail_info!r}, want one of {sorted(_FAIL_INFO_BITS)}")
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [text], "fail_info": {fail_info}}
    )
    return bytes(TimeStampResponse({"status": status}).dump())


def _check_request(body: bytes, content_type: str) -> tsp.TimeStampReq:
    """Parse and check a TimeStampReq (RFC 3161 §2.4.1); raise :class:`_Rejected`."""
    if content_type != QUERY_TYPE:
        raise _Rejected("bad_request", f"content type {content_type!r}, want {QUERY_TYPE}")
    try:
        req = tsp.TimeStampReq.load(body, strict=True)
        req.native  # noqa: B018  # asn1crypto parses lazily: parse every field now
    except Exception as e:  # whatever the parser throws at garbage, the answer is the same
        raise _Rejected("bad_data_format", f"not a DER TimeStampReq: {e}") from None
    if req["version"].native != "v1":
        raise _Rejected("bad_request", f"version {req['version'].native}, want v1")
    imprint = req["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in ACCEPTED_HASHES:
        raise _Rejected(
            "bad_alg", f"hash algorithm {algorithm}, want one of {sorted(ACCEPTED_HASHES)}"
        )
    if len(imprint["hashed_message"].native) != ACCEPTED_HASHES[algorithm]:
        raise _Rejected(
            "bad_data_format",
            f"{algorithm} imprint of {len(imprint['hashed_message'].native)} bytes, "
            f"want {ACCEPTED_HASHES[algorithm]}",
        )
    policy = req["req_policy"].native
    if policy is not None and policy != DEV_POLICY_OID:
        raise _Rejected("unaccepted_policy", f"policy {policy}, want {DEV_POLICY_OID}")
    if req["extensions"].native:
        raise _Rejected("unaccepted_extensions", "this TSA supports no request extensions")
    return req


def respond(tsa: DevTsa, body: bytes, content_type: str, now: datetime) -> bytes:
    """Answer one RFC 3161 request: the DER TimeStampResp for ``body``, stamped at ``now``.

    Malformed or unsupported requests get status ``rejection`` with a failInfo bit and a reason;
    a token carries the TSA certificate only when the request asked for it (``certReq``,
    RFC 3161 §2.4.1). Requires an aware ``now``.
    """
    try:
        req = _check_request(body, content_type)
    except _Rejected as r:
        return rejection(r.fail_info, r.text)
    stamper = _Stamper(tsa, now)
    resp = stamper.request_tsa_response(req)
    if not req["cert_req"].native:
        # DummyTimeStamper always embeds its certificate; the field is outside the signature.
        resp["time_stamp_token"]["content"]["certificates"] = None
    return bytes(resp.dump())


# -- HTTP ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Server:
    tsa: DevTsa
    clock: Clock


_SERVER = web.AppKey("sealtrail_dev_tsa", _Server)


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None when it exceeds ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(16384):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def _timestamp(request: web.Request) -> web.Response:
    server = request.app[_SERVER]
    body = await _read_limited(request, MAX_REQUEST_BYTES)
    if body is None:
        reply = rejection("bad_request", f"request larger than {MAX_REQUEST_BYTES} bytes")
    else:
        try:  # signing takes ~0.1 s of CPU: keep it off the event loop of a host service
            reply = await asyncio.get_running_loop().run_in_executor(
                None, respond, server.tsa, body, request.content_type, server.clock()
            )
        except Exception:  # an answer the client can read beats a bare 500
            log.exception("development TSA failed to sign")
            reply = rejection("system_failure", "the TSA failed to sign")
    return web.Response(body=reply, content_type=REPLY_TYPE)


def create_tsa_app(
    directory: Path, *, clock: Clock = _utc_now, tsa_lifetime: timedelta = _TSA_LIFETIME
) -> web.Application:
    """The development TSA as an aiohttp application: ``POST /`` answers RFC 3161 requests.

    Loads (or first creates, which takes about a second) the PKI in ``directory``. For
    development and tests only (module docstring).
    """
    app = web.Application()
    app[_SERVER] = _Server(load_or_create(directory, clock=clock, tsa_lifetime=tsa_lifetime), clock)
    app.router.add_post("/", _timestamp)
    return app


def tsa_of(app: web.Application) -> DevTsa:
    """The :class:`DevTsa` served by an application from :func:`create_tsa_app`."""
    return app[_SERVER].tsa


def mount_tsa(
    parent: web.Application,
    directory: Path,
    prefix: str = "/devtsa",
    *,
    clock: Clock = _utc_now,
) -> DevTsa:
    """Serve the development TSA inside ``parent`` at ``prefix + "/"`` (before it starts).

    The TSA URL is then ``http://<host>:<port><prefix>/``.
    """
    sub = create_tsa_app(directory, clock=clock)
    parent.add_subapp(prefix, sub)
    return tsa_of(sub)


@dataclass(frozen=True)
class RunningTsa:
    """A development TSA listening on its own port (from :func:`start_tsa`)."""

    url: str
    tsa: DevTsa
    runner: web.AppRunner

    async def close(self) -> None:
        """Stop listening and release the port."""
        await self.runner.cleanup()


async def start_tsa(
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock = _utc_now,
    tsa_lifetime: timedelta = _TSA_LIFETIME,
) -> RunningTsa:
    """Start the development TSA on ``host:port`` (0: a free port); ``url`` says where."""
    app = create_tsa_app(directory, clock=clock, tsa_lifetime=tsa_lifetime)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound: Any = runner.addresses[0]
    shown = f"[{host}]" if ":" in host else host
    return RunningTsa(f"http://{shown}:{bound[1]}/", tsa_of(app), runner)


async def _serve_forever(directory: Path, host: str, port: int) -> None:
    running = await start_tsa(directory, host=host, port=port)
    print(
        f"Sealtrail development TSA (for development and tests only) at {running.url}\n"
        f"trust root: {running.tsa.ca_pem_path}",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await running.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m sealtrail.anchoring.devtsa DIR [--host H] [--port P]``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(
        description="Serve Sealtrail's development RFC 3161 TSA (for development and tests only)."
    )
    parser.add_argument("directory", type=Path, help="where its CA and TSA keys live")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3161)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.directory, args.host, args.port))


if __name__ == "__main__":
    main()
