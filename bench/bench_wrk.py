"""HTTP appends driven by wrk (a C load generator), against a trivial aiohttp handler.

``bench_http.py`` drives the servers from a Python aiohttp client that takes a good part of one
of the machine's cores; ``wrk`` costs the servers much less CPU, so its figures are closer to
what the service can do. This bench installs nothing: it needs Debian's ``wrk`` on ``PATH``
(``apt-get install wrk``) and says so when it is missing. CI does not run it.

Two servers, started as ``bench_http.py`` starts them (subprocesses on 127.0.0.1): the real
``sealtrail serve``, a new one on a fresh data dir for every scenario so that no scenario
appends to a log the earlier ones grew (sealing off unless ``--sealing``: the figures are then
the append path's own cost), and the trivial aiohttp handler that parses the JSON body and
answers ``201``.

wrk runs a Lua script that builds every request body itself: each event has its own
``client_event_id`` (``<scenario>-<wrk thread>-<n>``), stream and document hash, shaped like
``_common.sample_event``. Single events go to ``POST /v1/events`` at concurrency 1, 16 and 64;
batches of 100 and of 1,000 to ``POST /v1/events/batch`` at concurrency 1 and 4. Each scenario
warms up first (untimed, its own ids). The service's CPU time is read from ``/proc/<pid>/stat``
before and after (once it is idle again, so that the requests still in flight when wrk stops are
counted with the events they stored): µs of service CPU per stored event.

After every service scenario the bench checks the log against what wrk saw: every
acknowledged (2xx) event is stored (all its ids, read from the SQLite file), nothing else of the
scenario is stored except events of requests still in flight when wrk stopped (at most one
request per connection), no id is stored twice, no request was refused, and the log size that
service reports equals the rows in its file.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c
from bench_http import Server, log_size, start_service, start_trivial

TITLE = "HTTP appends under wrk"
TABLE_SINGLE = "Single appends under wrk (POST /v1/events)"
TABLE_BATCH = "Batches under wrk (POST /v1/events/batch)"
TABLE_CHECKS = "Stored versus acknowledged"
TABLE_TARGETS = "wrk targets (issue 20)"
TARGET_RATIO_C1 = 0.25
TARGET_RATIO_C64 = 0.5
TARGET_P99_C16 = 0.020
TARGET_BATCH_CPU = 35e-6

SINGLE_CONC = (1, 16, 64)
BATCHES = ((100, 1), (100, 4), (1_000, 1), (1_000, 4))  # (events per request, concurrency)

LUA = r"""
-- args: path, events per request, scenario prefix, bearer key (empty: none), document prefix
local threads = {}
local types = {"initiate", "approve", "sign", "view", "download"}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  path, per, prefix, docpre = args[1], tonumber(args[2]), args[3], args[5]
  if args[4] ~= "" then wrk.headers["Authorization"] = "Bearer " .. args[4] end
  wrk.headers["Content-Type"] = "application/json"
  n, ok, bad, acked, statuses = 0, 0, 0, {}, ""
end

local function event(i)
  return string.format(
    '{"stream":"contract:%s-%d-%d","type":"%s",' ..
    '"actor":{"id":"u-42","name":"Li Lei","org":"Acme Ltd","role":"legal-person"},' ..
    '"documents":[{"name":"c.pdf","sha256":"%s%08d%048d"}],' ..
    '"occurred_at":"2026-11-24T10:00:00Z","client_event_id":"%s-%d-%d",' ..
    '"attributes":{"ip":"203.0.113.7","seal_id":"seal-1"}}',
    prefix, tid, math.floor(i / 5), types[i % 5 + 1], docpre, tid, i, prefix, tid, i)
end

function request()
  local body
  if per == 1 then
    body = event(n)
    n = n + 1
  else
    local parts = {}
    for k = 1, per do
      parts[k] = event(n)
      n = n + 1
    end
    body = '{"events":[' .. table.concat(parts, ",") .. ']}'
  end
  return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    -- the first event's id: a batch is stored whole or not at all
    local id = string.match(body, '"client_event_id":"([^"]*)"')
    if id then acked[#acked + 1] = id end
  else
    bad = bad + 1
    if bad <= 5 then statuses = statuses .. status .. " " end
  end
end

function done(summary, latency, requests)
  local f = io.open(os.getenv("SEALTRAIL_WRK_OUT"), "w")
  for _, t in ipairs(threads) do
    f:write(string.format("thread %d %d %d %d %s\n",
      t:get("tid"), t:get("n"), t:get("ok"), t:get("bad"), t:get("statuses")))
    for _, id in ipairs(t:get("acked")) do f:write("acked ", id, "\n") end
  end
  f:write(string.format("latency %d %d %d\n",
    latency:percentile(50), latency:percentile(99), latency.max))
  f:write(string.format("summary %d %d %d %d %d %d\n", summary.duration, summary.requests,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
  f:close()
end
"""


@dataclass
class Run:
    """One wrk run against one server."""

    per: int  # events per request
    conc: int
    seconds: float  # wrk's own duration
    responses: int  # all responses wrk read
    ok: int  # 2xx responses
    bad: int  # other responses
    bad_statuses: str
    generated: int  # events the Lua script put in requests
    acked_first_ids: list[str]  # first client_event_id of each 2xx response (service only)
    p50: float
    p99: float
    socket_errors: int
    server_cpu: float | None  # seconds, from /proc, until idle after wrk
    stored: int | None = None  # events of this scenario found in the log (service only)

    @property
    def rate(self) -> float:
        """Requests per second."""
        return c.rate(self.ok, self.seconds)

    def cpu_per_event(self) -> float | None:
        events = self.stored if self.stored is not None else self.ok * self.per
        if self.server_cpu is None or not events:
            return None
        return self.server_cpu / events


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def settle(server: Server) -> float | None:
    """Wait until the server is idle (the requests in flight when wrk stopped are done: under
    5 ms of CPU in 0.25 s, at most 20 s), then return its CPU time so far."""
    cpu = server.cpu_seconds()
    deadline = time.monotonic() + 20
    while cpu is not None and time.monotonic() < deadline:
        time.sleep(0.25)
        now = server.cpu_seconds()
        if now is None or now - cpu < 0.005:
            return now
        cpu = now
    return cpu


def run_wrk(
    server: Server,
    script: Path,
    path: str,
    per: int,
    conc: int,
    duration: float,
    prefix: str,
    key: str,
    scratch: Path,
) -> Run:
    """wrk with ``conc`` connections for ``duration`` seconds; the Lua script's tallies back."""
    out = scratch / f"{prefix}.out"
    threads = max(1, min(conc, os.cpu_count() or 1))
    docpre = f"{zlib.crc32(prefix.encode()):08x}"
    env = dict(os.environ, SEALTRAIL_WRK_OUT=str(out))
    cmd = [
        wrk_binary() or "wrk",
        f"-t{threads}",
        f"-c{conc}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "60s",
        "-s",
        str(script),
        server.url,
        "--",
        path,
        str(per),
        prefix,
        key,
        docpre,
    ]
    cpu0 = server.cpu_seconds()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=duration + 120)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    cpu1 = settle(server)
    generated = ok = bad = 0
    statuses = ""
    acked: list[str] = []
    p50 = p99 = 0.0
    seconds = duration
    socket_errors = 0
    for line in out.read_text().splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "thread":
            f = rest.split(" ", 4)
            generated += int(f[1])
            ok += int(f[2])
            bad += int(f[3])
            statuses += f[4] if len(f) > 4 else ""
        elif kind == "acked":
            acked.append(rest)
        elif kind == "latency":
            f = rest.split()
            p50, p99 = int(f[0]) / 1e6, int(f[1]) / 1e6
        elif kind == "summary":
            f = [int(x) for x in rest.split()]
            seconds = f[0] / 1e6
            socket_errors = sum(f[2:])
    return Run(
        per=per,
        conc=conc,
        seconds=seconds,
        responses=ok + bad,
        ok=ok,
        bad=bad,
        bad_statuses=statuses.strip(),
        generated=generated,
        acked_first_ids=acked,
        p50=p50,
        p99=p99,
        socket_errors=socket_errors,
        server_cpu=None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
    )


_ID = re.compile(r"^(.+)-(\d+)-(\d+)$")


def check_stored(db: Path, prefix: str, run: Run) -> list[str]:
    """Compare the events of scenario ``prefix`` in the log with what wrk was answered.

    Sets ``run.stored``; returns the problems found (none when the log holds exactly the
    acknowledged events, plus at most those of the requests in flight when wrk stopped)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT client_event_id FROM events WHERE client_event_id LIKE ?",
            (prefix.replace("_", r"\_") + "-%",),
        ).fetchall()
    finally:
        con.close()
    stored = [r[0] for r in rows]
    run.stored = len(stored)
    problems = []
    stored_set = set(stored)
    if len(stored_set) != len(stored):
        problems.append(f"{prefix}: an id is stored twice")
    expected: set[str] = set()
    for first in run.acked_first_ids:
        m = _ID.match(first)
        if m is None or m.group(1) != prefix:
            problems.append(f"{prefix}: acknowledged id {first!r} is not of this scenario")
            continue
        start = int(m.group(3))
        expected.update(f"{prefix}-{m.group(2)}-{start + k}" for k in range(run.per))
    if len(run.acked_first_ids) != run.ok:
        problems.append(f"{prefix}: {run.ok} 2xx responses but {len(run.acked_first_ids)} ids")
    missing = expected - stored_set
    if missing:
        problems.append(f"{prefix}: {len(missing)} acknowledged events not stored")
    extra = len(stored_set - expected)
    in_flight = max(0, run.generated // run.per - run.responses)
    if extra > in_flight * run.per:
        problems.append(
            f"{prefix}: {extra} stored events never acknowledged, more than the "
            f"{in_flight} request(s) in flight at the end could hold"
        )
    if extra % run.per:
        problems.append(f"{prefix}: a batch is stored in part ({extra} unacknowledged events)")
    if run.bad:
        problems.append(f"{prefix}: {run.bad} non-2xx responses ({run.bad_statuses})")
    return problems


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"


def fmt_cpu(x: float | None) -> str:
    return "n/a" if x is None else c.fmt_us(x)


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds per timed wrk run")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of untimed wrk first")
    p.add_argument(
        "--sealing",
        action="store_true",
        help="the default checkpoint settings (every 10 s / 10,000 events) instead of none",
    )
    p.add_argument("--tmp-dir", default=None, help="where the service's data dir is made")
    args = p.parse_args(argv)
    if wrk_binary() is None:
        print(
            "wrk is not installed (Debian: apt-get install wrk); nothing measured", file=sys.stderr
        )
        return 2
    if args.quick:
        args.duration, args.warmup = 1.0, 0.0
    with c.scratch_dir(args.tmp_dir) as root:
        trivial = start_trivial(root)
        try:
            return measure(trivial, root, args)
        finally:
            trivial.stop()


def measure(trivial: Server, root: Path, args: argparse.Namespace) -> int:
    sealing = "on (every 10 s or 10,000 events)" if args.sealing else "off"
    c.print_header(
        TITLE,
        args.quick,
        [
            f"service: `sealtrail serve` (subprocess), a new one on a fresh data dir under "
            f"{args.tmp_dir or tempfile.gettempdir()} for every scenario (no scenario appends to "
            f"a log the earlier ones grew); checkpoint sealing {sealing}",
            "trivial: an aiohttp handler that parses the JSON body and answers a small JSON 201",
            f"load generator: wrk (C, Lua-built bodies, threads = min(connections, CPUs)), "
            f"{args.duration:g} s per run after {args.warmup:g} s of warm-up; it shares the "
            f"{os.cpu_count()} CPUs with the server under test",
            "server CPU/event: CPU time of the server process (/proc, all threads) over the run "
            "until it is idle again, divided by the events it stored (trivial: acknowledged)",
        ],
    )
    script = root / "append.lua"
    script.write_text(LUA)
    failed: list[str] = []
    checks: list[list[object]] = []
    serial = 0

    sizes_equal = True

    def scenario(name: str, path: str, per: int, conc: int) -> Run:
        nonlocal serial, sizes_equal
        if name == "trivial":
            return load(trivial, "", path, per, conc)
        sdir = root / f"service-{serial}"
        sdir.mkdir()
        service, key = start_service(sdir, sealing=args.sealing)
        try:
            r = load(service, key, path, per, conc)
            db = sdir / "data" / "ledger.db"
            problems = check_stored(db, f"s{serial}", r)  # the timed run's prefix
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                rows = int(con.execute("SELECT count(*) FROM events").fetchone()[0])
            finally:
                con.close()
            reported = log_size(service)
        finally:
            service.stop()
        if reported != rows:
            sizes_equal = False
            problems.append(
                f"{per} × c={conc}: the service reports {reported:,} events, "
                f"its file holds {rows:,}"
            )
        failed.extend(problems)
        checks.append(
            [
                f"{per} × c={conc}",
                c.fmt_int(r.ok),
                c.fmt_int(r.ok * r.per),
                c.fmt_int(r.stored or 0),
                c.fmt_int(max(0, r.generated // r.per - r.responses)),
                "OK" if not problems else "FAILED",
            ]
        )
        return r

    def load(server: Server, k: str, path: str, per: int, conc: int) -> Run:
        nonlocal serial
        if args.warmup > 0:
            serial += 1
            w = f"w{serial}"
            run_wrk(server, script, path, per, conc, args.warmup, w, k, root)
        serial += 1
        prefix = f"s{serial}"
        r = run_wrk(server, script, path, per, conc, args.duration, prefix, k, root)
        if server is trivial and r.bad:
            failed.append(f"trivial {per} × c={conc}: {r.bad} non-2xx ({r.bad_statuses})")
        if r.socket_errors:
            failed.append(f"{server.name} {per} × c={conc}: {r.socket_errors} socket errors")
        return r

    single: dict[tuple[str, int], Run] = {}
    rows = []
    for conc in SINGLE_CONC:
        for name in ("service", "trivial"):
            single[name, conc] = scenario(name, "/v1/events", 1, conc)
        s, t = single["service", conc], single["trivial", conc]
        for name, r in (("service", s), ("trivial", t)):
            rows.append(
                [
                    name,
                    conc,
                    c.fmt_int(r.ok),
                    c.fmt_int(r.rate),
                    fmt_ms(r.p50),
                    fmt_ms(r.p99),
                    fmt_cpu(r.cpu_per_event()),
                    c.fmt_ratio(s.rate / t.rate) if name == "service" and t.rate else "",
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
            "server CPU/event",
            "service/trivial",
        ],
        rows,
    )

    batch: dict[tuple[str, int, int], Run] = {}
    rows = []
    for per, conc in BATCHES:
        for name in ("service", "trivial"):
            batch[name, per, conc] = scenario(name, "/v1/events/batch", per, conc)
        s, t = batch["service", per, conc], batch["trivial", per, conc]
        for name, r in (("service", s), ("trivial", t)):
            rows.append(
                [
                    name,
                    c.fmt_int(per),
                    conc,
                    c.fmt_int(r.ok),
                    c.fmt_int(r.rate * per),
                    fmt_ms(r.p50),
                    fmt_ms(r.p99),
                    fmt_cpu(r.cpu_per_event()),
                    c.fmt_ratio(s.rate / t.rate) if name == "service" and t.rate else "",
                ]
            )
    c.print_table(
        TABLE_BATCH,
        [
            "server",
            "events/request",
            "concurrency",
            "requests",
            "events/s",
            "median",
            "p99",
            "server CPU/event",
            "service/trivial",
        ],
        rows,
    )

    c.print_table(
        TABLE_CHECKS,
        [
            "scenario (events × connections)",
            "2xx",
            "acknowledged events",
            "stored",
            "in flight at stop",
            "check",
        ],
        checks,
    )
    print(
        "\nlog size reported by each service equal to the rows of its file: "
        + ("yes" if sizes_equal else "NO")
    )

    def ratio(conc: int) -> float:
        t = single["trivial", conc].rate
        return single["service", conc].rate / t if t else 0.0

    targets = [
        [
            "single appends, c = 1, service/trivial",
            f"≥ {TARGET_RATIO_C1:.2f}×",
            c.fmt_ratio(ratio(1)),
            c.verdict(ratio(1) >= TARGET_RATIO_C1),
        ],
        [
            "single appends, c = 64, service/trivial",
            f"≥ {TARGET_RATIO_C64:.2f}×",
            c.fmt_ratio(ratio(64)),
            c.verdict(ratio(64) >= TARGET_RATIO_C64),
        ],
        [
            "single append p99, c = 16",
            f"< {fmt_ms(TARGET_P99_C16)}",
            fmt_ms(single["service", 16].p99),
            c.verdict(single["service", 16].p99 < TARGET_P99_C16),
        ],
    ]
    for per, conc in BATCHES:
        cpu = batch["service", per, conc].cpu_per_event()
        targets.append(
            [
                f"service CPU per event, batches of {c.fmt_int(per)}, c = {conc}",
                f"≤ {c.fmt_us(TARGET_BATCH_CPU)}",
                fmt_cpu(cpu),
                c.verdict(cpu is not None and cpu <= TARGET_BATCH_CPU),
            ]
        )
    c.print_table(TABLE_TARGETS, ["target", "want", "got", "verdict"], targets)
    c.print_footer()
    for f in failed:
        print(f"ERROR: {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
