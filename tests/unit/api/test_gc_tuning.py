"""``sealtrail serve`` freezes the start-up heap and raises the collector's thresholds."""

from __future__ import annotations

import gc

from sealtrail.api import app


def test_tune_gc_freezes_the_heap_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        app.tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == app.GC_THRESHOLDS
        assert app.GC_THRESHOLDS[0] > before[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_collector_still_reclaims_cycles_after_tuning() -> None:
    before = gc.get_threshold()
    try:
        app.tune_gc()

        class Node:
            ref: object = None

        a, b = Node(), Node()
        a.ref, b.ref = b, a
        del a, b
        assert gc.collect() >= 2  # made after the freeze: still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
