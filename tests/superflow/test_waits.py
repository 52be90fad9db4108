"""The wait record keeps the stored form of a participant's wait, key for key."""

from __future__ import annotations

import json

import pytest

from superflow.waits import Wait

STORED = [
    {"k": "time", "u": 1780000000.125},
    {"k": "event", "u": 1780000000.0, "e": ["email.opened", "link.clicked"]},
    {"k": "window", "u": 1780003600.0},
    {"k": "goal", "u": 1780864000.0},
    {"k": "retry", "u": 1780000060.0, "n": 2},
    {"k": "retry", "u": 1780000030.0, "n": 0, "c": "email"},
]


@pytest.mark.parametrize("stored", STORED, ids=lambda d: f"{d['k']}{'-' + d['c'] if 'c' in d else ''}")
def test_every_stored_wait_is_written_back_as_it_was_read(stored):
    wait = Wait.from_dict(stored)
    assert wait is not None
    assert json.dumps(wait.to_dict()) == json.dumps(stored)


def test_no_stored_wait_is_no_wait():
    assert Wait.from_dict(None) is None
    assert Wait.from_dict({}) is None


def test_until_is_kept_to_the_millisecond():
    assert Wait("time", 1780000000.123456).to_dict() == {"k": "time", "u": 1780000000.123}
