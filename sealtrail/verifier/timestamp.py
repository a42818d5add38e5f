"""RFC 3161 token verification, pure: no network, no event loop, no aiohttp.

Split out of :mod:`sealtrail.anchoring.tsa` so that the stand-alone package verifier
(:mod:`sealtrail.verifier`) can check tokens without the client's dependencies; ``tsa``
re-exports every name defined here. What is checked, in order: docs/TIMESTAMPS.md §7.

:func:`verify_token` parses with asn1crypto, checks the CMS signature with pyHanko's
``validate_sig_integrity`` and the ESS signing-certificate attribute with pyHanko's
``check_ess_certid``, the extended key usage with ``cryptography``, and the path to the trust
roots with pyhanko-certvalidator, at the token's ``genTime`` unless told another time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

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

from sealtrail.verifier.errors import TimestampError

#: The message imprint algorithm of every Sealtrail timestamp (docs/TIMESTAMPS.md §1).
IMPRINT_ALGORITHM = "sha256"
#: Digest algorithms accepted in the TSA's SignerInfo (over the TSTInfo and signed attributes).
SIGNER_DIGESTS = frozenset({"sha256", "sha384", "sha512"})

Revocation = Literal["off", "require"]
_T = TypeVar("_T")


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


def message_imprint(data: bytes) -> bytes:
    """The message imprint of ``data``: its SHA-256 (docs/TIMESTAMPS.md §1)."""
    return hashlib.sha256(data).digest()


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


# -- renewal chains (archive timestamps in the spirit of RFC 4998) ------------------------------

#: the most renewals a chain may hold (one a year is plenty; caps the work of a hostile file)
MAX_RENEWALS = 64
#: domain separation of the data a renewal timestamps (docs/TIMESTAMPS.md §8)
RENEWAL_PREFIX = b"sealtrail-ers/v1\n"


def renewal_data(note: bytes, earlier: Sequence[bytes]) -> bytes:
    """The data the renewal after ``earlier`` timestamps (docs/TIMESTAMPS.md §8)::

        "sealtrail-ers/v1\\n" ‖ SHA-256(note) ‖ SHA-256(earlier[0]) ‖ … ‖ SHA-256(earlier[-1])

    ``earlier`` are the DER tokens before it, the checkpoint's own first. Requires at least one.
    """
    if not earlier:
        raise ValueError("a renewal follows at least one token")
    parts = [RENEWAL_PREFIX, hashlib.sha256(note).digest()]
    parts += [hashlib.sha256(t).digest() for t in earlier]
    return b"".join(parts)


def verify_chain(
    tokens: Sequence[bytes],
    note: bytes,
    trust_roots: Sequence[x509.Certificate],
    *,
    at: datetime,
) -> list[TimestampInfo]:
    """Verify a checkpoint's token and its renewals as proof, valid at ``at``, that ``note``
    existed at the first token's genTime; or raise :class:`TimestampError` naming the link.

    ``tokens[0]`` is the checkpoint's token over ``note``; ``tokens[k]`` (k ≥ 1) a renewal over
    :func:`renewal_data` of ``note`` and ``tokens[:k]``. Checks, for each k: the token verifies
    over its data (:func:`verify_token`, path at its own genTime); for k ≥ 1, its genTime is
    after the previous token's, and the previous token still verified *at that genTime* (its TSA
    certificate path was valid when it was renewed: a renewal after expiry proves nothing); and
    the last token verifies at ``at``. A single token is the chain of length one: valid at
    ``at`` only while its own TSA certificate is. Requires an aware ``at``.
    """
    if at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    if not 1 <= len(tokens) <= MAX_RENEWALS + 1:
        raise TimestampError(f"chain of {len(tokens)} tokens, want 1 to {MAX_RENEWALS + 1}")
    infos: list[TimestampInfo] = []
    for k, token in enumerate(tokens):
        data = note if k == 0 else renewal_data(note, tokens[:k])
        try:
            info = verify_token(token, data, trust_roots)
        except TimestampError as e:
            raise TimestampError(f"token {k} of the chain: {e}") from None
        if infos:
            prev = infos[-1]
            if info.gen_time <= prev.gen_time:
                raise TimestampError(
                    f"token {k} of the chain: genTime {info.gen_time.isoformat()} is not after "
                    f"token {k - 1}'s {prev.gen_time.isoformat()}"
                )
            prev_data = note if k == 1 else renewal_data(note, tokens[: k - 1])
            try:
                verify_token(tokens[k - 1], prev_data, trust_roots, at=info.gen_time)
            except TimestampError as e:
                raise TimestampError(
                    f"token {k} of the chain renews token {k - 1} too late, at "
                    f"{info.gen_time.isoformat()}: {e}"
                ) from None
        infos.append(info)
    last = len(tokens) - 1
    try:
        verify_token(tokens[last], note if last == 0 else renewal_data(note, tokens[:last]),
                     trust_roots, at=at)  # fmt: skip
    except TimestampError as e:
        raise TimestampError(
            f"token {last} of the chain (the last) does not verify at {at.isoformat()}: {e}"
        ) from None
    return infos
