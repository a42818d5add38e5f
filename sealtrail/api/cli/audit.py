"""``sealtrail audit``: recompute everything from the stored events (:mod:`sealtrail.ledger.audit`,
streamed in pages), re-verify the stored timestamp tokens and, with ``--rpc``, the final anchors;
progress on stderr when it is a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import click

from sealtrail.anchoring.devtsa import CA_CERT_FILE
from sealtrail.anchoring.timestamping import check_stored_timestamps, load_trust_roots
from sealtrail.api.cli.context import Ctx, command, emit
from sealtrail.ledger.audit import DEFAULT_PAGE_SIZE, AuditReport, audit


def audit_text(r: AuditReport) -> str:
    """The report as text (also what ``sealtrail demo`` prints)."""
    lines = [
        f"log size {r.size}, {r.streams} streams, {r.checkpoints} checkpoints, root {r.root}",
        f"map roots recomputed: {r.map_checked}; checkpoints before the map: {r.before_map}",
    ]
    if r.ok:
        lines.append("OK: every event, chain, subtree, checkpoint signature and consistency holds")
    else:
        lines.append(
            f"FAILED: {len(r.problems)} problem(s)" + (" (list truncated)" if r.truncated else "")
        )
        lines += [f"  [{p.code}] {p.message}" for p in r.problems]
    return "\n".join(lines)


@click.command("audit")
@click.option(
    "--rpc",
    default=None,
    metavar="URL",
    help="Also check every final anchor on the chain at this JSON-RPC URL.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show events done/total, rate and ETA on stderr [default: when stderr is a terminal].",
)
@click.option(
    "--page-size",
    type=click.IntRange(min=1),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    help="Log entries read at a time (memory does not grow with the log).",
)
@command
def audit_cmd(
    ctx: Ctx, *, as_json: bool, rpc: str | None, progress: bool | None, page_size: int
) -> None:
    """Recompute everything from the stored events and re-verify every stored timestamp token
    (and, with --rpc, every final anchor on the chain); exit 0 only when all holds."""
    show = sys.stderr.isatty() if progress is None else progress
    meter = ProgressMeter(sys.stderr) if show else None
    with ctx.ledger() as ledger:
        try:
            report = audit(ledger.store, ledger.verifier, page_size=page_size, progress=meter)
        finally:
            if meter is not None:
                meter.close()
        stamps = _audit_timestamps(ctx, report)
        anchors = _audit_anchors(ctx, report, rpc)
    obj = {**report.to_json(), "timestamps": stamps, "anchors": anchors}
    text = audit_text(report) + (
        f"\ntimestamps: {stamps['stamped']} stamped and re-verified, {stamps['pending']} pending"
        + ("" if stamps["checked"] else " (no TSA trust roots here: tokens not re-verified)")
        + f"\nanchors: {anchors['final']} final"
        + (" and found on the chain" if anchors["checked"] else " (not checked: no --rpc)")
    )
    emit(as_json, obj, text)
    if not report.ok:
        sys.exit(1)


class ProgressMeter:
    """Prints ``phase: done/total events, rate, ETA`` on one rewritten line of ``out`` (at most
    every ``interval`` seconds, and at the end of each phase); :meth:`close` ends the line."""

    def __init__(
        self,
        out: TextIO,
        *,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out, self.interval, self.clock = out, interval, clock
        self._phase: str | None = None
        self._start = self._last = 0.0
        self._wrote = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = self.clock()
        if phase != self._phase:
            if self._wrote:
                self.out.write("\n")
            self._phase, self._start, self._last = phase, now, float("-inf")
        if now - self._last < self.interval and done < total:
            return
        self._last = now
        elapsed = now - self._start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        self.out.write(
            f"\raudit {phase}: {done:,}/{total:,} events, {rate:,.0f}/s, "
            f"ETA {int(eta) // 60}m{int(eta) % 60:02d}s "
        )
        self.out.flush()
        self._wrote = True

    def close(self) -> None:
        """End the progress line (if one was written)."""
        if self._wrote:
            self.out.write("\n")
            self.out.flush()
            self._wrote = False


def _audit_timestamps(ctx: Ctx, report: AuditReport) -> dict[str, Any]:
    """Re-verify stored RFC 3161 tokens against the configured (or dev TSA) trust roots."""
    s = ctx.settings
    roots_files = list(s.tsa_ca_files) or [
        p for p in [s.data_dir / "devtsa" / CA_CERT_FILE] if p.exists()
    ]
    records = ctx.stores.timestamps.timestamps()
    pending = len(ctx.stores.timestamps.untimestamped(limit=10**9))
    stamped = sum(1 for r in records if r.token is not None)
    if not roots_files:
        return {"stamped": stamped, "pending": pending, "checked": False}
    for size, problem in check_stored_timestamps(ctx.stores, load_trust_roots(roots_files)):
        report.add("timestamp_invalid", f"checkpoint {size}: {problem}")
    return {"stamped": stamped, "pending": pending, "checked": True}


def _audit_anchors(ctx: Ctx, report: AuditReport, rpc: str | None) -> dict[str, Any]:
    """With ``rpc``: look every final anchor up on the chain (read-only, no key needed)."""
    from sealtrail.anchoring.chain import connect
    from sealtrail.anchoring.contract import log_id_for
    from sealtrail.anchoring.deployment import load_deployment
    from sealtrail.anchoring.onchain_audit import check_chain_head, check_final_anchors

    log_id = log_id_for(ctx.stores.ledger.meta("origin") or "?")
    roots = {cp.size: cp.root for cp in ctx.stores.ledger.checkpoints()}
    for (
        a
    ) in ctx.stores.anchors.anchors():  # offline: every anchor names this log and its checkpoint
        if roots.get(a.size) != a.root or a.log_id != log_id:
            report.add(
                "anchor_mismatch",
                f"checkpoint {a.size}: the stored anchor names another root or log",
            )
    final = len(ctx.stores.anchors.anchors(("final",)))
    if rpc is None:
        return {"final": final, "checked": False}
    s = ctx.settings
    d = load_deployment(s.data_dir)
    address = s.chain_contract or (d.contract if d else None)
    if address is None:
        finals = ctx.stores.anchors.anchors(("final",))
        address = finals[-1].contract if finals else None
    if address is None:
        return {"final": 0, "checked": True}
    client = connect(rpc, None, contract_address=address)
    checked, problems = check_final_anchors(ctx.stores, client)
    for size, problem in problems:
        report.add("anchor_not_on_chain", f"checkpoint {size}: {problem}")
    chain_size, behind = check_chain_head(ctx.stores, client, log_id)
    for problem in behind:
        report.add("log_behind_chain", problem)
    return {
        "final": checked,
        "checked": True,
        "chain_id": client.chain_id,
        "contract": address,
        "chain_latest_size": chain_size,
    }
