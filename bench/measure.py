"""Run a command; write its wall time, peak memory and exit status as JSON.

    python bench/measure.py OUT.json -- COMMAND [ARG ...]

Peak memory is the maximum resident set size of the largest process the command ran
(`getrusage(RUSAGE_CHILDREN).ru_maxrss`, KiB on Linux). The command's own output
passes through. Exits with the command's status.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> None:
    out, separator, *command = sys.argv[1:]
    assert separator == "--" and command, __doc__
    started = time.perf_counter()
    status = subprocess.call(command)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"seconds": seconds, "peak_rss_kib": peak_kib, "status": status}, handle)
    sys.exit(status)


if __name__ == "__main__":
    main()
