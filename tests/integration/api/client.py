"""A small synchronous HTTP client for the API suites (http.client over a real socket), and
helpers shared by them: event builders, problem+json assertions, polling with deadlines."""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..service import Service

T = TypeVar("T")
PROBLEM = "application/problem+json"
_UNSET: Any = object()


@dataclass
class Resp:
    """What came back: status, headers (case-insensitive) and the raw body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    def __repr__(self) -> str:
        return f"<Resp {self.status} {self.content_type} {self.body[:300]!r}>"


CHECKPOINT_FIELDS = ("size", "root", "note", "created_at")


def core(cp: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint without its changing timestamp/anchor state."""
    return {k: cp[k] for k in CHECKPOINT_FIELDS}


class Api:
    """Requests to one service; ``key`` is a key name of ``svc.keys`` or a literal token."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc

    def token(self, key: str | None) -> str | None:
        if key is None:
            return None
        return self.svc.keys.get(key, key)

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        json_body: Any = _UNSET,
        body: bytes | None = None,
        content_type: str | None = "application/json",
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float = 30,
    ) -> Resp:
        hdrs = dict(headers or {})
        token = self.token(key)
        if token is not None:
            hdrs.setdefault("Authorization", f"Bearer {token}")
        if json_body is not _UNSET:
            body = json.dumps(json_body).encode()
        if body is not None and content_type is not None:
            hdrs.setdefault("Content-Type", content_type)
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        conn = http.client.HTTPConnection("127.0.0.1", self.svc.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Resp(r.status, r.headers, data)
        finally:
            conn.close()

    def get(self, path: str, key: str | None = None, **kw: Any) -> Resp:
        return self.request("GET", path, key=key, **kw)

    def post(self, path: str, obj: Any = _UNSET, key: str | None = None, **kw: Any) -> Resp:
        return self.request("POST", path, key=key, json_body=obj, **kw)

    def delete(self, path: str, key: str | None = None, **kw: Any) -> Resp:
        return self.request("DELETE", path, key=key, **kw)

    # -- conveniences -----------------------------------------------------------------------

    def append(self, obj: dict[str, Any], key: str = "int_sub1", **kw: Any) -> dict[str, Any]:
        """POST one event and require 201."""
        r = self.post("/v1/events", obj, key=key, **kw)
        assert r.status == 201, r
        return r.json()

    def append_batch(self, events: list[dict[str, Any]], key: str = "int_sub1") -> list[dict]:
        r = self.post("/v1/events/batch", {"events": events}, key=key)
        assert r.status == 201, r
        return r.json()["events"]

    def log_size(self) -> int:
        r = self.get("/readyz")
        assert r.status == 200, r
        return int(r.json()["log_size"])

    def all_events(self, key: str = "aud_hq", limit: int = 1000, **filters: str) -> list[dict]:
        """Every event the key may read (walks the cursor)."""
        out: list[dict] = []
        cursor = None
        for _ in range(10_000):
            params: dict[str, Any] = {"limit": limit, **filters}
            if cursor:
                params["cursor"] = cursor
            r = self.get("/v1/events", key, params=params)
            assert r.status == 200, r
            page = r.json()
            out.extend(page["events"])
            cursor = page["next_cursor"]
            if cursor is None:
                return out
        raise AssertionError("cursor walk did not end")

    def latest_checkpoint(self, key: str = "aud_hq") -> dict[str, Any] | None:
        """The latest checkpoint's signed facts (its timestamp and anchor state change over time
        and are checked by their own tests)."""
        r = self.get("/v1/checkpoints/latest", key)
        if r.status == 404:
            return None
        assert r.status == 200, r
        return core(r.json())

    def wait_for_checkpoint(self, min_size: int, timeout: float = 15) -> dict[str, Any]:
        """Poll until a checkpoint of at least ``min_size`` is sealed."""
        return poll(
            lambda: cp if (cp := self.latest_checkpoint()) and cp["size"] >= min_size else None,
            timeout,
            f"a checkpoint of size >= {min_size}",
        )


def poll(fn: Callable[[], T | None], timeout: float, what: str, every: float = 0.05) -> T:
    """Call ``fn`` until it returns something other than None; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got is not None:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def assert_problem(r: Resp, status: int, *, detail: str | None = None) -> dict[str, Any]:
    """``r`` is an RFC 9457 problem with ``status`` (and ``detail`` in its detail)."""
    assert r.status == status, r
    assert r.content_type == PROBLEM, r
    p = r.json()
    assert isinstance(p, dict), r
    for k in ("type", "title", "detail"):
        assert isinstance(p.get(k), str), (k, p)
        assert p[k], (k, p)
    assert p.get("status") == status, p
    assert p["type"].startswith("https://sealtrail.dev/problems/"), p
    if detail is not None:
        assert detail in p["detail"], (detail, p)
    return p


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def event(
    n: int | str = 0,
    *,
    stream: str = "contract:2026-0001",
    etype: str = "sign",
    actor: str = "u-42",
    cid: str | None = None,
    doc: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An integrator event (docs/FORMAT.md §1.1)."""
    obj: dict[str, Any] = {
        "stream": stream,
        "type": etype,
        "actor": {"id": actor, "name": "Li Lei", "org": "Acme Ltd", "role": "legal-person"},
        "documents": [{"name": "contract.pdf", "sha256": doc or sha(f"doc-{n}")}],
        "occurred_at": "2026-11-24T10:00:00Z",
        "attributes": {"ip": "203.0.113.7", "n": str(n)},
    }
    if cid is not None:
        obj["client_event_id"] = cid
    obj.update(extra)
    return obj


# -- independent checks of what the service returns (pure core only: no database) ----------


def verifier_for(svc: Service) -> Any:
    """The ledger's verifier key, read from DATA_DIR/ledger.pub (docs/FORMAT.md §5)."""
    from sealtrail.core.note import NoteVerifier

    return NoteVerifier.from_vkey((svc.data_dir / "ledger.pub").read_text().strip())


def check_checkpoint(cp: dict[str, Any], verifier: Any) -> None:
    """The checkpoint's signed note verifies and says the same size and root as its JSON."""
    import base64

    from sealtrail.core.note import verify_checkpoint

    parsed = verify_checkpoint(cp["note"], verifier)
    assert parsed.size == cp["size"]
    assert parsed.root == bytes.fromhex(cp["root"])
    assert base64.b64encode(parsed.root).decode() in cp["note"]


def check_inclusion(leaf_hash: str, index: int, size: int, proof: list[str], root: str) -> None:
    from sealtrail.core.merkle import verify_inclusion

    verify_inclusion(
        bytes.fromhex(leaf_hash),
        index,
        size,
        [bytes.fromhex(h) for h in proof],
        bytes.fromhex(root),
    )


def leaf_hash_of(canonical: bytes) -> str:
    """RFC 9162 leaf hash of an event's canonical bytes."""
    return hashlib.sha256(b"\x00" + canonical).hexdigest()


def seal_of_other(api: Api) -> str:
    """An active contract seal of tenant ``other`` (an enterprise signer), made by an admin key
    of ``other`` created for it once per service."""
    from ..service import cli

    if "adm_other" not in api.svc.keys:
        made = cli(api.svc.data_dir, "keys", "create", "--tenant", "other", "--role", "admin")
        api.svc.keys["adm_other"] = made["key"]
    body = {"tenant": "other", "kind": "contract", "name": "Other Corp", "purpose": "合同专用章"}
    r = api.post("/v1/seals", body, key="adm_other")
    assert r.status == 201, r
    return str(r.json()["id"])
