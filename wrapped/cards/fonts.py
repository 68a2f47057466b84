"""The fonts shipped in `static/fonts/` and which of them draws which character.

Every font is opened once per process and size (`font`), every character map read once
(`codepoints`, with fontTools). A grapheme cluster goes to the first font of its weight's
fallback list that has all of its characters (`text_font`); emoji clusters go whole to
the colour emoji font (`is_emoji`), which FreeType opens only at its bitmap strike size
(`EMOJI_SIZE`): emoji are drawn at that size and scaled (`emoji_image`).
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

import regex
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(__file__).resolve().parents[2] / "static" / "fonts"

REGULAR = "NotoSans-Regular.ttf"
BOLD = "NotoSans-Bold.ttf"
ARABIC = "NotoSansArabic-Regular.ttf"
ARABIC_BOLD = "NotoSansArabic-Bold.ttf"
HEBREW = "NotoSansHebrew-Regular.ttf"
HEBREW_BOLD = "NotoSansHebrew-Bold.ttf"
CJK = "DroidSansFallbackFull.ttf"  # one weight only; no Hangul
KOREAN = "NanumGothic.ttf"
KOREAN_BOLD = "NanumGothicBold.ttf"
EMOJI = "NotoColorEmoji.ttf"
EMOJI_SIZE = 109  # the CBDT strike: the only size FreeType opens the font at

# The fallback lists, in order of preference.
FALLBACK: dict[bool, tuple[str, ...]] = {
    False: (REGULAR, ARABIC, HEBREW, CJK, KOREAN),
    True: (BOLD, ARABIC_BOLD, HEBREW_BOLD, CJK, KOREAN_BOLD),
}

# Characters that never need a glyph of their own: joiners, variation selectors, tags
# and bidi controls (the font of the cluster they belong to decides).
_IGNORABLE = regex.compile(r"[\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]")
_PICTOGRAPHIC = regex.compile(r"\p{Extended_Pictographic}")
_EMOJI_PRESENTATION = regex.compile(r"\p{Emoji_Presentation}|\p{Regional_Indicator}|\u20e3")

Layout = ImageFont.Layout


@functools.cache
def codepoints(file: str) -> frozenset[int]:
    """The characters `file` maps to a glyph (its best cmap, read once per process)."""
    with TTFont(FONT_DIR / file, lazy=True) as ttf:
        return frozenset(ttf.getBestCmap())


@functools.lru_cache(maxsize=512)
def font(file: str, size: int, engine: Layout) -> ImageFont.FreeTypeFont:
    """`file` at `size` px laid out by `engine` (opened once per process and size; the
    fitting tries a few sizes per box, so the cache is bounded). Shared by threads: Pillow
    uses a face under the GIL (and locks it in free-threaded builds since 12.2)."""
    return ImageFont.truetype(str(FONT_DIR / file), size, layout_engine=engine)


def needs(cluster: str) -> list[int]:
    """The characters of `cluster` that a font must have a glyph for."""
    return [ord(c) for c in _IGNORABLE.sub("", cluster)]


def has(file: str, cluster: str) -> bool:
    chars = codepoints(file)
    return all(c in chars for c in needs(cluster))


def is_emoji(cluster: str) -> bool:
    """Whether `cluster` is drawn as a colour emoji: an emoji presentation character,
    a flag, a keycap, an emoji variation selector or a ZWJ sequence of pictographs, or
    a pictograph that no text font has; never with the text variation selector."""
    if "\ufe0e" in cluster or not has(EMOJI, cluster[0]):
        return False
    if "\ufe0f" in cluster or _EMOJI_PRESENTATION.search(cluster):
        return True
    if _PICTOGRAPHIC.search(cluster):
        return ("\u200d" in cluster) or text_font(cluster, bold=False) is None
    return False


def text_font(cluster: str, *, bold: bool, prefer: str | None = None) -> str | None:
    """The first font (`prefer` first) that has every character of `cluster`, else the
    first that has its base character, else None (no shipped font draws it)."""
    order = FALLBACK[bold] if prefer is None else (prefer, *FALLBACK[bold])
    for file in order:
        if has(file, cluster):
            return file
    base = needs(cluster)[:1]
    for file in order:
        if base and base[0] in codepoints(file):
            return file
    return None


def covered(text: str) -> bool:
    """Whether the shipped fonts can draw every grapheme cluster of `text`."""
    return all(
        is_emoji(cluster) or text_font(cluster, bold=True) is not None
        for cluster in regex.findall(r"\X", text)
        if needs(cluster) and not unicodedata.category(cluster[0]).startswith("Z")
    )


@functools.lru_cache(maxsize=256)
def _emoji_strike(cluster: str, engine: Layout) -> tuple[Image.Image, int]:
    """`cluster` drawn by the emoji font at its strike size: the RGBA image and the
    baseline's distance from its top."""
    face = font(EMOJI, EMOJI_SIZE, engine)
    ascent, descent = face.getmetrics()
    width = max(1, round(face.getlength(cluster)))
    image = Image.new("RGBA", (width, ascent + descent), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((0, ascent), cluster, font=face, anchor="ls", embedded_color=True)
    return image, ascent


def emoji_scale(size: int) -> float:
    return size / EMOJI_SIZE


def emoji_advance(cluster: str, size: int, engine: Layout) -> int:
    image, _ = _emoji_strike(cluster, engine)
    return max(1, round(image.width * emoji_scale(size)))


def emoji_box(cluster: str, size: int, engine: Layout) -> tuple[int, int, int, int]:
    """The emoji's image box relative to its origin on the baseline (left, top, right,
    bottom), as `FreeTypeFont.getbbox(..., anchor="ls")` gives for text."""
    image, ascent = _emoji_strike(cluster, engine)
    scale = emoji_scale(size)
    top = -round(ascent * scale)
    return 0, top, emoji_advance(cluster, size, engine), top + max(1, round(image.height * scale))


@functools.lru_cache(maxsize=256)
def emoji_image(cluster: str, size: int, engine: Layout) -> Image.Image:
    """`cluster` as an RGBA image for a line of `size` px (see `emoji_box`)."""
    image, _ = _emoji_strike(cluster, engine)
    left, top, right, bottom = emoji_box(cluster, size, engine)
    return image.resize((right - left, bottom - top), Image.Resampling.LANCZOS)
