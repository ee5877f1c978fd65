"""What the bench's own processes cost the latencies they time (bench.lag)."""

import gc

import pytest

from bench.lag import GC_THRESHOLDS, gc_pauses, settle_heap


@pytest.fixture
def collector():
    """The test process's collector as it was, afterwards."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_a_settled_heap_is_frozen_and_collected_less_often(collector):
    gc.unfreeze()

    settle_heap()

    assert gc.get_freeze_count() > 10_000  # pytest, Django and the bench, loaded by now
    assert gc.get_threshold() == GC_THRESHOLDS


def test_each_collection_while_timed_is_one_pause():
    pauses: list[float] = []

    with gc_pauses(pauses):
        gc.collect()
        gc.collect(0)
    gc.collect()

    assert len(pauses) == 2
    assert all(pause >= 0 for pause in pauses)
