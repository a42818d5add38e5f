"""``sealtrail verify``: check a certification package offline (docs/FORMAT.md §8) with
:func:`sealtrail.verifier.verify.verify_package`; exit status 0 only when no check failed.

This module imports only click, :mod:`sealtrail.core`, :mod:`sealtrail.verifier` and the CLI's
shared context, so a verifier's machine runs it without the service's dependencies loaded.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from cryptography import x509

from sealtrail.api.error_codes import EXIT_FAILED, EXIT_INCOMPLETE, exit_code_for
from sealtrail.core.errors import InvalidInputError
from sealtrail.verifier.results import OFFLINE, Overall, Policy
from sealtrail.verifier.rpc import RpcAnchorChecker
from sealtrail.verifier.verify import verify_package


@click.command("verify")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rpc", default=None, help="JSON-RPC URL of a chain node to look anchors up.")
@click.option(
    "--trust-root",
    "trust_roots",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM root for TSA tokens and the report seal.",
)
@click.option("--ledger-key", default=None, help="The ledger's published verifier key.")
@click.option(
    "--offline",
    is_flag=True,
    help="Accept anchors not looked up on a chain (no --rpc) as the only thing unchecked.",
)
@click.option(
    "--accept",
    "accept",
    multiple=True,
    metavar="CHECK",
    help="Accept this check (an id, or a prefix ending in '.') being not checked.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_cmd(
    package: Path,
    rpc: str | None,
    trust_roots: tuple[Path, ...],
    ledger_key: str | None,
    offline: bool,
    accept: tuple[str, ...],
    as_json: bool,
) -> None:
    """Verify a certification package offline (anchors on a chain with --rpc).

    Exit status: 0 every check passed (or is not checked as --offline/--accept allow);
    8 nothing failed but something was not checked; 1 a check failed.
    """
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # findings go into the report
    try:
        roots: list[x509.Certificate] = []
        for p in trust_roots:
            roots += x509.load_pem_x509_certificates(p.read_bytes())
        checker = RpcAnchorChecker(rpc) if rpc else None
    except ValueError as e:
        err = InvalidInputError(str(e))
        click.echo(f"sealtrail: error: {err}", err=True)
        sys.exit(exit_code_for(err))
    report = verify_package(
        package.read_bytes(), trust_roots=roots, ledger_key=ledger_key, rpc=checker
    )
    policy = Policy(accept=(OFFLINE.accept if offline else ()) + accept)
    verdict = report.verdict(policy)
    if as_json:
        out = report.to_json()
        out["policy"] = {"accept": list(policy.accept)}
        out["verdict"] = verdict.value
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        click.echo(report.to_text())
        if policy.accept:
            click.echo(
                f"verdict: {verdict.value} (accepting not checked: {', '.join(policy.accept)})"
            )
    if verdict is Overall.FAILED:
        first = report.failed()[0]
        click.echo(f"sealtrail: error: {first.id} failed: {first.detail}", err=True)
        sys.exit(EXIT_FAILED)
    if verdict is Overall.INCOMPLETE:
        unchecked = [
            c.id for c in report.checks if c.status.value == "not_checked" and not policy.accepts(c)
        ]
        click.echo(f"sealtrail: error: incomplete: not checked: {', '.join(unchecked)}", err=True)
        sys.exit(EXIT_INCOMPLETE)
