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
    global _last_ms, _last_rand
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            # Same millisecond (or a clock step back): keep order by incrementing the
            # 74 random bits instead of drawing new ones.
            ms = _last_ms
            rand = _last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 6  # 74 bits
        _last_ms, _last_rand = ms, rand
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rand_a << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)
