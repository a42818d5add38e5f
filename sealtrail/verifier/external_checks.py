"""The verifier's checks of what vouches for a package from outside the log (docs/FORMAT.md
§8.6 steps 10-16): RFC 3161 timestamp tokens over the checkpoint notes, anchor receipts (and,
with an :class:`~.rpc.RpcAnchorChecker`, the chain), included documents against their
fingerprints, the PAdES signature of ``report.pdf`` and the facts it lists (§8.10).

Each step takes the :class:`~.checkrun.CheckRun` and what earlier steps established, records
its checks, and raises nothing on bad content but the malformed-data errors that
:func:`~.verify.verify_package` turns into a ``malformed`` failure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sealtrail.core.errors import SealtrailError
from sealtrail.core.event import format_time
from sealtrail.core.note import Checkpoint
from sealtrail.core.vmap import map_root_of
from sealtrail.verifier import layout, report_facts
from sealtrail.verifier.checkrun import CheckRun, loads, pem_certs
from sealtrail.verifier.errors import TimestampError
from sealtrail.verifier.results import Check, Status
from sealtrail.verifier.rpc import AnchorMismatch, MapRootMismatch, RpcAnchorChecker
from sealtrail.verifier.timestamp import verify_token


# 10-11. RFC 3161 tokens over each note (docs/TIMESTAMPS.md §7), at genTime.
def check_timestamps(
    run: CheckRun,
    m: dict[str, Any],
    notes: dict[int, tuple[bytes, Checkpoint]] | None,
    pinned: Sequence[x509.Certificate],
    seal_pinned: bool | None = None,
) -> dict[int, str]:
    """Steps 10-11: ``timestamps.tokens`` and ``trust.roots``; returns each stamped size's
    genTime (the earliest trusted time its events existed by).

    ``pinned``: the TSA roots; ``seal_pinned``: whether the seal's roots are pinned too (None:
    as the TSA's, the one set of roots serving both)."""
    stamps: dict[int, str] = {}
    if notes is None:
        run.skip("timestamps.tokens", "blocked", "checkpoints did not verify")
        return stamps
    roots = list(pinned) or pem_certs(run.files.get(layout.TSA_ROOTS))
    problems: list[str] = []
    missing = []
    for size, (note, _) in sorted(notes.items()):
        token = run.files.get(layout.token_name(size))
        if token is None:
            missing.append(size)
            continue
        try:
            info = verify_token(token, note, roots) if roots else None
        except (TimestampError, ValueError) as e:
            problems.append(f"{layout.token_name(size)}: {e}")
            continue
        if info is None:
            problems.append(f"no TSA trust roots to check {layout.token_name(size)}")
            continue
        stamps[size] = format_time(info.gen_time)
    listed = {c["size"] for c in m["checkpoints"] if c.get("timestamp") is True}
    held = {s for s in notes if layout.token_name(s) in run.files}
    if listed != held:
        problems.append(
            f"manifest.json lists tokens for {sorted(listed)}, package holds {sorted(held)}"
        )
    if problems or not missing:
        run.add(
            "timestamps.tokens",
            problems,
            len(notes),
            f"{len(stamps)} tokens verify over their notes",
            "bad_timestamp",
        )
    else:
        run.skip(
            "timestamps.tokens",
            "timestamp_missing",
            f"no token for checkpoints {missing} (pending when packaged)",
            len(missing),
        )
    tsa_ok = bool(pinned)
    seal_ok = tsa_ok if seal_pinned is None else seal_pinned
    if tsa_ok and seal_ok:
        run.checks.append(Check("trust.roots", Status.PASSED, "ok", "pinned trust roots used"))
    else:
        which = "TSA and seal" if not (tsa_ok or seal_ok) else "seal" if tsa_ok else "TSA"
        run.skip(
            "trust.roots",
            "roots_from_package",
            f"{which} roots taken from the package's certs/; pin them with --trust-root",
        )
    return stamps


_MAP_ROOT_HEX = re.compile(r"0x[0-9a-f]{64}")


def _receipt_version(r: dict[str, Any]) -> int:
    """A receipt's contract version (absent: 1, as every receipt before version 2 was) and,
    checked here, its ``map_root`` field: version 2 has one, null or 0x-hex of 32 non-zero
    bytes; version 1 has none (or null). Raises ValueError when malformed."""
    version = r.get("contract_version", 1)
    if type(version) is not int or version not in (1, 2):
        raise ValueError(f"contract_version {str(version)[:20]!r} is not 1 or 2")
    if version == 1:
        if r.get("map_root") is not None:
            raise ValueError("a contract version 1 receipt has a map_root (v1 records none)")
        return 1
    if "map_root" not in r:
        raise ValueError("a contract version 2 receipt has no map_root")
    mr = r["map_root"]
    if mr is not None and (
        not isinstance(mr, str) or not _MAP_ROOT_HEX.fullmatch(mr) or mr == "0x" + "00" * 32
    ):
        raise ValueError("map_root is not null or 0x and 64 lowercase hex digits (non-zero)")
    return 2


def _note_map_root(cp: Checkpoint) -> bytes | None:
    """The note's map root (None: before the map); ValueError if its map line is malformed."""
    return map_root_of(cp.extensions)


# 12-13. Anchor receipts: consistent with their checkpoints; on the chain when asked.
def check_anchors(
    run: CheckRun,
    m: dict[str, Any],
    notes: dict[int, tuple[bytes, Checkpoint]] | None,
    rpc: RpcAnchorChecker | None,
) -> None:
    """Steps 12-13: ``anchors.receipts``, ``anchors.map_root`` (when there are well-formed
    receipts) and ``anchors.chain`` (looked up only with ``rpc``)."""
    if notes is None:
        run.skip("anchors.receipts", "blocked", "checkpoints did not verify")
        run.skip("anchors.chain", "blocked", "checkpoints did not verify")
        return
    problems: list[str] = []
    receipts: dict[int, dict[str, Any]] = {}
    for name in sorted(n for n in run.files if n.endswith(".anchor.json")):
        size = int(name[12:24])
        try:
            r = loads(run.files[name])
            cp = notes[size][1]
            log_id = hashlib.sha256(cp.origin.encode()).digest()
            if r["tree_size"] != size or r["root"] != "0x" + cp.root.hex():
                raise ValueError("tree size or root differ from the checkpoint note")
            if r["log_id"] != "0x" + log_id.hex():
                raise ValueError(f"log id {r['log_id']} is not SHA-256 of the origin")
            if r["status"] not in ("confirmed", "final"):
                raise ValueError(f"status {r['status']!r} is not mined")
            for k in ("chain_id", "block_number", "log_index"):
                if type(r[k]) is not int:
                    raise ValueError(f"{k} is not an integer")
            for k in ("contract", "tx_hash", "block_hash"):
                if not isinstance(r[k], str) or not r[k].startswith("0x"):
                    raise ValueError(f"{k} is not 0x-hex")
            _receipt_version(r)
            receipts[size] = r
        except KeyError as e:
            problems.append(f"{name}: no {e} (or no note of size {size})")
        except (SealtrailError, ValueError, TypeError) as e:
            problems.append(f"{name}: {e}")
    statuses = {c["size"]: c.get("anchor") for c in m["checkpoints"] if isinstance(c, dict)}
    for size, status in statuses.items():
        if (status in ("confirmed", "final")) != (size in receipts) and not problems:
            problems.append(f"manifest.json says checkpoint {size} anchor {status!r}")
    if not receipts and not problems:
        off = sorted({str(s) for s in statuses.values()})
        run.skip("anchors.receipts", "not_anchored", f"no checkpoint anchored (anchor {off})")
        run.skip("anchors.chain", "not_anchored", "nothing to look up on a chain")
        return
    final = sum(r["status"] == "final" for r in receipts.values())
    ok = run.add(
        "anchors.receipts",
        problems,
        len(receipts),
        f"{len(receipts)} receipts ({final} final) match their checkpoints",
        "bad_anchor",
    )
    if ok:
        _check_map_roots(run, receipts, notes)
    if not ok:
        run.skip("anchors.chain", "blocked", "receipts are malformed")
    elif rpc is None:
        run.skip(
            "anchors.chain",
            "no_rpc",
            "pass --rpc URL to look the anchors up on a chain",
            len(receipts),
        )
    else:
        problems = []
        map_problems = 0
        for size, r in sorted(receipts.items()):
            cp = notes[size][1]
            try:
                note_map = _note_map_root(cp)
            except ValueError:
                note_map = None  # anchors.map_root reports the malformed line
            try:
                log_id = hashlib.sha256(cp.origin.encode()).digest()
                rpc.check(r, size, cp.root, log_id, note_map)
            except MapRootMismatch as e:
                map_problems += 1
                problems.append(f"{layout.anchor_name(size)}: {e}")
            except AnchorMismatch as e:
                problems.append(f"{layout.anchor_name(size)}: {e}")
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                problems.append(f"{layout.anchor_name(size)}: malformed answer or receipt ({e})")
        v2 = sum(r.get("contract_version", 1) == 2 for r in receipts.values())
        run.add(
            "anchors.chain",
            problems,
            len(receipts),
            f"{len(receipts)} anchors found on chain at {rpc.url}"
            + (f" ({v2} with their map roots)" if v2 else ""),
            "map_root_mismatch" if problems and map_problems == len(problems) else
            "anchor_not_on_chain",
        )  # fmt: skip


def _check_map_roots(
    run: CheckRun,
    receipts: dict[int, dict[str, Any]],
    notes: dict[int, tuple[bytes, Checkpoint]],
) -> None:
    """``anchors.map_root``: each receipt of contract version 2 anchors the map root its note
    names (null for a note without map line); a note with a map line anchored on version 1 has
    its map root not anchored (not_checked); notes before the map are fine on either."""
    problems: list[str] = []
    unanchored: list[int] = []
    mapped = 0
    for size, r in sorted(receipts.items()):
        name = layout.anchor_name(size)
        try:
            note_map = _note_map_root(notes[size][1])
        except ValueError as e:
            problems.append(f"{layout.note_name(size)}: {e}")
            continue
        if _receipt_version(r) == 1:
            if note_map is not None:
                unanchored.append(size)
            continue
        said = r["map_root"]
        want = None if note_map is None else "0x" + note_map.hex()
        if said != want:
            problems.append(f"{name}: anchored map root {said}, the note names {want or 'none'}")
        elif note_map is not None:
            mapped += 1
    if problems:
        run.add("anchors.map_root", problems, len(receipts), "", "map_root_mismatch")
    elif unanchored:
        run.skip(
            "anchors.map_root",
            "map_root_not_anchored",
            f"checkpoints {unanchored} were anchored by contract v1, which does not record the "
            "map root: their map roots rest on the notes' signatures and timestamps only",
            len(unanchored),
        )
    else:
        before = len(receipts) - mapped
        run.add(
            "anchors.map_root",
            [],
            len(receipts),
            f"{mapped} anchored map roots equal their notes' lines"
            + (f"; {before} checkpoints before the map" if before else ""),
            "map_root_mismatch",
        )


# 14. Documents: each included one has the fingerprint it is named by, and an event names it.
def check_documents(
    run: CheckRun, m: dict[str, Any], leaves: dict[int, tuple[bytes, dict[str, Any]]]
) -> None:
    """Step 14: ``documents.fingerprints``."""
    named = {d["sha256"] for _, obj in leaves.values() for d in obj["documents"]}
    problems: list[str] = []
    included = sorted(n for n in run.files if n.startswith("documents/"))
    for name in included:
        fp = name.removeprefix("documents/")
        if hashlib.sha256(run.files[name]).hexdigest() != fp:
            problems.append(f"{name}: content does not have this SHA-256")
        elif fp not in named:
            problems.append(f"{name} is named by no event of the package")
    listed = m["documents"]
    if [d.get("sha256") for d in listed] != sorted(named):
        problems.append("manifest.json documents differ from the events' fingerprints")
    elif {d["sha256"] for d in listed if d.get("included")} != {n[10:] for n in included}:
        problems.append("manifest.json documents 'included' flags differ from documents/")
    # No document included is a package that claims nothing about documents' contents (their
    # fingerprints are the events', proven by events.inclusion): nothing is left unchecked.
    detail = (
        f"{len(included)} documents match their fingerprints"
        if included
        else f"no document included; the {len(named)} fingerprints are the events'"
    )
    run.add("documents.fingerprints", problems, len(included), detail, "bad_document")


# 15. report.pdf: a PAdES signature, intact, valid, timestamped, by a trusted seal.
def check_report(
    run: CheckRun,
    pinned: Sequence[x509.Certificate],
    at: datetime | None,
    tsa_pinned: Sequence[x509.Certificate] | None = None,
) -> None:
    """Step 15: ``report.signature`` (pyHanko; runs ``asyncio.run``: no loop in this thread).

    ``pinned``: the seal's roots; ``tsa_pinned``: the TSA roots for its B-T timestamp (None: the
    same as ``pinned``). Either empty: the package's own ``certs/``."""
    from sealtrail.signing.validate import validate_pdf  # pyHanko: loaded only when needed

    pdf = run.files.get(layout.REPORT_PDF)
    if pdf is None:
        run.add("report.signature", ["report.pdf is missing"], 0, "", "bad_report")
        return
    seal_certs = pem_certs(run.files.get(layout.SERVICE_SEAL))
    roots = list(pinned) or seal_certs[1:]
    tsa = pinned if tsa_pinned is None else tsa_pinned
    tsa_roots = list(tsa) or pem_certs(run.files.get(layout.TSA_ROOTS))
    try:
        rep = validate_pdf(pdf, roots, tsa_roots, at_time=at)
    except SealtrailError as e:
        run.add("report.signature", [f"report.pdf: {e}"], 0, "", "bad_report")
        return
    problems = [] if rep.ok else [f"report.pdf: {rep.status.value} ({', '.join(rep.reasons)})"]
    if rep.ok and seal_certs and rep.signatures[-1].signer_subject != _friendly(seal_certs[0]):
        problems.append("report.pdf is signed by another certificate than certs/service-seal.pem")
    who = rep.signatures[-1].signer_subject if rep.signatures else "?"
    level = f", PAdES {rep.signatures[-1].level}" if rep.signatures else ""
    run.add(
        "report.signature", problems, len(rep.signatures), f"sealed by {who}{level}", "bad_report"
    )


def _friendly(cert: x509.Certificate) -> str:
    """The subject as pyHanko's report spells it (asn1crypto's ``human_friendly``)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return str(asn1_x509.Certificate.load(der).subject.human_friendly)


# 16. report.pdf's facts: what the sealed report lists is what the package proves.
def check_report_facts(
    run: CheckRun,
    m: dict[str, Any],
    leaves: dict[int, tuple[bytes, dict[str, Any]]],
    notes: dict[int, tuple[bytes, Checkpoint]] | None,
) -> None:
    """Step 16: ``report.facts`` (FORMAT.md §8.10), after ``report.signature``: the embedded
    ``sealtrail-facts.json`` of the revision the report's seal signs, parsed strictly, equals the
    facts recomputed from the package (events and leaf hashes, fingerprints, target size, root
    and map root, selection, origin, key, coverage). A report without facts is not checked,
    never passed; facts outside the signed revision fail; facts that match in a report whose
    seal did not verify are not checked (``blocked``)."""
    cid = "report.facts"
    pdf = run.files.get(layout.REPORT_PDF)
    if pdf is None:
        run.skip(cid, "blocked", "report.pdf is missing")
        return
    if notes is None:
        run.skip(cid, "blocked", "checkpoints did not verify")
        return
    target = notes.get(m["target"].get("size"))
    if target is None or not leaves:
        run.skip(cid, "blocked", "no verified target checkpoint or events to compare with")
        return
    cp = target[1]
    docs = sorted({d["sha256"] for _, obj in leaves.values() for d in obj["documents"]})
    cov = m["coverage"]
    want = report_facts.facts_object(
        origin=m["log"]["origin"],
        verifier_key=m["log"]["verifier_key"],
        selection=cov["selection"],
        target_size=cp.size,
        target_root=cp.root,
        map_root=map_root_of(cp.extensions),
        events=[(i, leaf) for i, (leaf, _) in sorted(leaves.items())],
        documents=docs,
        unsealed=cov["unsealed"],
    )
    cap = report_facts.facts_cap(len(leaves), len(docs))
    name = report_facts.FACTS_NAME
    try:
        found = report_facts.embedded_facts(pdf, cap)
        if found.signed is None and found.latest is None:
            run.skip(cid, "no_facts", f"the report predates machine-readable facts (no {name})")
            return
        if found.signed is None:
            problems = [f"{name} is not in the revision the report's seal signs (added later)"]
            run.add(cid, problems, 0, "", "report_differs")
            return
        if found.latest != found.signed:
            problems = [f"{name} was replaced or removed by an update after the report's seal"]
            run.add(cid, problems, 0, "", "report_differs")
            return
        facts = report_facts.parse_facts(found.signed, cap)
    except report_facts.FactsUnreadable as e:
        run.add(cid, [str(e)], 0, "", "malformed")
        return
    diff = report_facts.first_difference(facts, want)
    if diff is not None:
        run.add(cid, [f"report.pdf: {diff}"], len(leaves), "", "report_differs")
        return
    sealed = any(c.id == "report.signature" and c.status is Status.PASSED for c in run.checks)
    detail = (
        f"the report lists the package's {len(leaves)} events, {len(docs)} fingerprints and "
        f"checkpoint {cp.size}"
    )
    if not sealed:
        run.skip(cid, "blocked", f"{detail}, but its seal did not verify", len(leaves))
        return
    run.add(cid, [], len(leaves), detail, "report_differs")
