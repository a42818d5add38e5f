"""Browser fixtures: headless Debian Chromium driven by Playwright for Python.

Playwright's own browser download does not work on these machines, so the tests launch the
system's ``/usr/bin/chromium`` (``apt-get install chromium``) and keep it off the network. Under
CI (``CI`` set) a missing Chromium or Playwright fails the tests; elsewhere they are skipped
with the reason. Screenshots of every page go to ``tests/integration/web/artifacts/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("SEALTRAIL_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: needs Chromium and Playwright (headless)")
    config.addinivalue_line("markers", "ganache: needs Ganache from node_modules (npm ci)")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module (stopped at the module's end, so the Playwright loop
    never outlives the browser tests)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: .venv/bin/pip install -e '.[dev]'")
    if shutil.which(CHROMIUM) is None:
        _unavailable(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _expected_http_error(text: str) -> bool:
    """Chromium logs every 4xx answer to fetch(); the pages handle those (not found, bad key)."""
    return text.startswith("Failed to load resource: the server responded with a status of 4")


class PageErrors:
    """JavaScript errors and failed asset loads seen by a page (a test fails on any)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console {m.type}: {m.text}")
                if m.type == "error" and not _expected_http_error(m.text)
                else None
            ),
        )

    def check(self) -> None:
        assert not self.errors, self.errors


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """``new_page(**context_options)``: a page in a fresh context (own storage); every page is
    checked for JavaScript errors at teardown."""
    opened: list[tuple[Any, PageErrors]] = []

    def make(**options: Any) -> Any:
        ctx = browser.new_context(accept_downloads=True, **options)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        errs = PageErrors(page)
        opened.append((ctx, errs))
        return page

    yield make
    for ctx, errs in opened:
        ctx.close()
    for _, errs in opened:
        errs.check()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# -- the signer's page against the real service (test_signer_page*.py) -------------------------


@pytest.fixture(scope="module")
def svc(provisioned: Any, tmp_path_factory: pytest.TempPathFactory, inbox: Any) -> Iterator[Any]:
    """One ``sealtrail serve`` per module, mailing codes to ``inbox``."""
    from ..conftest import _service_factory

    factory, started = _service_factory(provisioned, tmp_path_factory.mktemp("signpage"))
    yield factory(smtp_url=inbox.url, smtp_from="sign@acme.example")
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def api(svc: Any) -> Any:
    from ..api.client import Api

    return Api(svc)


@pytest.fixture(scope="module")
def other_seal(api: Any) -> str:
    """An active seal of tenant ``other`` (the enterprise signer), made by its admin."""
    from ..api.client import seal_of_other

    return seal_of_other(api)
