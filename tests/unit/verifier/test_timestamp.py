"""verify_token and token_from_response: good tokens pass, each mutation fails for its reason.

Tokens come from the development TSA's pure responder (``devtsa.respond``, no HTTP here) and
from bad TSAs built with pyHanko's DummyTimeStamper around certificates made in tsa_pki.py.
Every token is also put to ``openssl ts -verify`` (an independent implementation) and, where
installed, rfc3161ng's ``check_timestamp``; negative cases are named after the mutation.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from sealtrail.anchoring import devtsa
from sealtrail.anchoring.errors import TimestampError
from sealtrail.anchoring.tsa import (
    QUERY_TYPE,
    Timestamp,
    TimeStampResponse,
    build_request,
    token_from_response,
    verify_token,
)
from tests.unit.anchoring.tsa_pki import (
    NOW,
    OPENSSL,
    TsaPki,
    alter_gen_time,
    flip_signature_byte,
    make_crl,
    make_pki,
    make_token,
    openssl_verify,
)

DATA = (
    "sealtrail.local/log-0123456789ab\n7\nq83vEjRWeJA=\n\n— sealtrail.local/log-0123456789ab AAAA\n"
)
NOTE = DATA.encode("utf-8")
NONCE = 0x1234_5678_9ABC_DEF0

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> devtsa.DevTsa:
    return devtsa.load_or_create(tmp_path_factory.mktemp("dev") / "devtsa", clock=lambda: NOW)


def dev_token(dev: devtsa.DevTsa, data: bytes, nonce: int, *, cert_req: bool = True) -> bytes:
    request = build_request(data, nonce)
    if not cert_req:
        req = tsp.TimeStampReq.load(request)
        req["cert_req"] = False
        request = req.dump(force=True)
    return token_from_response(devtsa.respond(dev, request, QUERY_TYPE, NOW))


# -- good tokens ---------------------------------------------------------------------------------


def test_dev_token_verifies(dev: devtsa.DevTsa) -> None:
    token = dev_token(dev, NOTE, NONCE)
    info = verify_token(token, NOTE, [dev.ca_cert], NONCE)
    assert info.gen_time == NOW
    assert info.nonce == NONCE
    assert info.policy == devtsa.DEV_POLICY_OID
    assert info.message_imprint == hashlib.sha256(NOTE).digest()
    assert info.tsa_subject == dev.tsa_cert.subject.rfc4514_string()
    assert info.trust_root_subject == dev.ca_cert.subject.rfc4514_string()
    assert info.signer_certificate == dev.tsa_cert
    assert info.accuracy is None


def test_nonce_is_optional_for_the_verifier(dev: devtsa.DevTsa) -> None:
    token = dev_token(dev, NOTE, NONCE)
    assert verify_token(token, NOTE, [dev.ca_cert]).nonce == NONCE


def test_verify_works_inside_a_running_event_loop(dev: devtsa.DevTsa) -> None:
    token = dev_token(dev, NOTE, NONCE)

    async def inside() -> int:
        return verify_token(token, NOTE, [dev.ca_cert], NONCE).serial

    assert asyncio.run(inside()) > 0


def test_any_of_several_trust_roots(dev: devtsa.DevTsa) -> None:
    other = make_pki("other")
    token = dev_token(dev, NOTE, NONCE)
    info = verify_token(token, NOTE, [other.ca_cert, dev.ca_cert], NONCE)
    assert info.trust_root_subject == dev.ca_cert.subject.rfc4514_string()


@needs_openssl
def test_openssl_accepts_dev_token_and_reply(dev: devtsa.DevTsa, tmp_path: Path) -> None:
    request = build_request(NOTE, NONCE)
    reply = devtsa.respond(dev, request, QUERY_TYPE, NOW)
    token = token_from_response(reply)
    by_digest = openssl_verify(token, NOTE, dev.ca_pem_path, tmp_path / "a")
    assert by_digest.ok, by_digest.output
    by_query = openssl_verify(token, NOTE, dev.ca_pem_path, tmp_path / "b", query=request)
    assert by_query.ok, by_query.output
    reply_form = openssl_verify(reply, NOTE, dev.ca_pem_path, tmp_path / "c", token_in=False)
    assert reply_form.ok, reply_form.output


def test_rfc3161ng_accepts_dev_token(dev: devtsa.DevTsa) -> None:
    rfc3161ng = pytest.importorskip("rfc3161ng")
    token = dev_token(dev, NOTE, NONCE)
    tsa_pem = dev.tsa_cert.public_bytes(serialization.Encoding.PEM)
    assert rfc3161ng.check_timestamp(
        token, certificate=tsa_pem, data=NOTE, hashname="sha256", nonce=NONCE
    )
    with pytest.raises(ValueError, match="imprint"):
        rfc3161ng.check_timestamp(token, certificate=tsa_pem, data=b"x", hashname="sha256")


def test_rfc3161ng_misses_what_verify_token_catches() -> None:
    """Why rfc3161ng is a cross-check only (STACK.md): no EKU check, no chain."""
    rfc3161ng = pytest.importorskip("rfc3161ng")
    bad = make_pki("noncritical", eku_critical=False)
    token = make_token(bad, NOTE)
    assert rfc3161ng.check_timestamp(token, certificate=b"", data=NOTE, hashname="sha256")
    with pytest.raises(TimestampError, match="not critical"):
        verify_token(token, NOTE, [bad.ca_cert])


def test_token_is_the_replys_bytes(dev: devtsa.DevTsa) -> None:
    """The stored token is the TSA's DER, not a re-encoding."""
    reply = devtsa.respond(dev, build_request(NOTE, NONCE), QUERY_TYPE, NOW)
    token = token_from_response(reply)
    assert reply.endswith(token)


def test_granted_with_mods_is_a_grant(dev: devtsa.DevTsa) -> None:
    token = dev_token(dev, NOTE, NONCE)
    reply = TimeStampResponse(
        {"status": {"status": "granted_with_mods"}, "time_stamp_token": cms.ContentInfo.load(token)}
    ).dump()
    assert token_from_response(reply) == token


def test_timestamp_json_round_trip(dev: devtsa.DevTsa) -> None:
    token = dev_token(dev, NOTE, NONCE)
    info = verify_token(token, NOTE, [dev.ca_cert])
    stamp = Timestamp(
        token, info.gen_time, info.serial, "http://tsa.example/", info.policy, info.tsa_subject
    )
    obj = stamp.to_json()
    assert obj["gen_time"] == "2026-11-24T10:00:00.000000Z"
    assert Timestamp.from_json(obj) == stamp
    with pytest.raises(TimestampError, match="differs"):
        Timestamp.from_json({**obj, "gen_time": "2026-11-24T10:00:01.000000Z"})
    with pytest.raises(TimestampError, match="members"):
        Timestamp.from_json({**obj, "extra": "x"})
    with pytest.raises(TimestampError, match="base64"):
        Timestamp.from_json({**obj, "token": "not base64!"})


# -- time and revocation are parameters ----------------------------------------------------------


@pytest.fixture(scope="module")
def short_lived() -> TsaPki:
    return make_pki("short-lived", not_after=NOW + timedelta(days=1))


def test_validation_time_defaults_to_gen_time(short_lived: TsaPki) -> None:
    token = make_token(short_lived, NOTE)
    assert verify_token(token, NOTE, [short_lived.ca_cert]).gen_time == NOW
    with pytest.raises(TimestampError, match="not valid at"):
        verify_token(token, NOTE, [short_lived.ca_cert], at=NOW + timedelta(days=2))


def test_token_made_after_tsa_certificate_expired(short_lived: TsaPki) -> None:
    token = make_token(short_lived, NOTE, at=NOW + timedelta(days=3))
    with pytest.raises(TimestampError, match="not valid at"):
        verify_token(token, NOTE, [short_lived.ca_cert])


def test_revocation_required_and_clean_crl(dev: devtsa.DevTsa) -> None:
    ca_key = serialization.load_pem_private_key(
        (dev.directory / devtsa.CA_KEY_FILE).read_bytes(), password=None
    )
    token = dev_token(dev, NOTE, NONCE)
    clean = make_crl(dev.ca_cert, ca_key, [], NOW)  # type: ignore[arg-type]
    info = verify_token(token, NOTE, [dev.ca_cert], revocation="require", crls=[clean])
    assert info.gen_time == NOW
    revoked = make_crl(dev.ca_cert, ca_key, [dev.tsa_cert.serial_number], NOW)  # type: ignore[arg-type]
    with pytest.raises(TimestampError, match="revoked"):
        verify_token(token, NOTE, [dev.ca_cert], revocation="require", crls=[revoked])
    with pytest.raises(TimestampError, match="no revocation information"):
        verify_token(token, NOTE, [dev.ca_cert], revocation="require")


def test_no_trust_roots_is_a_precondition(dev: devtsa.DevTsa) -> None:
    with pytest.raises(ValueError, match="no trust roots"):
        verify_token(dev_token(dev, NOTE, NONCE), NOTE, [])


# -- mutations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A bad token, what verify_token must say, and what openssl must conclude."""

    token: bytes
    reason: str
    roots: list[x509.Certificate]
    data: bytes = NOTE
    nonce: int | None = None
    openssl_ca: Path | None = None  # None: openssl is not asked (a check it does not make)
    openssl_query: bytes | None = None
    openssl_accepts: bool = False  # where we are deliberately stricter than openssl


def _cases(dev: devtsa.DevTsa, work: Path) -> dict[str, Case]:
    good = dev_token(dev, NOTE, NONCE)
    roots = [dev.ca_cert]
    ca = dev.ca_pem_path

    def bad_tsa(name: str, **kw: object) -> tuple[bytes, list[x509.Certificate], Path]:
        pki = make_pki(name, **kw)  # type: ignore[arg-type]
        ca_pem, _ = pki.write(work / name)
        return make_token(pki, NOTE), [pki.ca_cert], ca_pem

    no_eku, no_eku_roots, no_eku_ca = bad_tsa("eku-missing", eku=[])
    weak, weak_roots, weak_ca = bad_tsa("eku-not-critical", eku_critical=False)
    extra, extra_roots, extra_ca = bad_tsa(
        "eku-extra", eku=[ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING]
    )
    wrong, wrong_roots, wrong_ca = bad_tsa("eku-wrong", eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    no_nonce_pki = make_pki("no-nonce")
    sha512_pki = make_pki("sha512")
    sha512_ca, _ = sha512_pki.write(work / "sha512")
    stranger = make_pki("stranger")
    stranger_ca, _ = stranger.write(work / "stranger")
    plain_data = cms.ContentInfo({"content_type": "data", "content": b"hello"}).dump()
    return {
        "wrong-data": Case(good, "message imprint mismatch", roots, data=b"other", openssl_ca=ca),
        "wrong-nonce": Case(
            good,
            "nonce mismatch",
            roots,
            nonce=NONCE + 1,
            openssl_ca=ca,
            openssl_query=build_request(NOTE, NONCE + 1),
        ),
        "nonce-missing": Case(
            make_token(no_nonce_pki, NOTE, nonce=None),
            "token has none",
            [no_nonce_pki.ca_cert],
            nonce=NONCE,
        ),
        "flipped-signature-byte": Case(
            flip_signature_byte(good), "CMS signature does not verify", roots, openssl_ca=ca
        ),
        "gen-time-altered": Case(
            alter_gen_time(good), "message-digest attribute does not match", roots, openssl_ca=ca
        ),
        "eku-missing": Case(
            no_eku, "no extended key usage extension", no_eku_roots, openssl_ca=no_eku_ca
        ),
        "eku-not-critical": Case(weak, "not critical", weak_roots, openssl_ca=weak_ca),
        "eku-extra-purpose": Case(extra, "want only", extra_roots, openssl_ca=extra_ca),
        "eku-code-signing-only": Case(wrong, "want only", wrong_roots, openssl_ca=wrong_ca),
        "untrusted-root": Case(
            good, "does not chain to a trust root", [stranger.ca_cert], openssl_ca=stranger_ca
        ),
        "truncated-der-half": Case(good[: len(good) // 2], "malformed token", roots, openssl_ca=ca),
        "truncated-der-last-byte": Case(good[:-1], "malformed token", roots, openssl_ca=ca),
        # openssl reads the first DER object and ignores the rest; a stored token must be one.
        "trailing-garbage": Case(
            good + b"\x00", "malformed token", roots, openssl_ca=ca, openssl_accepts=True
        ),
        "empty": Case(b"", "malformed token", roots, openssl_ca=ca),
        "content-type-data": Case(plain_data, "want signed_data", roots, openssl_ca=ca),
        "imprint-sha512": Case(
            make_token(sha512_pki, NOTE, imprint_hash="sha512"),
            "imprint algorithm sha512, want sha256",
            [sha512_pki.ca_cert],
            openssl_ca=sha512_ca,
        ),
        # openssl 3.0 still accepts SHA-1 signatures here; we do not (SHAttered, 2017).
        "signer-digest-sha1": Case(
            make_token(sha512_pki, NOTE, signer_digest="sha1"),
            "signer digest algorithm sha1",
            [sha512_pki.ca_cert],
            openssl_ca=sha512_ca,
            openssl_accepts=True,
        ),
        "signer-certificate-absent": Case(
            dev_token(dev, NOTE, NONCE, cert_req=False),
            "signer certificate not in the token",
            roots,
            openssl_ca=ca,
        ),
    }


@pytest.fixture(scope="module")
def cases(dev: devtsa.DevTsa, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    return _cases(dev, tmp_path_factory.mktemp("cases"))


MUTATIONS = [
    "wrong-data",
    "wrong-nonce",
    "nonce-missing",
    "flipped-signature-byte",
    "gen-time-altered",
    "eku-missing",
    "eku-not-critical",
    "eku-extra-purpose",
    "eku-code-signing-only",
    "untrusted-root",
    "truncated-der-half",
    "truncated-der-last-byte",
    "trailing-garbage",
    "empty",
    "content-type-data",
    "imprint-sha512",
    "signer-digest-sha1",
    "signer-certificate-absent",
]


@pytest.mark.parametrize("name", MUTATIONS)
def test_mutation_is_rejected(name: str, cases: dict[str, Case]) -> None:
    case = cases[name]
    with pytest.raises(TimestampError, match=case.reason):
        verify_token(case.token, case.data, case.roots, case.nonce)


# nonce-missing: openssl checks a nonce only against a request file, whose imprint would differ.
OPENSSL_MUTATIONS = [m for m in MUTATIONS if m != "nonce-missing"]


@needs_openssl
@pytest.mark.parametrize("name", OPENSSL_MUTATIONS)
def test_openssl_agrees_on_mutation(name: str, cases: dict[str, Case], tmp_path: Path) -> None:
    case = cases[name]
    assert case.openssl_ca is not None
    verdict = openssl_verify(
        case.token, case.data, case.openssl_ca, tmp_path, query=case.openssl_query
    )
    assert verdict.ok is case.openssl_accepts, verdict.output


@needs_openssl
def test_openssl_needs_untrusted_for_a_token_without_certificate(
    dev: devtsa.DevTsa, tmp_path: Path
) -> None:
    token = dev_token(dev, NOTE, NONCE, cert_req=False)
    verdict = openssl_verify(token, NOTE, dev.ca_pem_path, tmp_path, untrusted=dev.tsa_pem_path)
    assert verdict.ok, verdict.output


def test_rfc3161ng_rejects_flipped_signature(cases: dict[str, Case], dev: devtsa.DevTsa) -> None:
    rfc3161ng = pytest.importorskip("rfc3161ng")
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        rfc3161ng.check_timestamp(
            cases["flipped-signature-byte"].token,
            certificate=dev.tsa_cert.public_bytes(serialization.Encoding.PEM),
            data=NOTE,
            hashname="sha256",
        )


def test_wrong_type_is_a_type_error(dev: devtsa.DevTsa) -> None:
    token = dev_token(dev, NOTE, NONCE)
    with pytest.raises(TypeError):
        verify_token(bytearray(token), NOTE, [dev.ca_cert])  # type: ignore[arg-type]


# -- responses -----------------------------------------------------------------------------------

Reject = Callable[[str, str], bytes]


@pytest.mark.parametrize(
    ("fail_info", "text"),
    [("unaccepted_policy", "policy 1.2.3, want ours"), ("bad_alg", "hash algorithm md5")],
)
def test_rejection_status_is_reported(fail_info: str, text: str) -> None:
    reply = devtsa.rejection(fail_info, text)
    with pytest.raises(
        TimestampError, match=f"status rejection \\(failInfo {fail_info}\\): {text}"
    ):
        token_from_response(reply)


def test_garbage_reply_is_not_a_response() -> None:
    with pytest.raises(TimestampError, match="not a DER TimeStampResp"):
        token_from_response(b"<html>502 Bad Gateway</html>")


def test_granted_without_token_is_an_error() -> None:
    reply = TimeStampResponse({"status": {"status": "granted"}}).dump()
    with pytest.raises(TimestampError, match="sent no token"):
        token_from_response(reply)


@needs_openssl
def test_expired_tsa_certificate_verifies_as_of_gen_time(tmp_path: Path) -> None:
    """docs/TIMESTAMPS.md §3: openssl checks the chain now unless told -attime <genTime>."""
    real_now = datetime.now(UTC)
    old = make_pki(
        "expired", not_before=real_now - timedelta(days=10), not_after=real_now - timedelta(days=5)
    )
    ca_pem, _ = old.write(tmp_path / "pki")
    token = make_token(old, NOTE, at=real_now - timedelta(days=7))
    verify_token(token, NOTE, [old.ca_cert])  # at genTime, the default
    with pytest.raises(TimestampError, match="not valid at"):
        verify_token(token, NOTE, [old.ca_cert], at=real_now)
    (tmp_path / "token.tst").write_bytes(token)
    (tmp_path / "checkpoint.note").write_bytes(NOTE)
    shutil.copy(ca_pem, tmp_path / "tsa-ca.pem")
    verify = "openssl ts -verify -data checkpoint.note -in token.tst -token_in -CAfile tsa-ca.pem"
    script = f"""
{verify} && exit 9
GEN_TIME=$(openssl ts -reply -in token.tst -token_in -text | sed -n 's/^Time stamp: //p')
{verify} -attime "$(date -u -d "$GEN_TIME" +%s)"
"""
    out = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "certificate has expired" in out.stderr
    assert out.stdout.count("Verification: OK") == 1
