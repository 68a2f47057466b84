"""Version-7 UUIDs (events/ids.py): the event log's primary keys."""

from __future__ import annotations

import time

from events import ids as ids_module
from events.ids import uuid7, uuid7_many


def test_ids_are_version_7_and_carry_the_current_millisecond(monkeypatch):
    # as in a new process (a test that moved the clock forward leaves later ids ahead)
    monkeypatch.setattr(ids_module, "_last_ms", 0)
    before = time.time_ns() // 1_000_000
    ids = [uuid7(), *uuid7_many(3)]
    after = time.time_ns() // 1_000_000
    for value in ids:
        assert value.version == 7 and value.variant == "specified in RFC 4122"
        assert before <= value.int >> 80 <= after


def test_ids_increase_across_single_and_batched_calls_within_one_millisecond():
    ids = [*uuid7_many(1000), uuid7(), *uuid7_many(2), uuid7(), *uuid7_many(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert uuid7_many(0) == []
