"""One line of text: split into runs by font and direction, ordered for display, measured
with the fonts' real layout, fitted into a box (shrunk, then ellipsized) and drawn.

Bidi: the line's direction is that of its first strong character. Grapheme clusters get
embedding levels by a reduced Unicode bidi algorithm (no explicit embeddings; weak types
W2, W4, W5 and W7, neutrals N1/N2, implicit levels I1/I2) and runs are reordered by rule
L2. With raqm (`Layout.RAQM`, the default when Pillow has it) each right-to-left run is
passed to raqm logically with `direction="rtl"`, so Arabic is shaped and mirrored there.
Without raqm (`Layout.BASIC`) the clusters of a right-to-left run are reversed here and
paired brackets mirrored; Arabic is then drawn with its isolated letter forms (joining
forms need raqm) and emoji ZWJ sequences and flags as their separate parts.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import regex
from PIL import Image, ImageDraw, ImageFont, features

from wrapped.cards import fonts

Layout = ImageFont.Layout
DEFAULT_ENGINE: Layout = Layout.RAQM if features.check("raqm") else Layout.BASIC

ELLIPSIS = "…"
_MIRROR = str.maketrans("()[]{}<>«»\u2039\u203a", ")(][}{><»«\u203a\u2039")

Box4 = tuple[int, int, int, int]


@dataclass(frozen=True)
class Run:
    """A piece of a line in one font and direction, in visual order within its line."""

    text: str  # logical order
    font: str  # file name in static/fonts
    rtl: bool
    emoji: bool
    x: int  # left edge, from the line's origin
    width: int  # advance
    ink: Box4  # ink box relative to the line's origin on the baseline

    def drawn(self, engine: Layout) -> str:
        """What is handed to Pillow: the logical text for raqm, the visual for BASIC."""
        return _drawn(self.text, self.rtl, engine)


@dataclass(frozen=True)
class Line:
    text: str  # logical
    size: int
    rtl: bool  # the line's (paragraph's) direction
    runs: tuple[Run, ...]  # left to right
    width: int
    ink: Box4  # union of the runs' ink, relative to the origin on the baseline

    def visual(self) -> str:
        """The characters in the order BASIC draws them, left to right."""
        return "".join(run.drawn(Layout.BASIC) for run in self.runs)


def _drawn(text: str, rtl: bool, engine: Layout) -> str:
    if engine == Layout.RAQM or not rtl:
        return text
    return "".join(reversed(regex.findall(r"\X", text))).translate(_MIRROR)


def _direction(rtl: bool, engine: Layout) -> str | None:
    """Pillow's `direction` argument: raqm's, or None (BASIC has no such setting)."""
    if engine != Layout.RAQM:
        return None
    return "rtl" if rtl else "ltr"


def _strong(kind: str) -> str | None:
    if kind == "L":
        return "L"
    if kind in ("R", "AL"):
        return "R"
    return None


def _kinds(clusters: Sequence[str]) -> list[str]:
    """Each cluster's bidi class (its first character's), with weak types resolved."""
    kinds = [unicodedata.bidirectional(cluster[0]) or "ON" for cluster in clusters]
    # W2: European digits after Arabic letters are Arabic numbers.
    last = ""
    for i, kind in enumerate(kinds):
        if kind in ("L", "R", "AL"):
            last = kind
        elif kind == "EN" and last == "AL":
            kinds[i] = "AN"
    # W4: one separator between two numbers of the same kind joins them.
    for i in range(1, len(kinds) - 1):
        before, after = kinds[i - 1], kinds[i + 1]
        if kinds[i] == "CS" and before == after and before in ("EN", "AN"):
            kinds[i] = before
        elif kinds[i] == "ES" and before == after == "EN":
            kinds[i] = "EN"
    # W5: terminators (%, currency signs) next to European numbers are numbers.
    for i, kind in enumerate(kinds):
        if kind != "ET":
            continue
        j = i
        while j < len(kinds) and kinds[j] == "ET":
            j += 1
        k = i
        while k > 0 and kinds[k - 1] == "ET":
            k -= 1
        if (j < len(kinds) and kinds[j] == "EN") or (k > 0 and kinds[k - 1] == "EN"):
            kinds[i] = "EN"
    return kinds


def levels(text: str) -> tuple[bool, list[str], list[int]]:
    """The line's direction (True: right to left), its grapheme clusters and their
    embedding levels."""
    clusters = regex.findall(r"\X", text)
    kinds = _kinds(clusters)
    first = next((s for s in map(_strong, kinds) if s is not None), "L")
    rtl = first == "R"
    base = 1 if rtl else 0
    # W7: European numbers after L (or at the start of a left-to-right line) are L.
    last = "R" if rtl else "L"
    for i, kind in enumerate(kinds):
        strong = _strong(kind)
        if strong is not None:
            last = strong
        elif kind == "EN" and last == "L":
            kinds[i] = "L"
    # N1/N2: neutrals take the direction of the text on both sides when it agrees
    # (numbers count as right to left), else the line's.
    direction: list[str | None] = []
    for kind in kinds:
        direction.append(_strong(kind) or ("R" if kind in ("EN", "AN") else None))
    edge = "R" if rtl else "L"
    i = 0
    while i < len(direction):
        if direction[i] is not None:
            i += 1
            continue
        j = i
        while j < len(direction) and direction[j] is None:
            j += 1
        before = direction[i - 1] if i > 0 else edge
        after = direction[j] if j < len(direction) else edge
        for k in range(i, j):
            direction[k] = before if before == after else edge
        i = j
    # I1/I2: implicit levels.
    result = []
    for kind, way in zip(kinds, direction, strict=True):
        if kind in ("EN", "AN"):
            result.append(2)
        elif way == "R":
            result.append(1)
        else:
            result.append(2 if rtl else 0)
    return rtl, clusters, [max(level, base) for level in result]


def reorder(levels_: Sequence[int]) -> list[int]:
    """Rule L2: the visual order (indices) of items at these embedding levels."""
    order = list(range(len(levels_)))
    if not order:
        return order
    top = max(levels_)
    lowest_odd = min((level for level in levels_ if level % 2), default=top + 1)
    for level in range(top, lowest_odd - 1, -1):
        i = 0
        while i < len(order):
            if levels_[order[i]] >= level:
                j = i
                while j < len(order) and levels_[order[j]] >= level:
                    j += 1
                order[i:j] = reversed(order[i:j])
                i = j
            else:
                i += 1
    return order


def _pieces(text: str, bold: bool) -> tuple[bool, list[tuple[str, str, int, bool]]]:
    """The line's direction and its runs in logical order: (text, font, level, emoji)."""
    rtl, clusters, lvls = levels(text)
    pieces: list[tuple[str, str, int, bool]] = []
    previous: str | None = None
    for cluster, level in zip(clusters, lvls, strict=True):
        if fonts.is_emoji(cluster):
            pieces.append((cluster, fonts.EMOJI, level, True))
            continue
        kind = unicodedata.bidirectional(cluster[0])
        neutral = kind not in ("L", "R", "AL")
        prefer = previous if neutral and previous is not None else None
        file = fonts.text_font(cluster, bold=bold, prefer=prefer) or fonts.FALLBACK[bold][0]
        previous = file
        if pieces and not pieces[-1][3] and pieces[-1][1:3] == (file, level):
            pieces[-1] = (pieces[-1][0] + cluster, file, level, False)
        else:
            pieces.append((cluster, file, level, False))
    return rtl, pieces


def shape(text: str, *, size: int, bold: bool, engine: Layout = DEFAULT_ENGINE) -> Line:
    """`text` as one line at `size` px: runs in visual order with their positions and
    ink, measured by the fonts themselves (`getlength`/`getbbox` with the run's
    direction under raqm)."""
    rtl, pieces = _pieces(text, bold)
    order = reorder([level for _, _, level, _ in pieces])
    runs: list[Run] = []
    x = 0
    for index in order:
        piece, file, level, emoji = pieces[index]
        odd = level % 2 == 1
        if emoji:
            width = fonts.emoji_advance(piece, size, engine)
            ink = fonts.emoji_box(piece, size, engine)
        else:
            face = fonts.font(file, size, engine)
            drawn = _drawn(piece, odd, engine)
            direction = _direction(odd, engine)
            width = round(face.getlength(drawn, direction=direction))
            left, top, right, bottom = face.getbbox(drawn, anchor="ls", direction=direction)
            ink = (math.floor(left), math.floor(top), math.ceil(right), math.ceil(bottom))
        runs.append(
            Run(piece, file, odd, emoji, x, width, (x + ink[0], ink[1], x + ink[2], ink[3]))
        )
        x += width
    inks = [run.ink for run in runs if run.ink[2] > run.ink[0]]
    box = (
        (
            min(i[0] for i in inks),
            min(i[1] for i in inks),
            max(i[2] for i in inks),
            max(i[3] for i in inks),
        )
        if inks
        else (0, 0, 0, 0)
    )
    return Line(text, size, rtl, tuple(runs), x, box)


def graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def ellipsized(text: str, keep: int) -> str:
    """The first `keep` grapheme clusters of `text` and an ellipsis."""
    return "".join(graphemes(text)[:keep]).rstrip() + ELLIPSIS


def draw(
    image: Image.Image,
    line: Line,
    origin: tuple[int, int],
    fill: tuple[int, int, int],
    engine: Layout = DEFAULT_ENGINE,
) -> None:
    """Draw `line` on `image` with its origin (left end of the baseline) at `origin`."""
    x0, baseline = origin
    canvas = ImageDraw.Draw(image)
    for run in line.runs:
        x = x0 + run.x
        if run.emoji:
            picture = fonts.emoji_image(run.text, line.size, engine)
            top = baseline + run.ink[1]
            image.paste(picture, (x, top), picture)
            continue
        face = fonts.font(run.font, line.size, engine)
        canvas.text(
            (x, baseline),
            run.drawn(engine),
            fill=fill,
            font=face,
            anchor="ls",
            direction=_direction(run.rtl, engine),
        )
