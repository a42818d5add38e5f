"""No existence oracles across tenants: for every route that takes an identifier (in the path,
the query or the body), another tenant's identifier is answered exactly as one that does not
exist — same status, same content type, same body byte for byte once the identifier itself is
replaced by a placeholder (each answer quotes the identifier it was given).

Over HTTP against a real service. The victim is ``sub1`` (a seal, a seal request, an envelope
with an invitation to ``sub2``, an API key, ledger events); the prober is ``other``, with its
own integrator, auditor and admin keys and its own seal and envelope. Each made-up identifier
has the shape of the real one.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from ...unit.signing.pdfs import make_pdf
from ..service import Service, cli
from .client import Api, Resp, event

PDF = make_pdf(1)


@dataclass(frozen=True)
class World:
    api: Api
    ids: dict[str, tuple[str, str]]  # kind → (victim's id, a made-up id of the same shape)
    own_seal: str
    own_env: str


def _fake(real: str) -> str:
    prefix, _, rest = real.rpartition("-")
    made = secrets.token_hex(len(rest))[: len(rest)]
    return f"{prefix}-{made}" if prefix else made


@pytest.fixture(scope="module")
def world(module_service: Service) -> World:
    api = Api(module_service)
    made = cli(module_service.data_dir, "keys", "create", "--tenant", "other", "--role", "admin")
    module_service.keys["adm_other"] = made["key"]

    def ok(r: Resp, status: int = 201) -> Any:
        assert r.status == status, r
        return r.json()

    body = {"tenant": "sub1", "kind": "contract", "name": "Acme", "purpose": "合同专用章"}
    seal = ok(api.post("/v1/seals", body, key="adm_hq"))["id"]
    req = ok(api.post("/v1/seal-requests", {"seal": seal, "document_sha256": "ab" * 32,
                                            "purpose": "x"}, key="int_sub1"))["id"]  # fmt: skip
    env = ok(api.request("POST", "/v1/envelopes", key="int_sub1", body=PDF,
                         content_type="application/pdf",
                         params=[("signer", seal), ("signer", "tenant:sub2")]))["id"]  # type: ignore[arg-type] # fmt: skip
    key_id = module_service.keys["int_sub1"].split("_")[1]
    idx = api.append(event(1, stream="contract:secret"), key="int_sub1")["index"]
    body = {"tenant": "other", "kind": "contract", "name": "Other", "purpose": "合同专用章"}
    own_seal = ok(api.post("/v1/seals", body, key="adm_other"))["id"]
    own_env = ok(api.request("POST", "/v1/envelopes", key="int_other", body=PDF,
                             content_type="application/pdf",
                             params={"signer": own_seal}))["id"]  # fmt: skip
    fake_key = secrets.token_hex(len(key_id))[: len(key_id)]
    return World(
        api,
        {
            "seal": (seal, _fake(seal)),
            "request": (req, _fake(req)),
            "envelope": (env, _fake(env)),
            "key": (key_id, fake_key),
            "tenant": ("sub1", "sub9"),
            "index": (str(idx), str(10**9 + idx)),
            "stream": ("contract:secret", "contract:nosuch"),
        },
        own_seal,
        own_env,
    )


# (name, key, method, path, body kind, body or params, kind of identifier): ``{ID}`` marks the
# identifier, ``{OWN_SEAL}``/``{OWN_ENV}`` the prober's own seal and envelope.
CASES: list[tuple[str, str, str, str, str, Any, str]] = [
    ("seal", "aud_other", "GET", "/v1/seals/{ID}", "none", None, "seal"),
    ("seal-appearance", "aud_other", "GET", "/v1/seals/{ID}/appearance", "none", None, "seal"),
    ("seal-suspend", "adm_other", "POST", "/v1/seals/{ID}/suspend", "json", {"reason": "x"},
     "seal"),
    ("seal-resume", "adm_other", "POST", "/v1/seals/{ID}/resume", "json", {}, "seal"),
    ("seal-revoke", "adm_other", "POST", "/v1/seals/{ID}/revoke", "json", {"reason": "x"},
     "seal"),
    ("seal-sign", "int_other", "POST", "/v1/seals/{ID}/sign", "pdf", None, "seal"),
    ("seal-sign-request", "int_other", "POST", "/v1/seals/{OWN_SEAL}/sign", "pdf",
     {"request": "{ID}"}, "request"),
    ("seal-request-create", "int_other", "POST", "/v1/seal-requests", "json",
     {"seal": "{ID}", "document_sha256": "ab" * 32, "purpose": "x"}, "seal"),
    ("seal-request", "aud_other", "GET", "/v1/seal-requests/{ID}", "none", None, "request"),
    ("seal-request-approve", "int_other", "POST", "/v1/seal-requests/{ID}/approve", "json", {},
     "request"),
    ("seal-request-reject", "int_other", "POST", "/v1/seal-requests/{ID}/reject", "json", {},
     "request"),
    ("policy-controlled", "adm_other", "PUT", "/v1/seal-policy", "json",
     {"tenant": "other", "controlled": ["{ID}"], "approvers": []}, "seal"),
    ("policy-approvers", "adm_other", "PUT", "/v1/seal-policy", "json",
     {"tenant": "other", "controlled": [], "approvers": ["{ID}"]}, "key"),
    ("policy-tenant", "aud_other", "GET", "/v1/seal-policy", "query", {"tenant": "{ID}"},
     "tenant"),
    ("seals-tenant", "aud_other", "GET", "/v1/seals", "query", {"tenant": "{ID}"}, "tenant"),
    ("seal-create-tenant", "adm_other", "POST", "/v1/seals", "json",
     {"tenant": "{ID}", "kind": "personal", "name": "X"}, "tenant"),
    ("requests-tenant", "aud_other", "GET", "/v1/seal-requests", "query", {"tenant": "{ID}"},
     "tenant"),
    ("uses-tenant", "aud_other", "GET", "/v1/seal-uses", "query", {"tenant": "{ID}"}, "tenant"),
    ("envelope", "aud_other", "GET", "/v1/envelopes/{ID}", "none", None, "envelope"),
    ("envelope-document", "aud_other", "GET", "/v1/envelopes/{ID}/document", "none", None,
     "envelope"),
    ("envelope-validation", "aud_other", "GET", "/v1/envelopes/{ID}/validation", "none", None,
     "envelope"),
    ("envelope-validate", "aud_other", "POST", "/v1/envelopes/{ID}/validate", "pdf", None,
     "envelope"),
    ("envelope-sign", "int_other", "POST", "/v1/envelopes/{ID}/sign", "json",
     {"seal": "{OWN_SEAL}"}, "envelope"),
    ("envelope-seal-request", "int_other", "POST", "/v1/envelopes/{ID}/seal-requests", "json",
     {"seal": "{OWN_SEAL}", "purpose": "x"}, "envelope"),
    ("invitation-accept", "int_other", "POST", "/v1/envelopes/{ID}/invitations/1/accept",
     "json", {"seal": "{OWN_SEAL}"}, "envelope"),
    ("invitation-decline", "int_other", "POST", "/v1/envelopes/{ID}/invitations/1/decline",
     "json", {}, "envelope"),
    ("envelope-create-seal", "int_other", "POST", "/v1/envelopes", "pdf",
     {"signer": "{ID}"}, "seal"),
    ("envelope-create-key", "int_other", "POST", "/v1/envelopes", "pdf",
     {"signer": "{OWN_SEAL}:{ID}"}, "key"),
    ("envelope-sign-seal", "int_other", "POST", "/v1/envelopes/{OWN_ENV}/sign", "json",
     {"seal": "{ID}"}, "seal"),
    ("envelope-sign-request", "int_other", "POST", "/v1/envelopes/{OWN_ENV}/sign", "json",
     {"seal": "{OWN_SEAL}", "request": "{ID}"}, "request"),
    ("envelope-stream", "aud_other", "GET", "/v1/streams/envelope:{ID}", "none", None,
     "envelope"),
    ("key-revoke", "adm_other", "DELETE", "/v1/keys/{ID}", "none", None, "key"),
    ("key-create-tenant", "adm_other", "POST", "/v1/keys", "json",
     {"tenant": "{ID}", "role": "auditor"}, "tenant"),
    ("tenant-create-parent", "adm_other", "POST", "/v1/tenants", "json",
     {"id": "probe", "parent": "{ID}", "name": "x"}, "tenant"),
    ("event", "aud_other", "GET", "/v1/events/{ID}", "none", None, "index"),
    ("event-proof", "aud_other", "GET", "/v1/events/{ID}/proof", "none", None, "index"),
    ("events-tenant", "aud_other", "GET", "/v1/events", "query", {"tenant": "{ID}"}, "tenant"),
    ("export-tenant", "aud_other", "GET", "/v1/export", "query", {"tenant": "{ID}"}, "tenant"),
    ("stream-tenant", "aud_other", "GET", "/v1/streams/contract:secret", "query",
     {"tenant": "{ID}"}, "tenant"),
    ("stream-name", "aud_other", "GET", "/v1/streams/{ID}", "none", None, "stream"),
    ("stream-package-tenant", "aud_other", "GET", "/v1/streams/contract:secret/package", "query",
     {"tenant": "{ID}"}, "tenant"),
    ("stream-package-name", "aud_other", "GET", "/v1/streams/{ID}/package", "none", None,
     "stream"),
    ("package-tenant", "aud_other", "GET", "/v1/package", "query", {"tenant": "{ID}"}, "tenant"),
    ("console-timeline-tenant", "aud_other", "GET", "/v1/console/timeline", "query",
     {"tenant": "{ID}"}, "tenant"),
]  # fmt: skip


def _fill(value: Any, ident: str, w: World) -> Any:
    text = json.dumps(value).replace("{ID}", ident)
    text = text.replace("{OWN_SEAL}", w.own_seal).replace("{OWN_ENV}", w.own_env)
    return json.loads(text)


def _call(w: World, case: tuple[str, str, str, str, str, Any, str], ident: str) -> Resp:
    _, key, method, path, kind, payload, _ = case
    path = _fill(path, ident, w)
    if kind == "json":
        return w.api.request(method, path, key=key, json_body=_fill(payload, ident, w))
    params = None if payload is None or kind == "none" else _fill(payload, ident, w)
    if kind == "pdf":
        return w.api.request(method, path, key=key, body=PDF, content_type="application/pdf",
                             params=params, timeout=60)  # fmt: skip
    return w.api.request(method, path, key=key, params=params)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_another_tenants_identifier_is_answered_as_a_missing_one(
    world: World, case: tuple[str, str, str, str, str, Any, str]
) -> None:
    real_id, fake_id = world.ids[case[6]]
    real, fake = _call(world, case, real_id), _call(world, case, fake_id)
    assert real.status >= 400, real  # the victim's resource was not reached
    assert (real.status, real.content_type) == (fake.status, fake.content_type), (real, fake)
    assert real.body.replace(real_id.encode(), b"{ID}") == fake.body.replace(
        fake_id.encode(), b"{ID}"
    ), (real, fake)
    for header in ("WWW-Authenticate", "Allow", "Retry-After"):
        assert real.headers.get(header) == fake.headers.get(header), header


def test_the_victims_resources_are_untouched(world: World) -> None:
    """The probes changed nothing: the seal is active, the request pending, the invitation
    open, the key valid."""
    api = world.api
    seal, req, env = world.ids["seal"][0], world.ids["request"][0], world.ids["envelope"][0]
    assert api.get(f"/v1/seals/{seal}", "aud_sub1").json()["status"] == "active"
    assert api.get(f"/v1/seal-requests/{req}", "aud_sub1").json()["status"] == "pending"
    got = api.get(f"/v1/envelopes/{env}", "int_sub1").json()
    assert (got["status"], got["signers"][1]["invitation"]) == ("open", "invited")
    assert api.get("/v1/seal-uses", "int_sub1").status == 200  # its key still works
