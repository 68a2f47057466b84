"""Summarise a py-spy profile of gunicorn workers: where a request's time goes.

    python bench/profile_summary.py PROFILE_RAW --rate HZ --seconds S [--wrk WRK_JSON]
        [--title TEXT] [--top N]

PROFILE_RAW is `py-spy record --subprocesses --nolineno --format raw` output (collapsed
stacks, `frame;frame;... count`, root first; a frame is `function (file)`), recorded at
HZ samples per second for S seconds, with `--idle` (wall clock: every sample) or `--gil`
(only samples where the worker runs Python; then pass --gil). Only samples inside gunicorn's
`handle_request` count as a request's. With the wrk summary of the load during the
profile (--wrk), a function's samples become milliseconds per request:
samples / HZ / (requests per second * S).

Prints time by layer (the innermost frame outside the standard library decides the
layer; everything under psycopg's `Connection.wait` counts as PostgreSQL round trips:
the server's work, the network, and waiting for a CPU), the call tree down to
--min-share of the request's time, then the top functions by total (inclusive) and by
self time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REQUEST_FRAME = ("SyncWorker.handle_request", "gunicorn/workers/sync.py")
WORKER_FRAME = ("Worker.init_process", "gunicorn/workers/base.py")
# psycopg runs a query as generators driven by Connection.wait, which blocks in C until
# PostgreSQL answers: samples under it are (nearly all) round trips to the database.
WAIT_FRAME = ("Connection.wait", "psycopg/connection.py")
WAITING = "PostgreSQL round trips (under psycopg's Connection.wait)"
WAITING_GIL = "psycopg under Connection.wait, holding the GIL (libpq calls, its generators)"
STDLIB = set(sys.stdlib_module_names)


class Node:
    """A call-tree node: samples through this call path, and its callees."""

    def __init__(self) -> None:
        self.count = 0
        self.children: dict[str, Node] = {}


def parse_frame(frame: str) -> tuple[str, str]:
    """`function (file)` or `function (file:line)` -> (function, file). A process's
    frame (`process PID:"command"`, with --subprocesses) has no file."""
    function, _, rest = frame.partition(" (")
    path = rest.removesuffix(")")
    head, sep, tail = path.rpartition(":")
    if sep and tail.isdigit():
        path = head
    return function, path


def layer(path: str) -> str:
    """The layer a frame belongs to: its package, Django's split by subpackage."""
    parts = path.split("/")
    top = parts[0].removesuffix(".py")
    if top == "django" and len(parts) > 2:
        return f"django.{parts[1]}"
    return top


def is_stdlib(path: str) -> bool:
    return path.startswith("<frozen ") or path.split("/")[0].removesuffix(".py") in STDLIB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--rate", type=float, required=True, help="py-spy's samples per second")
    parser.add_argument("--seconds", type=float, required=True, help="py-spy's duration")
    parser.add_argument("--wrk", type=Path, help="wrk summary (WRK_JSON) of the same load")
    parser.add_argument("--gil", action="store_true", help="recorded with py-spy --gil")
    parser.add_argument("--title", default="py-spy profile")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--min-share", type=float, default=0.02, help="of the call tree")
    args = parser.parse_args()

    workers: set[str] = set()
    worker_samples = in_request = 0
    by_layer: Counter[str] = Counter()
    total: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    tree = Node()
    for line in args.profile.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [parse_frame(f) for f in stack.split(";")]
        if WORKER_FRAME not in frames:
            continue  # the arbiter (gunicorn's master process), or a torn sample
        workers.add(frames[1][0])  # `process PID:...` of the worker, under the arbiter's
        worker_samples += count
        if REQUEST_FRAME not in frames:
            continue  # between requests: waiting in accept/select
        in_request += count
        request = frames[frames.index(REQUEST_FRAME) :]
        names = [f"{function} ({path})" for function, path in request]
        for name in set(names):
            total[name] += count
        self_time[names[-1]] += count
        node = tree
        for name in names:
            node = node.children.setdefault(name, Node())
            node.count += count
        if WAIT_FRAME in request:
            by_layer[WAITING_GIL if args.gil else WAITING] += count
        else:
            owner = next((f for f in reversed(request) if not is_stdlib(f[1])), request[-1])
            by_layer[layer(owner[1])] += count

    print(f"== {args.title}: {args.profile}")
    if not in_request:
        print(f"no samples inside {REQUEST_FRAME[0]}")
        return
    print(
        f"{len(workers)} workers, {worker_samples} samples in workers "
        f"(at most {len(workers) * args.rate * args.seconds:.0f}), {in_request} of them "
        "in a request"
    )
    ms_per_sample: float | None = None
    if args.wrk and args.wrk.exists():
        summary = json.loads(args.wrk.read_text())
        rps = summary["requests"] / (summary["duration_us"] / 1e6)
        ms_per_sample = 1000 / args.rate / (rps * args.seconds)
        print(
            f"load: {rps:.0f} req/s, {sum(summary['errors'].values())} errors; "
            f"in a request: {in_request * ms_per_sample:.2f} ms per request"
        )

    def rows(counts: list[tuple[str, int]]) -> list[str]:
        def ms(count: int) -> str:
            return f"{count * ms_per_sample:7.3f}" if ms_per_sample else "      -"

        return [f"{c / in_request:6.1%}  {ms(c)}  {name}" for name, c in counts]

    columns = " share   ms/req  (share of the in-request samples)"
    out = ["", "By layer (self time; stdlib frames count to their caller):", columns]
    out += rows(by_layer.most_common())
    out += [
        "",
        f"Call tree, down to {args.min_share:.0%} (a chain of frames that each pass nearly all",
        "their time to one callee is shown as `first -> ... -> last`):",
        columns,
    ]

    def walk(name: str, node: Node, depth: int, chain: str | None = None) -> None:
        if node.count < args.min_share * in_request:
            return
        callees = sorted(node.children.items(), key=lambda item: -item[1].count)
        if depth > 0 and callees and callees[0][1].count >= 0.97 * node.count:
            walk(*callees[0], depth, chain or name)  # passes its time on: print the chain's end
            return
        out.extend(
            rows([("  " * depth + (f"{chain} -> ... -> " if chain else "") + name, node.count)])
        )
        for callee, child in callees:
            walk(callee, child, depth + 1)

    for name, node in tree.children.items():
        walk(name, node, 0)
    out += ["", f"Top {args.top} functions by total (inclusive) time:", columns]
    out += rows(total.most_common(args.top))
    out += ["", f"Top {args.top} functions by self time:", columns]
    out += rows(self_time.most_common(args.top))
    print("\n".join(out))


if __name__ == "__main__":
    main()
