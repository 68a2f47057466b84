"""Share cards: a recap drawn as a PNG for stories, square posts and link previews.

`render_card(recap, brand, fmt, host=...)` is a pure function of its arguments (no
database, no settings): the same input gives the same bytes, so a card can be cached
under (recap, brand, format, host, `RENDERER_VERSION`). `layout(...)` is the same card
before painting: every text as drawn (its box, the text actually drawn, the font size,
the measured ink box, the runs and their fonts), which the tests check.

What a card shows (CARDS.md): who (the display name, or "Your 2025" when there is none;
the tenant's logo when it has one), the hero numeral in the palette's hero colour with
its label, supporting facts (story 3, square 2, Open Graph 2) with their "top X%" notes
on accent pills, the year, and a footer with the tenant's name and the share URL's host.
No activity: "Your 2025 starts here" over a striped sunrise, never a grid of zeros.

Layout rules (`layout.GRIDS`, one grid per format, defined once):
- story 1080x1920: text inside 96 px margins and out of the top 220 px and bottom 280 px
  (the platform's UI); hero 320 px, its label 56, facts 48 (value) and 44 (label),
  footer 32; the logo top right.
- square 1080x1080: 80 px margins; hero 240 px, two facts side by side.
- og 1200x630: 64 px margins; name and hero in the left two thirds, the logo (or the
  year) and the facts on an accent panel in the right third; no text under 28 px.
- Every text has a box (its ink stays inside: checked against the real glyph boxes), a
  largest and a smallest size, and sits on a baseline near the box's bottom (raised for
  deep descenders). Text that does not fit is shrunk, down to the smallest size, then cut
  at a grapheme cluster boundary and ended with "…".
- Colours come from `wrapped.branding.palette` (contrast-checked there); the cards add
  ink on the accent (black or white, whichever contrasts more: at least 4.58:1) and a
  shade of the background for the large circle behind the text, used only when the
  text, muted and hero colours all keep their contrast on it.

Text: each grapheme cluster is drawn with the first shipped font that has all its
characters (Noto Sans, Noto Sans Arabic, Noto Sans Hebrew, Droid Sans Fallback for
Chinese and Japanese, Nanum Gothic for Korean; fontTools' `getBestCmap`, read once); spaces and punctuation stay
in the font of the text around them. Emoji clusters (ZWJ sequences, flags, keycaps,
modifiers) go whole to Noto Color Emoji, drawn at its one bitmap size and scaled. A
display name with characters no shipped font has (Thai, Devanagari, ...) is left
off, and the card says "Your 2025", rather than drawing boxes.

Right to left, and the fallback: the layout engine is `text.DEFAULT_ENGINE`, raqm when
Pillow has it. Runs are ordered here by a reduced Unicode bidi algorithm (`text`), and
raqm shapes each right-to-left run with `direction="rtl"` (Arabic joined, brackets
mirrored). Without raqm (`ImageFont.Layout.BASIC`, or `layout(..., engine=...)`) the
clusters of right-to-left runs are reversed and brackets mirrored here, so Hebrew and
Arabic still read right to left and numbers left to right; but Arabic letters keep
their isolated forms (joining needs raqm), and emoji ZWJ sequences and flags show as
their parts.
"""

from __future__ import annotations

import io

from PIL import Image

from wrapped.branding import Brand
from wrapped.cards.layout import FORMATS, CardLayout, layout
from wrapped.cards.paint import paint
from wrapped.recap import Recap

__all__ = ["FORMATS", "RENDERER_VERSION", "CardLayout", "layout", "paint", "render_card"]

RENDERER_VERSION: int = 1

# zlib level 3: Pillow's default (6) made PNG encoding most of a story card's time (78 ms
# of which ~50 encoding); level 3 draws one in ~55 ms (bench/render_cards.py), files ~12%
# larger than at 6. (zlib's RLE strategy was as fast and smaller, but Pillow does not
# document the option that selects it.)
PNG_COMPRESSION = {"compress_level": 3}


def render_card(recap: Recap, brand: Brand, fmt: str, *, host: str) -> bytes:
    """The card for `recap` in format `fmt` ("story", "square" or "og"; `FORMATS`) as PNG
    bytes (RGB), in `brand`'s colours, with `host` in the footer."""
    return encode(paint(layout(recap, brand, fmt, host=host)))


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False, **PNG_COMPRESSION)
    return buffer.getvalue()
