"""What the bench's own processes cost the latencies they time (bench.lag)."""

import gc

import pytest

from bench.lag import collect_after, gc_pauses, settle_heap


@pytest.fixture
def collector():
    """The test process's collector as it was, afterwards."""
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def test_a_settled_heap_is_frozen_and_not_collected(collector):
    gc.unfreeze()

    settle_heap()

    assert gc.get_freeze_count() > 10_000  # pytest, Django and the bench, loaded by now
    assert not gc.isenabled()


def test_garbage_held_while_settled_is_collected_after(collector):
    settle_heap()
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle

    collected = collect_after()

    assert collected.objects >= 1
    assert collected.ms >= 0
    assert gc.isenabled()


def test_each_collection_while_timed_is_one_pause():
    pauses: list[float] = []

    with gc_pauses(pauses):
        gc.collect()
        gc.collect(0)
    gc.collect()

    assert len(pauses) == 2
    assert all(pause >= 0 for pause in pauses)
