"""Micro-benchmark of the share-card renderer (`wrapped.cards.render_card`).

    SECRET_KEY=x DJANGO_SETTINGS_MODULE=trophy_site.settings PYTHONPATH=. \\
        .venv/bin/python bench/render_cards.py [--n 50]

Renders each format N times for a typical recap (after one warm-up render, which opens
the fonts and reads their character maps) and prints p50 and p95 per format, in ms.
The baseline, measured in the same run: Pillow drawing a canvas of the same size with
one line of text in its default font and encoding it as PNG at the same settings (what
a minimal renderer costs). Target: story p50 ≤ 80 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from wrapped.branding import Brand
from wrapped.cards import FORMATS, PNG_COMPRESSION, render_card
from wrapped.recap import Fact, Recap

RECAP = Recap(
    year=2025,
    name="Alex Johnson",
    hero=Fact("142", "days in a row"),
    facts=(
        Fact("12,480", "lessons completed", "top 10%"),
        Fact("March", "most active month"),
        Fact("48", "weeks active"),
    ),
)
BRAND = Brand(name="Acme Learning", background="#1b1340", accent="#ffcc33")
HOST = "127.0.0.1:8000"


def baseline(fmt: str, **png: int) -> bytes:
    """One default-font line on a plain canvas of the format's size, as PNG (with the
    renderer's PNG settings unless others are given)."""
    image = Image.new("RGB", FORMATS[fmt], (27, 19, 64))
    ImageDraw.Draw(image).text(
        (64, 64), "142 days in a row", fill=(255, 255, 255), font=ImageFont.load_default()
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False, **(png or PNG_COMPRESSION))
    return buffer.getvalue()


def timings(work: Callable[[], bytes], n: int) -> list[float]:
    work()  # warm-up
    result = []
    for _ in range(n):
        start = time.perf_counter()
        work()
        result.append((time.perf_counter() - start) * 1000)
    return result


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50, help="renders per format (default 50)")
    parser.add_argument("--json", help="also write the figures to this file (for bench/report.py)")
    arguments = parser.parse_args()
    n = arguments.n
    figures: dict[str, dict[str, float]] = {}
    print(f"{n} renders per format after one warm-up; times in ms (p50 / p95)")
    print(f"{'format':<8} {'size':>10} {'card':>14} {'baseline':>14} {'baseline, level 6':>18}")
    for fmt, (width, height) in FORMATS.items():
        card = timings(partial(render_card, RECAP, BRAND, fmt, host=HOST), n)
        base = timings(partial(baseline, fmt), n)
        figures[fmt] = {
            "p50_ms": percentile(card, 0.5),
            "p95_ms": percentile(card, 0.95),
            "baseline_p50_ms": percentile(base, 0.5),
            "baseline_p95_ms": percentile(base, 0.95),
        }
        default = timings(partial(baseline, fmt, compress_level=6), n)
        print(
            f"{fmt:<8} {f'{width}x{height}':>10} {_pair(card):>14} {_pair(base):>14} "
            f"{_pair(default):>18}"
        )
    print(
        "baseline: one default-font line on a plain canvas, PNG-encoded with the renderer's "
        "settings (zlib level 3); the last column at Pillow's default level 6."
    )
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({"renders": n, "formats": figures}, indent=2))


def _pair(values: list[float]) -> str:
    return f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f}"


if __name__ == "__main__":
    main()
