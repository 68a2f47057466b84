"""Print and save the benchmark table from the JSON files run.sh wrote in OUT_DIR.

    python bench/report.py OUT_DIR

Reads http-{event,baseline,standalone}-runN.json (wrk summaries of each measured round
of the event path, the in-project baseline view and the standalone minimal DRF app),
import.json / copy.json (bench/measure.py) with import-meta.json (events asked, events in
the log afterwards), the Wrapped files (wrapped-precompute.json and .log,
wrapped-baseline.json, wrapped-{50,500}-precompute.log, get-{wrapped,document}-runN.json,
get-wrapped-stale*.json), the share files (render-cards.json from bench/render_cards.py,
share-render.json and .log, get-{page,card,document}-shareN.json) and env.json. Writes OUT_DIR/results.json and OUT_DIR/results.md;
prints the tables: HTTP (the event path beside both baselines), import and Wrapped.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from statistics import median
from typing import Any

P99_TARGET_MS = 50.0
THROUGHPUT_RATIO_TARGET = 0.5
IMPORT_TARGET_PER_S = 20_000
PRECOMPUTE_TARGET_PER_S = 500
PRECOMPUTE_MEMORY_TARGET_MIB = 500
HEAVY_RATIO_TARGET = 1.5
GET_RATIO_TARGET = 0.6
GET_P99_TARGET_MS = 20.0
STALE_P99_TARGET_MS = 100.0
SHARE_P99_TARGET_MS = 15.0
SHARE_RATIO_TARGET = 0.5
STORY_P50_TARGET_MS = 80.0
# precompute_wrapped --render-cards' line (wrapped/management/commands/precompute_wrapped.py).
CARDS_DRAWN = re.compile(r"Share cards .*: (?P<count>\d+) drawn in (?P<seconds>[\d.]+) s")
# precompute_wrapped's last line (wrapped/management/commands/precompute_wrapped.py).
PRECOMPUTED = re.compile(
    r"(?P<count>\d+) summaries computed .* in (?P<summaries>[\d.]+) s, after the population "
    r"statistics \(version \d+\) in (?P<populations>[\d.]+) s; (?P<total>[\d.]+) s in all"
)


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


def _rounds(out: Path, name: str, prefix: str = "http") -> dict[str, dict[str, float]]:
    """One target's wrk figures per measured round (PREFIX-NAME-run1.json, ...), by round;
    an older output directory's single run (http-NAME.json) counts as one round."""
    files = {path.stem.rpartition("-")[2]: path for path in out.glob(f"{prefix}-{name}-run*.json")}
    if not files and (out / f"{prefix}-{name}.json").exists():
        files = {"run": out / f"{prefix}-{name}.json"}
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


def _precomputed(path: Path) -> dict[str, float] | None:
    """The figures of precompute_wrapped's last line in a log, if it got there."""
    found = PRECOMPUTED.search(path.read_text()) if path.exists() else None
    return {k: float(v) for k, v in found.groupdict().items()} if found else None


def _wrapped(out: Path, results: dict[str, Any]) -> str | None:
    """Precompute (beside one SQL statement), light vs heavy users, GET of fresh
    summaries (beside the standalone GET by primary key), GET of stale summaries."""
    measured, line = (
        _load(out / "wrapped-precompute.json"),
        _precomputed(out / "wrapped-precompute.log"),
    )
    if not measured or not line:
        return None
    rows: list[tuple[str, ...]] = []
    rate = line["count"] / measured["seconds"]
    memory = measured["peak_tree_pss_kib"] / 1024
    base = _load(out / "wrapped-baseline.json")
    users_file = out / "wrapped-baseline-users.txt"
    base_rate = (
        int(users_file.read_text()) / base["seconds"]
        if base and base["status"] == 0 and users_file.exists()
        else None
    )
    wrapped: dict[str, Any] = {
        "precompute": {**measured, **line, "summaries_per_s": rate},
        "baseline": {**(base or {}), "users_per_s": base_rate},
    }
    rate_met = measured["status"] == 0 and rate >= PRECOMPUTE_TARGET_PER_S
    rows += [
        (
            "precompute (summaries/s, wall time of the command)",
            f"{rate:,.0f}",
            f"{base_rate:,.0f} users/s" if base_rate else "n/a",
            f">= {PRECOMPUTE_TARGET_PER_S}/s",
            _met(rate_met),
        ),
        (
            "  of which population statistics / summaries (s)",
            f"{line['populations']:.1f} / {line['summaries']:.1f}",
            f"{base['seconds']:.1f} in all" if base else "n/a",
            "",
            "",
        ),
        (
            "precompute peak memory, all its processes (PSS, MiB)",
            f"{memory:.0f}",
            "n/a (its work is in PostgreSQL)",
            f"<= {PRECOMPUTE_MEMORY_TARGET_MIB} MiB",
            _met(memory <= PRECOMPUTE_MEMORY_TARGET_MIB),
        ),
        (
            "precompute peak memory, largest process (RSS, MiB)",
            f"{measured['peak_rss_kib'] / 1024:.0f}",
            "n/a",
            "",
            "",
        ),
    ]
    light, heavy = (_precomputed(out / f"wrapped-{n}-precompute.log") for n in (50, 500))
    if light and heavy:
        per = {n: 1000 * f["summaries"] / f["count"] for n, f in ((50, light), (500, heavy))}
        ratio = per[500] / per[50]
        wrapped["light_vs_heavy"] = {"ms_per_summary": per, "ratio": ratio}
        rows.append(
            (
                "time per summary, 500 vs 50 events per user (ms)",
                f"{per[500]:.2f}",
                f"{per[50]:.2f}",
                f"{ratio:.2f}x; target <= {HEAVY_RATIO_TARGET}x",
                _met(ratio <= HEAVY_RATIO_TARGET),
            )
        )

    rounds = {name: _rounds(out, name, "get") for name in ("wrapped", "document")}
    if rounds["wrapped"] and rounds["document"]:
        got, doc = rounds["wrapped"], rounds["document"]
        ratios = [got[t]["rps"] / doc[t]["rps"] for t in got if t in doc]
        errors = sum(r["errors"] for r in got.values())
        p99s = [r["p99_ms"] for r in got.values()]
        wrapped["get_fresh"] = {"wrapped": got, "document": doc, "ratio": median(ratios)}
        rows += [
            (
                "GET fresh (req/s): Wrapped vs standalone GET by key",
                _spread([r["rps"] for r in got.values()], "{:.0f}"),
                _spread([r["rps"] for r in doc.values()], "{:.0f}"),
                f"{_spread(ratios, '{:.2f}x')}; target >= {GET_RATIO_TARGET}x",
                _met(errors == 0 and median(ratios) >= GET_RATIO_TARGET),
            ),
            (
                "GET fresh p99 latency (ms)",
                _spread(p99s, "{:.1f}"),
                _spread([r["p99_ms"] for r in doc.values()], "{:.1f}"),
                f"<= {GET_P99_TARGET_MS:.0f} ms",
                _met(errors == 0 and median(p99s) <= GET_P99_TARGET_MS),
            ),
        ]
    env = results.get("env", {})
    first_stale = _load(out / "get-wrapped-stale.json")
    # The second stale run starts half-way through the users: valid only if the first
    # did not get there (its users would be fresh by then).
    overlap = bool(first_stale and first_stale["requests"] >= env.get("wrapped_users", 0) // 2)
    for tag, connections in (
        ("stale", env.get("connections")),
        ("stale-workers", env.get("gunicorn_workers")),
    ):
        summary = _load(out / f"get-wrapped-{tag}.json")
        if summary is None:
            continue
        stale = _wrk(summary)
        wrapped[tag.replace("-", "_")] = stale
        at_target = tag == "stale"
        if tag == "stale-workers" and overlap:
            connections = f"{connections} (INVALID: some users were fresh already)"
        rows.append(
            (
                f"GET stale, recomputed on the spot, {connections} connections: p99 (ms)",
                f"{stale['p99_ms']:.1f} (p50 {stale['p50_ms']:.1f}, {stale['rps']:.0f} req/s)",
                "",
                f"<= {STALE_P99_TARGET_MS:.0f} ms" if at_target else "",
                _met(stale["errors"] == 0 and stale["p99_ms"] <= STALE_P99_TARGET_MS)
                if at_target
                else "",
            )
        )
    results["wrapped"] = wrapped
    return _table(("Wrapped", "measured", "baseline", "ratio / target", "met?"), rows)


def _share_rounds(out: Path, name: str) -> dict[str, dict[str, float]]:
    """One target's wrk figures per measured round of the share section, by round."""
    paths = out.glob(f"get-{name}-share[0-9]*.json")
    return {p.stem.rpartition("-")[2]: _wrk(json.loads(p.read_text())) for p in sorted(paths)}


def _share(out: Path, results: dict[str, Any]) -> str | None:
    """Render time per card format (beside a one-line Pillow card), the cards drawn by
    precompute_wrapped --render-cards, and GET of the share page and of a stored card
    (beside the standalone GET by primary key, in the same rounds)."""
    rows: list[tuple[str, ...]] = []
    share: dict[str, Any] = {}
    render = _load(out / "render-cards.json")
    if render:
        share["render"] = render
        for fmt, figures in render["formats"].items():
            story = fmt == "story"
            rows.append(
                (
                    f"render {fmt} card, p50 / p95 (ms)",
                    f"{figures['p50_ms']:.1f} / {figures['p95_ms']:.1f}",
                    f"{figures['baseline_p50_ms']:.1f} / {figures['baseline_p95_ms']:.1f}",
                    f"p50 <= {STORY_P50_TARGET_MS:.0f} ms" if story else "",
                    _met(figures["p50_ms"] <= STORY_P50_TARGET_MS) if story else "",
                )
            )
    log = out / "share-render.log"
    drawn = CARDS_DRAWN.search(log.read_text()) if log.exists() else None
    measured = _load(out / "share-render.json")
    if drawn and measured:
        count, seconds = int(drawn["count"]), float(drawn["seconds"])
        share["precompute_cards"] = {"cards": count, "seconds": seconds, **measured}
        rows.append(
            (
                "precompute_wrapped --render-cards (cards/s)",
                f"{count / seconds:,.1f} ({count} in {seconds:.0f} s)" if seconds else "n/a",
                "",
                "",
                "",
            )
        )
    for name, label in (("page", "share page"), ("card", "stored og card")):
        got, base = _share_rounds(out, name), _share_rounds(out, "document")
        if not got or not base:
            continue
        ratios = [got[t]["rps"] / base[t]["rps"] for t in got if t in base]
        errors = sum(r["errors"] for r in got.values())
        p99s = [r["p99_ms"] for r in got.values()]
        share[name] = {"measured": got, "baseline": base, "ratio": median(ratios)}
        rows += [
            (
                f"GET {label} (req/s) vs standalone GET by key",
                _spread([r["rps"] for r in got.values()], "{:.0f}"),
                _spread([r["rps"] for r in base.values()], "{:.0f}"),
                f"{_spread(ratios, '{:.2f}x')}; target >= {SHARE_RATIO_TARGET}x",
                _met(errors == 0 and median(ratios) >= SHARE_RATIO_TARGET),
            ),
            (
                f"GET {label} p99 latency (ms)",
                _spread(p99s, "{:.1f}"),
                _spread([r["p99_ms"] for r in base.values()], "{:.1f}"),
                f"<= {SHARE_P99_TARGET_MS:.0f} ms",
                _met(errors == 0 and median(p99s) <= SHARE_P99_TARGET_MS),
            ),
        ]
    if not rows:
        return None
    results["share"] = share
    return _table(("Share pages and cards", "measured", "baseline", "ratio / target", "met?"), rows)


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
    wrapped = _wrapped(out, results)
    if wrapped:
        tables.append(wrapped)
    share = _share(out, results)
    if share:
        tables.append(share)
    table = "\n\n".join(tables)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
