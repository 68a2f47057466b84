"""The grids (one per format, defined once in `GRIDS`), the colours, and `layout`: what a
card draws where, with every text fitted into its box."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import regex
from PIL import Image

from wrapped.branding import (
    DARK,
    LARGE_TEXT,
    LIGHT,
    RGB,
    SMALL_TEXT,
    Brand,
    Palette,
    contrast,
    mix,
    palette,
    rgb,
)
from wrapped.cards import fonts
from wrapped.cards.text import DEFAULT_ENGINE, Box4, Layout, Line, ellipsized, graphemes, shape
from wrapped.recap import Fact, Recap

FORMATS: dict[str, tuple[int, int]] = {
    "story": (1080, 1920),
    "square": (1080, 1080),
    "og": (1200, 630),
}

Role = Literal["text", "muted", "hero", "ink", "accent", "tint", "line"]
Align = Literal["left", "right", "center"]

BASELINE = 0.25  # a line's baseline sits this many ems above its box's bottom (`drop`)
PILL_PAD = (0.6, 4)  # a note's pill around its text: ems across, pixels down
CAP_MIDDLE = 0.36  # ems from the baseline to the middle of Noto Sans' capitals and digits


@dataclass(frozen=True)
class TextBox:
    """Where one text goes: its rectangle (the ink stays inside), the largest and the
    smallest font size, weight, alignment and colour. A pill box is the pill's largest
    extent: the text's box is inset by `PILL_PAD` and the pill hugs the text."""

    rect: Box4
    max_size: int
    min_size: int
    bold: bool = False
    align: Align = "left"
    role: Role = "text"
    pill: bool = False  # a pill (its text centred vertically), else on a baseline
    drop: float = BASELINE  # the baseline's height above the box's bottom, in ems

    def inner(self) -> Box4:
        if not self.pill:
            return self.rect
        x0, y0, x1, y1 = self.rect
        across = round(self.max_size * PILL_PAD[0])
        return x0 + across, y0 + PILL_PAD[1], x1 - across, y1 - PILL_PAD[1]


@dataclass(frozen=True)
class Shape:
    """A filled shape: a rectangle with rounded corners (`radius`; a pill when half the
    height), a circle or a sun (a striped half disc rising from its horizon: the
    cards' motif); `rect` bounds the whole disc, the sun shows its top half and stripes."""

    rect: Box4
    role: Role
    radius: int = 0
    kind: Literal["rect", "circle", "sun"] = "rect"


@dataclass(frozen=True)
class FactSlot:
    value: TextBox
    label: TextBox
    note: TextBox
    rule: Shape | None = None


@dataclass(frozen=True)
class Grid:
    size: tuple[int, int]
    safe: Box4  # all text inside
    kicker: TextBox  # "2025 in review"
    title: TextBox  # the display name (or "Your 2025")
    hero: TextBox
    hero_label: TextBox
    facts: tuple[FactSlot, ...]
    brand: TextBox  # footer: the tenant's name
    host: TextBox  # footer: the share URL's host
    logo: Box4  # the logo is scaled to fit, aligned by `logo_align`
    logo_align: Align
    fills: tuple[Shape, ...] = ()  # decoration under everything
    with_facts: tuple[Shape, ...] = ()  # decoration over the fills when facts are shown
    without_facts: tuple[Shape, ...] = ()  # in the facts' place when there are none
    rule: Shape | None = None  # the accent rule above the hero
    panel: Shape | None = None  # og: the accent panel holding logo and facts
    year: TextBox | None = None  # og: the year in the panel when there is no logo
    on_panel: frozenset[str] = field(default_factory=frozenset)


def _story() -> Grid:
    left, right = 96, 984
    facts = []
    for i in range(3):
        top = 980 + i * 164
        facts.append(
            FactSlot(
                value=TextBox((left, top + 18, 700, top + 86), 48, 36, bold=True),
                label=TextBox((left, top + 84, right, top + 144), 44, 32, role="muted"),
                note=TextBox(
                    (724, top + 24, right, top + 80), 30, 28, True, "right", role="ink", pill=True
                ),
                rule=Shape((left, top, right, top + 2), "line"),
            )
        )
    return Grid(
        size=FORMATS["story"],
        safe=(96, 220, 984, 1640),
        kicker=TextBox((left, 252, 640, 304), 36, 28, bold=True, role="muted"),
        title=TextBox((left, 340, right, 444), 80, 44, bold=True),
        hero=TextBox((left, 510, right, 800), 320, 96, bold=True, role="hero", drop=0.03),
        hero_label=TextBox((left, 820, right, 900), 56, 40),
        facts=tuple(facts),
        brand=TextBox((left, 1572, 560, 1624), 32, 28, bold=True),
        host=TextBox((580, 1572, right, 1624), 32, 28, align="right", role="muted"),
        logo=(704, 236, right, 332),
        logo_align="right",
        fills=(Shape((470, 120, 1590, 1240), "tint", kind="circle"),),
        with_facts=(Shape((700, 1700, 1020, 2020), "accent", kind="sun"),),
        without_facts=(
            Shape((190, 1040, 890, 1740), "accent", kind="sun"),
            Shape((left, 1390, right, 1398), "accent", radius=4),
        ),
        rule=Shape((left, 484, left + 120, 498), "accent", radius=7),
    )


def _square() -> Grid:
    left, right = 80, 1000
    facts = []
    for x in (left, 560):
        facts.append(
            FactSlot(
                value=TextBox((x, 684, x + 420, 750), 48, 32, bold=True),
                label=TextBox((x, 750, x + 420, 798), 32, 28, role="muted"),
                note=TextBox((x, 812, x + 260, 860), 28, 28, bold=True, role="ink", pill=True),
                rule=Shape((x, 668, x + 420, 670), "line"),
            )
        )
    return Grid(
        size=FORMATS["square"],
        safe=(80, 80, 1000, 1000),
        kicker=TextBox((left, 80, 600, 124), 32, 28, bold=True, role="muted"),
        title=TextBox((left, 164, right, 240), 60, 36, bold=True),
        hero=TextBox((left, 290, right, 520), 240, 80, bold=True, role="hero", drop=0.03),
        hero_label=TextBox((left, 536, right, 600), 44, 32),
        facts=tuple(facts),
        brand=TextBox((left, 944, 520, 996), 28, 28, bold=True),
        host=TextBox((540, 944, right, 996), 28, 28, align="right", role="muted"),
        logo=(760, 80, right, 156),
        logo_align="right",
        fills=(Shape((620, -300, 1500, 580), "tint", kind="circle"),),
        with_facts=(Shape((984, 984, 1176, 1176), "accent", kind="circle"),),
        without_facts=(
            Shape((300, 650, 780, 1130), "accent", kind="sun"),
            Shape((left, 886, right, 892), "accent", radius=3),
        ),
        rule=Shape((left, 258, left + 100, 270), "accent", radius=6),
    )


def _og() -> Grid:
    left, right = 64, 752  # the left two thirds
    panel = (800, 64, 1136, 566)
    inside = (832, 1104)
    facts = []
    for top in (204, 364):
        facts.append(
            FactSlot(
                value=TextBox((inside[0], top, inside[1], top + 52), 44, 28, bold=True, role="ink"),
                label=TextBox((inside[0], top + 52, inside[1], top + 90), 28, 28, role="ink"),
                note=TextBox(
                    (inside[0], top + 96, inside[1], top + 140),
                    28,
                    28,
                    bold=True,
                    role="accent",
                    pill=True,
                ),
            )
        )
    return Grid(
        size=FORMATS["og"],
        safe=(64, 64, 1136, 566),
        kicker=TextBox((left, 64, right, 104), 28, 28, bold=True, role="muted"),
        title=TextBox((left, 108, right, 176), 48, 32, bold=True),
        hero=TextBox((left, 180, right, 380), 176, 72, bold=True, role="hero", drop=0.03),
        hero_label=TextBox((left, 392, right, 444), 36, 28),
        facts=tuple(facts),
        brand=TextBox((left, 512, 400, 556), 28, 28, bold=True),
        host=TextBox((408, 512, right, 556), 28, 28, align="right", role="muted"),
        logo=(inside[0], 92, inside[1], 168),
        logo_align="center",
        fills=(Shape((-260, 330, 300, 890), "tint", kind="circle"),),
        without_facts=(
            Shape((828, 300, 1108, 580), "ink", kind="sun"),
            Shape((inside[0], 448, inside[1], 452), "ink", radius=2),
        ),
        rule=None,
        panel=Shape(panel, "accent", radius=28),
        year=TextBox((inside[0], 92, inside[1], 168), 64, 40, bold=True, role="ink"),
        on_panel=frozenset({"year", "fact0", "fact1"}),
    )


GRIDS: dict[str, Grid] = {"story": _story(), "square": _square(), "og": _og()}


@dataclass(frozen=True)
class Colours:
    """The palette (`wrapped.branding`, contrast-checked there) and the colours the cards
    add, each checked here too: `ink` on the accent, `tint` under text."""

    palette: Palette
    accent: RGB
    ink: RGB  # text on the accent: black or white, whichever contrasts more (≥ 4.58:1)
    tint: RGB  # the background's shade for shapes that text may cross
    line: RGB  # hairlines between facts

    def of(self, role: Role) -> RGB:
        p = self.palette
        return {
            "text": p.text,
            "muted": p.muted,
            "hero": p.hero,
            "ink": self.ink,
            "accent": self.accent,
            "tint": self.tint,
            "line": self.line,
        }[role]


def _readable_on(ground: RGB, p: Palette) -> bool:
    return (
        contrast(p.text, ground) >= SMALL_TEXT
        and contrast(p.muted, ground) >= SMALL_TEXT
        and contrast(p.hero, ground) >= LARGE_TEXT
    )


def colours(brand: Brand) -> Colours:
    p = palette(brand)
    accent = rgb(brand.accent)
    ink = max((rgb(LIGHT), rgb(DARK)), key=lambda c: contrast(c, accent))
    away = rgb(DARK) if p.text == rgb(LIGHT) else rgb(LIGHT)
    tint = p.background
    for target, share in ((away, 0.28), (away, 0.6), (away, 1.0), (p.text, 0.08)):
        candidate = mix(p.background, target, share)
        visible = max(abs(x - y) for x, y in zip(candidate, p.background, strict=True)) >= 10
        if visible and _readable_on(candidate, p):
            tint = candidate
            break
    return Colours(p, accent, ink, tint, mix(p.background, p.text, 0.3))


@dataclass(frozen=True)
class DrawnText:
    """One text as drawn: its grid box, the text (ellipsized when it did not fit), the
    font size, where the line's origin is, the ink's bounding box on the card, and its
    colour and the colours it may sit on."""

    name: str
    box: Box4
    text: str
    size: int
    min_size: int
    ellipsized: bool
    line: Line
    origin: tuple[int, int]
    bbox: Box4
    fill: RGB
    grounds: tuple[RGB, ...]


@dataclass(frozen=True)
class CardLayout:
    fmt: str
    size: tuple[int, int]
    safe: Box4
    colours: Colours
    shapes: tuple[tuple[Shape, RGB], ...]  # in drawing order
    texts: tuple[DrawnText, ...]
    logo: tuple[Image.Image, tuple[int, int]] | None  # RGBA image and its top left
    engine: Layout


def _place(box: TextBox, line: Line) -> tuple[tuple[int, int], Box4] | None:
    """The line's origin in `box` and its ink on the card, or None if it does not fit."""
    x0, y0, x1, y1 = box.inner()
    left, top, right, bottom = line.ink
    if right - left > x1 - x0 or bottom - top > y1 - y0:
        return None
    if box.align == "left":
        x = x0
    elif box.align == "right":
        x = x1 - line.width
    else:
        x = (x0 + x1 - line.width) // 2
    x = min(max(x, x0 - left), x1 - right)  # keep the ink inside (side bearings)
    if box.pill:
        y = (y0 + y1) // 2 + round(CAP_MIDDLE * line.size)
    else:
        y = y1 - math.ceil(box.drop * line.size)
    y = min(y, y1 - bottom)  # descenders inside
    if y + top < y0:
        return None
    return (x, y), (x + left, y + top, x + right, y + bottom)


def fit(box: TextBox, text: str, engine: Layout) -> tuple[Line, tuple[int, int], Box4, bool]:
    """`text` in `box`: at the largest size that fits, down to the box's minimum; at the
    minimum, cut at a grapheme cluster boundary and ended with an ellipsis."""
    size = box.max_size
    while True:
        line = shape(text, size=size, bold=box.bold, engine=engine)
        placed = _place(box, line)
        if placed is not None:
            return line, placed[0], placed[1], False
        if size <= box.min_size:
            break
        x0, y0, x1, y1 = box.inner()
        ink_w = max(1, line.ink[2] - line.ink[0])
        ink_h = max(1, line.ink[3] - line.ink[1])
        ratio = min((x1 - x0) / ink_w, (y1 - y0) / ink_h, 1.0)
        size = max(box.min_size, min(size - 1, math.floor(size * ratio)))
    clusters = graphemes(text)
    low, high = 0, len(clusters) - 1
    best: tuple[Line, tuple[int, int], Box4] | None = None
    while low <= high:
        keep = (low + high) // 2
        line = shape(ellipsized(text, keep), size=size, bold=box.bold, engine=engine)
        placed = _place(box, line)
        if placed is None:
            high = keep - 1
        else:
            best = (line, placed[0], placed[1])
            low = keep + 1
    if best is None:  # not even the ellipsis fits: a grid error
        raise ValueError(f"A {box.rect} box cannot hold {text!r} at {size} px.")
    return best[0], best[1], best[2], True


# Removed from texts: explicit bidi controls (the bidi here is implicit only, and an
# override must not turn a name around); control characters count as spaces.
_BIDI_CONTROLS = regex.compile(r"\p{Bidi_Control}")
_CONTROLS = regex.compile(r"\p{Cc}")


def _clean(text: str) -> str:
    return " ".join(_CONTROLS.sub(" ", _BIDI_CONTROLS.sub("", text)).split())


LOGO_PIXELS = 16_000_000  # larger logos are not decoded


@functools.lru_cache(maxsize=32)
def _logo(
    data: bytes | None, rect: Box4, align: Align
) -> tuple[Image.Image, tuple[int, int]] | None:
    """The logo scaled to fit `rect` and where it goes, or None when there is none or it
    cannot be read (kept per process for the few logos a server sees; never modified)."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > LOGO_PIXELS:
                return None
            image.load()
            picture = image.convert("RGBA")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    x0, y0, x1, y1 = rect
    scale = min((x1 - x0) / picture.width, (y1 - y0) / picture.height)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    picture = picture.resize(size, Image.Resampling.LANCZOS)
    if align == "left":
        x = x0
    elif align == "right":
        x = x1 - size[0]
    else:
        x = (x0 + x1 - size[0]) // 2
    return picture, (x, (y0 + y1 - size[1]) // 2)


def _contents(
    recap: Recap, brand: Brand, fmt: str, host: str, has_logo: bool
) -> Iterator[tuple[str, TextBox, str]]:
    """(name, box, text) for every text on the card (empty ones are skipped later)."""
    grid = GRIDS[fmt]
    name = _clean(recap.name)
    name = name if fonts.covered(name) else ""
    if recap.hero is None:
        yield "kicker", grid.kicker, "Year in review"
        yield "title", grid.title, name
        yield "hero", grid.hero, f"Your {recap.year}"
        yield "hero_label", grid.hero_label, "starts here"
        facts: tuple[Fact, ...] = ()
    else:
        yield "kicker", grid.kicker, f"{recap.year} in review" if name else "Year in review"
        yield "title", grid.title, name or f"Your {recap.year}"
        yield "hero", grid.hero, recap.hero.value
        yield "hero_label", grid.hero_label, recap.hero.label
        facts = recap.facts[: len(grid.facts)]
    for i, (slot, fact) in enumerate(zip(grid.facts, facts, strict=False)):
        yield f"fact{i}.value", slot.value, fact.value
        yield f"fact{i}.label", slot.label, fact.label
        yield f"fact{i}.note", slot.note, fact.note
    if grid.year is not None and not has_logo:
        yield "year", grid.year, str(recap.year)
    yield "brand", grid.brand, brand.name
    yield "host", grid.host, host


def layout(
    recap: Recap, brand: Brand, fmt: str, *, host: str, engine: Layout | None = None
) -> CardLayout:
    """What `render_card` draws: every shape and every text fitted into its box."""
    if fmt not in GRIDS:
        raise ValueError(f"Unknown card format {fmt!r}; expected one of {sorted(GRIDS)}.")
    engine = DEFAULT_ENGINE if engine is None else engine
    grid = GRIDS[fmt]
    c = colours(brand)
    logo = _logo(brand.logo, grid.logo, grid.logo_align)
    contents = list(_contents(recap, brand, fmt, host, logo is not None))
    decor = [*grid.fills, grid.panel, grid.rule]
    facts = any(name.startswith("fact") and text.strip() for name, _, text in contents)
    decor += grid.with_facts if facts else grid.without_facts
    shapes: list[tuple[Shape, RGB]] = [(s, c.of(s.role)) for s in decor if s is not None]
    texts: list[DrawnText] = []
    for name, box, content in contents:
        content = _clean(content)
        if not content:
            continue
        if name.endswith(".value"):
            slot = grid.facts[int(name[4:].split(".")[0])]
            if slot.rule is not None:
                shapes.append((slot.rule, c.of(slot.rule.role)))
        line, origin, bbox, cut = fit(box, content, engine)
        on_panel = grid.panel is not None and name.split(".")[0] in grid.on_panel
        fill = c.of(box.role)
        grounds: tuple[RGB, ...] = (c.accent,) if on_panel else (c.palette.background, c.tint)
        if box.pill:  # the note's pill: accent with ink on the field, inverted on the panel
            pad = round(box.max_size * PILL_PAD[0])
            rect = (origin[0] - pad, box.rect[1], origin[0] + line.width + pad, box.rect[3])
            radius = (box.rect[3] - box.rect[1]) // 2
            ground = c.ink if on_panel else c.accent
            shapes.append((Shape(rect, "accent", radius=radius), ground))
            grounds = (ground,)
        texts.append(
            DrawnText(
                name=name,
                box=box.inner(),
                text=line.text,
                size=line.size,
                min_size=box.min_size,
                ellipsized=cut,
                line=line,
                origin=origin,
                bbox=bbox,
                fill=fill,
                grounds=grounds,
            )
        )
    return CardLayout(
        fmt=fmt,
        size=grid.size,
        safe=grid.safe,
        colours=c,
        shapes=tuple(shapes),
        texts=tuple(texts),
        logo=logo,
        engine=engine,
    )
