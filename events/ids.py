"""Time-ordered identifiers.

Python 3.11 has no uuid.uuid7, so this builds RFC 9562 version-7 UUIDs: 48 bits of
Unix milliseconds, then random bits. Events get them as primary keys so the event
table's index grows at its right edge (append-mostly) and ids sort by arrival time.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def uuid7() -> uuid.UUID:
    """Return a new, monotonically increasing (per process) version-7 UUID."""
    return uuid7_many(1)[0]


def uuid7_many(count: int) -> list[uuid.UUID]:
    """`count` new version-7 UUIDs, increasing, all greater than every one this process
    made before: one clock read and at most one draw of random bits for all of them."""
    global _last_ms, _last_rand
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            # Same millisecond (or a clock step back): keep order by incrementing the
            # 74 random bits instead of drawing new ones.
            ms = _last_ms
            first = _last_rand + 1
        else:
            # 73 random bits: even a long run of increments stays within the 74.
            first = int.from_bytes(os.urandom(10), "big") >> 7
        _last_ms, _last_rand = ms, first + count - 1
    base = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | 0b10 << 62
    low = (1 << 62) - 1
    return [
        uuid.UUID(int=base | (rand >> 62 & 0xFFF) << 64 | rand & low)
        for rand in range(first, first + count)
    ]


def parse_uuid(raw: str) -> uuid.UUID | None:
    """`raw` as a UUID, or None when it is not one (an unknown id, as far as a lookup
    is concerned)."""
    try:
        return uuid.UUID(str(raw))
    except (ValueError, AttributeError):
        return None
