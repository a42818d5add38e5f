"""report.pdf in 简体中文 and English, local times with offsets, fonts checked at creation,
development services marked — rendered by poppler and read back."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from sealtrail.api.settings import load, report_language_for, timezone_for
from sealtrail.core.errors import ConfigError
from sealtrail.export.report_pdf import dev_services, draw_report, facts_of
from sealtrail.export.report_text import is_dev_tsa_token, local_time, zone
from sealtrail.signing.appearance import SealKind, generate_seal
from sealtrail.signing.errors import MissingGlyphError

from .conftest import Built

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils is not installed",
)


def _text(pdf: bytes, tmp_path: Path) -> str:
    f = tmp_path / "r.pdf"
    f.write_bytes(pdf)
    return subprocess.run(["pdftotext", f, "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


@needs_poppler
def test_sealed_report_shows_chinese_names_local_times_and_page_numbers(
    built: Built, tmp_path: Path
) -> None:
    pdf = zipfile.ZipFile(io.BytesIO(built.data)).read("report.pdf")
    text = _text(pdf, tmp_path)
    for want in ("李雷", "韩梅梅", "Acme 上海", "电子证据证书", "Certificate of evidence",
                 "本报告证明什么、如何证明", "What this proves and how", "电子签名法第十三条",
                 "人民法院在线诉讼规则第十六条", "本证据包不能证明的内容"):  # fmt: skip
        assert want in text, want
    assert "2026-11-25 16:00:00 +08:00" in text  # created_at 08:00Z in Asia/Shanghai
    assert "Z" not in " ".join(w for w in text.split() if w[:2] == "20" and ":" in w)
    pages = int(text.split("page 1 of ")[1].split()[0])
    assert pages >= 2
    for n in range(1, pages + 1):
        assert f"第 {n} 页 共 {pages} 页" in text
    subprocess.run(["pdftoppm", "-png", "-r", "40", tmp_path / "r.pdf", tmp_path / "p"],
                   check=True)  # fmt: skip
    assert len(list(tmp_path.glob("p-*.png"))) == pages


@needs_poppler
def test_dev_tsa_is_marked_in_both_languages_and_not_without_it(
    built: Built, tmp_path: Path
) -> None:
    ev = built.evidence
    assert dev_services(ev) == (True, ())
    text = _text(draw_report(ev, built.kit.inputs(), None), tmp_path)
    assert "开发用时间戳服务" in text
    assert "development TSA" in text
    bare = dataclasses.replace(ev, timestamps={})
    assert dev_services(bare) == (False, ())
    text = _text(draw_report(bare, built.kit.inputs(), None), tmp_path)
    assert "开发用时间戳服务" not in text
    assert "development TSA" not in text


def test_dev_tsa_token_detection_rejects_garbage(built: Built) -> None:
    token = next(iter(built.evidence.timestamps.values())).token
    assert token is not None
    assert is_dev_tsa_token(token)
    assert not is_dev_tsa_token(b"")
    assert not is_dev_tsa_token(token[: len(token) // 2])  # truncated
    assert not is_dev_tsa_token(b"\x30\x03\x02\x01\x00")


@needs_poppler
def test_english_only_in_utc(built: Built, tmp_path: Path) -> None:
    inputs = dataclasses.replace(built.kit.inputs(), language="en", timezone="UTC")
    text = _text(draw_report(built.evidence, inputs, None), tmp_path)
    assert "电子证据证书" not in text
    assert "2026-11-25 08:00:00 +00:00" in text
    assert "李雷" in text  # names are data, shown in any language


def test_a_missing_glyph_raises_at_creation(built: Built) -> None:
    inputs = dataclasses.replace(built.kit.inputs(), created_by={"operator": "坏\U0001f600"})
    with pytest.raises(MissingGlyphError, match="U\\+1F600"):
        draw_report(built.evidence, inputs, facts_of(built.evidence))
    with pytest.raises(MissingGlyphError, match="U\\+1F600"):
        generate_seal(SealKind.ORGANIZATION, "上海\U0001f600有限公司")


def test_unknown_language_or_zone_is_refused(built: Built) -> None:
    for bad in ({"language": "fr"}, {"timezone": "Mars/Olympus"}, {"timezone": "../etc"}):
        with pytest.raises(ValueError, match=r"language|time zone"):
            draw_report(built.evidence, dataclasses.replace(built.kit.inputs(), **bad), None)


@pytest.mark.skipif(shutil.which("pdfimages") is None, reason="poppler-utils is not installed")
def test_seal_pictures_only_for_the_seals_own_tenant(built: Built, tmp_path: Path) -> None:
    png = generate_seal(SealKind.ORGANIZATION, "上海示例有限公司", purpose="合同专用章")
    asked: list[tuple[str, str]] = []

    def picture(tenant: str, seal: str) -> bytes | None:
        asked.append((tenant, seal))
        return png if (tenant, seal) == ("sub1", "seal-1") else None

    def images(pdf: bytes) -> int:
        (tmp_path / "i.pdf").write_bytes(pdf)
        out = subprocess.run(["pdfimages", "-list", tmp_path / "i.pdf"], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        return sum(1 for line in out.splitlines()[2:] if " image " in line)

    base = built.kit.inputs()
    assert images(draw_report(built.evidence, base, None)) == 0
    with_pic = dataclasses.replace(base, seal_picture=picture)
    assert images(draw_report(built.evidence, with_pic, None)) >= 1
    assert asked == [("sub1", "seal-1")]
    text = _text(draw_report(built.evidence, with_pic, None), tmp_path)
    assert "印章图样取自导出时的印章登记" in text


def test_local_time_always_prints_the_offset() -> None:
    sh = zone("Asia/Shanghai")
    assert local_time("2026-12-07T07:30:00.000000Z", sh) == "2026-12-07 15:30:00 +08:00"
    assert local_time("2026-12-07T07:30:00Z", zone("UTC")) == "2026-12-07 07:30:00 +00:00"
    ny = zone("America/New_York")
    assert local_time("2026-07-01T12:00:00Z", ny) == "2026-07-01 08:00:00 -04:00"
    assert local_time("not a time", sh) == "not a time"
    assert local_time("2026-12-07T07:30:00", sh) == "2026-12-07T07:30:00"  # naive: as is
    assert local_time(None, sh) == "-"


def test_timezone_and_language_settings_with_tenant_overrides(tmp_path: Path) -> None:
    s = load(environ={})
    assert (s.timezone, s.report_language) == ("Asia/Shanghai", "both")
    cfg = tmp_path / "c.toml"
    cfg.write_text('timezone = "UTC"\n[tenant_timezones]\nus = "America/New_York"\n'
                   '[tenant_report_languages]\nus = "en"\n')  # fmt: skip
    s = load(cfg, environ={})
    assert timezone_for(s, "us") == "America/New_York"
    assert timezone_for(s, "hq") == "UTC"
    assert report_language_for(s, "us") == "en"
    assert report_language_for(s, None) == "both"
    env = {"SEALTRAIL_TENANT_TIMEZONES": "a=Asia/Tokyo, b=Europe/Berlin"}
    assert timezone_for(load(environ=env), "b") == "Europe/Berlin"
    for bad in ({"SEALTRAIL_TIMEZONE": "Mars/Olympus"}, {"SEALTRAIL_REPORT_LANGUAGE": "fr"},
                {"SEALTRAIL_TENANT_TIMEZONES": "nozone"}):  # fmt: skip
        with pytest.raises(ConfigError):
            load(environ=bad)
