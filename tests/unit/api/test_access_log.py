"""The access log's path (no query, no secret segments, no forged lines) and the JSON format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from sealtrail.api.access_log import (
    MAX_PATH,
    configure_logging,
    current_request_id,
    logged_path,
)


def req(path: str, match: dict[str, str] | None = None) -> web.Request:
    r = make_mocked_request("GET", path)
    if match is not None:
        route = web.RouteDef("GET", "/", lambda _: web.Response(), {})  # type: ignore[arg-type]
        info = UrlMappingMatchInfo(match, route)  # type: ignore[arg-type]
        r._match_info = info
    return r


def test_the_query_is_never_logged() -> None:
    assert logged_path(req("/v1/events?api_key=SECRET&code=123")) == "/v1/events"


def test_secret_route_segments_are_starred() -> None:
    r = req("/v1/sign/tok-SECRET/page", {"token": "tok-SECRET"})
    assert logged_path(r) == "/v1/sign/*/page"
    r = req("/v1/events/12", {"index": "12"})
    assert logged_path(r) == "/v1/events/12"


def test_control_characters_cannot_forge_a_line() -> None:
    got = logged_path(req("/v1/x%0A2026-01-01%20INFO%20forged"))
    assert "\n" not in got
    assert "\\n" in got


def test_long_paths_are_cut() -> None:
    got = logged_path(req("/" + "a" * 5000))
    assert len(got) <= MAX_PATH + 1


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_the_request_id_and_access_fields() -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)
    token = current_request_id.set("rid-1")
    try:
        logging.getLogger("sealtrail.api").warning("something %s", "odd")
        logging.getLogger("sealtrail.access").info(
            "x",
            extra={
                "method": "GET",
                "path": "/p",
                "status": 200,
                "duration_ms": 1.5,
                "client": "203.0.113.9",
            },
        )
    finally:
        current_request_id.reset(token)
    logging.getLogger("sealtrail.api").info('quote " and\nnewline')
    lines = [json.loads(ln) for ln in out.getvalue().splitlines()]
    assert len(lines) == 3
    assert lines[0]["message"] == "something odd"
    assert lines[0]["request_id"] == "rid-1"
    assert lines[0]["level"] == "WARNING"
    assert lines[1]["client"] == "203.0.113.9"
    assert lines[1]["status"] == 200
    assert lines[2]["request_id"] == "-"
    assert lines[2]["message"] == 'quote " and\nnewline'
    assert lines[2]["time"].endswith("+00:00")


@pytest.mark.usefixtures("restore_logging")
def test_text_lines_carry_the_request_id() -> None:
    out = io.StringIO()
    configure_logging("text", stream=out)
    token = current_request_id.set("rid-2")
    try:
        logging.getLogger("sealtrail.api").info("hello")
    finally:
        current_request_id.reset(token)
    assert "INFO sealtrail.api [rid-2]: hello" in out.getvalue()
