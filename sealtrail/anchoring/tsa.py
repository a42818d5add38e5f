"""RFC 3161 trusted time for checkpoints: a client with failover, and a full token verifier.

What is timestamped (docs/TIMESTAMPS.md §1): the message imprint is SHA-256 over the bytes
given, which for a checkpoint are its whole signed note text as stored, UTF-8 encoded.

Who does what (why, docs/TIMESTAMPS.md §4):

- requests are built with ``asn1crypto.tsp`` and POSTed with our own aiohttp session;
- :func:`verify_token` parses with asn1crypto, checks the CMS signature with pyHanko's
  ``validate_sig_integrity`` and the ESS signing-certificate attribute with pyHanko's
  ``check_ess_certid``, the extended key usage with ``cryptography``, and the path to the trust
  roots with pyhanko-certvalidator, at the token's ``genTime`` unless told another time.

Nothing here reads the clock: the validation time comes from the token or the caller.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import secrets
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

import aiohttp
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.general import (
    CMSExtractionError,
    check_ess_certid,
    extract_certificate_info,
)
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import get_signing_cert_attr, validate_sig_integrity
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathError, ValidationError
from yarl import URL

from ..ledger.event import format_time
from .errors import TimestampError, TsaUnavailableError

log = logging.getLogger("sealtrail.tsa")

#: The message imprint algorithm of every Sealtrail timestamp (docs/TIMESTAMPS.md §1).
IMPRINT_ALGORITHM = "sha256"
#: Digest algorithms accepted in the TSA's SignerInfo (over the TSTInfo and signed attributes).
SIGNER_DIGESTS = frozenset({"sha256", "sha384", "sha512"})
#: Largest TimeStampResp read from a TSA (a token with a 3-certificate chain is ~6 KiB).
MAX_RESPONSE_BYTES = 256 * 1024
#: Longest pause between two rounds of attempts.
MAX_BACKOFF = 30.0

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"

Revocation = Literal["off", "require"]
_T = TypeVar("_T")


class TimeStampResponse(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    """RFC 3161 §2.4.2 ``TimeStampResp``, with the token OPTIONAL as the RFC says.

    asn1crypto 1.5.1's ``tsp.TimeStampResp`` makes the token mandatory, so it cannot read (or
    write) a rejection (github.com/wbond/asn1crypto/issues/286). Same tags, same types.
    """

    _fields = [  # noqa: RUF012  # asn1crypto's schema convention
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class TimestampInfo:
    """What :func:`verify_token` established about a token that passed every check."""

    gen_time: datetime  #: TSTInfo genTime, aware, UTC
    serial: int  #: TSTInfo serialNumber
    policy: str  #: TSTInfo policy, dotted OID
    message_imprint: bytes  #: SHA-256 of the timestamped data
    nonce: int | None  #: TSTInfo nonce, if any
    accuracy: timedelta | None  #: TSTInfo accuracy, if given
    tsa_subject: str  #: the signing certificate's subject, RFC 4514
    trust_root_subject: str  #: the trust root the signer chains to, RFC 4514
    signer_certificate: x509.Certificate


@dataclass(frozen=True)
class Timestamp:
    """An RFC 3161 token over some data, as a TSA issued it and we verified it.

    ``token`` is the DER TimeStampToken (a CMS ContentInfo), byte for byte as received; the other
    fields are read from it, except ``tsa``: the URL that issued it (without credentials).
    """

    token: bytes
    gen_time: datetime
    serial: int
    tsa: str
    policy: str
    tsa_subject: str

    def to_json(self) -> dict[str, str]:
        """The checkpoint JSON member ``timestamp``: token (base64 DER), gen_time, tsa."""
        return {
            "token": base64.b64encode(self.token).decode("ascii"),
            "gen_time": format_time(self.gen_time),
            "tsa": self.tsa,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Timestamp:
        """Read :meth:`to_json` output back; ``gen_time`` must agree with the token's genTime.

        Reads only: nothing is verified. Call :func:`verify_token` for that.
        """
        if set(obj) != {"token", "gen_time", "tsa"}:
            raise TimestampError(f"timestamp members {sorted(obj)}, want gen_time, token, tsa")
        token_text, gen_time, tsa_url = obj["token"], obj["gen_time"], obj["tsa"]
        if not all(isinstance(v, str) for v in (token_text, gen_time, tsa_url)):
            raise TimestampError("timestamp members must be strings")
        try:
            token = base64.b64decode(token_text, validate=True)
        except binascii.Error as e:
            raise TimestampError(f"timestamp token is not base64: {e}") from None
        signed_data, tst_info = _parse_token(token)
        stamp = _stamp(token, tst_info, _signer_certificate(signed_data)[0], tsa_url)
        if format_time(stamp.gen_time) != gen_time:
            raise TimestampError(
                f"timestamp gen_time {gen_time} differs from the token's "
                f"{format_time(stamp.gen_time)}"
            )
        return stamp


def message_imprint(data: bytes) -> bytes:
    """The message imprint of ``data``: its SHA-256 (docs/TIMESTAMPS.md §1)."""
    return hashlib.sha256(data).digest()


def build_request(data: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq (RFC 3161 §2.4.1) over ``data`` with ``nonce`` and ``certReq`` true.

    Requires ``0 < nonce < 2**64``.
    """
    if not 0 < nonce < 2**64:
        raise ValueError(f"nonce {nonce} out of range, want 0 < nonce < 2**64")
    req = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": IMPRINT_ALGORITHM},
                "hashed_message": message_imprint(data),
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return bytes(req.dump())


class _AttemptError(TimestampError):
    """One TSA's failure; ``retriable`` when asking it again later may help."""

    def __init__(self, reason: str, *, retriable: bool) -> None:
        super().__init__(reason)
        self.retriable = retriable


# PKIFailureInfo bits (RFC 3161 §2.4.2) that mean "try again later" rather than "never".
_TRANSIENT_FAILURES = frozenset({"time_not_available", "system_failure"})


def token_from_response(response_der: bytes) -> bytes:
    """The DER TimeStampToken in a DER TimeStampResp whose status grants it (RFC 3161 §2.4.2).

    Raises :class:`TimestampError` with the TSA's status, statusString and failInfo otherwise.
    The token is returned byte for byte; it is not verified here.
    """
    try:
        resp = TimeStampResponse.load(response_der, strict=True)
        status_info = resp["status"]
        status = status_info["status"].native
        texts = status_info["status_string"].native or []
        fail_info = sorted(status_info["fail_info"].native or [])
        token = resp["time_stamp_token"]
        token_der = None if isinstance(token, core.Void) else bytes(token.dump())
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
        raise _AttemptError(f"not a DER TimeStampResp: {e}", retriable=True) from None
    if status not in ("granted", "granted_with_mods"):
        detail = "; ".join(texts) or "no statusString"
        transient = status == "waiting" or bool(_TRANSIENT_FAILURES & set(fail_info))
        raise _AttemptError(
            f"TSA answered status {status} (failInfo {', '.join(fail_info) or 'none'}): {detail}",
            retriable=transient,
        )
    if token_der is None:
        raise _AttemptError(f"TSA answered status {status} but sent no token", retriable=True)
    return token_der


# -- verification --------------------------------------------------------------------------------

_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)


def _parse_token(token_der: bytes) -> tuple[cms.SignedData, tsp.TSTInfo]:
    """Steps 1-2: a DER ContentInfo holding SignedData that encapsulates a v1 TSTInfo."""
    if not isinstance(token_der, bytes):
        raise TypeError(f"token must be bytes, not {type(token_der).__name__}")
    try:
        content_info = cms.ContentInfo.load(token_der, strict=True)
        content_info.native  # noqa: B018  # asn1crypto parses lazily: parse it all now
        content_type = content_info["content_type"].native
    except _PARSE_ERRORS as e:
        raise TimestampError(f"malformed token: not a DER ContentInfo ({e})") from None
    if content_type != "signed_data":
        raise TimestampError(f"token content type {content_type}, want signed_data")
    signed_data = content_info["content"]
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise TimestampError(
            f"token encapsulates {encap['content_type'].native}, want tst_info (RFC 3161 §2.4.2)"
        )
    content = encap["content"]
    tst_info = content.parsed if isinstance(content, core.ParsableOctetString) else None
    if not isinstance(tst_info, tsp.TSTInfo):
        raise TimestampError("token has no encapsulated TSTInfo")
    if tst_info["version"].native != "v1":
        raise TimestampError(f"TSTInfo version {tst_info['version'].native}, want v1")
    if tst_info["gen_time"].native.tzinfo is None:
        raise TimestampError("TSTInfo genTime is not in UTC ('Z'), as RFC 3161 §2.4.2 requires")
    return signed_data, tst_info


def _signer_certificate(
    signed_data: cms.SignedData,
) -> tuple[asn1_x509.Certificate, list[asn1_x509.Certificate]]:
    try:
        info = extract_certificate_info(signed_data)
    except CMSExtractionError as e:
        raise TimestampError(
            f"signer certificate not in the token ({e.failure_message}); request it with certReq"
        ) from None
    return info.signer_cert, list(info.other_certs)


def _stamp(
    token: bytes, tst_info: tsp.TSTInfo, signer: asn1_x509.Certificate, tsa: str
) -> Timestamp:
    return Timestamp(
        token=token,
        gen_time=tst_info["gen_time"].native,
        serial=tst_info["serial_number"].native,
        tsa=tsa,
        policy=tst_info["policy"].dotted,
        tsa_subject=_crypto_cert(signer).subject.rfc4514_string(),
    )


def _crypto_cert(cert: asn1_x509.Certificate) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(cert.dump())
    except ValueError as e:
        raise TimestampError(f"TSA certificate is malformed: {e}") from None


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _accuracy(tst_info: tsp.TSTInfo) -> timedelta | None:
    acc = tst_info["accuracy"].native
    if acc is None:
        return None
    return timedelta(
        seconds=acc.get("seconds") or 0,
        milliseconds=acc.get("millis") or 0,
        microseconds=acc.get("micros") or 0,
    )


def _check_time_stamping_eku(cert: x509.Certificate) -> None:
    """RFC 3161 §2.3: one EKU extension, critical, with id-kp-timeStamping as its only purpose."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampError("TSA certificate has no extended key usage extension") from None
    except ValueError as e:  # e.g. a duplicated extension
        raise TimestampError(f"TSA certificate extensions are malformed: {e}") from None
    if not ext.critical:
        raise TimestampError(
            "TSA certificate's extended key usage extension is not critical (RFC 3161 §2.3)"
        )
    purposes = [p.dotted_string for p in ext.value]
    if purposes != [ExtendedKeyUsageOID.TIME_STAMPING.dotted_string]:
        raise TimestampError(
            f"TSA certificate's extended key usages are {purposes}, want only "
            f"id-kp-timeStamping {ExtendedKeyUsageOID.TIME_STAMPING.dotted_string} (RFC 3161 §2.3)"
        )


def _check_tsa_name(tst_info: tsp.TSTInfo, signer: asn1_x509.Certificate) -> None:
    """RFC 3161 §2.4.2: a TSTInfo ``tsa`` name must be one of the signer certificate's names."""
    name = tst_info["tsa"]
    if isinstance(name, core.Void):
        return
    if name.name == "directory_name" and name.chosen == signer.subject:
        return
    alt_names = signer.subject_alt_name_value
    if alt_names is not None and any(name.dump() == alt.dump() for alt in alt_names):
        return
    raise TimestampError(
        f"TSTInfo tsa {name.native!r} is not a name of the signing certificate (RFC 3161 §2.4.2)"
    )


def _run_offline(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine that does no I/O to completion, with or without a running event loop.

    pyhanko-certvalidator's API is async only because it may fetch certificates, CRLs and OCSP
    responses; with fetching off it never suspends. If it ever did, fail loudly.
    """
    try:
        coro.send(None)
    except StopIteration as done:
        result: _T = done.value
        return result
    coro.close()
    raise RuntimeError("certificate validation wanted I/O although fetching is off")


def _validate_path(
    signer: asn1_x509.Certificate,
    others: list[asn1_x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
    moment: datetime,
    revocation: Revocation,
    crls: Sequence[bytes],
    ocsps: Sequence[bytes],
) -> str:
    """Step 10: a valid path from the signer to a trust root at ``moment`` for time stamping.

    Returns the trust root's subject.
    """
    if revocation == "require":
        context = ValidationContext(
            trust_roots=[_asn1_cert(c) for c in trust_roots],
            moment=moment,
            allow_fetching=False,
            revocation_mode="require",
            crls=list(crls),
            ocsps=list(ocsps),
        )
    elif revocation == "off":
        # soft-fail with no revocation data and no fetching: nothing to check, nothing fails.
        context = ValidationContext(
            trust_roots=[_asn1_cert(c) for c in trust_roots],
            moment=moment,
            allow_fetching=False,
            revocation_mode="soft-fail",
        )
    else:
        raise ValueError(f"revocation {revocation!r}, want 'off' or 'require'")
    validator = CertificateValidator(signer, intermediate_certs=others, validation_context=context)
    try:
        usage = validator.async_validate_usage(set(), {"time_stamping"})  # type: ignore[no-untyped-call]
        path = _run_offline(usage)
    except PathError as e:
        raise TimestampError(f"TSA certificate does not chain to a trust root: {e}") from None
    except ValidationError as e:
        raise TimestampError(f"TSA certificate path is not valid at {moment}: {e}") from None
    anchor_name = path.trust_anchor.authority.name
    for root in trust_roots:
        if root.subject.public_bytes() == anchor_name.dump():
            return root.subject.rfc4514_string()
    return str(anchor_name.human_friendly)


def verify_token(
    token_der: bytes,
    data: bytes,
    trust_roots: Sequence[x509.Certificate],
    nonce: int | None = None,
    *,
    at: datetime | None = None,
    revocation: Revocation = "off",
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
) -> TimestampInfo:
    """Verify a DER TimeStampToken over ``data`` completely, or raise :class:`TimestampError`.

    Checks, in order: (1) a DER ContentInfo with SignedData, (2) encapsulating a v1 TSTInfo,
    (3) exactly one SignerInfo, (4) message imprint SHA-256 equal to ``sha256(data)``, (5) the
    nonce, when ``nonce`` is given, (6) the signer certificate is in the token and matches the
    ESS signing-certificate(-v2) attribute, (7) its extended key usage is critical and only
    id-kp-timeStamping, (8) the TSTInfo ``tsa`` name, if any, is one of its names, (9) the CMS
    signature: content-type and message-digest attributes over the TSTInfo, and the signature
    over the signed attributes with the certificate's key, (10) a path from the certificate to
    one of ``trust_roots``, valid at ``at`` (default: the token's genTime) for time stamping.

    Revocation: ``"off"`` checks none (the development TSA publishes no CRL); ``"require"``
    demands revocation data for every certificate on the path from ``crls`` / ``ocsps`` (DER),
    which the caller fetched: this function does no I/O. Requires non-empty ``trust_roots``.
    """
    if not trust_roots:
        raise ValueError("no trust roots: nothing could be trusted")
    # 1-2. RFC 3161 §2.4.2: TimeStampToken ::= ContentInfo (SignedData, eContent TSTInfo).
    signed_data, tst_info = _parse_token(token_der)
    # 3. RFC 3161 §2.4.2: the token holds no signature but the TSA's.
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise TimestampError(f"token has {len(signer_infos)} SignerInfos, want 1")
    signer_info = signer_infos[0]
    # 4. The message imprint (RFC 3161 §2.4.2), our algorithm only.
    imprint = tst_info["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm != IMPRINT_ALGORITHM:
        raise TimestampError(f"message imprint algorithm {algorithm}, want {IMPRINT_ALGORITHM}")
    got, want = imprint["hashed_message"].native, message_imprint(data)
    if got != want:
        raise TimestampError(f"message imprint mismatch: token has {got.hex()}, want {want.hex()}")
    # 5. The nonce (RFC 3161 §2.4.2): must echo the request's.
    token_nonce = tst_info["nonce"].native
    if nonce is not None and token_nonce != nonce:
        shown = "none" if token_nonce is None else token_nonce
        raise TimestampError(f"nonce mismatch: token has {shown}, want {nonce}")
    # 6. The signer's certificate, bound by ESS signing-certificate (RFC 3161 §2.4.1, RFC 5816).
    signer, others = _signer_certificate(signed_data)
    if isinstance(signer_info["signed_attrs"], core.Void):
        raise TimestampError("SignerInfo has no signed attributes (RFC 3161 §2.4.1)")
    try:
        ess = get_signing_cert_attr(signer_info["signed_attrs"])
    except SignatureValidationError as e:
        raise TimestampError(f"bad signing-certificate attribute: {e.failure_message}") from None
    if ess is None:
        raise TimestampError("no ESS signing-certificate attribute (RFC 3161 §2.4.1)")
    if not check_ess_certid(signer, ess["certs"][0]):
        raise TimestampError("ESS signing-certificate attribute names another certificate")
    # 7. RFC 3161 §2.3: the TSA certificate's extended key usage.
    signer_crypto = _crypto_cert(signer)
    _check_time_stamping_eku(signer_crypto)
    # 8. RFC 3161 §2.4.2: the tsa field.
    _check_tsa_name(tst_info, signer)
    # 9. RFC 5652 §5.4, §11: signed attributes, message digest over the TSTInfo, signature.
    digest_algorithm = signer_info["digest_algorithm"]["algorithm"].native
    if digest_algorithm not in SIGNER_DIGESTS:
        raise TimestampError(
            f"signer digest algorithm {digest_algorithm}, want one of {sorted(SIGNER_DIGESTS)}"
        )
    try:
        signature_hash = signer_info["signature_algorithm"].hash_algo
    except ValueError:  # e.g. rsassa_pkcs1v15: the hash is the SignerInfo's digest algorithm
        signature_hash = digest_algorithm
    if signature_hash not in SIGNER_DIGESTS:
        raise TimestampError(
            f"signature hash algorithm {signature_hash}, want one of {sorted(SIGNER_DIGESTS)}"
        )
    content_digest = hashlib.new(
        digest_algorithm, bytes(signed_data["encap_content_info"]["content"])
    ).digest()
    try:
        intact, valid = validate_sig_integrity(
            signer_info, signer, expected_content_type="tst_info", actual_digest=content_digest
        )
    except SignatureValidationError as e:
        raise TimestampError(f"CMS signature check failed: {e.failure_message}") from None
    if not intact:
        raise TimestampError("message-digest attribute does not match the TSTInfo")
    if not valid:
        raise TimestampError("CMS signature does not verify with the TSA certificate's key")
    # 10. RFC 5280 §6 path validation at genTime (or ``at``), usage time stamping.
    gen_time: datetime = tst_info["gen_time"].native
    root = _validate_path(signer, others, trust_roots, at or gen_time, revocation, crls, ocsps)
    return TimestampInfo(
        gen_time=gen_time,
        serial=tst_info["serial_number"].native,
        policy=tst_info["policy"].dotted,
        message_imprint=got,
        nonce=token_nonce,
        accuracy=_accuracy(tst_info),
        tsa_subject=signer_crypto.subject.rfc4514_string(),
        trust_root_subject=root,
        signer_certificate=signer_crypto,
    )


# -- the client ----------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``url`` without user name and password, fit for logs, errors and the checkpoint JSON."""
    return str(URL(url).with_user(None))


def _random_nonce() -> int:
    return secrets.randbits(64) or 1


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    if response.content_length is not None and response.content_length > limit:
        raise _AttemptError(f"response of {response.content_length} bytes", retriable=True)
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body += chunk
        if len(body) > limit:
            raise _AttemptError(f"response larger than {limit} bytes", retriable=True)
    return bytes(body)


class TimestampClient:
    """Gets verified RFC 3161 tokens from a list of TSAs, failing over and retrying.

    One call to :meth:`timestamp` makes up to ``retries + 1`` rounds; a round asks each TSA in
    ``urls`` order until one returns a token that passes :func:`verify_token` against
    ``trust_roots``. Between rounds it sleeps ``backoff``, doubling each time (at most
    :data:`MAX_BACKOFF`). A TSA that cannot help on a later round (a token that does not verify,
    a definitive rejection, HTTP 4xx) is not asked again in that call. Each request waits at most
    ``timeout`` seconds. Redirects are not followed: configure the final URL.

    ``session``: an aiohttp session to reuse (the caller closes it); by default each call opens
    and closes its own. ``nonce``: source of request nonces (default: 64 random bits).
    """

    def __init__(
        self,
        urls: Sequence[str],
        trust_roots: Sequence[x509.Certificate],
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        revocation: Revocation = "off",
        crls: Sequence[bytes] = (),
        ocsps: Sequence[bytes] = (),
        session: aiohttp.ClientSession | None = None,
        nonce: Callable[[], int] = _random_nonce,
    ) -> None:
        if isinstance(urls, str):
            raise TypeError("urls must be a sequence of URLs, not one string")
        if not urls:
            raise ValueError("no TSA URLs")
        for url in urls:
            if URL(url).scheme not in ("http", "https") or not URL(url).host:
                raise ValueError(f"TSA URL {redact_url(url)!r} is not an absolute http(s) URL")
        if not trust_roots:
            raise ValueError("no trust roots for TSA certificates")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ValueError(
                f"want timeout > 0, retries >= 0, backoff >= 0; got {timeout}, {retries}, {backoff}"
            )
        self._urls = tuple(urls)
        self._trust_roots = tuple(trust_roots)
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._revocation: Revocation = revocation
        self._crls = tuple(crls)
        self._ocsps = tuple(ocsps)
        self._session = session
        self._nonce = nonce

    @property
    def urls(self) -> tuple[str, ...]:
        """The TSA URLs in the order they are tried, without credentials."""
        return tuple(redact_url(u) for u in self._urls)

    async def timestamp(self, data: bytes) -> Timestamp:
        """A verified token over ``data`` (imprint SHA-256 of ``data``) from the first TSA able.

        Raises :class:`TsaUnavailableError` naming each TSA's last failure when none gave one;
        its ``__cause__`` is an ExceptionGroup of every attempt's :class:`TimestampError`.
        """
        attempts: list[tuple[str, int, _AttemptError]] = []
        live = list(self._urls)
        session_cm: AbstractAsyncContextManager[aiohttp.ClientSession] = (
            nullcontext(self._session) if self._session is not None else aiohttp.ClientSession()
        )
        async with session_cm as session:
            for round_no in range(self._retries + 1):
                if round_no:
                    await asyncio.sleep(min(self._backoff * 2 ** (round_no - 1), MAX_BACKOFF))
                again = []
                for url in live:
                    try:
                        return await self._attempt(session, url, data)
                    except _AttemptError as e:
                        attempts.append((url, round_no + 1, e))
                        log.warning("TSA %s, attempt %d: %s", redact_url(url), round_no + 1, e)
                        if e.retriable:
                            again.append(url)
                live = again
                if not live:
                    break
        raise self._unavailable(attempts) from ExceptionGroup(
            "TSA attempts",
            [TimestampError(f"{redact_url(u)} (attempt {n}): {e}") for u, n, e in attempts],
        )

    def _unavailable(self, attempts: list[tuple[str, int, _AttemptError]]) -> TsaUnavailableError:
        parts = []
        for url in self._urls:
            mine = [e for u, _, e in attempts if u == url]
            last = mine[-1]
            tries = f"{len(mine)} attempt{'s' if len(mine) > 1 else ''}"
            parts.append(f"{redact_url(url)}: {last} ({tries})")
        return TsaUnavailableError("no TSA gave a valid timestamp: " + "; ".join(parts))

    async def _attempt(self, session: aiohttp.ClientSession, url: str, data: bytes) -> Timestamp:
        nonce = self._nonce()
        request = build_request(data, nonce)
        try:
            async with session.post(
                url,
                data=request,
                headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,
            ) as response:
                if response.status != 200:
                    retriable = response.status >= 500 or response.status in (408, 429)
                    raise _AttemptError(f"HTTP {response.status}", retriable=retriable)
                if response.content_type != REPLY_TYPE:
                    raise _AttemptError(
                        f"content type {response.content_type!r}, want {REPLY_TYPE}",
                        retriable=True,
                    )
                reply = await _read_limited(response, MAX_RESPONSE_BYTES)
        except TimeoutError:
            raise _AttemptError(f"no answer within {self._timeout} s", retriable=True) from None
        except (aiohttp.ClientError, OSError) as e:
            raise _AttemptError(f"{type(e).__name__}: {e}", retriable=True) from None
        token = token_from_response(reply)
        try:
            info = verify_token(
                token,
                data,
                self._trust_roots,
                nonce,
                revocation=self._revocation,
                crls=self._crls,
                ocsps=self._ocsps,
            )
        except TimestampError as e:
            raise _AttemptError(f"token rejected: {e}", retriable=False) from None
        return Timestamp(
            token=token,
            gen_time=info.gen_time,
            serial=info.serial,
            tsa=redact_url(url),
            policy=info.policy,
            tsa_subject=info.tsa_subject,
        )
