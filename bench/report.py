"""Print and save the benchmark table from the JSON files run.sh wrote in OUT_DIR.

    python bench/report.py OUT_DIR

Reads http-{event,baseline,standalone}-runN.json (wrk summaries of each measured round
of the event path, the in-project baseline view and the standalone minimal DRF app),
import.json / copy.json (bench/measure.py) with import-meta.json (events asked, events in
the log afterwards), and env.json. Writes OUT_DIR/results.json and OUT_DIR/results.md; prints the
tables: HTTP (the event path beside both baselines) and import.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from statistics import median
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


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in [header, tuple("-" * w for w in widths), *rows]
    )


def _rounds(out: Path, name: str) -> dict[str, dict[str, float]]:
    """One target's wrk figures per measured round (http-NAME-run1.json, ...), by round;
    an older output directory's single run (http-NAME.json) counts as one round."""
    files = {path.stem.rpartition("-")[2]: path for path in out.glob(f"http-{name}-run*.json")}
    if not files and (out / f"http-{name}.json").exists():
        files = {"run": out / f"http-{name}.json"}
    return {tag: _wrk(json.loads(files[tag].read_text())) for tag in sorted(files)}


def _spread(values: list[float], fmt: str) -> str:
    """The median, and the range when there are several rounds."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def _http(out: Path, results: dict[str, Any]) -> str | None:
    """The event path beside the in-project and the standalone baselines. With several
    rounds, each figure is the median of the rounds (range in brackets), and a ratio is
    the median of the rounds' ratios (each round measures the three back to back)."""
    rounds = {name: _rounds(out, name) for name in ("event", "baseline", "standalone")}
    event = rounds["event"]
    if not event:
        return None

    def figures(name: str, key: str) -> list[float]:
        return [r[key] for r in rounds[name].values()]

    def ratios(baseline: str) -> list[float]:
        base = rounds[baseline]
        return [event[t]["rps"] / base[t]["rps"] for t in event if t in base]

    errors = sum(figures("event", "errors"))
    ratio_s = median(ratios("standalone")) if ratios("standalone") else None
    p99 = median(figures("event", "p99_ms"))
    throughput_met = errors == 0 and ratio_s is not None and ratio_s >= THROUGHPUT_RATIO_TARGET
    p99_met = errors == 0 and p99 <= P99_TARGET_MS
    results["http"] = {
        **{
            name: {
                "rps": median(figures(name, "rps")),
                "p50_ms": median(figures(name, "p50_ms")),
                "p99_ms": median(figures(name, "p99_ms")),
                "requests": sum(figures(name, "requests")),
                "errors": sum(figures(name, "errors")),
                "rounds": by_round,
            }
            for name, by_round in rounds.items()
            if by_round
        },
        "throughput_ratio": median(ratios("baseline")) if ratios("baseline") else None,
        "throughput_ratio_standalone": ratio_s,
        "targets": {"throughput_vs_standalone": throughput_met, "p99": p99_met},
    }

    names = ("event", "baseline", "standalone")
    note = "" if errors == 0 else " (the event path answered errors)"
    rows: list[tuple[str, ...]] = [
        ("throughput (req/s)", *(_spread(figures(n, "rps"), "{:.0f}") for n in names), "", ""),
        (
            "event path / this baseline",
            "",
            _spread(ratios("baseline"), "{:.2f}x"),
            _spread(ratios("standalone"), "{:.2f}x"),
            f">= {THROUGHPUT_RATIO_TARGET}x standalone",
            "n/a" if ratio_s is None else _met(throughput_met) + note,
        ),
        ("p50 latency (ms)", *(_spread(figures(n, "p50_ms"), "{:.1f}") for n in names), "", ""),
        (
            "p99 latency (ms)",
            *(_spread(figures(n, "p99_ms"), "{:.1f}") for n in names),
            f"event path <= {P99_TARGET_MS:.0f} ms",
            _met(p99_met) + note,
        ),
        (
            "requests / errors",
            *(
                f"{sum(figures(n, 'requests')):.0f} / {sum(figures(n, 'errors')):.0f}"
                if rounds[n]
                else "n/a"
                for n in names
            ),
            "",
            "",
        ),
    ]
    header = ("HTTP", "event path", "in-project baseline", "standalone baseline", "target", "met?")
    table = _table(header, rows)
    if len(event) > 1:
        table += f"\n\n({len(event)} rounds: median (min-max) of the rounds)"
    return table


def main() -> None:
    out = Path(sys.argv[1])
    env = _load(out / "env.json") or {}
    results: dict[str, Any] = {"env": env}
    tables = [t for t in [_http(out, results)] if t]
    rows: list[tuple[str, str, str, str, str]] = []

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

    if rows:
        tables.append(_table(("import", "measured", "baseline", "ratio / target", "met?"), rows))
    table = "\n\n".join(tables)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
