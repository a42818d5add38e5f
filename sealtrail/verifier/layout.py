"""Certification package format v2 (v1 is still read): file names, manifest, ZIP container.

Writing (:func:`write_zip`) is byte-for-byte deterministic: entries sorted by name (as UTF-8
bytes), every entry dated 1980-01-01 00:00:00, Unix mode 0644, no extra fields, no comment,
DEFLATE at level 6 for every file (zlib's output is fixed for a given zlib build; the package's
SHA-256 is what the manifest and the export event record, never recomputed from another build).

Reading (:func:`read_zip`) is for hostile input (docs/FORMAT.md §8.5): caps on the number of
entries, each entry's and the total uncompressed size and the compression ratio, and names
restricted to the layout's patterns — so no absolute paths, ``..``, backslashes, directories or
duplicates. Sizes are enforced while inflating, not trusted from the headers.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from sealtrail.verifier.errors import UnreadablePackageError

FORMAT = "sealtrail-certification-package"
#: the version written; 2 added ``proofs/map.json`` (completeness). The verifier reads 1 and 2.
VERSION = 2
VERSIONS = (1, 2)

MANIFEST = "manifest.json"
VERIFY_MD = "VERIFY.md"
VERIFY_ZH_MD = "VERIFY.zh-CN.md"
REPORT_PDF = "report.pdf"
STREAMS = "streams.json"
MAP_PROOFS = "proofs/map.json"
LEDGER_KEY = "certs/ledger.pub"
TSA_ROOTS = "certs/tsa-roots.pem"
SERVICE_SEAL = "certs/service-seal.pem"

_IDX = "[0-9]{12}"
#: every name a package may hold (``proofs/map.json``: v2 only)
NAME_RE = re.compile(
    rf"""(?x)
    manifest\.json | VERIFY\.md | VERIFY\.zh-CN\.md | report\.pdf | streams\.json
  | certs/(ledger\.pub|tsa-roots\.pem|service-seal\.pem)
  | events/{_IDX}\.json
  | proofs/inclusion/{_IDX}\.json
  | proofs/consistency/{_IDX}-{_IDX}\.json
  | proofs/map\.json
  | checkpoints/{_IDX}\.(note|tst|anchor\.json|ers\.json)
  | documents/[0-9a-f]{{64}}
    """
)
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_MODE = 0o100644 << 16
_LEVEL = 6


#: streams that concern one piece of business from start to end: a stream package holds them
#: whole (with their head proofs) when one of their events names one of its documents
WHOLE_RELATED_PREFIXES = ("envelope:",)


def is_whole_related(stream: str) -> bool:
    """Whether a related stream is held whole (an envelope's) rather than by its events naming
    the package's documents (a seal's, which spans many contracts)."""
    return stream.startswith(WHOLE_RELATED_PREFIXES)


def must_be_whole(selection: object, tenant: object, stream: object) -> bool:
    """Whether a package with manifest ``coverage.selection`` must hold stream (``tenant``,
    ``stream``) whole, from ``prev = null`` to its head (docs/FORMAT.md §8.3): in a stream
    package, the selected stream and the selected tenant's envelope streams; nothing in a query
    package. Derived from the package's kind and the streams' names, never from a flag."""
    if not isinstance(selection, dict) or selection.get("kind") != "stream":
        return False
    if (tenant, stream) == (selection.get("tenant"), selection.get("stream")):
        return True
    return (
        tenant == selection.get("tenant") and isinstance(stream, str) and is_whole_related(stream)
    )


def event_name(index: int) -> str:
    """``events/<index, 12 digits>.json``: the event's canonical bytes."""
    return f"events/{index:012d}.json"


def inclusion_name(index: int) -> str:
    """``proofs/inclusion/<index>.json``: the event's inclusion proof to the target checkpoint."""
    return f"proofs/inclusion/{index:012d}.json"


def consistency_name(old_size: int, new_size: int) -> str:
    """``proofs/consistency/<old>-<new>.json``."""
    return f"proofs/consistency/{old_size:012d}-{new_size:012d}.json"


def note_name(size: int) -> str:
    """``checkpoints/<size>.note``: the signed checkpoint note, as stored."""
    return f"checkpoints/{size:012d}.note"


def token_name(size: int) -> str:
    """``checkpoints/<size>.tst``: the DER RFC 3161 TimeStampToken over the note."""
    return f"checkpoints/{size:012d}.tst"


def ers_name(size: int) -> str:
    """``checkpoints/<size>.ers.json``: renewals of the checkpoint's token (TIMESTAMPS.md §8)."""
    return f"checkpoints/{size:012d}.ers.json"


def anchor_name(size: int) -> str:
    """``checkpoints/<size>.anchor.json``: the chain anchor receipt."""
    return f"checkpoints/{size:012d}.anchor.json"


def document_name(sha256_hex: str) -> str:
    """``documents/<sha256 hex>``: a document, named by its fingerprint."""
    return f"documents/{sha256_hex}"


def write_zip(
    files: Mapping[str, bytes],
    out: BinaryIO,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write ``files`` as a deterministic ZIP (module docstring) to ``out``; ``progress`` is
    called with (entries written, entries in all) every 1,000 entries and at the end.

    Requires every name to match :data:`NAME_RE`.
    """
    for name in files:
        if not NAME_RE.fullmatch(name):
            raise ValueError(f"{name!r} is not a package file name")
    done = 0
    with zipfile.ZipFile(out, "w", allowZip64=True) as z:
        for name in sorted(files, key=lambda n: n.encode()):
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = _MODE
            z.writestr(info, files[name], compresslevel=_LEVEL)
            done += 1
            if progress is not None and (done % 1000 == 0 or done == len(files)):
                progress(done, len(files))


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """:func:`write_zip` into memory."""
    buf = io.BytesIO()
    write_zip(files, buf)
    return buf.getvalue()


@dataclass(frozen=True)
class Limits:
    """Caps for reading a package (defaults fit 100,000 events with room to spare)."""

    max_entries: int = 500_000
    max_entry_bytes: int = 256 * 1024 * 1024
    max_total_bytes: int = 2 * 1024 * 1024 * 1024
    max_ratio: int = 200
    max_package_bytes: int = 2 * 1024 * 1024 * 1024


def read_zip(data: bytes, limits: Limits = Limits()) -> dict[str, bytes]:
    """Every entry of the package in ``data``, by name; raises :class:`UnreadablePackageError`
    naming the first cap or rule broken."""
    if len(data) > limits.max_package_bytes:
        raise UnreadablePackageError(
            f"package of {len(data)} bytes, at most {limits.max_package_bytes}"
        )
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as e:
        raise UnreadablePackageError(f"not a ZIP file: {e}") from None
    if len(infos) > limits.max_entries:
        raise UnreadablePackageError(f"{len(infos)} entries, at most {limits.max_entries}")
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if name in seen:
            raise UnreadablePackageError(f"duplicate entry {name!r}")
        seen.add(name)
        if not NAME_RE.fullmatch(name):
            raise UnreadablePackageError(f"entry {name[:80]!r} is not a package file name")
        if info.flag_bits & 0x1:
            raise UnreadablePackageError(f"entry {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnreadablePackageError(f"entry {name!r}: compression {info.compress_type}")
    out: dict[str, bytes] = {}
    total = 0
    for info in infos:
        cap = min(limits.max_entry_bytes, limits.max_total_bytes - total)
        try:
            with z.open(info) as f:
                content = f.read(cap + 1)
        except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
            raise UnreadablePackageError(f"entry {info.filename!r} is damaged: {e}") from None
        if len(content) > cap:
            raise UnreadablePackageError(
                f"entry {info.filename!r} inflates beyond {cap} bytes (entry or total cap)"
            )
        if len(content) > 1024 and len(content) > limits.max_ratio * max(info.compress_size, 1):
            raise UnreadablePackageError(
                f"entry {info.filename!r}: compression ratio above {limits.max_ratio}"
            )
        total += len(content)
        out[info.filename] = content
    return out
