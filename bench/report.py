"""Print and save the benchmark table from the JSON files run.sh wrote in OUT_DIR.

    python bench/report.py OUT_DIR

Reads http-baseline.json / http-event.json (wrk summaries), import.json / copy.json
(bench/measure.py) with import-meta.json (events asked, events in the log afterwards),
and env.json. Writes OUT_DIR/results.json and OUT_DIR/results.md; prints the table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

P99_TARGET_MS = 50.0
THROUGHPUT_RATIO_TARGET = 0.5
IMPORT_TARGET_PER_S = 20_000


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _wrk(summary: dict[str, Any]) -> dict[str, float]:
    seconds = summary["duration_us"] / 1e6
    errors = sum(summary["errors"].values())
    return {
        "requests": summary["requests"],
        "rps": summary["requests"] / seconds,
        "p50_ms": summary["latency_us"]["p50"] / 1000,
        "p99_ms": summary["latency_us"]["p99"] / 1000,
        "errors": errors,
    }


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    out = Path(sys.argv[1])
    env = _load(out / "env.json") or {}
    results: dict[str, Any] = {"env": env}
    rows: list[tuple[str, str, str, str, str]] = []

    base, event = _load(out / "http-baseline.json"), _load(out / "http-event.json")
    if base and event:
        b, e = _wrk(base), _wrk(event)
        ratio = e["rps"] / b["rps"]
        results["http"] = {"baseline": b, "event": e, "throughput_ratio": ratio}
        rows += [
            (
                "HTTP throughput (req/s)",
                f"{e['rps']:.0f}",
                f"{b['rps']:.0f}",
                f"{ratio:.2f}x (target >= {THROUGHPUT_RATIO_TARGET}x)",
                _met(ratio >= THROUGHPUT_RATIO_TARGET),
            ),
            ("HTTP p50 latency (ms)", f"{e['p50_ms']:.1f}", f"{b['p50_ms']:.1f}", "", ""),
            (
                "HTTP p99 latency (ms)",
                f"{e['p99_ms']:.1f}",
                f"{b['p99_ms']:.1f}",
                f"target <= {P99_TARGET_MS:.0f} ms",
                _met(e["p99_ms"] <= P99_TARGET_MS),
            ),
            (
                "HTTP requests / errors",
                f"{e['requests']} / {e['errors']}",
                f"{b['requests']} / {b['errors']}",
                "",
                "",
            ),
        ]

    imp, copy, meta = (
        _load(out / "import.json"),
        _load(out / "copy.json"),
        _load(out / "import-meta.json"),
    )
    if imp and meta:
        imported = meta["events_in_log"]
        finished = imp["status"] == 0 and imported == meta["events_asked"]
        rate = imported / imp["seconds"]
        results["import"] = {**imp, **meta, "events_per_s": rate, "finished": finished}
        copy_rate = meta["events_asked"] / copy["seconds"] if copy and copy["status"] == 0 else None
        if copy_rate is not None:
            results["copy"] = {**(copy or {}), "rows_per_s": copy_rate}
        note = (
            ""
            if finished
            else f" (stopped after {imp['seconds']:.0f} s: {imported} of {meta['events_asked']})"
        )
        rows += [
            (
                f"import_events (events/s){note}",
                f"{rate:,.0f}",
                f"{copy_rate:,.0f}" if copy_rate else "n/a",
                f"{rate / copy_rate:.2f}x of COPY; target >= {IMPORT_TARGET_PER_S:,}/s"
                if copy_rate
                else f"target >= {IMPORT_TARGET_PER_S:,}/s",
                _met(finished and rate >= IMPORT_TARGET_PER_S),
            ),
            (
                "import peak memory (MiB)",
                f"{imp['peak_rss_kib'] / 1024:.0f}",
                f"{copy['peak_rss_kib'] / 1024:.0f}" if copy else "n/a",
                "",
                "",
            ),
            (
                "import peak memory, all its processes (PSS, MiB)",
                f"{imp['peak_tree_pss_kib'] / 1024:.0f}" if "peak_tree_pss_kib" in imp else "n/a",
                f"{copy['peak_tree_pss_kib'] / 1024:.0f}"
                if copy and "peak_tree_pss_kib" in copy
                else "n/a",
                "",
                "",
            ),
            (
                "import wall time (s)",
                f"{imp['seconds']:.1f}",
                f"{copy['seconds']:.1f}" if copy else "n/a",
                "",
                "",
            ),
        ]

    header = ("figure", "measured", "baseline", "ratio / target", "met?")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in [header, tuple("-" * w for w in widths), *rows]
    ]
    table = "\n".join(lines)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
