"""Fixtures for tests against a real running service (see service.py)."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .service import Service, provision, start


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """A fresh provisioned service (checkpoints every 0.5 s or 50 events)."""
    data = tmp_path / "data"
    keys = provision(data)
    svc = start(data, tmp_path / "service.log", checkpoint_interval="0.5", checkpoint_size="50")
    svc.keys = keys
    try:
        yield svc
    finally:
        svc.stop()


# --------------------------------------------------------------------------------------------
# Faster variants for the HTTP API suites (tests/integration/api/).
#
# ``provision`` runs the real CLI a dozen times (about 10 s); the API suites need dozens of
# fresh services, so they provision one data directory per session and start each service on a
# copy of it. A copy is byte-for-byte what ``provision`` makes (same tenants, same keys), and
# each copy is a fresh, independent ledger for its service.

DEFAULT_SETTINGS = {"checkpoint_interval": "0.5", "checkpoint_size": "50"}


@dataclass(frozen=True)
class Provisioned:
    """A provisioned, never-served data directory and its keys."""

    data_dir: Path
    keys: dict[str, str]


@pytest.fixture(scope="session")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Provisioned:
    """One data directory provisioned by the real CLI (see service.provision)."""
    data = tmp_path_factory.mktemp("template") / "data"
    return Provisioned(data, provision(data))


StartService = Callable[..., Service]


def _service_factory(template: Provisioned, base: Path) -> tuple[StartService, list[Service]]:
    started: list[Service] = []
    counter = itertools.count()

    def start_service(*, data_dir: Path | None = None, **settings: str) -> Service:
        """Start a service on a fresh copy of the template (or on ``data_dir`` to restart)."""
        n = next(counter)
        if data_dir is None:
            data_dir = base / f"data{n}"
            shutil.copytree(template.data_dir, data_dir)
        svc = start(data_dir, base / f"service{n}.log", **{**DEFAULT_SETTINGS, **settings})
        svc.keys = dict(template.keys)
        started.append(svc)
        return svc

    return start_service, started


@pytest.fixture
def start_service(provisioned: Provisioned, tmp_path: Path) -> Iterator[StartService]:
    """``start_service(**settings)``: a fresh service (defaults as ``service``); all are
    stopped at teardown. ``start_service(data_dir=svc.data_dir)`` restarts on the same data."""
    factory, started = _service_factory(provisioned, tmp_path)
    yield factory
    for svc in started:
        svc.stop()


@pytest.fixture
def api_service(start_service: StartService) -> Service:
    """What ``service`` gives (fresh ledger, same tenants and keys, checkpoints every 0.5 s or
    50 events), started in about a second."""
    return start_service()


@pytest.fixture(scope="module")
def module_service(
    provisioned: Provisioned, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One service shared by a module's tests (for tests that do not depend on the log being
    empty)."""
    factory, started = _service_factory(provisioned, tmp_path_factory.mktemp("module"))
    yield factory()
    for svc in started:
        svc.stop()


@pytest.fixture(scope="module")
def inbox() -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on a free port, one per test module: the mail the service
    sends (signing links, one-time codes) lands here (tests/smtp.py)."""
    from ..smtp import smtp_server

    with smtp_server() as box:
        yield box
