"""Sharing database work between forked processes, each with its own connection.

Used where the work is mostly Python on rows read from PostgreSQL (recomputing stale
users' sequential state, precomputing Wrapped summaries): threads would take turns under
the GIL (two measured no faster than one for the recompute), processes run on every
core. PostgreSQL only: SQLite writers would wait for each other's locks.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable
from typing import Any

from django.db import connection, connections


def in_processes(
    work: Callable[[int, int], int],
    shares: int,
    *,
    while_waiting: Callable[[], None] | None = None,
) -> int:
    """Run `work(share, shares)` for each share in its own forked process and return the
    sum of what they return. A failure in any raises RuntimeError with every child's
    traceback. The parent's connections are closed first: a child must not share them.
    `while_waiting` is called now and then while the children work (a progress bar)."""
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.SimpleQueue()
    children = [
        context.Process(target=_child, args=(results, work, share, shares), name=f"share-{share}")
        for share in range(shares)
    ]
    for child in children:
        child.start()
    done = 0
    failures = []
    # Each child puts one result: read them before joining (a long traceback fills the
    # pipe and would keep its child from exiting), and stop waiting when every child has
    # ended (one killed puts nothing; its exit code fails the call below).
    waiting = len(children)
    last_call = time.monotonic()
    try:
        while waiting:
            if not results.empty():
                count, failure = results.get()
                done += count
                waiting -= 1
                if failure:
                    failures.append(failure)
            elif any(child.is_alive() for child in children):
                if while_waiting is not None and time.monotonic() - last_call >= 1:
                    while_waiting()
                    last_call = time.monotonic()
                time.sleep(0.05)
            elif results.empty():
                break
    except BaseException:
        # The parent gave up (Ctrl-C, its progress query failed): no child outlives it.
        for child in children:
            if child.is_alive():
                child.terminate()
        raise
    finally:
        for child in children:
            child.join()
        results.close()
    if failures or any(child.exitcode for child in children):
        raise RuntimeError("work in a child process failed:\n" + "\n".join(failures))
    return done


def _child(
    results: Any, work: Callable[[int, int], int], share: int, shares: int
) -> None:  # pragma: no cover - runs in a forked process
    try:
        results.put((work(share, shares), None))
    except BaseException:
        results.put((0, traceback.format_exc()))
    finally:
        connection.close()
