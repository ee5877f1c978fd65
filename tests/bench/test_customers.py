"""The turns that the direct path and ChatBridge's take in one phase (bench.customers.Turns)."""

import pytest

from bench.customers import Turns

TWO = Turns(count=2, length=10.0)


def test_a_path_starts_its_chats_only_in_its_own_turns():
    # 15 s of the second path's own time: its whole first turn, then 5 s into its second.
    assert TWO.at(1, 0.0) == 10.0
    assert TWO.at(1, 9.5) == 19.5
    assert TWO.at(1, 15.0) == 35.0
    assert TWO.at(0, 15.0) == 25.0


def test_a_customer_sends_once_a_rotation_as_far_into_each_of_its_turns():
    first = TWO.next_send(1, 3.0, after=0.0)
    second = TWO.next_send(1, 3.0, after=first + 0.001)

    assert (first, second) == (13.0, 33.0)


def test_a_customer_connected_after_its_moment_in_a_turn_sends_in_the_next_one():
    assert TWO.next_send(0, 3.0, after=4.0) == 23.0
    assert TWO.next_send(0, 3.0, after=3.0) == 3.0


def test_every_send_of_a_path_falls_in_its_own_turns():
    for turn in (0, 1):
        for offset in (0.0, 4.2, 9.99):
            at = TWO.next_send(turn, offset, after=57.0)
            assert int(at // TWO.length) % TWO.count == turn


def test_the_window_opens_at_the_start_of_a_rotation():
    assert TWO.window_start(0.0) == 0.0
    assert TWO.window_start(20.5) == 40.0
    assert TWO.window_start(40.0) == 40.0


@pytest.mark.parametrize("active", [0.0, 2.5, 12.0])
def test_a_single_path_is_always_on(active):
    one = Turns(count=1, length=10.0)

    assert one.at(0, active) == active
    assert one.next_send(0, 4.0, after=active) == 4.0 + 10.0 * (active > 4.0)
