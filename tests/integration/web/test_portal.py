"""The public verification portal in headless Chromium against a real service that anchors its
checkpoints on a real (ticking) Ganache: a real signed PDF recorded in the ledger is dropped on
the page and verified there; answers tampered with in transit are refused; the page's own
verification code agrees with the Python core; languages, phone viewport, pasted keys."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sealtrail.anchoring.devtsa import CA_CERT_FILE
from sealtrail.core import merkle
from sealtrail.signing import pki
from sealtrail.signing.sign import Placement, SignatureLevel, SigningPolicy, sign_pdf

from ...unit.signing.pdfs import make_pdf
from ..api.client import Api, event, poll, sha
from ..chain.conftest import KEYS, Ganache, start_ganache
from ..conftest import Provisioned
from ..service import Service, cli, env_for, start
from .conftest import PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.ganache]

K = 2  # confirmations before an anchor is final


@dataclass(frozen=True)
class Portal:
    svc: Service
    pdf: bytes
    sha256: str
    block: int
    vkey: str

    def url(self, fragment: str = "") -> str:
        return f"{self.svc.url}/portal/{fragment}"


def _sign(svc: Service) -> bytes:
    """A one-page PDF sealed at PAdES B-T, time-stamped by the service's development TSA."""
    now = datetime.now(UTC)
    ca = pki.create_internal_ca("Acme Ltd", now=now)
    seal = pki.issue_seal_certificate(
        ca,
        seal_name="Acme Ltd 合同专用章",
        kind=pki.SealKind.CONTRACT,
        seal_id="seal-contract",
        now=now,
        crl_url="http://sealtrail.invalid/crl/acme.crl",
    )
    tsa_root = x509.load_pem_x509_certificate((svc.data_dir / "devtsa" / CA_CERT_FILE).read_bytes())
    policy = SigningPolicy(
        timestamper_urls=(f"{svc.url}/devtsa/",),
        trust_roots=(ca.certificate,),
        tsa_trust_roots=(tsa_root,),
        crls=(pki.issue_crl(ca, [], now=now),),
    )
    return sign_pdf(
        make_pdf(1),
        seal,
        Placement("AcmeSeal", page=0, box=(380, 80, 530, 230)),
        policy,
        reason="Contract approved",
        level=SignatureLevel.B_T,
    )


@pytest.fixture(scope="module")
def portal(provisioned: Provisioned, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    base = tmp_path_factory.mktemp("portal")
    g: Ganache = start_ganache(base / "ganache.log", "--miner.blockTime", "1")
    svc: Service | None = None
    try:
        data = base / "data"
        shutil.copytree(provisioned.data_dir, data)
        cli(data, "contract", "deploy", env=env_for(chain_rpc_url=g.url, chain_key=KEYS[0]))
        key_path = base / "anchorer.key"
        key_path.write_text(KEYS[0] + "\n")
        key_path.chmod(0o600)
        svc = start(
            data,
            base / "service.log",
            checkpoint_interval="0.5",
            checkpoint_size="50",
            chain_rpc_url=g.url,
            chain_key_file=str(key_path),
            chain_confirmations=str(K),
            chain_poll_interval="0.2",
        )
        svc.keys = dict(provisioned.keys)
        # pyHanko runs its own event loop: keep it off this thread (Playwright's loop lives here)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pdf = pool.submit(_sign, svc).result(timeout=120)
        digest = hashlib.sha256(pdf).hexdigest()
        api = Api(svc)
        api.append_batch([event(i, stream="contract:other") for i in range(3)], key="int_sub2")
        api.append_batch(
            [event(t, stream="contract:pdf", etype=t, doc=digest) for t in ("initiate", "sign")]
        )
        cp = api.wait_for_checkpoint(5)

        def final() -> dict[str, Any] | None:
            latest = api.get("/v1/checkpoints/latest", "aud_hq").json()
            anchor, stamp = latest["anchor"]["status"], latest["timestamp"]["status"]
            ok = anchor == "final" and stamp == "stamped"
            return latest if ok and latest["size"] >= cp["size"] else None

        latest = poll(final, 60, "the latest checkpoint anchored final and time-stamped")
        vkey = (data / "ledger.pub").read_text().strip()
        yield Portal(svc, pdf, digest, latest["anchor"]["block_number"], vkey)
    finally:
        if svc is not None:
            svc.stop()
        g.stop()


def drop_file(page: Any, zone: str, data: bytes, name: str, mime: str) -> None:
    """Drop a file on ``zone`` as a user would (a DragEvent with a DataTransfer holding it)."""
    page.evaluate(
        """([id, b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            document.getElementById(id).dispatchEvent(
                new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
        }""",
        [zone, base64.b64encode(data).decode(), name, mime],
    )


def verdict(page: Any) -> str:
    v = page.locator("[data-testid=verdict]")
    v.wait_for()
    return str(v.get_attribute("data-verdict"))


def test_dropped_signed_pdf_is_verified_in_the_browser(portal: Portal, new_page: Any) -> None:
    page = new_page(locale="en-US")
    requests: list[Any] = []
    page.on("request", lambda r: requests.append(r))
    page.goto(portal.url())
    drop_file(page, "drop", portal.pdf, "contract.pdf", "application/pdf")
    assert verdict(page) == "verified"
    assert page.url.endswith(f"/portal/#/fingerprint/{portal.sha256}")
    text = page.locator("[data-testid=verdict]").inner_text()
    assert "This exact file was submitted for signing on" in text
    assert " and signed on " in text
    assert f"in block {portal.block}" in text
    assert "chain 1337" in text
    assert "time-stamped by" in text
    # times in the service's time zone (default Asia/Shanghai, as the report), with the offset
    assert "+08:00" in text
    assert "+08:00" in page.locator("[data-testid=events] tbody tr").first.inner_text()
    checked = page.locator("[data-testid=checked]").inner_text()
    assert portal.sha256[:16] in checked
    assert "signed by the verifier key" in checked
    assert checked.count("is included in that checkpoint") == 2
    taken = page.locator("[data-testid=taken]").inner_text()
    assert "anchor" in taken.lower()
    assert page.locator("[data-testid=events] tbody tr").count() == 2
    assert page.locator("[data-testid=anchor]").inner_text().count("final") == 1
    assert page.locator("[data-testid=key-source]").get_attribute("data-source") == "server"
    assert page.locator("#key-text").inner_text() == portal.vkey
    # The file never left the browser: one GET of its fingerprint, no request with a body.
    api_calls = [r for r in requests if "/v1/" in r.url]
    assert [(r.method, r.url.split("/v1/")[1]) for r in api_calls] == [
        ("GET", f"public/fingerprints/{portal.sha256}")
    ]
    assert all(r.post_data_buffer is None for r in requests)
    screenshot(page, "portal-verified")


def test_choosing_the_file_with_the_keyboard_works_too(portal: Portal, new_page: Any) -> None:
    page = new_page()
    page.goto(portal.url())
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    page.bring_to_front()  # a file chooser opens only from the active page
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")  # the language switch
    page.keyboard.press("Tab")  # the drop zone's file input
    assert page.evaluate("document.activeElement.id") == "file"
    # Space (or Enter) on the focused input opens the chooser. Headless Chromium sometimes
    # drops the first activation in long runs (seen once in a full suite, never alone): try
    # the keys a user would, each with the focus checked, and fail only if none opens it.
    chooser = None
    for key in ("Space", "Enter", "Space"):
        try:
            with page.expect_file_chooser(timeout=5_000) as fc:
                page.keyboard.press(key)
        except PlaywrightTimeoutError:
            assert page.evaluate("document.activeElement.id") == "file"
            continue
        chooser = fc.value
        break
    assert chooser is not None, "no key opened the file chooser from the focused input"
    chooser.set_files(
        files=[{"name": "contract.pdf", "mimeType": "application/pdf", "buffer": portal.pdf}]
    )
    assert verdict(page) == "verified"


def _flip_hex(h: str, at: int = 5) -> str:
    return h[:at] + format(int(h[at], 16) ^ 1, "x") + h[at + 1 :]


def _flip_sig(note: str) -> str:
    head, sig = note.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[20] ^= 0x01  # inside the Ed25519 signature, after the 4-byte key hash
    return f"{head} {base64.b64encode(bytes(raw)).decode()}\n"


MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "modified-proof[0]-bit-@5": lambda b: b["events"][0]["proof"].__setitem__(
        0, _flip_hex(b["events"][0]["proof"][0])
    ),
    "modified-leaf-hash": lambda b: b["events"][1].__setitem__(
        "leaf_hash", _flip_hex(b["events"][1]["leaf_hash"], 0)
    ),
    "truncated-proof": lambda b: b["events"][0]["proof"].pop(),
    "wrong-index": lambda b: b["events"][0].__setitem__("index", b["events"][0]["index"] + 1),
    "modified-note-signature": lambda b: b["checkpoint"].__setitem__(
        "note", _flip_sig(b["checkpoint"]["note"])
    ),
    "json-root-not-the-signed-root": lambda b: b["checkpoint"].__setitem__(
        "root", _flip_hex(b["checkpoint"]["root"])
    ),
}


@pytest.mark.parametrize("zone", ["Not/A_Zone", 12, "Europe/Berlin"])
def test_display_time_zone_is_only_a_display_choice(
    portal: Portal, new_page: Any, zone: object
) -> None:
    """The answer's display_timezone changes how times are written, never the verdict; a zone
    the browser does not know (or not a string) falls back to UTC instead of breaking the page."""
    page = new_page(locale="en-US")

    def rezone(route: Any) -> None:
        resp = route.fetch()
        body = resp.json()
        body["display_timezone"] = zone
        route.fulfill(response=resp, body=json.dumps(body))

    page.route("**/v1/public/fingerprints/*", rezone)
    page.goto(portal.url(f"#/fingerprint/{portal.sha256}"))
    assert verdict(page) == "verified"
    row = page.locator("[data-testid=events] tbody tr").first.inner_text()
    if zone == "Europe/Berlin":
        assert "+01:00" in row
    else:
        assert "UTC" in row
        assert "+08:00" not in row


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_answer_tampered_in_transit_is_refused(
    portal: Portal, new_page: Any, mutation: str
) -> None:
    page = new_page()

    def tamper(route: Any) -> None:
        resp = route.fetch()
        body = resp.json()
        MUTATIONS[mutation](body)
        route.fulfill(response=resp, body=json.dumps(body))

    page.route("**/v1/public/fingerprints/*", tamper)
    page.goto(portal.url(f"#/fingerprint/{portal.sha256}"))
    assert verdict(page) == "refused"
    box = page.locator("[data-testid=verdict]").inner_text()
    assert "Refused" in box
    assert "This exact file was" not in page.locator("#result").inner_text()
    assert page.locator("[data-testid=checked] li.bad").count() >= 1
    if mutation == "modified-proof[0]-bit-@5":
        assert "does not match expected root" in box
        assert page.locator("[data-testid=events] .badge.bad").count() == 1
        screenshot(page, "portal-refused")


def test_language_switch_is_remembered(portal: Portal, new_page: Any) -> None:
    page = new_page(locale="en-US")
    page.goto(portal.url(f"#/fingerprint/{portal.sha256}"))
    assert verdict(page) == "verified"
    assert page.locator("html").get_attribute("lang") == "en"
    page.select_option("#lang", "zh-CN")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h2#check-h").inner_text() == "核验文件"
    text = page.locator("[data-testid=verdict]").inner_text()
    assert "已验证" in text
    assert f"第 {portal.block} 号区块" in text
    assert "发起签署" in text
    screenshot(page, "portal-zh-CN")
    page.reload()
    assert verdict(page) == "verified"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "已验证" in page.locator("[data-testid=verdict]").inner_text()
    page.select_option("#lang", "en")
    assert "Verified" in page.locator("[data-testid=verdict]").inner_text()


def test_chinese_browser_gets_chinese_by_default(portal: Portal, new_page: Any) -> None:
    page = new_page(locale="zh-CN")
    page.goto(portal.url())
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("#drop").inner_text().startswith("将文件拖到此处")


def test_phone_viewport(portal: Portal, new_page: Any) -> None:
    page = new_page(**PHONE)
    page.goto(portal.url(f"#/fingerprint/{portal.sha256}"))
    assert verdict(page) == "verified"
    # nothing wider than the screen: no sideways scrolling of the page
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    assert page.locator("#drop").bounding_box()["width"] <= 390
    screenshot(page, "portal-phone")


def test_unknown_fingerprint_is_not_found(portal: Portal, new_page: Any) -> None:
    page = new_page()
    page.goto(portal.url())
    page.fill("#fp", "abc")
    page.click("#fp-go")
    assert "64 hexadecimal digits" in page.locator("#fp-error").inner_text()
    page.fill("#fp", sha("never recorded").upper())
    page.click("#fp-go")
    # the ledger's checkpoints carry a map: absence is proven, not just "not found"
    # (test_portal_map.py covers the proof itself)
    assert verdict(page) == "absent"
    assert "proven" in page.locator("[data-testid=verdict]").inner_text()
    assert "Fingerprint from the link" in page.locator("[data-testid=fingerprint]").inner_text()


def _foreign_vkey(name: str) -> str:
    """A well-formed verifier key of the same name but another Ed25519 key (docs/FORMAT.md §5)."""
    pub = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    raw = b"\x01" + pub
    key_hash = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    return f"{name}+{key_hash.hex()}+{base64.b64encode(raw).decode()}"


def test_key_pasted_from_the_operator_is_used(portal: Portal, new_page: Any) -> None:
    page = new_page()
    page.goto(portal.url())
    page.fill("#key-input", "not a key")
    page.get_by_role("button", name="Use this key").click()
    assert "not a valid verifier key" in page.locator("#key-error").inner_text()

    page.fill("#key-input", portal.vkey)
    page.get_by_role("button", name="Use this key").click()
    assert page.locator("[data-testid=key-source]").get_attribute("data-source") == "pasted"
    page.goto(portal.url(f"#/fingerprint/{portal.sha256}"))
    assert verdict(page) == "verified"
    assert "The verifier key itself" not in page.locator("[data-testid=taken]").inner_text()

    # A key the server did not sign with: the server's own key in its answer does not help it.
    page.fill("#key-input", _foreign_vkey(portal.vkey.split("+")[0]))
    page.get_by_role("button", name="Use this key").click()
    assert verdict(page) == "refused"
    assert "no signature by" in page.locator("[data-testid=verdict]").inner_text()
    screenshot(page, "portal-foreign-key")
    page.get_by_role("button", name="Use the server's key").click()
    assert verdict(page) == "verified"


def test_page_verifier_agrees_with_the_python_core(portal: Portal, new_page: Any) -> None:
    """verify.js against proofs made by sealtrail.core.merkle, for every (index, size) up to
    17, and against each proof with one bit flipped (named mutations, all refused)."""
    leaves = [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(17)]
    cases = []
    for size in range(1, 18):
        root = merkle.root(leaves[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(index, leaves[:size])
            case = [leaves[index].hex(), index, size, [p.hex() for p in proof], root.hex()]
            cases.append(["valid", *case])
            if proof:
                bad = [p.hex() for p in proof]
                bad[-1] = _flip_hex(bad[-1], 63)
                cases.append(["modified-proof[-1]-bit-@63", *case[:3], bad, case[4]])
            cases.append(["wrong-leaf", _flip_hex(case[0], 0), *case[1:]])
            cases.append(["trailing-garbage", *case[:3], [*case[3], "00" * 32], case[4]])
            cases.append(["index-beyond-size", case[0], size, size, case[3], case[4]])
    page = new_page()
    page.goto(portal.url())
    # Verifier keys whose base64 holds "+" and "/" parse too (a bug once refused them).
    keys = [_foreign_vkey("sealtrail.local/log-0123456789ab") for _ in range(20)]
    assert any("+" in k.split("+", 2)[2] for k in keys)
    parsed = page.evaluate(
        """async (keys) => {
            const v = await import("/web/verify.js");
            return Promise.all(keys.map(async (k) => (await v.parseVerifierKey(k)).text));
        }""",
        keys,
    )
    assert parsed == keys
    results = page.evaluate(
        """async (cases) => {
            const v = await import("/web/verify.js");
            const out = [];
            for (const [name, leaf, index, size, proof, root] of cases) {
                try {
                    await v.verifyInclusion(v.hexToBytes(leaf), index, size,
                        proof.map(v.hexToBytes), v.hexToBytes(root));
                    out.push([name, "ok"]);
                } catch (e) {
                    out.push([name, e.code]);
                }
            }
            return out;
        }""",
        cases,
    )
    assert len(results) == len(cases)
    for (name, got), case in zip(results, cases, strict=True):
        assert (got == "ok") == (name == "valid"), (name, got, case[2:4])


def test_console_shows_anchoring_of_recent_checkpoints(portal: Portal, new_page: Any) -> None:
    page = new_page()
    page.goto(f"{portal.svc.url}/console/")
    page.fill("#api-key", portal.svc.keys["aud_hq"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("tab", name="Overview").click()
    summary = page.locator("[data-testid=anchors-summary]")
    summary.wait_for()
    assert "final" in summary.inner_text()
    assert page.locator("[data-testid=anchors] [data-anchor=final]").count() >= 1
    page.locator("[data-testid=timeline-chart] rect").first.wait_for()
    screenshot(page, "console-overview-anchored")


def test_package_exported_from_the_console_is_verified_on_the_portal(
    portal: Portal, new_page: Any, tmp_path: Any
) -> None:
    console = new_page()
    console.goto(f"{portal.svc.url}/console/")
    console.fill("#api-key", portal.svc.keys["aud_hq"])
    console.locator("#login-form button[type=submit]").click()
    console.locator("#events-status").filter(has_text="event").wait_for()
    console.fill("#f-document", portal.sha256)
    console.get_by_role("button", name="Search").click()
    with console.expect_download(timeout=120_000) as dl:
        console.get_by_role("button", name="Certification package").click()
    path = tmp_path / "package.zip"
    dl.value.save_as(path)
    console.locator("#export-status").filter(has_text="Done").wait_for()
    package = path.read_bytes()
    assert package[:2] == b"PK"

    page = new_page()
    page.goto(portal.url())
    drop_file(page, "pkg-drop", package, "package.zip", "application/zip")
    box = page.locator("[data-testid=pkg-verdict]")
    box.wait_for(timeout=120_000)
    checks = page.locator("[data-testid=pkg-checks] tbody tr")
    statuses = {r.get_attribute("data-check"): r.get_attribute("data-status") for r in checks.all()}
    assert box.get_attribute("data-status") in ("passed", "incomplete"), statuses
    assert "failed" not in statuses.values(), statuses
    assert statuses.get("checkpoints.signatures") == "passed"
    assert hashlib.sha256(package).hexdigest() in box.inner_text()
    screenshot(page, "portal-package")

    # One byte changed inside the package: the verifier says which check failed.
    bad = bytearray(package)
    bad[len(bad) // 2] ^= 0x01
    drop_file(page, "pkg-drop", bytes(bad), "package-bad.zip", "application/zip")
    page.locator("[data-testid=pkg-verdict][data-status=failed]").wait_for(timeout=120_000)
    assert page.locator("[data-testid=pkg-checks] tr[data-status=failed]").count() >= 1


def test_a_counterparty_validates_a_signed_pdf_on_the_portal(portal: Portal, new_page: Any) -> None:
    """Issue 15: a counterparty outside the platform drops a signed contract on the portal. The
    fixture's PDF is signed with a seal whose CA is *not* registered here: the page must say the
    signature is not trusted and that no seal registered here signed it — never "trusted"."""
    page = new_page(**{**PHONE, "locale": "en-US"})
    page.goto(portal.url())
    drop_file(page, "pdfv-drop", portal.pdf, "contract.pdf", "application/pdf")
    box = page.locator("[data-testid=pdfv-verdict]")
    box.wait_for(timeout=60_000)
    assert box.get_attribute("data-status") == "indeterminate"
    rows = page.locator("[data-testid=pdfv-signatures] tbody tr")
    assert rows.count() == 1
    row = rows.first
    assert row.get_attribute("data-field") == "AcmeSeal"
    assert row.get_attribute("data-trusted") == "false"
    assert row.get_attribute("data-seal") == ""
    text = row.inner_text()
    assert "Acme Ltd 合同专用章" in text  # the subject, from the PDF's own certificate
    assert "not registered here" in text
    assert "none: not trusted" in text
    screenshot(page, "portal-pdf-validation-phone")

    page.select_option("#lang", "zh-CN")
    zh = page.locator("[data-testid=pdfv-signatures] tbody tr").first.inner_text()
    assert "未在本平台登记" in zh
    assert "无：不可信" in zh
    screenshot(page, "portal-pdf-validation-zh-CN")


def test_an_unsigned_pdf_is_said_to_have_no_signature(portal: Portal, new_page: Any) -> None:
    page = new_page(locale="en-US")
    page.goto(portal.url())
    drop_file(page, "pdfv-drop", make_pdf(1), "plain.pdf", "application/pdf")
    box = page.locator("[data-testid=pdfv-verdict]")
    box.wait_for(timeout=60_000)
    assert box.get_attribute("data-status") == "none"
    assert "This PDF has no signature" in box.inner_text()
