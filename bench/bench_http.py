"""HTTP appends per second and latency, against a trivial aiohttp handler in the same run.

Targets (issue): ≥ 5,000 single appends/s at concurrency 64 with p99 under 50 ms; ≥ 20,000
events/s in batches of 1,000.

Two servers, each a subprocess on 127.0.0.1, started by this script:

* the real service — ``sealtrail serve`` on a fresh data dir in a temp dir (provisioned
  in-process: one tenant, one integrator key), with the default checkpoint settings (seal every
  10 s or 10,000 events) unless ``--no-sealing`` (seal every 86,400 s or 10,000,000 events);
* a trivial aiohttp app — a handler that reads the JSON body, parses it and answers a small JSON
  ``201``: the floor of what any aiohttp JSON endpoint costs on this machine.

The load generator is this process: one ``aiohttp.ClientSession`` with
``TCPConnector(limit=concurrency)``, ``concurrency`` workers sharing a fixed list of pre-encoded
request bodies (each event has its own ``client_event_id``), each request timed on its own.
Single events go to ``POST /v1/events`` at concurrency 1, 16 and 64; batches of 1,000 events to
``POST /v1/events/batch`` at concurrency 1 and 4. Every scenario first warms up (untimed) on the
same connections. The figures are throughput (requests/s, events/s), median and p99 latency, and
the CPU time the server process used per request (from /proc: a figure that noise on a shared
machine distorts less than wall time).

The load generator, the service and the trivial server share the machine's CPUs: on a 2-core
machine the generator takes a good part of one core, so both servers are measured under the
same handicap and the ratio is the figure that travels.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c
import aiohttp

from sealtrail import backend
from sealtrail.api.directory import create_key, create_tenant
from sealtrail.core.event import format_time
from sealtrail.ledger.log import Ledger, utc_now

TITLE = "HTTP appends"
TABLE_SINGLE = "Single appends (POST /v1/events)"
TABLE_BATCH = "Batches of 1,000 (POST /v1/events/batch)"
TABLE_TARGETS = "HTTP targets"
TARGET_SINGLE_RATE = 5_000
TARGET_SINGLE_P99 = 0.050
TARGET_BATCH_RATE = 20_000
BATCH = 1_000

# concurrency -> (timed requests, warm-up requests)
FULL_SINGLE = {1: (3_000, 200), 16: (10_000, 500), 64: (20_000, 1_000)}
QUICK_SINGLE = {1: (60, 10), 16: (200, 32), 64: (400, 64)}
# concurrency -> (timed batches, warm-up batches)
FULL_BATCH = {1: (20, 2), 4: (40, 4)}
QUICK_BATCH = {1: (1, 1), 4: (4, 0)}

TRIVIAL_APP = r"""
import json, sys
from aiohttp import web

async def handle(request):
    body = json.loads(await request.read())
    n = len(body["events"]) if "events" in body else 1
    return web.json_response({"ok": True, "events": n}, status=201)

async def healthz(request):
    return web.json_response({"status": "ok"})

app = web.Application(client_max_size=8 * 1024 * 1024)
app.router.add_get("/healthz", healthz)
app.router.add_post("/{tail:.*}", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server subprocess: its name, URL, process and log file."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the process so far (Linux /proc), None elsewhere."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _wait_ready(server: Server, path: str) -> Server:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(server.url + path, timeout=1) as r:
                if r.status < 300:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{server.name} not ready:\n{server.log.read_text()[-2000:]}")


def provision(data_dir: Path) -> str:
    """A fresh data dir with tenant ``acme`` and an integrator key for it; returns the key."""
    backend.init(data_dir)
    store, signer = backend.open_store(data_dir)
    ledger = Ledger(store.ledger, signer)
    try:
        now = format_time(utc_now())
        create_tenant(store.directory, c.TENANT, "Acme Ltd", None, now)
        _, key = create_key(store.directory, c.TENANT, "integrator", "bench", now)
    finally:
        ledger.close_sync()
    return key


def start_service(root: Path, sealing: bool) -> tuple[Server, str]:
    """``sealtrail serve`` on a fresh data dir under ``root``; returns it and the key."""
    data_dir = root / "data"
    key = provision(data_dir)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALTRAIL_")}
    env.update(SEALTRAIL_DATA_DIR=str(data_dir), SEALTRAIL_LISTEN=f"127.0.0.1:{port}")
    if not sealing:
        env.update(SEALTRAIL_CHECKPOINT_INTERVAL="86400", SEALTRAIL_CHECKPOINT_SIZE="10000000")
    log = root / "service.log"
    exe = str(Path(sys.executable).with_name("sealtrail"))
    with log.open("ab") as out:
        proc = subprocess.Popen([exe, "serve"], stdout=out, stderr=subprocess.STDOUT, env=env)
    return _wait_ready(Server("service", f"http://127.0.0.1:{port}", proc, log), "/readyz"), key


def start_trivial(root: Path) -> Server:
    port = free_port()
    log = root / "trivial.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", TRIVIAL_APP, str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    return _wait_ready(Server("trivial", f"http://127.0.0.1:{port}", proc, log), "/healthz")


class Events:
    """Request bodies, each event with a client_event_id never used before in this run."""

    def __init__(self) -> None:
        self.next = 0

    def _event(self) -> dict[str, object]:
        e = c.sample_event(self.next)
        e["client_event_id"] = f"http-{self.next}"
        self.next += 1
        return e

    def singles(self, n: int) -> list[bytes]:
        return [json.dumps(self._event()).encode() for _ in range(n)]

    def batches(self, n: int) -> list[bytes]:
        return [
            json.dumps({"events": [self._event() for _ in range(BATCH)]}).encode() for _ in range(n)
        ]


@dataclass
class Result:
    """One scenario on one server."""

    requests: int
    wall: float
    latencies: list[float]  # sorted, seconds
    statuses: Counter[int]
    server_cpu: float | None  # seconds
    client_cpu: float  # seconds

    @property
    def rate(self) -> float:
        return c.rate(self.requests, self.wall)

    def p(self, q: float) -> float:
        return c.percentile(self.latencies, q)

    @property
    def ok(self) -> bool:
        return set(self.statuses) == {201}


async def load(
    server: Server, path: str, key: str, warm: list[bytes], timed: list[bytes], concurrency: int
) -> Result:
    """POST every body of ``warm`` (untimed) then of ``timed`` with ``concurrency`` workers."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=300)
    statuses: Counter[int] = Counter()
    async with aiohttp.ClientSession(
        connector=connector, headers=headers, timeout=timeout
    ) as session:
        url = server.url + path

        async def run(bodies: list[bytes], latencies: list[float]) -> None:
            todo: Iterator[bytes] = iter(bodies)

            async def worker() -> None:
                for body in todo:
                    t0 = time.perf_counter()
                    async with session.post(url, data=body) as r:
                        await r.read()
                        statuses[r.status] += 1
                    latencies.append(time.perf_counter() - t0)

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await run(warm, [])
        statuses.clear()
        latencies: list[float] = []
        cpu0, srv0, t0 = time.process_time(), server.cpu_seconds(), time.perf_counter()
        await run(timed, latencies)
        wall = time.perf_counter() - t0
        cpu, srv1 = time.process_time() - cpu0, server.cpu_seconds()
    latencies.sort()
    server_cpu = None if srv0 is None or srv1 is None else srv1 - srv0
    return Result(len(timed), wall, latencies, statuses, server_cpu, cpu)


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def fmt_cpu(r: Result, per: int) -> str:
    """Server CPU per request (or per event)."""
    if r.server_cpu is None:
        return "n/a"
    return c.fmt_us(r.server_cpu / (r.requests * per))


def log_size(server: Server) -> int:
    with urllib.request.urlopen(server.url + "/readyz", timeout=10) as r:
        return int(json.loads(r.read())["log_size"])


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument(
        "--no-sealing",
        action="store_true",
        help="seal every 86,400 s / 10,000,000 events instead of the defaults (10 s / 10,000)",
    )
    p.add_argument("--tmp-dir", default=None, help="where the service's data dir is made")
    args = p.parse_args(argv)
    with c.scratch_dir(args.tmp_dir) as root:
        service, key = start_service(root, sealing=not args.no_sealing)
        try:
            trivial = start_trivial(root)
            try:
                return asyncio.run(measure(service, trivial, key, args))
            finally:
                trivial.stop()
        finally:
            service.stop()


async def measure(service: Server, trivial: Server, key: str, args: argparse.Namespace) -> int:
    quick = args.quick
    sealing = (
        "off (every 86,400 s / 10,000,000 events)"
        if args.no_sealing
        else ("on, the defaults (every 10 s or 10,000 events)")
    )
    c.print_header(
        TITLE,
        quick,
        [
            f"service: `sealtrail serve` (subprocess, fresh data dir under {tempfile.gettempdir()}"
            f" unless --tmp-dir); checkpoint sealing {sealing}",
            "trivial: an aiohttp handler that parses the JSON body and answers a small JSON 201 "
            "(subprocess)",
            f"load generator: this process, aiohttp.ClientSession + TCPConnector(limit=c); it "
            f"shares the {os.cpu_count()} CPUs with the server under test, so every figure is "
            "a lower bound and the ratio to the trivial server is the figure that travels",
            "server CPU/req: CPU time the server process used (all its threads) divided by the "
            "requests (or events) it served",
        ],
    )
    events = Events()
    singles = QUICK_SINGLE if quick else FULL_SINGLE
    batches = QUICK_BATCH if quick else FULL_BATCH
    sent = 0
    failed: list[str] = []

    single_rows = []
    single: dict[tuple[str, int], Result] = {}
    for conc, (n, warm) in singles.items():
        for server in (service, trivial):
            w, t = events.singles(warm), events.singles(n)
            r = await load(server, "/v1/events", key, w, t, conc)
            single[server.name, conc] = r
            if server is service:
                sent += warm + n
            if not r.ok:
                failed.append(f"{server.name} c={conc}: statuses {dict(r.statuses)}")
        s, t = single["service", conc], single["trivial", conc]
        for name, r in (("service", s), ("trivial", t)):
            single_rows.append(
                [
                    name,
                    conc,
                    c.fmt_int(r.requests),
                    c.fmt_int(r.rate),
                    fmt_ms(r.p(50)),
                    fmt_ms(r.p(99)),
                    fmt_cpu(r, 1),
                    c.fmt_ratio(s.rate / t.rate) if name == "service" else "",
                ]
            )
    c.print_table(
        TABLE_SINGLE,
        [
            "server",
            "concurrency",
            "requests",
            "appends/s",
            "median",
            "p99",
            "server CPU/req",
            "service/trivial",
        ],
        single_rows,
    )

    batch_rows = []
    batch: dict[tuple[str, int], Result] = {}
    for conc, (n, warm) in batches.items():
        for server in (service, trivial):
            w, t = events.batches(warm), events.batches(n)
            r = await load(server, "/v1/events/batch", key, w, t, conc)
            batch[server.name, conc] = r
            if server is service:
                sent += (warm + n) * BATCH
            if not r.ok:
                failed.append(f"{server.name} batch c={conc}: statuses {dict(r.statuses)}")
        s, t = batch["service", conc], batch["trivial", conc]
        for name, r in (("service", s), ("trivial", t)):
            batch_rows.append(
                [
                    name,
                    conc,
                    c.fmt_int(r.requests),
                    c.fmt_int(r.rate * BATCH),
                    fmt_ms(r.p(50)),
                    fmt_ms(r.p(99)),
                    fmt_cpu(r, BATCH),
                    c.fmt_ratio(s.rate / t.rate) if name == "service" else "",
                ]
            )
    c.print_table(
        TABLE_BATCH,
        [
            "server",
            "concurrency",
            "batches",
            "events/s",
            "median",
            "p99",
            "server CPU/event",
            "service/trivial",
        ],
        batch_rows,
    )

    s64 = single["service", 64]
    target_rows = [
        [
            "single appends/s, concurrency 64",
            f"≥ {c.fmt_int(TARGET_SINGLE_RATE)}",
            c.fmt_int(s64.rate),
            c.verdict(s64.rate >= TARGET_SINGLE_RATE),
        ],
        [
            "single append p99, concurrency 64",
            f"< {fmt_ms(TARGET_SINGLE_P99)}",
            fmt_ms(s64.p(99)),
            c.verdict(s64.p(99) < TARGET_SINGLE_P99),
        ],
    ]
    for conc in batches:
        rate = batch["service", conc].rate * BATCH
        target_rows.append(
            [
                f"batch events/s, batches of 1,000, concurrency {conc}",
                f"≥ {c.fmt_int(TARGET_BATCH_RATE)}",
                c.fmt_int(rate),
                c.verdict(rate >= TARGET_BATCH_RATE),
            ]
        )
    c.print_table(TABLE_TARGETS, ["target", "want", "got", "verdict"], target_rows)

    stored = log_size(service)
    print(f"\nevents stored by the service: {stored:,} (sent {sent:,})")
    c.print_footer()
    if stored != sent:
        failed.append(f"the service stored {stored:,} events, {sent:,} were sent")
    for f in failed:
        print(f"ERROR: {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
