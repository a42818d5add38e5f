"""The command line loads a command's module only when that command runs (issue 13)."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from sealtrail.api import cli

CLI_DIR = Path(cli.__file__).parent
#: what neither ``sealtrail --help`` nor ``sealtrail verify`` may load
HEAVY = (
    "aiohttp.web",
    "sealtrail.api.app",
    "web3",
    "pymongo",
    "reportlab",
    "apscheduler",
    "PIL",
    "prometheus_client",
)
PROBE = """
import json, sys
from sealtrail.api.cli import main
try:
    main(sys.argv[2:], prog_name="sealtrail")
except SystemExit:
    pass
heavy = sys.argv[1].split(",")
print(json.dumps(sorted(m for m in sys.modules for h in heavy if m == h or m.startswith(h + "."))),
      file=sys.stderr)
"""


def loaded_after(*args: str) -> list[str]:
    """The :data:`HEAVY` modules a fresh interpreter holds after running ``sealtrail ARGS``.

    (pyHanko's HTTP client imports aiohttp's client part; the server part must stay out.)"""
    r = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return list(json.loads(r.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [("--help",), ("verify", "--help"), ("verify", "/dev/null")],
    ids=["help", "verify-help", "verify-run"],
)
def test_help_and_verify_leave_the_service_dependencies_unloaded(args: tuple[str, ...]) -> None:
    assert loaded_after(*args) == []


def test_python_dash_m_sealtrail_runs_the_cli() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "sealtrail", "--help"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: sealtrail [OPTIONS] COMMAND [ARGS]...")
    for name in cli.COMMANDS:
        assert f"\n  {name} " in r.stdout


def test_every_table_entry_names_its_command_and_its_help() -> None:
    for name, lazy in cli.COMMANDS.items():
        cmd = getattr(importlib.import_module(f"sealtrail.api.cli.{lazy.module}"), lazy.attr)
        assert isinstance(cmd, click.Command)
        assert cmd.name == name
        stand_in = click.Command(name, help=lazy.help)
        for limit in (30, 45, 80, 200):
            assert stand_in.get_short_help_str(limit) == cmd.get_short_help_str(limit), name


def test_command_modules_never_import_the_root_group() -> None:
    for path in CLI_DIR.glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "sealtrail.api.cli", f"{path.name} imports the root group"
                if node.module == "sealtrail.api":
                    assert "cli" not in {a.name for a in node.names}, path.name
