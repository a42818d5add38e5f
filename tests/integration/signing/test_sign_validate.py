"""Sealing real PDFs at B-T and B-LT with a real TSA over HTTP, then validating them; negative
cases are named after the mutation applied to a signed file."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from sealtrail.signing.errors import (
    InvalidPdfError,
    PdfTooLargeError,
    SignatureFieldError,
    SigningError,
    SigningTimestampError,
)
from sealtrail.signing.formats import asn1_cert
from sealtrail.signing.sign import (
    Placement,
    SignatureLevel,
    SigningPolicy,
    sign_pdf,
)
from sealtrail.signing.validate import (
    Coverage,
    Modification,
    PdfValidationReport,
    Status,
    validate_pdf,
)

from ...unit.signing.pdfs import CONTRACT_LINE, make_pdf
from ..service import free_port
from .conftest import REMARKS, Seals, Tsa, policy_for


def check(data: bytes, tsa: Tsa, seals: Seals, **kw: object) -> PdfValidationReport:
    return validate_pdf(data, [seals.ca.certificate], [tsa.root], **kw)  # type: ignore[arg-type]


def test_b_t_seal_validates(signed_bt: bytes, tsa: Tsa, seals: Seals) -> None:
    report = check(signed_bt, tsa, seals)
    assert report.ok, report
    assert report.reasons == ()
    (sig,) = report.signatures
    assert sig.field_name == "AcmeSeal"
    assert "Acme Ltd 合同专用章" in sig.signer_subject
    assert sig.seal_remarks == REMARKS
    assert (sig.reason, sig.location) == ("Contract approved", "Hangzhou")
    assert sig.intact
    assert sig.valid
    assert sig.trusted
    assert not sig.revoked
    assert sig.timestamp.present
    assert sig.timestamp.valid
    assert sig.timestamp.trusted
    assert sig.timestamp.time is not None
    assert abs(sig.timestamp.time - datetime.now(UTC)) < timedelta(minutes=10)
    assert sig.coverage is Coverage.ENTIRE_FILE
    assert sig.modification is Modification.NONE
    assert sig.modification_allowed
    assert sig.status is Status.PASSED


def test_b_t_is_an_incremental_update_with_a_visible_seal(signed_bt: bytes) -> None:
    original = make_pdf(1)
    assert signed_bt.startswith(original)  # the original bytes are untouched
    reader = PdfFileReader(io.BytesIO(signed_bt))
    sig = reader.embedded_signatures[0]
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    field = sig.sig_field
    rect = [float(x) for x in field["/Rect"]]
    assert rect == [380.0, 80.0, 530.0, 230.0]
    appearance = field["/AP"]["/N"]
    assert any(
        "/Subtype" in x.get_object() and x.get_object()["/Subtype"] == "/Image"
        for x in _xobjects(appearance)
    ), "the seal PNG is not in the appearance"
    assert "/DSS" not in reader.root  # B-T: no validation data yet


def _xobjects(stream: generic.PdfObject) -> list[generic.PdfObject]:
    found: list[generic.PdfObject] = []
    todo = [stream.get_object()]
    while todo:
        obj = todo.pop()
        xobjs = obj.get("/Resources", generic.DictionaryObject()).get("/XObject", {})
        for ref in xobjs.values():
            found.append(ref)
            todo.append(ref.get_object())
    return found


def test_b_lt_embeds_validation_data_and_validates(
    signed_lt: bytes, tsa: Tsa, seals: Seals
) -> None:
    reader = PdfFileReader(io.BytesIO(signed_lt))
    dss = reader.root["/DSS"]
    assert len(dss["/CRLs"]) >= 1
    assert len(dss["/Certs"]) >= 2
    report = check(signed_lt, tsa, seals)
    assert report.ok, report
    (sig,) = report.signatures
    assert sig.coverage is Coverage.ENTIRE_REVISION
    assert sig.modification is Modification.VALIDATION_DATA
    assert sig.modification_allowed


def test_b_lt_revoked_seal_is_reported(tsa: Tsa, seals: Seals, signed_lt: bytes) -> None:
    # The CRL embedded at signing time lists nothing; validating against a later one that
    # revokes the seal before "now" makes the signature untrustworthy.
    from sealtrail.signing import pki

    crl = pki.issue_crl(
        seals.ca,
        [(seals.contract.certificate.serial_number, datetime.now(UTC) - timedelta(days=1))],
        now=datetime.now(UTC),
    )
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    from sealtrail.signing.formats import asn1_crl_of

    buf = io.BytesIO(signed_lt)
    DocumentSecurityStore.add_dss(buf, None, crls=[asn1_crl_of(crl)], force_write=True)
    report = check(buf.getvalue(), tsa, seals)
    assert not report.ok
    assert report.status is Status.FAILED
    assert report.signatures[0].revoked
    assert "certificate_revoked" in report.reasons


def test_two_signers_incrementally(tsa: Tsa, seals: Seals, contract_png: bytes) -> None:
    policy = policy_for(tsa, seals)
    first = sign_pdf(
        make_pdf(5),
        seals.contract,
        Placement("AcmeSeal", page=4, box=(50, 80, 200, 230)),
        policy,
        appearance_png=contract_png,
        remarks="first party",
    )
    from sealtrail.signing.appearance import SealKind, generate_seal

    second = sign_pdf(
        first,
        seals.legal_person,
        Placement("LegalPerson", page=4, box=(300, 80, 400, 180)),
        policy,
        appearance_png=generate_seal(SealKind.LEGAL_PERSON, "李雷之印"),
        remarks="second party",
        level=SignatureLevel.B_LT,
    )
    assert second.startswith(first)
    report = check(second, tsa, seals)
    assert report.ok, report
    a, b = report.signatures
    assert (a.field_name, a.seal_remarks) == ("AcmeSeal", "first party")
    assert (b.field_name, b.seal_remarks) == ("LegalPerson", "second party")
    assert a.coverage is Coverage.ENTIRE_REVISION
    assert a.modification is Modification.FORM_FILLING
    assert a.modification_allowed
    assert "李雷" in b.signer_subject


def test_sign_existing_empty_field(tsa: Tsa, seals: Seals) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(2)))
    fields.append_signature_field(
        writer, fields.SigFieldSpec("Buyer", on_page=1, box=(100, 100, 250, 200))
    )
    out = io.BytesIO()
    writer.write(out)
    signed = sign_pdf(out.getvalue(), seals.contract, Placement("Buyer"), policy_for(tsa, seals))
    report = check(signed, tsa, seals)
    assert report.ok, report
    assert report.signatures[0].field_name == "Buyer"
    with pytest.raises(SignatureFieldError, match="already signed"):
        sign_pdf(signed, seals.contract, Placement("Buyer"), policy_for(tsa, seals))


def test_invisible_signature_without_box(tsa: Tsa, seals: Seals) -> None:
    signed = sign_pdf(make_pdf(1), seals.contract, Placement("Hidden"), policy_for(tsa, seals))
    assert check(signed, tsa, seals).ok


@pytest.mark.parametrize(
    ("placement", "message"),
    [
        (Placement("P", page=3, box=(10, 10, 100, 100)), "page 3, want 0 to 0"),
        (Placement("P", page=0, box=(100, 10, 10, 100)), "want x1 < x2"),
        (Placement("a.b", page=0, box=(10, 10, 100, 100)), "without '.'"),
    ],
)
def test_bad_placement(tsa: Tsa, seals: Seals, placement: Placement, message: str) -> None:
    with pytest.raises(SignatureFieldError, match=message):
        sign_pdf(make_pdf(1), seals.contract, placement, policy_for(tsa, seals))


# -- negatives, named after the mutation ---------------------------------------------------------


def _flip(data: bytes, needle: bytes) -> bytes:
    i = data.index(needle)
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def test_byte_flipped_in_signed_page_content(signed_bt: bytes, tsa: Tsa, seals: Seals) -> None:
    report = check(_flip(signed_bt, CONTRACT_LINE[25:]), tsa, seals)
    assert not report.ok
    assert report.status is Status.FAILED
    assert report.signatures[0].intact is False
    assert "signature_not_intact" in report.reasons


def test_byte_flipped_in_signed_remarks(signed_bt: bytes, tsa: Tsa, seals: Seals) -> None:
    # The remarks sit in the signature dictionary, inside the signed byte range.
    # pyHanko writes it as a literal string, "(\\376\\377" then UTF-16BE: change its first byte.
    start = signed_bt.index(b"/SealtrailRemarks")
    value = signed_bt.index(b"(\\376\\377", start) + 9
    assert signed_bt[value : value + 1] not in (b"\\", b"(", b")")
    tampered = signed_bt[:value] + bytes([signed_bt[value] ^ 0x01]) + signed_bt[value + 1 :]
    assert (
        PdfFileReader(io.BytesIO(tampered))
        .embedded_signatures[0]
        .sig_object["/Prop_Build"]["/App"]["/SealtrailRemarks"]
        != REMARKS
    )
    report = check(tampered, tsa, seals)
    assert report.status is Status.FAILED
    assert "signature_not_intact" in report.reasons


def _append_update(data: bytes, mutation: str) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    if mutation == "page-content-added":  # overlay "pay 9000 EUR" over the signed text
        stream = generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 700 Td (Pay 9000 EUR.) Tj ET")
        writer.add_stream_to_page(0, writer.add_object(stream))
    elif mutation == "page-contents-replaced":  # shadow attack: swap what the page shows
        page_ref = writer.root["/Pages"]["/Kids"][0]
        page = page_ref.get_object()
        new = generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 730 Td (Pay 9000 EUR.) Tj ET")
        page["/Contents"] = writer.add_object(new)
        writer.update_container(page)
    elif mutation == "catalog-open-action-added":
        writer.root["/OpenAction"] = generic.DictionaryObject(
            {
                generic.NameObject("/S"): generic.NameObject("/JavaScript"),
                generic.NameObject("/JS"): generic.TextStringObject("app.alert('hi')"),
            }
        )
        writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "mutation", ["page-content-added", "page-contents-replaced", "catalog-open-action-added"]
)
def test_incremental_update_after_signing(
    signed_bt: bytes, tsa: Tsa, seals: Seals, mutation: str
) -> None:
    tampered = _append_update(signed_bt, mutation)
    assert tampered.startswith(signed_bt)
    report = check(tampered, tsa, seals)
    assert not report.ok
    (sig,) = report.signatures
    # The signed revision itself is untouched: intact and valid, but modified after signing.
    assert sig.intact
    assert sig.valid
    assert sig.coverage is Coverage.ENTIRE_REVISION
    assert sig.modification is Modification.OTHER
    assert not sig.modification_allowed
    assert "after signing" in sig.modification_detail
    assert "modified_after_signing" in sig.reasons
    assert sig.status is Status.FAILED


def test_untrusted_root(signed_bt: bytes, tsa: Tsa, seals: Seals) -> None:
    report = validate_pdf(signed_bt, [seals.other_ca.certificate], [tsa.root])
    assert not report.ok
    assert report.status is Status.INDETERMINATE
    (sig,) = report.signatures
    assert sig.intact
    assert sig.valid
    assert not sig.trusted
    assert sig.reasons == ("certificate_untrusted",)


def test_untrusted_tsa(signed_bt: bytes, seals: Seals) -> None:
    report = validate_pdf(signed_bt, [seals.ca.certificate], [seals.other_ca.certificate])
    assert report.status is Status.INDETERMINATE
    assert report.reasons == ("timestamp_untrusted",)


def test_missing_timestamp(tsa: Tsa, seals: Seals) -> None:
    # A plain PAdES B-B signature made with pyHanko directly, without any TSA.
    from sealtrail.signing.sign import _simple_signer

    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(1)))
    meta = signers.PdfSignatureMetadata(field_name="NoTs", subfilter=fields.SigSeedSubFilter.PADES)
    out = signers.sign_pdf(writer, meta, signer=_simple_signer(seals.contract))
    report = check(out.getvalue(), tsa, seals)
    assert not report.ok
    assert report.status is Status.INDETERMINATE
    assert report.signatures[0].timestamp.present is False
    assert report.reasons == ("timestamp_missing",)


def test_unsigned_pdf_is_indeterminate(tsa: Tsa, seals: Seals) -> None:
    report = check(make_pdf(1), tsa, seals)
    assert not report.ok
    assert report.signatures == ()
    assert report.reasons == ("no_signatures",)


def test_validation_at_a_time_after_the_certificate_expired(
    signed_bt: bytes, tsa: Tsa, seals: Seals
) -> None:
    later = datetime.now(UTC) + timedelta(days=5 * 365)
    report = check(signed_bt, tsa, seals, at_time=later)
    assert not report.ok
    assert "certificate_untrusted" in report.reasons


# -- signing refusals ----------------------------------------------------------------------------


def test_seal_from_another_ca_is_refused_at_signing(tsa: Tsa, seals: Seals) -> None:
    from sealtrail.signing import pki
    from sealtrail.signing.appearance import SealKind

    foreign = pki.issue_seal_certificate(
        seals.other_ca,
        seal_name="Mallory",
        kind=SealKind.ORGANIZATION,
        seal_id="m",
        now=datetime.now(UTC),
    )
    with pytest.raises(SigningError):
        sign_pdf(make_pdf(1), foreign, Placement("M"), policy_for(tsa, seals))


def test_tsa_failover(tsa: Tsa, seals: Seals) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    signed = sign_pdf(
        make_pdf(1), seals.contract, Placement("S"), policy_for(tsa, seals, dead, tsa.url)
    )
    assert check(signed, tsa, seals).ok


def test_no_tsa_answers(tsa: Tsa, seals: Seals) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(SigningTimestampError, match=dead):
        sign_pdf(make_pdf(1), seals.contract, Placement("S"), policy_for(tsa, seals, dead))


def test_untrusted_tsa_refused_at_signing(tsa: Tsa, seals: Seals) -> None:
    policy = SigningPolicy(
        timestamper_urls=(tsa.url,),
        trust_roots=(seals.ca.certificate,),
        tsa_trust_roots=(seals.other_ca.certificate,),
    )
    with pytest.raises(SigningError):
        sign_pdf(make_pdf(1), seals.contract, Placement("S"), policy)


@pytest.mark.parametrize("name", ["truncated", "garbage", "huge"])
def test_malformed_pdf_refused(tsa: Tsa, seals: Seals, signed_bt: bytes, name: str) -> None:
    data = {
        "truncated": signed_bt[: len(signed_bt) // 3],
        "garbage": b"%PDF-1.7\n" + bytes(range(256)) * 40,
        "huge": make_pdf(1) + b"\n%" + b"x" * 4096,
    }[name]
    policy = SigningPolicy(
        timestamper_urls=(tsa.url,),
        trust_roots=(seals.ca.certificate,),
        tsa_trust_roots=(tsa.root,),
        max_pdf_bytes=len(make_pdf(1)) + 100,
    )
    expected = PdfTooLargeError if name == "huge" else InvalidPdfError
    with pytest.raises(expected):
        sign_pdf(data, seals.contract, Placement("S"), policy)
    with pytest.raises(expected):
        validate_pdf(data, [seals.ca.certificate], [tsa.root], max_pdf_bytes=policy.max_pdf_bytes)


def test_signer_helper_keeps_the_chain(seals: Seals) -> None:
    from sealtrail.signing.sign import _simple_signer

    s = _simple_signer(seals.contract)
    assert isinstance(s.cert_registry, SimpleCertificateStore)
    assert asn1_cert(seals.ca.certificate).dump() in [c.dump() for c in s.cert_registry]
