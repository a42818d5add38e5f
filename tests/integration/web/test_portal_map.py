"""The portal proves completeness in the browser (docs/MAP.md §6-7): verify.js's map verifier
against every vector of tests/vectors/map/ (each mutation refused with Python's reason), and the
page against a real service: "these are all N events", "no event names this file (proven)",
answers tampered with in transit refused, a checkpoint before the map "not checked"; English and
简体中文, desktop and a 360-px phone (screenshots in artifacts/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sealtrail.core.note import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    sign_checkpoint,
    verify_checkpoint,
)
from sealtrail.core.vmap import DocumentEvents, document_events, key_hash

from ..api.client import Api, event, sha
from ..service import Service
from .conftest import screenshot

pytestmark = [pytest.mark.browser]

VECTORS = Path(__file__).parents[2] / "vectors" / "map"
PHONE_360 = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 2}  # fmt: skip


@pytest.fixture(scope="module")
def site(module_service: Service) -> dict[str, Any]:
    api = Api(module_service)
    doc, other = sha("portal-map-doc"), sha("portal-map-other")
    mine = api.append_batch([event(i, stream="contract:pm", doc=doc) for i in range(2)])
    theirs = api.append_batch(
        [event(5, stream="contract:pm", etype="view", doc=doc), event(6, doc=other)],
        key="int_other",
    )
    api.wait_for_checkpoint(theirs[-1]["index"] + 1)
    return {"svc": module_service, "doc": doc, "other": other, "events": mine + theirs[:1]}


def url(site: dict[str, Any], fp: str) -> str:
    return f"{site['svc'].url}/portal/#/fingerprint/{fp}"


def verdict(page: Any) -> str:
    v = page.locator("[data-testid=verdict]")
    v.wait_for()
    return str(v.get_attribute("data-verdict"))


def test_map_vectors_through_the_browser_verifier(site: dict[str, Any], new_page: Any) -> None:
    cases = []
    for f in sorted(VECTORS.glob("*.json")):
        for c in json.loads(f.read_text())["cases"]:
            cases.append({**c, "file": f.name})
    assert len(cases) >= 50
    assert sum(c["expect"] == "reject" for c in cases) >= 35
    page = new_page()
    page.goto(f"{site['svc'].url}/portal/")
    results = page.evaluate(
        """async (cases) => {
            const v = await import("/web/verify.js");
            const out = [];
            for (const c of cases) {
                const key = v.hexToBytes(c.key.encoding);
                const kh = v.bytesToHex(await v.mapKeyHash(key));
                let got = "ok";
                try {
                    if (c.check === "inclusion") {
                        await v.verifyMapInclusion(v.hexToBytes(c.root), key,
                            v.hexToBytes(c.value), c.proof);
                    } else {
                        await v.verifyMapNonInclusion(v.hexToBytes(c.root), key, c.proof);
                    }
                } catch (e) {
                    got = e.code || `exception: ${e.message}`;
                }
                out.push([kh, got]);
            }
            return out;
        }""",
        cases,
    )
    assert len(results) == len(cases)
    for c, (kh, got) in zip(cases, results, strict=True):
        assert kh == c["key_hash"], c["name"]
        want = "ok" if c["expect"] == "accept" else c["reason"]
        assert got == want, (c["file"], c["name"], got, want)


def test_document_value_and_map_line_agree_with_the_python_core(
    site: dict[str, Any], new_page: Any
) -> None:
    pairs = [(3, sha("a")), (17, sha("b")), (2**40, sha("c"))]
    want: DocumentEvents = document_events([(i, bytes.fromhex(h)) for i, h in pairs])
    page = new_page()
    page.goto(f"{site['svc'].url}/portal/")
    got = page.evaluate(
        """async ([pairs, doc]) => {
            const v = await import("/web/verify.js");
            const value = await v.documentValue(pairs.map(([index, h]) =>
                ({ index, leafHash: v.hexToBytes(h) })));
            const bad = [];
            for (const ext of [["sealtrail-map/v1 AAAA"], ["sealtrail-map/v1 " + "A".repeat(43)
                + "=", "sealtrail-map/v1 " + "A".repeat(43) + "="]]) {
                try { v.mapRootOf(ext); bad.push("accepted"); } catch (e) { bad.push(e.code); }
            }
            return [v.bytesToHex(value), v.bytesToHex(await v.mapKeyHash(
                v.documentKey(v.hexToBytes(doc)))), bad,
                v.mapRootOf(["other ext", "sealtrail-map/v1 " + "A".repeat(43) + "="]).length];
        }""",
        [pairs, site["doc"]],
    )
    assert got[0] == want.encode().hex()
    assert got[1] == key_hash(b"\x02" + bytes.fromhex(site["doc"])).hex()
    assert got[2] == ["bad_note", "bad_note"]
    assert got[3] == 32


def _shots(page: Any, name: str, check: Callable[[str], None]) -> None:
    """Screenshot in English, then in 简体中文 (the text of the verdict checked in each)."""
    page.select_option("#lang", "en")
    check(page.locator("[data-testid=verdict]").inner_text())
    screenshot(page, f"{name}-en")
    page.select_option("#lang", "zh-CN")
    check(page.locator("[data-testid=verdict]").inner_text())
    screenshot(page, f"{name}-zh-CN")
    page.select_option("#lang", "en")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_all_events_naming_the_file_are_proven(
    site: dict[str, Any], new_page: Any, device: str
) -> None:
    page = new_page(**(PHONE_360 if device == "phone" else {"locale": "en-US"}))
    page.goto(url(site, site["doc"]))
    assert verdict(page) == "verified"
    size = int(page.locator("[data-testid=map] dd").nth(1).inner_text())
    assert page.locator("[data-testid=map]").get_attribute("data-map") == "complete"
    checked = page.locator("[data-testid=checked]").inner_text()
    assert "holds this file's 3 events exactly as listed" in checked

    def check(text: str) -> None:
        assert (
            f"These are all 3 events naming this file as of checkpoint {size}" in text
            or f"截至检查点 {size}，指向此文件的事件共 3 个，即以上全部" in text
        ), text

    _shots(page, f"portal-map-complete-{device}", check)
    if device == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= 360


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_no_event_names_an_unknown_file_proven(
    site: dict[str, Any], new_page: Any, device: str
) -> None:
    page = new_page(**(PHONE_360 if device == "phone" else {"locale": "en-US"}))
    page.goto(url(site, sha("never recorded on this portal")))
    assert verdict(page) == "absent"
    assert page.locator("[data-testid=map]").get_attribute("data-map") == "none"
    assert "map non-inclusion proof" in page.locator("[data-testid=checked]").inner_text()

    def check(text: str) -> None:
        assert ("Not recorded — proven" in text and "No event in this ledger" in text) or (
            "无记录——已证明" in text and "本页已自行核验不包含证明" in text
        ), text

    _shots(page, f"portal-map-absent-{device}", check)
    if device == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= 360


def _flip(h: str) -> str:
    return ("1" if h[0] == "0" else "0") + h[1:]


def _tampered(site: dict[str, Any], page: Any, fp: str, mutate: Callable[[Any, Any], None]) -> None:
    """Serve the page ``fp``'s answer changed by ``mutate(body, other_answers)``."""
    api = Api(site["svc"])
    others = {
        "other": api.get(f"/v1/public/fingerprints/{site['other']}").json(),
        "never": api.get(f"/v1/public/fingerprints/{sha('never, for the swap')}").json(),
    }

    def tamper(route: Any) -> None:
        resp = route.fetch()
        body = resp.json()
        mutate(body, others)
        route.fulfill(response=resp, body=json.dumps(body))

    page.route("**/v1/public/fingerprints/*", tamper)
    page.goto(url(site, fp))


MAP_MUTATIONS: dict[str, Callable[[Any, Any], None]] = {
    "map-sibling[0]-flipped": lambda b, _: b["map"]["proof"]["siblings"].__setitem__(
        0, _flip(b["map"]["proof"]["siblings"][0])
    ),
    "last-event-dropped": lambda b, _: b["events"].pop(),
    "first-event-dropped": lambda b, _: b["events"].pop(0),
    "value-of-another-document": lambda b, o: b.__setitem__("map", o["other"]["map"]),
    "present-file-shown-as-absent": lambda b, o: (
        b.__setitem__("events", []),
        b.__setitem__("map", o["never"]["map"]),
    ),
    "non-inclusion-claimed-for-a-present-key": lambda b, _: (
        b.__setitem__("events", []),
        b["map"].__setitem__("value", None),
    ),
    "map-member-removed": lambda b, _: b.__setitem__("map", None),
    "map-of-another-size": lambda b, _: b["map"].__setitem__("size", b["map"]["size"] - 1),
    "map-proof-malformed": lambda b, _: b["map"]["proof"].__setitem__("extra", 1),
}


@pytest.mark.parametrize("mutation", list(MAP_MUTATIONS))
def test_a_tampered_map_proof_is_refused(
    site: dict[str, Any], new_page: Any, mutation: str
) -> None:
    page = new_page(locale="en-US")
    _tampered(site, page, site["doc"], MAP_MUTATIONS[mutation])
    assert verdict(page) == "refused", mutation
    assert page.locator("[data-testid=map]").get_attribute("data-map") == "failed"
    text = page.locator("[data-testid=verdict]").inner_text()
    assert "map proof" in text
    assert "These are all" not in page.locator("#result").inner_text()
    if mutation == "present-file-shown-as-absent":
        screenshot(page, "portal-map-refused-en")
        page.select_option("#lang", "zh-CN")
        assert "已拒绝" in page.locator("[data-testid=verdict]").inner_text()
        assert "未通过" in page.locator("[data-testid=map]").inner_text()
        screenshot(page, "portal-map-refused-zh-CN")


def test_a_checkpoint_before_the_map_is_not_checked(site: dict[str, Any], new_page: Any) -> None:
    """The same log root re-signed without the map line (by a key the page is given): the
    events still verify, completeness is "not checked" — neither passed nor failed."""
    signer = NoteSigner.generate("sealtrail.test/before-the-map")

    def before_map(body: Any, _: Any) -> None:
        cp = verify_checkpoint(
            body["checkpoint"]["note"], NoteVerifier.from_vkey(body["verifier_key"])
        )
        old = Checkpoint(signer.name, cp.size, cp.root, ())
        body["checkpoint"]["note"] = sign_checkpoint(old, signer)
        body["verifier_key"] = signer.verifier().vkey

    page = new_page(locale="en-US")
    _tampered(site, page, site["doc"], before_map)
    assert verdict(page) == "verified"
    assert page.locator("[data-testid=map]").get_attribute("data-map") == "not_checked"
    text = page.locator("[data-testid=verdict]").inner_text()
    assert "was not checked" in text
    assert "sealed before the map existed" in text
    assert "These are all" not in text
    screenshot(page, "portal-map-before-the-map-en")
    page.select_option("#lang", "zh-CN")
    assert "封存于映射启用之前" in page.locator("[data-testid=verdict]").inner_text()
