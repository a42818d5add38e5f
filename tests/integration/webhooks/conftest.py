"""Fixtures for the callback tests: a receiver, and a service allowed to call it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .receiver import Receiver

#: short delays so that retries, back-off and dead-lettering happen within a test
FAST = {
    "callback_allow_hosts": "127.0.0.1",
    "callback_retry_base": "0.2",
    "callback_retry_max": "0.5",
    "callback_poll_interval": "0.05",
    "callback_seal_wait": "3",
    "callback_timeout": "1",
    "checkpoint_interval": "0.3",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()
