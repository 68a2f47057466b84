"""A tenant's look on share pages and cards, and the colour rules both follow.

`Brand` is plain data (the renderer is a pure function of it); `wrapped.sharing` builds it
from the `Branding` row. Text colours are chosen for contrast in code (WCAG 2.x relative
luminance): small text ≥ 4.5:1 against the background, the hero ≥ 3:1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEX = re.compile(r"^#[0-9a-fA-F]{6}$")

DEFAULT_BACKGROUND = "#1b1340"
DEFAULT_ACCENT = "#ffcc33"
LIGHT = "#ffffff"
DARK = "#000000"

SMALL_TEXT = 4.5  # WCAG AA, normal text
LARGE_TEXT = 3.0  # WCAG AA, large text (the hero numeral)

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Brand:
    name: str
    background: str = DEFAULT_BACKGROUND
    accent: str = DEFAULT_ACCENT
    logo: bytes | None = None  # an image file's bytes (PNG, JPEG, WebP)
    locale: str = "en"


def rgb(color: str) -> RGB:
    if not HEX.match(color):
        raise ValueError(f"{color!r} is not a colour in #rrggbb form.")
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def luminance(color: RGB) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """The WCAG contrast ratio of two colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@dataclass(frozen=True)
class Palette:
    """The colours a page or card is drawn in, each checked against the background."""

    background: RGB
    text: RGB  # names, labels, supporting facts: ≥ 4.5:1
    muted: RGB  # footer and secondary labels: ≥ 4.5:1 too
    hero: RGB  # the big numeral: the accent when it reaches 3:1, else the text colour

    def css(self) -> dict[str, str]:
        return {
            name: "#{:02x}{:02x}{:02x}".format(*getattr(self, name))
            for name in self.__dataclass_fields__
        }


def mix(a: RGB, b: RGB, share: float) -> RGB:
    """`a` moved toward `b` by `share` (0 to 1)."""
    return tuple(round(x + (y - x) * share) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def palette(brand: Brand) -> Palette:
    background = rgb(brand.background)
    # Of white and black, whichever contrasts more: one of them always reaches 4.58:1
    # (the worst background has a relative luminance of about 0.18).
    text = max((rgb(LIGHT), rgb(DARK)), key=lambda c: contrast(c, background))
    # Muted: the text colour blended toward the background, as far as 4.5:1 allows.
    muted = text
    for share in (0.35, 0.25, 0.15):
        candidate = mix(text, background, share)
        if contrast(candidate, background) >= SMALL_TEXT:
            muted = candidate
            break
    accent = rgb(brand.accent)
    hero = accent if contrast(accent, background) >= LARGE_TEXT else text
    return Palette(background=background, text=text, muted=muted, hero=hero)
