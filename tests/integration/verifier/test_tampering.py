"""Tampering matrix: for each kind of file, alter one byte, drop, reorder or duplicate an entry,
and expect the precise check to fail with a message naming the file.

"rehashed" cases play a forger who also rewrites manifest.json's SHA-256 for the altered file,
so the check that catches them is the one about that file's *content*; the others leave the
manifest alone and ``manifest.files`` must name the file."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable

import pytest

from sealtrail.verifier import layout
from sealtrail.verifier.results import Status
from sealtrail.verifier.verify import verify_package

from .conftest import Built

Files = dict[str, bytes]


def _rehash(files: Files, name: str) -> None:
    m = json.loads(files["manifest.json"])
    if name in files:
        m["files"][name] = hashlib.sha256(files[name]).hexdigest()
    else:
        m["files"].pop(name, None)
    files["manifest.json"] = json.dumps(m, separators=(",", ":"), sort_keys=True).encode()


def _flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x01
    return bytes(b)


def _first(files: Files, prefix: str, suffix: str = "") -> str:
    return sorted(n for n in files if n.startswith(prefix) and n.endswith(suffix))[0]


def _hexchar(data: bytes, marker: bytes) -> bytes:
    """Change the first hex digit after ``marker`` to another hex digit."""
    i = data.index(marker) + len(marker)
    return data[:i] + (b"1" if data[i : i + 1] == b"0" else b"0") + data[i + 1 :]


def event_salt(f: Files) -> str:
    n = _first(f, "events/")
    f[n] = _hexchar(f[n], b'"salt":"')
    return n


def inclusion_hash(f: Files) -> str:
    n = _first(f, "proofs/inclusion/")
    f[n] = _hexchar(f[n], b'"proof":["')
    return n


def consistency_hash(f: Files) -> str:
    n = _first(f, "proofs/consistency/")
    f[n] = _hexchar(f[n], b'"proof":["')
    return n


def note_root(f: Files) -> str:
    n = _first(f, "checkpoints/", ".note")
    lines = f[n].split(b"\n")
    lines[2] = (b"B" if lines[2][:1] != b"B" else b"C") + lines[2][1:]
    f[n] = b"\n".join(lines)
    return n


def token_byte(f: Files) -> str:
    n = _first(f, "checkpoints/", ".tst")
    f[n] = _flip(f[n], len(f[n]) - 10)  # inside the RSA signature
    return n


def document_byte(f: Files) -> str:
    n = _first(f, "documents/")
    f[n] = _flip(f[n], 0)
    return n


def report_byte(f: Files) -> str:
    f["report.pdf"] = _flip(f["report.pdf"], 1500)  # inside the signed byte range
    return "report.pdf"


def streams_reorder(f: Files) -> str:
    s = json.loads(f["streams.json"])
    ev = s[0]["events"]
    ev[1], ev[2] = ev[2], ev[1]
    f["streams.json"] = json.dumps(s).encode()
    return "streams.json"


def drop_middle_event(f: Files) -> str:
    s = json.loads(f["streams.json"])
    gone = s[0]["events"].pop(1)
    f["streams.json"] = json.dumps(s).encode()
    for n in (layout.event_name(gone), layout.inclusion_name(gone)):
        del f[n]
        _rehash(f, n)
    m = json.loads(f["manifest.json"])
    m["coverage"]["events"] -= 1
    f["manifest.json"] = json.dumps(m).encode()
    return "streams.json"


def drop_middle_event_marked_partial(f: Files) -> str:
    """The forger of issue 14: drop an event and flip the stream's "complete" flag to false,
    hoping the chain check becomes "not checked" in what is still a stream package."""
    drop_middle_event(f)
    s = json.loads(f["streams.json"])
    s[0]["complete"] = False
    f["streams.json"] = json.dumps(s).encode()
    return "streams.json"


def ledger_key(f: Files) -> str:
    f["certs/ledger.pub"] = f["certs/ledger.pub"].replace(b"+", b"+A", 1)
    return "certs/ledger.pub"


REHASHED: list[tuple[Callable[[Files], str], str, str]] = [
    (event_salt, "events.inclusion", "is not the one proven"),
    (inclusion_hash, "events.inclusion", "calculated root"),
    (consistency_hash, "checkpoints.consistency", "calculated"),
    (note_root, "checkpoints.signatures", "signature"),
    (token_byte, "timestamps.tokens", "signature"),
    (document_byte, "documents.fingerprints", "does not have this SHA-256"),
    (report_byte, "report.signature", "report.pdf"),
    (streams_reorder, "streams.chains", "does not link"),
    (drop_middle_event, "streams.chains", "does not link"),
    (drop_middle_event_marked_partial, "streams.chains", "marked partial in a stream package"),
    (ledger_key, "ledger.key", "certs/ledger.pub"),
]


@pytest.mark.parametrize(
    ("mutate", "check", "words"), REHASHED, ids=lambda v: getattr(v, "__name__", None)
)
def test_rehashed_tampering_fails_the_precise_check(
    built: Built, mutate: Callable[[Files], str], check: str, words: str
) -> None:
    files = layout.read_zip(built.data)
    name = mutate(files)
    if name in files:
        _rehash(files, name)
    rep = verify_package(layout.zip_bytes(files), trust_roots=built.roots)
    c = rep.check(check)
    assert c.status is Status.FAILED, rep.to_text()
    assert name in c.detail or check == "ledger.key", c.detail
    assert words in c.detail, c.detail
    assert not rep.ok


@pytest.mark.parametrize(
    "kind", ["events/", "proofs/inclusion/", "proofs/consistency/", "checkpoints/", "certs/",
             "documents/", "report.pdf", "VERIFY.md", "streams.json"],
)  # fmt: skip
@pytest.mark.parametrize("how", ["alter", "drop"])
def test_any_file_altered_or_dropped_is_named_by_manifest_files(
    built: Built, kind: str, how: str
) -> None:
    files = layout.read_zip(built.data)
    name = _first(files, kind)
    if how == "alter":
        files[name] = _flip(files[name], len(files[name]) // 2)
        want = f"{name}: SHA-256 differs from the manifest"
    else:
        del files[name]
        want = f"{name} is listed but missing"
    rep = verify_package(layout.zip_bytes(files))
    c = rep.check("manifest.files")
    assert c.status is Status.FAILED
    assert want in c.detail


def test_an_unlisted_extra_file_fails(built: Built) -> None:
    files = layout.read_zip(built.data)
    files[layout.document_name("0" * 64)] = b"x"
    rep = verify_package(layout.zip_bytes(files))
    assert f"documents/{'0' * 64} is not listed" in rep.check("manifest.files").detail


def test_manifest_altered_fails_format(built: Built) -> None:
    files = layout.read_zip(built.data)
    files["manifest.json"] = files["manifest.json"][:-1]
    rep = verify_package(layout.zip_bytes(files))
    assert rep.check("manifest.format").status is Status.FAILED
    assert len(rep.checks) == 2  # nothing else can be checked without a manifest


def _raw_zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def test_reordered_zip_entries_change_nothing(built: Built) -> None:
    files = layout.read_zip(built.data)
    data = _raw_zip(sorted(files.items(), reverse=True))
    rep = verify_package(data, trust_roots=built.roots)
    assert not rep.failed(), rep.to_text()


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([("manifest.json", b"{}"), ("manifest.json", b"{}")], "duplicate entry 'manifest.json'"),
        ([("../evil", b"x")], "not a package file name"),
        ([("/etc/passwd", b"x")], "not a package file name"),
        ([("events\\000000000000.json", b"x")], "not a package file name"),
        ([("events/", b"")], "not a package file name"),
        ([("documents/" + "0" * 64, b"\0" * 5_000_000)], "compression ratio"),
    ],
    ids=["duplicate", "traversal", "absolute", "backslash", "directory", "bomb"],
)
def test_hostile_zips_are_refused_by_the_container_check(
    entries: list[tuple[str, bytes]], words: str
) -> None:
    rep = verify_package(_raw_zip(entries))
    c = rep.check("package.container")
    assert c.status is Status.FAILED
    assert words in c.detail
    assert len(rep.checks) == 1


def test_entry_count_and_size_caps(built: Built) -> None:
    few = layout.Limits(max_entries=5)
    assert "entries, at most 5" in verify_package(built.data, limits=few).checks[0].detail
    small = layout.Limits(max_total_bytes=10_000)
    assert "inflates beyond" in verify_package(built.data, limits=small).checks[0].detail
    assert verify_package(b"PK\x03\x04garbage").checks[0].reason == "unreadable_package"
