"""The one table that maps error codes to HTTP statuses and exit codes (api/error_codes.py)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import sealtrail
from sealtrail.api.error_codes import TABLE, exit_code_for, http_status_for, mapping_for
from sealtrail.core.errors import (
    ConflictError,
    EventValidationError,
    InvalidInputError,
    NotFoundError,
    SealtrailError,
)
from sealtrail.ledger.coordination import QueuedAppendError


def every_error_class() -> list[type[SealtrailError]]:
    for mod in pkgutil.walk_packages(sealtrail.__path__, "sealtrail."):
        importlib.import_module(mod.name)
    seen: list[type[SealtrailError]] = []
    todo: list[type[SealtrailError]] = [SealtrailError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in seen if c.__module__.startswith("sealtrail.")]


def test_every_class_with_its_own_code_has_an_entry() -> None:
    missing = [
        f"{c.__module__}.{c.__name__} ({c.__dict__['code']})"
        for c in every_error_class()
        if "code" in c.__dict__ and c.__dict__["code"] not in TABLE
    ]
    assert missing == []


def test_every_entry_names_a_code_some_class_has() -> None:
    codes = {c.__dict__["code"] for c in every_error_class() if "code" in c.__dict__}
    assert sorted(set(TABLE) - codes) == []


def test_no_error_class_carries_transport_fields() -> None:
    offenders = [
        f"{c.__module__}.{c.__name__}"
        for c in every_error_class()
        if "http_status" in c.__dict__ or "exit_code" in c.__dict__
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("err", "status", "exit_code"),
    [
        (SealtrailError("x"), 500, 10),
        (InvalidInputError("x"), 400, 2),
        (EventValidationError("f", "bad"), 400, 2),
        (NotFoundError("x"), 404, 4),
        (ConflictError("x"), 409, 5),
    ],
)
def test_known_codes_keep_their_status_and_exit_code(
    err: SealtrailError, status: int, exit_code: int
) -> None:
    assert (http_status_for(err), exit_code_for(err)) == (status, exit_code)


def test_a_subclass_without_an_entry_maps_as_its_nearest_ancestor() -> None:
    class Odd(ConflictError):
        code = "odd_code_nobody_mapped"

    assert mapping_for(Odd("x")) == TABLE["conflict"]


def test_an_error_relayed_from_another_process_maps_by_its_original_code() -> None:
    err = QueuedAppendError("conflict", "client_event_id reused with another body")
    assert (http_status_for(err), exit_code_for(err)) == (409, 5)
    assert mapping_for(QueuedAppendError("never_heard_of", "x")) == TABLE["sealtrail_error"]
