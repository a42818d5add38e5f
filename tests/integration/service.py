"""A real Sealtrail service for tests: ``sealtrail serve`` in a subprocess on a free port.

Tenants and keys are made with the real CLI before the service starts:

* ``hq`` (Acme Group) with subsidiaries ``sub1`` and ``sub2``, and an unrelated ``other``;
* keys: ``int_sub1``, ``int_sub2``, ``int_other`` (integrator), ``aud_hq``, ``aud_sub1``,
  ``aud_other`` (auditor), ``adm_hq`` (admin).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SEALTRAIL = str(Path(sys.executable).with_name("sealtrail"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run a CLI command with --json; fail loudly."""
    r = subprocess.run(
        [SEALTRAIL, "--data-dir", str(data_dir), *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if r.returncode != 0:
        raise RuntimeError(f"sealtrail {' '.join(args)} failed: {r.stderr}")
    return json.loads(r.stdout)


@dataclass
class Service:
    """A running service and the keys made for it."""

    data_dir: Path
    port: int
    keys: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def env_for(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALTRAIL_")}
    env.update({f"SEALTRAIL_{k.upper()}": v for k, v in settings.items()})
    return env


def provision(data_dir: Path) -> dict[str, str]:
    """Create the tenants and keys described in the module docstring."""
    cli(data_dir, "init")
    cli(data_dir, "tenants", "create", "hq", "--name", "Acme Group")
    cli(data_dir, "tenants", "create", "sub1", "--parent", "hq", "--name", "Acme Shanghai")
    cli(data_dir, "tenants", "create", "sub2", "--parent", "hq", "--name", "Acme Beijing")
    cli(data_dir, "tenants", "create", "other", "--name", "Other Corp")
    keys = {}
    for name, tenant, role in [
        ("int_sub1", "sub1", "integrator"),
        ("int_sub2", "sub2", "integrator"),
        ("int_other", "other", "integrator"),
        ("aud_hq", "hq", "auditor"),
        ("aud_sub1", "sub1", "auditor"),
        ("aud_other", "other", "auditor"),
        ("adm_hq", "hq", "admin"),
    ]:
        keys[name] = cli(data_dir, "keys", "create", "--tenant", tenant, "--role", role)["key"]
    return keys


def start(data_dir: Path, log_path: Path, **settings: str) -> Service:
    """Start ``sealtrail serve`` and wait until /readyz answers."""
    port = free_port()
    svc = Service(data_dir, port, log_path=log_path)
    env = env_for(data_dir=str(data_dir), listen=f"127.0.0.1:{port}", **settings)
    out = log_path.open("a")
    svc.proc = subprocess.Popen(
        [SEALTRAIL, "serve"], stdout=out, stderr=subprocess.STDOUT, env=env, text=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if svc.proc.poll() is not None:
            raise RuntimeError(f"service exited early:\n{svc.log()}")
        try:
            with urllib.request.urlopen(f"{svc.url}/readyz", timeout=1) as r:
                if r.status == 200:
                    return svc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    svc.stop(signal.SIGKILL)
    raise RuntimeError(f"service did not become ready:\n{svc.log()}")
