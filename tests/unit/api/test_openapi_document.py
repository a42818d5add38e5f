"""The OpenAPI document is fit for client generators: every operation has a unique, readable
operationId, a tag the document describes, and an example for every JSON body that validates
against that body's schema; the served document names its server."""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema_rs
import pytest

from sealtrail.api.openapi import OPERATION_IDS, document, served_base_url, spec

OP_ID = re.compile(r"^[a-z][A-Za-z0-9]+$")
METHODS = {"get", "post", "put", "delete", "patch"}


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_every_operation_has_a_unique_readable_operation_id() -> None:
    ops = operations(spec())
    assert len(ops) >= 56
    ids = [op.get("operationId") for _, _, op in ops]
    bad = [(m, p, i) for (m, p, _), i in zip(ops, ids, strict=True) if not OP_ID.match(i or "")]
    assert bad == []
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)


def test_the_main_operations_keep_their_names() -> None:
    """The SDKs (sdk/typescript, sdk/java) and the README use these names."""
    by_id = {op["operationId"]: (m, p) for m, p, op in operations(spec())}
    assert by_id["appendEvent"] == ("post", "/v1/events")
    assert by_id["appendEvents"] == ("post", "/v1/events/batch")
    assert by_id["listEvents"] == ("get", "/v1/events")
    assert by_id["getEvent"] == ("get", "/v1/events/{index}")
    assert by_id["getEventProof"] == ("get", "/v1/events/{index}/proof")
    assert by_id["getLatestCheckpoint"] == ("get", "/v1/checkpoints/latest")
    assert by_id["getConsistencyProof"] == ("get", "/v1/checkpoints/consistency")
    assert by_id["getStreamMapProof"] == ("get", "/v1/streams/{stream}/map-proof")
    assert by_id["getPublicFingerprint"] == ("get", "/v1/public/fingerprints/{sha256}")
    assert by_id["createEnvelope"] == ("post", "/v1/envelopes")


def test_no_stale_operation_id_entries() -> None:
    """Every entry of the table names an operation the document has (a renamed route would
    otherwise silently lose its name)."""
    present = {(m, p) for m, p, _ in operations(spec())}
    assert set(OPERATION_IDS) - present == set()


def test_every_operation_has_a_described_tag() -> None:
    doc = spec()
    described = {t["name"] for t in doc["tags"]}
    for method, path, op in operations(doc):
        assert op.get("tags"), (method, path)
        assert set(op["tags"]) <= described, (method, path, op["tags"])
    assert all(t.get("description") for t in doc["tags"])


def _resolver_schema(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """``schema`` made self-contained for jsonschema: the document's components beside it."""
    return {**copy.deepcopy(schema), "components": doc["components"]}


def json_bodies(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for method, path, op in operations(doc):
        bodies = [("request", op.get("requestBody", {}))]
        bodies += list(op.get("responses", {}).items())
        for where, body in bodies:
            for media_type, media in body.get("content", {}).items():
                if media_type.endswith("json"):
                    out.append((f"{method} {path} {where} {media_type}", media))
    return out


def test_every_json_body_has_an_example_that_its_schema_accepts() -> None:
    doc = spec()
    bodies = json_bodies(doc)
    assert len(bodies) > 150
    for name, media in bodies:
        assert "example" in media, name
        schema = _resolver_schema(media["schema"], doc)
        errors = list(jsonschema_rs.Draft202012Validator(schema).iter_errors(media["example"]))
        assert errors == [], (name, [e.message for e in errors[:3]])


def test_problem_examples_carry_their_status() -> None:
    for name, media in json_bodies(spec()):
        if "problem+json" in name:
            status = int(name.split()[2])
            assert media["example"]["status"] == status, name


def test_an_example_that_breaks_its_schema_is_caught() -> None:
    """The check above can fail: a tampered example (a wrong hash length) is refused."""
    doc = spec()
    media = doc["paths"]["/v1/events/{index}/proof"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]
    bad = copy.deepcopy(media["example"])
    bad["leaf_hash"] = bad["leaf_hash"][:-2]
    schema = _resolver_schema(media["schema"], doc)
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.Draft202012Validator(schema).validate(bad)
    jsonschema_rs.Draft202012Validator(schema).validate(media["example"])


def test_served_document_names_its_server() -> None:
    doc = document(served_base_url(None, "http", "127.0.0.1:8080"))
    assert doc["servers"] == [{"url": "http://127.0.0.1:8080", "description": "this service"}]
    behind = document(served_base_url("https://evidence.example.com/", "http", "10.0.0.5:8080"))
    assert behind["servers"][0]["url"] == "https://evidence.example.com"
    assert "servers" not in spec()  # the cached document stays request-independent
