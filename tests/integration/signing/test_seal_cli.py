"""The seal CLI (names other tools rely on) and the master key across restarts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ...unit.signing.pdfs import make_pdf
from ..api.client import Api
from ..conftest import StartService
from ..service import SEALTRAIL, cli, env_for


def run(data: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SEALTRAIL, "--data-dir", str(data), *args], capture_output=True,
                          text=True, timeout=120, env=env_for(**settings))  # fmt: skip


def test_seals_create_sign_validate_pdf(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli(data, "init")
    cli(data, "tenants", "create", "acme")
    made = cli(data, "seals", "create", "--tenant", "acme", "--kind", "contract", "--name",
               "Acme Ltd", "--purpose", "合同专用章", "--remarks", "contracts only")  # fmt: skip
    assert made["id"].startswith("seal-")
    assert made["status"] == "active"
    assert (data / "seal.key").stat().st_mode & 0o077 == 0
    src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(make_pdf(2))
    r = run(data, "sign", "--tenant", "acme", "--seal", made["id"], str(src), "-o", str(out),
            "--page", "1", "--box", "100,100,250,250", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    ok = run(data, "validate-pdf", str(out), "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["signatures"][0]["remarks"] == "contracts only"
    unsigned = run(data, "validate-pdf", str(src))
    assert unsigned.returncode == 1
    assert "no_signatures" in unsigned.stderr
    tampered = tmp_path / "t.pdf"
    tampered.write_bytes(out.read_bytes().replace(b"1000 EUR", b"9000 EUR"))
    bad = run(data, "validate-pdf", str(tampered))
    assert bad.returncode == 1, bad.stderr
    assert bad.stderr.count("\n") == 1, bad.stderr
    lt = tmp_path / "lt.pdf"  # B-LT: validation data embedded, still valid here
    r = run(data, "sign", "--tenant", "acme", "--seal", made["id"], str(out), "-o", str(lt),
            "--level", "B-LT")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert b"/DSS" in lt.read_bytes()
    both = run(data, "validate-pdf", str(lt), "--json")
    assert both.returncode == 0, both.stdout + both.stderr
    assert len(json.loads(both.stdout)["signatures"]) == 2  # a second, incremental signature
    run(data, "seals", "suspend", made["id"], "--reason", "audit")
    refused = run(data, "sign", "--tenant", "acme", "--seal", made["id"], str(src), "-o",
                  str(tmp_path / "x.pdf"))  # fmt: skip
    assert refused.returncode == 5
    assert "suspended" in refused.stderr
    listed = cli(data, "seals", "list", "--tenant", "acme")["seals"]
    assert [s["status"] for s in listed] == ["suspended"]
    assert run(data, "audit").returncode == 0


@pytest.mark.parametrize("how", ["env", "file"])
def test_wrong_master_key_at_restart_is_a_clear_error(
    start_service: StartService, tmp_path: Path, how: str
) -> None:
    svc = start_service()
    r = Api(svc).post("/v1/seals", {"kind": "personal", "name": "Li Lei", "tenant": "sub1"},
                      key="adm_hq")  # fmt: skip
    assert r.status == 201, r
    svc.stop()
    wrong = "ab" * 32
    if how == "env":
        settings = {"seal_key": wrong}
    else:
        key_file = tmp_path / "other.key"
        key_file.write_text(wrong + "\n")
        key_file.chmod(0o600)
        settings = {"seal_key_file": str(key_file)}
    with pytest.raises(RuntimeError, match="seal master key does not open") as e:
        start_service(data_dir=svc.data_dir, **settings)
    assert wrong not in str(e.value)
    start_service(data_dir=svc.data_dir)  # the right key (seal.key) still works
