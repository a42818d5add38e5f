"""A real Ganache 7 chain for the contract and chain-client tests.

Ganache runs from ``node_modules`` (``npm ci`` at the repo root installs it); it is started with
``node …/cli.js``, not ``npx``, so that stopping our pid stops the server. The tests are skipped
only when ``node_modules/ganache`` is missing. Each module shares one chain; every test runs
between ``evm_snapshot`` and ``evm_revert``, so tests do not see one another's blocks.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
GANACHE_CLI = ROOT / "node_modules" / "ganache" / "dist" / "node" / "cli.js"
CHAIN_ID = 1337

# Ganache's --wallet.deterministic accounts (mnemonic "myth like bonus scare over problem client
# lizard pioneer submit female collect"), 1000 ETH each.
KEYS = (
    "0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
    "0x6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1",
    "0x6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c",
)
ADDRESSES = (
    "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1",
    "0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0",
    "0x22d491Bde2303f2f43325b2108D26f1eAbA1e32b",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ganache: needs Ganache from node_modules (npm ci)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RpcError(Exception):
    """A JSON-RPC error answer."""


@dataclass
class Ganache:
    """A Ganache process on 127.0.0.1:port."""

    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(1, 1 << 62)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rpc(self, method: str, *params: Any) -> Any:
        """Call a JSON-RPC method; raises RpcError on an error answer."""
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        ).encode()
        req = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())
        if "error" in answer:
            raise RpcError(answer["error"].get("message"))
        return answer["result"]

    def mine(self, blocks: int = 1, timestamp: int | None = None) -> None:
        for _ in range(blocks):
            if timestamp is None:
                self.rpc("evm_mine")
            else:
                self.rpc("evm_mine", timestamp)

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_ganache(
    log_path: Path, *extra: str, timeout: float = 60.0, port: int | None = None
) -> Ganache:
    """Start Ganache on ``port`` (default: a free one); return once ``eth_chainId`` answers."""
    if not GANACHE_CLI.exists():
        pytest.skip(f"{GANACHE_CLI.relative_to(ROOT)} is missing: run `npm ci` at the repo root")
    node = shutil.which("node")
    if node is None:
        pytest.fail("node_modules/ganache is installed but `node` is not on PATH")
    g = Ganache(port=port or free_port(), log_path=log_path)
    cmd = [
        node,
        str(GANACHE_CLI),
        "--server.host",
        "127.0.0.1",
        "--server.port",
        str(g.port),
        "--wallet.deterministic",
        "--chain.chainId",
        str(CHAIN_ID),
        "--logging.quiet",
        *extra,
    ]
    with log_path.open("wb") as log:
        g.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + timeout
    while True:
        if g.proc.poll() is not None:
            raise RuntimeError(f"ganache exited with {g.proc.returncode}: {log_path.read_text()}")
        try:
            if int(g.rpc("eth_chainId"), 16) == CHAIN_ID:
                return g
        except (OSError, urllib.error.URLError, ValueError):
            pass
        if time.monotonic() > deadline:
            g.stop()
            raise RuntimeError(f"ganache did not answer within {timeout} s: {log_path.read_text()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def ganache_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ganache]:
    """One Ganache for a test module."""
    g = start_ganache(tmp_path_factory.mktemp("ganache") / "ganache.log")
    try:
        yield g
    finally:
        g.stop()


@pytest.fixture
def ganache(ganache_module: Ganache) -> Iterator[Ganache]:
    """The module's Ganache, rolled back (evm_revert) to where it was when the test began."""
    snapshot = ganache_module.rpc("evm_snapshot")
    try:
        yield ganache_module
    finally:
        if ganache_module.proc is not None and ganache_module.proc.poll() is None:
            ganache_module.rpc("miner_start")
            ganache_module.rpc("evm_revert", snapshot)


@pytest.fixture
def own_ganache(tmp_path: Path) -> Iterator[Ganache]:
    """A Ganache of the test's own (for tests that stop it)."""
    g = start_ganache(tmp_path / "ganache.log")
    try:
        yield g
    finally:
        g.stop()
