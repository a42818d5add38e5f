"""Tenant isolation and roles, over HTTP against a real service.

Tenants (see service.py): ``hq`` with subsidiaries ``sub1`` and ``sub2``, and the unrelated
``other``. Integrators append to their own tenant only; auditors read their tenant and its
subsidiaries (group view); admins manage tenants and keys of their group; nobody crosses into
another group.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from ..service import Service
from .client import Api, assert_problem, event, poll, sha

SECRET_DOC = sha("other corp's contract")
STREAM = "contract:1"


@pytest.fixture(scope="module")
def world(module_service: Service) -> dict[str, Any]:
    """Events of sub1, sub2 and other (interleaved), sealed; the same stream name in each."""
    api = Api(module_service)
    evs: dict[str, list[dict[str, Any]]] = {"sub1": [], "sub2": [], "other": []}
    for i in range(4):
        for tenant in ("sub1", "sub2", "other"):
            doc = SECRET_DOC if tenant == "other" else sha(f"{tenant}-{i}")
            ev = api.append(event(i, stream=STREAM, doc=doc), key=f"int_{tenant}")
            evs[tenant].append(ev)
    api.wait_for_checkpoint(12)
    return evs


@pytest.fixture
def api(module_service: Service) -> Api:
    return Api(module_service)


def _export(api: Api, key: str, **params: str) -> list[dict[str, Any]]:
    r = api.get("/v1/export", key, params=params)
    assert r.status == 200, r
    return [json.loads(line)["event"] for line in r.body.decode().splitlines()[1:]]


def test_other_tenant_is_invisible_to_hq_and_subsidiary_auditors(
    api: Api, world: dict[str, Any]
) -> None:
    others = world["other"]
    for key in ("aud_hq", "aud_sub1"):
        for ev in others:
            i = ev["index"]
            assert_problem(api.get(f"/v1/events/{i}", key), 404, detail=f"no event {i}")
            assert_problem(api.get(f"/v1/events/{i}/proof", key), 404)
        listed = api.all_events(key=key)
        assert not {e["tenant"] for e in listed} & {"other"}
        assert api.all_events(key=key, document=SECRET_DOC) == []
        exported = _export(api, key)
        assert "other" not in {e["tenant"] for e in exported}
        assert SECRET_DOC not in json.dumps(exported)
        for tenant in ("sub1", "sub2") if key == "aud_hq" else ("sub1",):
            r = api.get(f"/v1/streams/{STREAM}", key, params={"tenant": tenant})
            assert {e["tenant"] for e in r.json()["events"]} == {tenant}
        r = api.get(f"/v1/streams/{STREAM}", key, params={"tenant": "other"})
        assert_problem(r, 404, detail="no tenant 'other'")
        assert_problem(api.get("/v1/events", key, params={"tenant": "other"}), 404)
        assert_problem(api.get("/v1/export", key, params={"tenant": "other"}), 404)
    # ... and it is there for its own auditor.
    assert api.all_events(key="aud_other", stream=STREAM) == others
    assert api.get(f"/v1/events/{others[0]['index']}", "aud_other").json() == others[0]


def test_hq_auditor_has_the_group_view(api: Api, world: dict[str, Any]) -> None:
    group = sorted(world["sub1"] + world["sub2"], key=lambda e: e["index"])
    assert api.all_events(key="aud_hq", stream=STREAM) == group
    assert _export(api, "aud_hq", stream=STREAM) == group
    assert api.all_events(key="aud_hq", tenant="sub1", stream=STREAM) == world["sub1"]
    assert api.all_events(key="aud_hq", tenant="sub2", stream=STREAM) == world["sub2"]
    assert api.all_events(key="aud_hq", tenant="hq") == []
    for tenant in ("sub1", "sub2"):
        ev = world[tenant][0]
        assert api.get(f"/v1/events/{ev['index']}", "aud_hq").json() == ev
        assert api.get(f"/v1/events/{ev['index']}/proof", "aud_hq").status == 200
        s = api.get("/v1/streams/contract:1", "aud_hq", params={"tenant": tenant}).json()
        assert (s["tenant"], s["events"], s["chain_intact"]) == (tenant, world[tenant], True)
    assert [t["id"] for t in api.get("/v1/tenants", "aud_hq").json()["tenants"]] == [
        "hq",
        "sub1",
        "sub2",
    ]


def test_subsidiary_auditor_sees_only_its_own(api: Api, world: dict[str, Any]) -> None:
    assert api.all_events(key="aud_sub1", stream=STREAM) == world["sub1"]
    assert _export(api, "aud_sub1", stream=STREAM) == world["sub1"]
    assert api.all_events(key="aud_sub1", tenant="sub1", stream=STREAM) == world["sub1"]
    assert {e["tenant"] for e in api.all_events(key="aud_sub1")} == {"sub1"}
    for path in ("/v1/events", "/v1/export", "/v1/streams/contract:1"):
        for tenant in ("sub2", "hq", "other", "nosuch"):
            assert_problem(api.get(path, "aud_sub1", params={"tenant": tenant}), 404)
    for ev in world["sub2"]:
        assert_problem(api.get(f"/v1/events/{ev['index']}", "aud_sub1"), 404)
    s = api.get("/v1/streams/contract:1", "aud_sub1").json()
    assert s["events"] == world["sub1"]
    assert [t["id"] for t in api.get("/v1/tenants", "aud_sub1").json()["tenants"]] == ["sub1"]


ROLE_MATRIX = [
    # (method, path, body, keys allowed)
    ("POST", "/v1/events", event(1), {"int_sub1"}),
    ("POST", "/v1/events/batch", {"events": [event(1)]}, {"int_sub1"}),
    ("GET", "/v1/events", None, {"aud_hq"}),
    ("GET", "/v1/events/0", None, {"aud_hq"}),
    ("GET", "/v1/events/0/proof", None, {"aud_hq"}),
    ("GET", "/v1/streams/contract:1?tenant=sub1", None, {"aud_hq"}),
    ("GET", "/v1/export", None, {"aud_hq"}),
    ("GET", "/v1/checkpoints/latest", None, {"int_sub1", "aud_hq", "adm_hq"}),
    ("GET", "/v1/tenants", None, {"aud_hq", "adm_hq"}),
    ("GET", "/v1/keys", None, {"adm_hq"}),
    ("POST", "/v1/keys", {"role": "auditor", "label": "matrix"}, {"adm_hq"}),
    ("DELETE", "/v1/keys/000000000000", None, set()),  # admin: 404 (no such key), not 403
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROLE_MATRIX)
def test_roles(
    api: Api, world: dict[str, Any], method: str, path: str, body: Any, allowed: set[str]
) -> None:
    before = api.log_size()
    for key in ("int_sub1", "aud_hq", "adm_hq"):
        kw: dict[str, Any] = {"json_body": body} if body is not None else {}
        r = api.request(method, path, key=key, **kw)
        if key in allowed:
            assert r.status in (200, 201), (key, r)
        elif method == "DELETE" and key == "adm_hq":
            assert_problem(r, 404)
        else:
            p = assert_problem(r, 403, detail="needs a key with role")
            assert p["type"].endswith("/forbidden")
    allowed_appends = 1 if method == "POST" and "events" in path else 0
    assert api.log_size() == before + allowed_appends


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer garbage",
        "Bearer stk_000000000000_" + "A" * 43,
        "Token stk_000000000000_" + "A" * 43,
    ],
)
def test_missing_or_bad_keys_are_401_with_www_authenticate(
    api: Api, world: dict[str, Any], authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in (("GET", "/v1/events"), ("POST", "/v1/events"), ("GET", "/v1/keys")):
        kw: dict[str, Any] = {"json_body": event(1)} if method == "POST" else {}
        r = api.request(method, path, headers=headers, **kw)
        assert_problem(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_key_with_a_wrong_secret_is_401(api: Api, world: dict[str, Any]) -> None:
    real = api.svc.keys["aud_hq"]
    prefix, key_id, secret = real.split("_", 2)
    forged = f"{prefix}_{key_id}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    assert_problem(api.get("/v1/events", forged), 401, detail="invalid or revoked")


def test_revoked_key_stops_working_within_seconds(start_service: Any) -> None:
    api = Api(start_service())
    r = api.post("/v1/keys", {"tenant": "sub1", "role": "integrator"}, key="adm_hq")
    assert r.status == 201, r
    created = r.json()
    key = created["key"]
    assert api.post("/v1/events", event(1), key=key).status == 201  # works, and is cached
    listed = {k["id"]: k for k in api.get("/v1/keys", "adm_hq").json()["keys"]}
    assert listed[created["id"]]["revoked_at"] is None
    assert "key" not in listed[created["id"]]

    r = api.delete(f"/v1/keys/{created['id']}", key="adm_hq")
    assert r.status == 200, r
    assert r.json()["revoked_at"] is not None
    t0 = time.monotonic()
    poll(
        lambda: True if api.post("/v1/events", event(2), key=key).status == 401 else None,
        timeout=5,
        what="the revoked key to be refused",
    )
    assert time.monotonic() - t0 < 5
    r = api.post("/v1/events", event(3), key=key)
    assert_problem(r, 401, detail="invalid or revoked")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # Revoking again is idempotent; the listing shows it revoked.
    assert api.delete(f"/v1/keys/{created['id']}", key="adm_hq").status == 200
    listed = {k["id"]: k for k in api.get("/v1/keys", "adm_hq").json()["keys"]}
    assert listed[created["id"]]["revoked_at"] is not None
    assert api.log_size() == 1
    assert_problem(api.delete("/v1/keys/nosuchkey", key="adm_hq"), 404)


def test_admin_creates_a_subsidiary_and_a_working_key_for_it(start_service: Any) -> None:
    api = Api(start_service())
    r = api.post("/v1/tenants", {"id": "sub3", "name": "Acme Shenzhen"}, key="adm_hq")
    assert r.status == 201, r
    assert {k: v for k, v in r.json().items() if k != "created_at"} == {
        "id": "sub3",
        "name": "Acme Shenzhen",
        "parent": "hq",
    }
    assert_problem(api.post("/v1/tenants", {"id": "sub3"}, key="adm_hq"), 409)

    # A new tenant is usable at once (the admin's cached principal is refreshed).
    def make_key() -> dict[str, Any] | None:
        r = api.post("/v1/keys", {"tenant": "sub3", "role": "integrator"}, key="adm_hq")
        return r.json() if r.status == 201 else None

    created = poll(make_key, timeout=5, what="a key for the new tenant", every=0.25)
    assert (created["tenant"], created["role"]) == ("sub3", "integrator")
    ev = api.append(event(1), key=created["key"])
    assert ev["tenant"] == "sub3"
    # The group auditor sees the new subsidiary's events.
    assert poll(
        lambda: api.all_events(key="aud_hq", tenant="sub3") or None, 5, "hq to see sub3"
    ) == [ev]
    assert_problem(api.get("/v1/events", "aud_sub1", params={"tenant": "sub3"}), 404)


def test_a_new_subsidiary_is_usable_by_its_admin_at_once(start_service: Any) -> None:
    api = Api(start_service())
    assert api.get("/v1/tenants", "adm_hq").status == 200  # the admin's key is now cached
    assert api.post("/v1/tenants", {"id": "sub3"}, key="adm_hq").status == 201
    assert "sub3" in [t["id"] for t in api.get("/v1/tenants", "adm_hq").json()["tenants"]]
    r = api.post("/v1/keys", {"tenant": "sub3", "role": "integrator"}, key="adm_hq")
    assert r.status == 201, r


def test_admins_stay_inside_their_group(api: Api, world: dict[str, Any]) -> None:
    r = api.post("/v1/keys", {"tenant": "other", "role": "integrator"}, key="adm_hq")
    assert_problem(r, 404, detail="no tenant 'other'")
    r = api.post("/v1/tenants", {"id": "evil", "parent": "other"}, key="adm_hq")
    assert_problem(r, 404, detail="no tenant 'other'")
    other_keys = [k["id"] for k in api.get("/v1/keys", "adm_hq").json()["keys"]]
    assert {k["tenant"] for k in api.get("/v1/keys", "adm_hq").json()["keys"]} <= {
        "hq",
        "sub1",
        "sub2",
    }
    assert other_keys  # hq's group has keys; other's are not among them
    # An admin of a subsidiary sees and manages only that subsidiary.
    r = api.post("/v1/keys", {"tenant": "sub1", "role": "admin"}, key="adm_hq")
    assert r.status == 201, r
    sub_admin = r.json()["key"]
    assert [t["id"] for t in api.get("/v1/tenants", sub_admin).json()["tenants"]] == ["sub1"]
    assert {k["tenant"] for k in api.get("/v1/keys", sub_admin).json()["keys"]} == {"sub1"}
    for tenant in ("hq", "sub2", "other"):
        r = api.post("/v1/keys", {"tenant": tenant, "role": "auditor"}, key=sub_admin)
        assert_problem(r, 404)
    hq_key_id = next(
        k["id"] for k in api.get("/v1/keys", "adm_hq").json()["keys"] if k["tenant"] == "hq"
    )
    assert_problem(api.delete(f"/v1/keys/{hq_key_id}", key=sub_admin), 404)
    # Admins cannot append or read events.
    assert_problem(api.post("/v1/events", event(1), key=sub_admin), 403)
    assert_problem(api.get("/v1/events", sub_admin), 403)
