"""The Java verifier (sdk/java, JDK only) compiled with ``javac`` into a temporary directory and
run against the shared vectors and a live service's answers (inclusion proof, consistency proof,
checkpoint), and against mutations of those answers, which it must refuse (exit 1)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..api.client import Api, event
from ..service import Service

ROOT = Path(__file__).resolve().parents[3]
JAVA_SRC = ROOT / "sdk" / "java" / "src"
JAVAC, JAVA = shutil.which("javac"), shutil.which("java")
pytestmark = pytest.mark.skipif(
    JAVAC is None or JAVA is None, reason="no JDK (.ci/run installs default-jdk-headless)"
)


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("java-classes")
    sources = sorted(str(p) for p in JAVA_SRC.rglob("*.java"))
    r = subprocess.run(
        [str(JAVAC), "-Xlint:all", "-Werror", "--release", "17", "-d", str(out), *sources],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    return out


def run_java(classes: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(JAVA), "-cp", str(classes), "dev.sealtrail.verify.Main", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_vectors(classes: Path) -> None:
    r = run_java(classes, "vectors", str(ROOT / "tests" / "vectors"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("vectors: ")
    assert int(r.stdout.split()[1]) > 200
    assert " 0 wrong" in r.stdout


@pytest.fixture(scope="module")
def answers(module_service: Service) -> dict[str, Any]:
    """A live service's answers: an inclusion proof, a consistency proof, a checkpoint."""
    api = Api(module_service)
    first = api.append(event("java-0", stream="contract:java"), key="int_sub1")
    old = api.wait_for_checkpoint(first["index"] + 1)
    last = api.append_batch([event(f"java-{i}", stream="contract:java") for i in (1, 2, 3)])[-1]
    new = api.wait_for_checkpoint(last["index"] + 1)
    assert new["size"] > old["size"]
    proof = api.get(f"/v1/events/{last['index']}/proof", key="aud_sub1")
    cons = api.get(
        f"/v1/checkpoints/consistency?from={old['size']}&to={new['size']}", key="aud_sub1"
    )
    cp = api.get(f"/v1/checkpoints/{new['size']}", key="aud_sub1")
    assert proof.status == cons.status == cp.status == 200
    return {
        "inclusion": proof.json(),
        "consistency": cons.json(),
        "checkpoint": cp.json(),
        "vkey": (module_service.data_dir / "ledger.pub").read_text().strip(),
    }


def check(classes: Path, tmp_path: Path, kind: str, answer: Any, vkey: str) -> tuple[int, str]:
    f = tmp_path / f"{kind}.json"
    f.write_text(answer if isinstance(answer, str) else json.dumps(answer), encoding="utf-8")
    r = run_java(classes, kind, str(f), vkey)
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("kind", ["inclusion", "consistency", "checkpoint"])
def test_live_answers_verify(
    classes: Path, answers: dict[str, Any], tmp_path: Path, kind: str
) -> None:
    code, out = check(classes, tmp_path, kind, answers[kind], answers["vkey"])
    assert code == 0, out
    assert out.startswith("verified")
    if kind != "consistency":
        size = answers[kind]["size"]
        assert f"size={size} " in out


def flip(h: str) -> str:
    return ("1" if h[0] == "0" else "0") + h[1:]


def forge(note: str) -> str:
    """The note with its size line raised by one (the signature stays)."""
    lines = note.split("\n")
    lines[1] = str(int(lines[1]) + 1)
    return "\n".join(lines)


Answer = dict[str, Any]


def with_proof(a: Answer, proof: list[str]) -> Answer:
    return {**a, "proof": proof}


def with_note(a: Answer, member: str, note: str) -> Answer:
    return {**a, member: {**a[member], "note": note}}


def swapped(a: Answer) -> Answer:
    return {
        **a,
        "old_checkpoint": a["new_checkpoint"],
        "new_checkpoint": a["old_checkpoint"],
        "old_size": a["new_size"],
        "new_size": a["old_size"],
    }


def without_map_line(note: str) -> str:
    return "\n".join(line for line in note.split("\n") if not line.startswith("sealtrail-map/v1"))


MUTATIONS = {
    "inclusion": {
        "proof[0]-bit-flipped": lambda a: with_proof(a, [flip(a["proof"][0]), *a["proof"][1:]]),
        "proof-truncated": lambda a: with_proof(a, a["proof"][:-1]),
        "proof-extended": lambda a: with_proof(a, [*a["proof"], a["leaf_hash"]]),
        "proof-hash-31-bytes": lambda a: with_proof(a, [a["proof"][0][:62], *a["proof"][1:]]),
        "wrong-leaf": lambda a: {**a, "leaf_hash": flip(a["leaf_hash"])},
        "wrong-index": lambda a: {**a, "index": a["index"] - 1},
        "index-beyond-size": lambda a: {**a, "index": a["size"]},
        "index-as-string": lambda a: {**a, "index": str(a["index"])},
        "size-not-the-notes": lambda a: {**a, "size": a["size"] + 1},
        "forged-note-size": lambda a: with_note(a, "checkpoint", forge(a["checkpoint"]["note"])),
        "note-signature-removed": lambda a: with_note(
            a, "checkpoint", a["checkpoint"]["note"].split("\n\n")[0] + "\n\n"
        ),
    },
    "consistency": {
        "swapped-checkpoints": swapped,
        "proof[0]-bit-flipped": lambda a: with_proof(a, [flip(a["proof"][0]), *a["proof"][1:]]),
        "proof-truncated": lambda a: with_proof(a, a["proof"][:-1]),
        "proof-reordered": lambda a: (
            with_proof(a, [*a["proof"][1:], a["proof"][0]])
            if len(a["proof"]) > 1
            else with_proof(a, [])
        ),
        "old-note-forged": lambda a: with_note(
            a, "old_checkpoint", forge(a["old_checkpoint"]["note"])
        ),
    },
    "checkpoint": {
        "root-not-the-notes": lambda a: {**a, "root": flip(a["root"])},
        "note-root-swapped": lambda a: {
            **a,
            "note": a["note"].replace(a["note"].split("\n")[2], "A" * 43 + "="),
        },
        "note-origin-changed": lambda a: {**a, "note": "x" + a["note"]},
        "note-map-line-dropped": lambda a: {**a, "note": without_map_line(a["note"])},
    },
}


@pytest.mark.parametrize(
    ("kind", "name"), [(k, n) for k, table in MUTATIONS.items() for n in table]
)
def test_mutated_answers_fail(
    classes: Path, answers: dict[str, Any], tmp_path: Path, kind: str, name: str
) -> None:
    original = answers[kind]
    if kind != "checkpoint" and not original["proof"]:
        pytest.skip("an empty proof has nothing to mutate")
    code, out = check(classes, tmp_path, kind, MUTATIONS[kind][name](original), answers["vkey"])
    assert code == 1, out
    assert out.startswith("failed "), out


def test_malformed_json_and_wrong_key_fail(
    classes: Path, answers: dict[str, Any], tmp_path: Path
) -> None:
    good = json.dumps(answers["inclusion"])
    for bad in (good[:-1], good + "x", '{"type": "inclusion", "type": "inclusion"}', "[" * 100):
        code, out = check(classes, tmp_path, "inclusion", bad, answers["vkey"])
        assert code == 1, out
        assert "malformed" in out, out
    other = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    code, out = check(classes, tmp_path, "inclusion", answers["inclusion"], other)
    assert code == 1, out
    assert "no_signature" in out, out
    code, out = check(classes, tmp_path, "inclusion", answers["inclusion"], other[:-2])
    assert code == 1, out
    assert "bad_key" in out, out
