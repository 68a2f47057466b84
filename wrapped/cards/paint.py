"""Drawing a `CardLayout`: shapes (anti-aliased), the logo, then the texts."""

from __future__ import annotations

import functools

from PIL import Image, ImageDraw

from wrapped.branding import RGB
from wrapped.cards import text
from wrapped.cards.layout import CardLayout, DrawnText, Shape

SUN_STRIPES = 4  # gaps in the sun's lower part, each thicker than the one above


@functools.lru_cache(maxsize=128)
def _mask(width: int, height: int, radius: int, kind: str) -> Image.Image:
    """An anti-aliased coverage mask of a shape, drawn at two to four times the size and
    reduced (kept per process: the grids repeat them)."""
    scale = 4 if max(width, height) <= 600 else 2
    w, h = width * scale, height * scale
    big = Image.new("L", (w, h), 0)
    canvas = ImageDraw.Draw(big)
    if kind in ("circle", "sun"):
        canvas.ellipse((0, 0, w - 1, h - 1), fill=255)
    elif radius:
        canvas.rounded_rectangle((0, 0, w - 1, h - 1), radius=radius * scale, fill=255)
    else:
        canvas.rectangle((0, 0, w - 1, h - 1), fill=255)
    if kind == "sun":
        horizon = h // 2
        canvas.rectangle((0, horizon, w, h), fill=0)
        band = horizon // 2  # the stripes cut the lower half of what shows
        step = band // SUN_STRIPES
        for i in range(SUN_STRIPES):
            gap = step * (i + 1) // (SUN_STRIPES + 1)
            bottom = horizon - band + step * (i + 1)
            canvas.rectangle((0, bottom - gap, w, bottom), fill=0)
    return big.reduce(scale)


def fill(image: Image.Image, shape: Shape, colour: RGB) -> None:
    x0, y0, x1, y1 = shape.rect
    if shape.kind == "rect" and not shape.radius:
        ImageDraw.Draw(image).rectangle((x0, y0, x1 - 1, y1 - 1), fill=colour)
        return
    mask = _mask(x1 - x0, y1 - y0, shape.radius, shape.kind)
    image.paste(colour, (x0, y0, x1, y1), mask)


def draw_text(image: Image.Image, drawn: DrawnText, engine: text.Layout) -> None:
    text.draw(image, drawn.line, drawn.origin, drawn.fill, engine)


def paint(card: CardLayout) -> Image.Image:
    """The card as an RGB image."""
    image = Image.new("RGB", card.size, card.colours.palette.background)
    for shape, colour in card.shapes:
        fill(image, shape, colour)
    if card.logo is not None:
        picture, position = card.logo
        image.paste(picture, position, picture)
    for drawn in card.texts:
        draw_text(image, drawn, card.engine)
    return image
