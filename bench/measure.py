"""Run a command; write its wall time, peak memory and exit status as JSON.

    python bench/measure.py OUT.json -- COMMAND [ARG ...]

Peak memory, two ways:
- `peak_rss_kib`: the maximum resident set size of the largest process the command ran
  (`getrusage(RUSAGE_CHILDREN).ru_maxrss`, KiB on Linux);
- `peak_tree_pss_kib`: the largest sum, sampled twice a second, of the proportional
  set size (`/proc/PID/smaps_rollup` Pss: shared pages split among their sharers) of the
  command and all its descendants, which counts a forked helper process (the importer's
  parser) without counting the pages it shares with its parent twice.
The command's own output passes through. Exits with the command's status.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(int(name))
    return tree


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_pss_kib(root: int) -> int:
    tree = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss_kib(pid)
        todo.extend(tree.get(pid, ()))
    return total


def main() -> None:
    out, separator, *command = sys.argv[1:]
    assert separator == "--" and command, __doc__
    started = time.perf_counter()
    process = subprocess.Popen(command)
    peak = {"tree": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            peak["tree"] = max(peak["tree"], _tree_pss_kib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status = process.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "seconds": seconds,
                "peak_rss_kib": peak_kib,
                "peak_tree_pss_kib": peak["tree"],
                "status": status,
            },
            handle,
        )
    sys.exit(status)


if __name__ == "__main__":
    main()
