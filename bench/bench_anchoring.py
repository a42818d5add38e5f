"""Anchoring gas, append-to-final latency on Ganache, and the RFC 3161 round trip, with baselines.

Issue 4 asks for: gas per anchor and per event at checkpoint sizes 1, 1,000 and 100,000 events;
the time from append to final anchor on Ganache; the timestamp round trip. No targets: every
figure is printed next to a baseline measured in the same run.

* **Gas** — a Ganache 7 in instamine mode (``node_modules/ganache``, started by this script). For
  each checkpoint size S a fresh ledger (its own log id) gets S events, is sealed, and its
  checkpoint is anchored by the real :class:`AnchorWorker` (k = 1): the first anchor of a log;
  then twice more S events, sealed and anchored: later anchors. Gas comes from the stored anchor
  (the receipt's ``gasUsed``). Baseline: a plain ETH transfer signed and sent on the same chain.
  Fees are shown at the price Ganache charged (the receipt's ``effectiveGasPrice``) and
  computed at 20 gwei.
* **Append to final** — a second Ganache with ``--miner.blockTime 1`` (a block every second,
  empty or not). One event is appended, a checkpoint sealed, and the worker's :meth:`step` is
  driven every ``--poll`` seconds until the anchor is ``final`` with k = 1, 3, 6 confirmations.
  Each repetition starts at a random phase of the block clock (an untimed random sleep).
  Baseline: k × the block time. Then a backlog: several checkpoints sealed at once, anchored in
  turn (the worker keeps one unmined transaction at a time).
* **Timestamp round trip** — :meth:`TimestampClient.timestamp` over the checkpoint note against
  the development TSA over local HTTP (request, response, full token verification), with a
  shared aiohttp session and with a session per call (as the service's client does). Baselines:
  a POST of the same request to a trivial aiohttp handler answering as many bytes, in the same
  session mode; and SHA-256 of the note. Client and both servers share this process's event
  loop, so each round trip includes the server's work, the same way for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c
import aiohttp
from aiohttp import web
from eth_account import Account
from web3 import Web3

from sealtrail.anchoring.chain import ChainClient, connect
from sealtrail.anchoring.contract import log_id_for
from sealtrail.anchoring.devtsa import respond, start_tsa
from sealtrail.anchoring.errors import AnchoringError
from sealtrail.anchoring.store import StoredAnchor
from sealtrail.anchoring.tsa import (
    QUERY_TYPE,
    REPLY_TYPE,
    TimestampClient,
    build_request,
    token_from_response,
    verify_token,
)
from sealtrail.anchoring.worker import AnchorWorker
from sealtrail.core.event import parse_event_input
from sealtrail.ledger.log import Ledger

TITLE = "Anchoring and trusted time"
TABLE_GAS = "Gas per anchor and per event (Ganache, instamine)"
TABLE_LATENCY = "Append to final anchor (Ganache, --miner.blockTime 1)"
TABLE_BACKLOG = "Checkpoints sealed faster than blocks (k = 1)"
TABLE_TSA = "Timestamp round trip (development TSA, local HTTP)"

ROOT = Path(__file__).resolve().parent.parent
GANACHE_CLI = ROOT / "node_modules" / "ganache" / "dist" / "node" / "cli.js"
CHAIN_ID = 1337
# Ganache's --wallet.deterministic accounts (as in tests/integration/chain/conftest.py):
# 0 deploys and owns the contract, 1 anchors, 2 sends the baseline ETH transfer.
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
GWEI = 10**9
REFERENCE_PRICE = 20 * GWEI  # a computed column: what the gas would cost at 20 gwei
BLOCK_TIME = 1  # seconds, --miner.blockTime of the latency chain
LATER_ANCHORS = 2  # per checkpoint size, after the first

FULL_SIZES = (1, 1_000, 100_000)
QUICK_SIZES = (1, 100, 1_000)
FULL_KS = (1, 3, 6)
QUICK_KS = (1, 3)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def eth(wei: int) -> str:
    return f"{wei / 10**18:.6f} ETH"


# -- Ganache -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM the child when this process dies, even by SIGKILL (a CI timeout)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Ganache:
    """A Ganache process on 127.0.0.1:port, started by :func:`start_ganache`."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(1, 1 << 62)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rpc(self, method: str, *params: Any) -> Any:
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        ).encode()
        req = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error'].get('message')}")
        return answer["result"]

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def ganache_version() -> str:
    try:
        return str(json.loads((GANACHE_CLI.parents[2] / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


def check_ganache() -> str:
    """The ``node`` executable; exits with one line if Ganache or node is missing."""
    if not GANACHE_CLI.exists():
        raise SystemExit(
            f"bench_anchoring: {GANACHE_CLI.relative_to(ROOT)} is missing: run `npm ci` at the "
            "repo root"
        )
    node = shutil.which("node")
    if node is None:
        raise SystemExit("bench_anchoring: node_modules/ganache is installed but `node` is not")
    return node


def start_ganache(node: str, log: Path, *extra: str, timeout: float = 60.0) -> Ganache:
    """Start Ganache on a free port; return once ``eth_chainId`` answers."""
    port = free_port()
    cmd = [
        node,
        str(GANACHE_CLI),
        "--server.host",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--wallet.deterministic",
        "--chain.chainId",
        str(CHAIN_ID),
        "--logging.quiet",
        *extra,
    ]
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, preexec_fn=preexec
        )
    g = Ganache(port, proc, log)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"ganache exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if int(g.rpc("eth_chainId"), 16) == CHAIN_ID:
                return g
        except (OSError, urllib.error.URLError, ValueError):
            pass
        if time.monotonic() > deadline:
            g.stop()
            raise RuntimeError(f"ganache did not answer within {timeout} s")
        time.sleep(0.05)


# -- ledgers, contract, worker -------------------------------------------------------------------


class EventSource:
    """Validated sample events for one ledger, each with its own client event id."""

    def __init__(self) -> None:
        self.next = 0

    def append(self, ledger: Ledger, n: int) -> None:
        end = self.next + n
        for k in range(self.next, end, 10_000):
            batch = [parse_event_input(c.sample_event(i)) for i in range(k, min(k + 10_000, end))]
            ledger.append(c.TENANT, batch)
        self.next = end


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Chain:
    """A Ganache with our contract deployed by account 0; logs are authorised for account 1."""

    ganache: Ganache
    owner: ChainClient
    contract: str

    @classmethod
    def deploy(cls, ganache: Ganache) -> Chain:
        owner = connect(ganache.url, KEYS[0], CHAIN_ID)
        contract = owner.deploy()
        return cls(ganache, owner, contract)

    def worker(self, ledger: Ledger, k: int, *, authorise: bool = True) -> AnchorWorker:
        log_id = log_id_for(ledger.origin)
        if authorise:
            self.owner.authorise(log_id, ADDRESSES[1])
        url, contract = self.ganache.url, self.contract
        return AnchorWorker(
            c.stores_of(ledger),
            lambda: connect(url, KEYS[1], CHAIN_ID, contract_address=contract),
            log_id,
            confirmations=k,
            clock=utc_now,
        )


@dataclass
class Trace:
    """When (perf_counter) the worker was seen to have sent, mined and finalised an anchor."""

    anchor: StoredAnchor
    sent: float
    mined: float
    final: float
    head_at_send: int
    errors: int


def drive(
    worker: AnchorWorker,
    ledger: Ledger,
    ganache: Ganache,
    size: int,
    poll: float,
    timeout: float = 120.0,
) -> Trace:
    """Run worker rounds every ``poll`` seconds until checkpoint ``size``'s anchor is final."""
    store = c.stores_of(ledger).anchors
    sent = mined = None
    head_at_send = -1
    errors = 0
    deadline = time.perf_counter() + timeout
    while True:
        try:
            worker.step()
        except AnchoringError as e:  # counted and shown; the next round retries
            errors += 1
            print(f"  (anchoring round failed: {e})", file=sys.stderr)
        now = time.perf_counter()
        a = store.anchor(size)
        if a is not None:
            if sent is None and a.status in ("sent", "confirmed", "final"):
                sent, head_at_send = now, ganache.block_number()
            if mined is None and a.status in ("confirmed", "final"):
                mined = now
            if a.status == "final":
                assert sent is not None
                assert mined is not None
                return Trace(a, sent, mined, now, head_at_send, errors)
        if now > deadline:
            raise RuntimeError(f"checkpoint {size} not final within {timeout} s: {a}")
        time.sleep(poll)


def anchor_checkpoint(
    ledger: Ledger, events: EventSource, n: int, worker: AnchorWorker, g: Ganache, poll: float
) -> Trace:
    """Append ``n`` events, seal, and anchor the checkpoint until final."""
    events.append(ledger, n)
    cp, new = ledger.seal()
    if cp is None or not new:
        raise RuntimeError("sealing made no new checkpoint")
    return drive(worker, ledger, g, cp.size, poll)


# -- 1. gas --------------------------------------------------------------------------------------


@dataclass
class GasRow:
    what: str
    events: int | None
    gas: list[int]
    price: list[int]  # effective gas price, wei per gas


def transfer_gas(chain: Chain) -> GasRow:
    """The baseline: 1 wei from account 2 to account 0, EIP-1559, same fee policy as anchors."""
    w3 = Web3(Web3.HTTPProvider(chain.ganache.url))
    sender = Account.from_key(KEYS[2])
    fees = chain.owner.suggest_fees()
    tx = {
        "type": 2,
        "chainId": CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(sender.address),
        "to": ADDRESSES[0],
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": fees.max_fee,
        "maxPriorityFeePerGas": fees.priority_fee,
    }
    signed = sender.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    r = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05)
    if r["status"] != 1:
        raise RuntimeError("the baseline ETH transfer failed")
    return GasRow(
        "plain ETH transfer (baseline)", None, [int(r["gasUsed"])], [int(r["effectiveGasPrice"])]
    )


def measure_gas(
    chain: Chain, root: Path, sizes: Sequence[int]
) -> tuple[list[GasRow], dict[int, float]]:
    """Rows of the gas table, and the seconds each size's ledger took to build (diagnostic)."""
    deployed = chain.owner.last_deploy_receipt
    assert deployed is not None
    rows = [
        transfer_gas(chain),
        GasRow(
            "deploy the contract (once)", None, [deployed.gas_used], [deployed.effective_gas_price]
        ),
    ]
    build: dict[int, float] = {}
    for s in sizes:
        ledger = c.make_ledger(root, f"gas-{s}")
        try:
            events = EventSource()
            auth = chain.owner.authorise(log_id_for(ledger.origin), ADDRESSES[1])
            if s == sizes[0]:
                rows.append(
                    GasRow(
                        "authorise an anchorer (once per log)",
                        None,
                        [auth.gas_used],
                        [auth.effective_gas_price],
                    )
                )
            worker = chain.worker(ledger, 1, authorise=False)
            t0 = time.perf_counter()
            events.append(ledger, s)
            build[s] = time.perf_counter() - t0
            ledger.seal()
            first = drive(worker, ledger, chain.ganache, ledger.size(), 0.02).anchor
            later = [
                anchor_checkpoint(ledger, events, s, worker, chain.ganache, 0.02).anchor
                for _ in range(LATER_ANCHORS)
            ]
            rows.append(
                GasRow(
                    "first anchor of a log",
                    s,
                    [first.gas_used or 0],
                    [first.effective_gas_price or 0],
                )
            )
            rows.append(
                GasRow(
                    f"later anchor (×{LATER_ANCHORS})",
                    s,
                    [a.gas_used or 0 for a in later],
                    [a.effective_gas_price or 0 for a in later],
                )
            )
            if worker.stats.replaced or worker.stats.resent or worker.stats.nonce_conflicts:
                print(f"  (worker stats, size {s}: {worker.stats})", file=sys.stderr)
        finally:
            ledger.close_sync()
    return rows, build


def gas_table(rows: Sequence[GasRow]) -> None:
    base = rows[0].gas[0]
    out = []
    for r in rows:
        gas = int(c.median(r.gas))
        shown = c.fmt_int(gas)
        if min(r.gas) != max(r.gas):
            shown = f"{c.fmt_int(min(r.gas))}–{c.fmt_int(max(r.gas))}"
        price = int(c.median(r.price))
        out.append(
            [
                r.what,
                "—" if r.events is None else c.fmt_int(r.events),
                shown,
                c.fmt_ratio(gas / base),
                "—" if r.events is None else f"{gas / r.events:,.2f}",
                f"{c.fmt_int(gas * price)} wei ({price / GWEI:.3f} gwei/gas)",
                eth(gas * REFERENCE_PRICE),
            ]
        )
    c.print_table(
        TABLE_GAS,
        [
            "transaction",
            "checkpoint events",
            "gas",
            "vs ETH transfer",
            "gas per event",
            "fee at Ganache's price",
            "fee at 20 gwei",
        ],
        out,
    )


# -- 2. append to final --------------------------------------------------------------------------


@dataclass
class Rep:
    total: float  # append → final
    to_sent: float  # append → the worker sent the transaction
    sent_to_mined: float  # sent → the worker saw the receipt
    mined_to_final: float
    blocks_to_inclusion: int  # the anchor's block − the head when it was sent


def measure_latency(
    chain: Chain, root: Path, ks: Sequence[int], reps: int, poll: float, seed: int
) -> dict[int, list[Rep]]:
    rng = random.Random(seed)
    g = chain.ganache
    ledger = c.make_ledger(root, "latency")
    events = EventSource()
    results: dict[int, list[Rep]] = {}
    try:
        chain.owner.authorise(log_id_for(ledger.origin), ADDRESSES[1])
        warm = chain.worker(ledger, 1, authorise=False)
        anchor_checkpoint(ledger, events, 1, warm, g, poll)  # the log's first anchor, untimed
        for k in ks:
            worker = chain.worker(ledger, k, authorise=False)
            worker.step()  # connects; nothing to do
            results[k] = []
            for _ in range(reps):
                time.sleep(rng.uniform(0, BLOCK_TIME))  # a random phase of the block clock
                t0 = time.perf_counter()
                tr = anchor_checkpoint(ledger, events, 1, worker, g, poll)
                block = tr.anchor.block_number
                assert block is not None
                results[k].append(
                    Rep(
                        tr.final - t0,
                        tr.sent - t0,
                        tr.mined - tr.sent,
                        tr.final - tr.mined,
                        block - tr.head_at_send,
                    )
                )
    finally:
        ledger.close_sync()
    return results


def latency_table(results: dict[int, list[Rep]], poll: float) -> None:
    rows = []
    for k, reps in results.items():
        total = sorted(r.total for r in reps)
        floor = k * BLOCK_TIME
        rows.append(
            [
                k,
                len(reps),
                secs(c.median(total)),
                f"{secs(total[0])} – {secs(total[-1])}",
                secs(c.median([r.to_sent for r in reps])),
                secs(c.median([r.sent_to_mined for r in reps])),
                secs(c.median([r.mined_to_final for r in reps])),
                secs(floor),
                c.fmt_ratio(c.median(total) / floor),
            ]
        )
    c.print_table(
        TABLE_LATENCY,
        [
            "k",
            "reps",
            "append → final, median",
            "min – max",
            "append → sent",
            "sent → mined seen",
            "mined → final",
            "baseline k × block time",
            "ratio",
        ],
        rows,
    )
    incl = sorted({r.blocks_to_inclusion for reps in results.values() for r in reps})
    print(
        f"\nworker polled every {poll} s; blocks from send to inclusion: {incl} (1 = the next"
        f" block). Expected ≈ (k − ½) × block time + poll lag: the transaction waits on"
        f" average half a block for the next one, whose own block counts as the first"
        f" confirmation."
    )


def measure_backlog(chain: Chain, root: Path, n: int, poll: float) -> tuple[float, int, int]:
    """Seal ``n`` checkpoints at once, anchor them (k = 1): seconds, first and last block."""
    g = chain.ganache
    ledger = c.make_ledger(root, "backlog")
    events = EventSource()
    try:
        worker = chain.worker(ledger, 1)
        anchor_checkpoint(ledger, events, 1, worker, g, poll)  # the first anchor, untimed
        t0 = time.perf_counter()
        sizes = []
        for _ in range(n):
            events.append(ledger, 1)
            cp, _ = ledger.seal()
            assert cp is not None
            sizes.append(cp.size)
        traces = [drive(worker, ledger, g, s, poll) for s in sizes]
        dt = time.perf_counter() - t0
    finally:
        ledger.close_sync()
    blocks = [t.anchor.block_number or 0 for t in traces]
    return dt, blocks[0], blocks[-1]


# -- 3. timestamp round trip ---------------------------------------------------------------------


@dataclass
class TsaResults:
    times: dict[str, list[float]]
    note_bytes: int
    response_bytes: int
    token_bytes: int
    verified: int


async def measure_tsa(root: Path, note: bytes, n: int) -> TsaResults:
    tsa = await start_tsa(root / "devtsa")  # first use makes its PKI (untimed)
    trust = [tsa.tsa.ca_cert]
    sample_response = respond(tsa.tsa, build_request(note, 1), QUERY_TYPE, utc_now())
    reply = bytes(len(sample_response))

    async def trivial(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=reply, content_type=REPLY_TYPE)

    app = web.Application()
    app.router.add_post("/", trivial)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        trivial_url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        request = build_request(note, 1)
        headers = {"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE}

        async def post(session: aiohttp.ClientSession) -> None:
            async with session.post(trivial_url, data=request, headers=headers) as r:
                await r.read()

        async def post_new_session() -> None:
            async with aiohttp.ClientSession() as session:
                await post(session)

        times: dict[str, list[float]] = {}
        verified = 0
        async with aiohttp.ClientSession() as shared:
            shared_client = TimestampClient([tsa.url], trust, retries=0, session=shared)
            own_client = TimestampClient([tsa.url], trust, retries=0)  # as the service's

            async def stamp(client: TimestampClient) -> None:
                nonlocal verified
                ts = await client.timestamp(note)
                verified += len(ts.token) > 0

            token = (await shared_client.timestamp(note)).token
            now = utc_now()

            async def issue() -> None:  # the TSA's own work, no HTTP
                respond(tsa.tsa, request, QUERY_TYPE, now)

            async def verify() -> None:  # the client's verification, no HTTP
                verify_token(token, note, trust)

            async def digest() -> float:  # 100 in a row, timed here: µs are below the noise
                sha = hashlib.sha256
                t0 = time.perf_counter()
                for _ in range(100):
                    sha(note).digest()
                return (time.perf_counter() - t0) / 100

            ops: dict[str, Callable[[], Any]] = {
                "sha": digest,
                "post_shared": lambda: post(shared),
                "ts_shared": lambda: stamp(shared_client),
                "post_new": post_new_session,
                "ts_new": lambda: stamp(own_client),
                "issue": issue,
                "verify": verify,
            }
            for op in ops.values():  # warm up every path (connections, imports, caches)
                await op()
            verified = 0
            for _ in range(n):  # interleaved, so that load changes hit every operation alike
                for name, op in ops.items():
                    t0 = time.perf_counter()
                    own = await op()
                    dt = time.perf_counter() - t0
                    times.setdefault(name, []).append(own if name == "sha" else dt)
    finally:
        await runner.cleanup()
        await tsa.close()
    return TsaResults(
        times, len(note), len(sample_response), len(token_from_response(sample_response)), verified
    )


def tsa_table(r: TsaResults) -> None:
    def med(name: str) -> float:
        return c.median(r.times[name])

    def p90(name: str) -> float:
        return c.percentile(sorted(r.times[name]), 90)

    def row(label: str, name: str, base: str | None, base_label: str) -> list[object]:
        fmt = c.fmt_us if name == "sha" else ms
        ratio = c.fmt_ratio(med(name) / med(base)) if base else c.fmt_ratio(1.0)
        return [label, fmt(med(name)), fmt(p90(name)), base_label, ratio]

    n = len(r.times["sha"])
    c.print_table(
        TABLE_TSA,
        ["operation", "median", "p90", "baseline", "ratio"],
        [
            row(f"SHA-256 of the checkpoint note ({r.note_bytes} B)", "sha", None, "itself"),
            row("POST to a trivial aiohttp handler, shared session", "post_shared", None, "itself"),
            row(
                "TimestampClient.timestamp, shared session",
                "ts_shared",
                "post_shared",
                "trivial POST, shared session",
            ),
            row(
                "POST to a trivial aiohttp handler, a session per call", "post_new", None, "itself"
            ),
            row(
                "TimestampClient.timestamp, a session per call (the service's way)",
                "ts_new",
                "post_new",
                "trivial POST, session per call",
            ),
            row(
                "  of which: the TSA issues the token (devtsa.respond, RSA 2048)",
                "issue",
                "post_shared",
                "trivial POST, shared session",
            ),
            row(
                "  of which: verify_token (full verification, offline)",
                "verify",
                "post_shared",
                "trivial POST, shared session",
            ),
        ],
    )
    print(
        f"\n{n} interleaved rounds; every token verified: {r.verified}/{2 * n}; TimeStampResp"
        f" {r.response_bytes} B (token {r.token_bytes} B, TSA certificate included); the"
        f" trivial handler answers as many bytes. SHA-256 of the note vs the shared-session"
        f" timestamp: {c.fmt_ratio(c.median(r.times['ts_shared']) / c.median(r.times['sha']))}"
    )


# -- driver --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--tmp-dir", help="where the ledgers, Ganache logs and TSA keys go")
    p.add_argument("--repeat", type=int, help="repetitions per k (default 7, or 2 with --quick)")
    p.add_argument("--rounds", type=int, help="timestamp rounds (default 200, or 20 with --quick)")
    p.add_argument("--poll", type=float, default=0.1, help="seconds between worker rounds")
    p.add_argument("--seed", type=int, default=4, help="seed of the random start phases")
    args = p.parse_args(argv)
    node = check_ganache()
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    ks = QUICK_KS if args.quick else FULL_KS
    reps = args.repeat or (2 if args.quick else 7)
    rounds = args.rounds or (20 if args.quick else 200)
    backlog = 3 if args.quick else 5
    node_version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    c.print_header(
        TITLE,
        args.quick,
        [
            f"Ganache {ganache_version()} on node {node_version}, chain id {CHAIN_ID},"
            f" contract SealtrailAnchor deployed per chain; the real AnchorWorker"
            f" (sealtrail.anchoring.worker) anchors every checkpoint",
            f"gas: checkpoints of {', '.join(f'{s:,}' for s in sizes)} events, a fresh"
            f" ledger each, first anchor + {LATER_ANCHORS} later; instamine chain",
            f"append → final: --miner.blockTime {BLOCK_TIME}, k = {', '.join(map(str, ks))},"
            f" {reps} repetitions each, worker rounds every {args.poll} s; backlog of"
            f" {backlog} checkpoints",
            f"timestamps: {rounds} interleaved rounds against the development TSA",
        ],
    )

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # runs the finally blocks: Ganache and servers stop

    signal.signal(signal.SIGTERM, on_term)
    with c.scratch_dir(args.tmp_dir) as root:
        instamine = start_ganache(node, root / "ganache-instamine.log")
        try:
            gas_rows, build = measure_gas(Chain.deploy(instamine), root, sizes)
        finally:
            instamine.stop()
        gas_table(gas_rows)
        anchors = [r for r in gas_rows if r.events is not None]
        later = [g for r in anchors if r.what.startswith("later") for g in r.gas]
        first = [g for r in anchors if r.what.startswith("first") for g in r.gas]
        print(
            f"\nfirst anchors {c.fmt_int(min(first))}–{c.fmt_int(max(first))} gas, later"
            f" {c.fmt_int(min(later))}–{c.fmt_int(max(later))}: the same for every checkpoint"
            f" size (one root per anchor), so gas per event falls as 1/size. Building the"
            f" ledgers (validated appends): "
            + ", ".join(f"{s:,} events {t:.1f} s" for s, t in build.items())
        )

        timed = start_ganache(
            node, root / "ganache-blocktime.log", "--miner.blockTime", str(BLOCK_TIME)
        )
        try:
            chain = Chain.deploy(timed)
            latency = measure_latency(chain, root, ks, reps, args.poll, args.seed)
            backlog_s, first_block, last_block = measure_backlog(chain, root, backlog, args.poll)
        finally:
            timed.stop()
        latency_table(latency, args.poll)
        blocks = last_block - first_block + 1
        c.print_table(
            TABLE_BACKLOG,
            [
                "checkpoints sealed at once",
                "seal → last final",
                "blocks holding them",
                "checkpoints per block",
                "baseline: one block time each",
                "ratio",
            ],
            [
                [
                    backlog,
                    secs(backlog_s),
                    f"{blocks} (#{first_block}–#{last_block})",
                    f"{backlog / blocks:.2f}",
                    secs(backlog * BLOCK_TIME),
                    c.fmt_ratio(backlog_s / (backlog * BLOCK_TIME)),
                ]
            ],
        )

        ledger = c.make_ledger(root, "tsa")
        try:
            EventSource().append(ledger, 1)
            cp, _ = ledger.seal()
            assert cp is not None
            note = cp.note.encode()
        finally:
            ledger.close_sync()
        tsa_table(asyncio.run(measure_tsa(root, note, rounds)))
    c.print_footer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
