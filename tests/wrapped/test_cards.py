"""The share-card renderer (`wrapped.cards`): sizes, fitting, scripts, bidi, contrast,
determinism, logos and golden images. No database.

Golden images live in tests/wrapped/golden/; regenerate them with UPDATE_GOLDEN=1 (and
look at them) after a deliberate change, and bump RENDERER_VERSION.
"""

from __future__ import annotations

import io
import os
import unicodedata
from collections import Counter
from pathlib import Path
from typing import cast

import pytest
import regex
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageDraw, features

from wrapped.branding import LARGE_TEXT, SMALL_TEXT, Brand, contrast, palette
from wrapped.cards import FORMATS, RENDERER_VERSION, fonts, render_card, text
from wrapped.cards.layout import GRIDS, CardLayout, DrawnText, TextBox, colours, layout
from wrapped.cards.paint import paint
from wrapped.cards.text import Layout
from wrapped.recap import Fact, Recap

GOLDEN = Path(__file__).parent / "golden"
HAS_RAQM = features.check("raqm")
needs_raqm = pytest.mark.skipif(not HAS_RAQM, reason="Pillow without libraqm")
ENGINES = [
    pytest.param(Layout.RAQM, id="raqm", marks=needs_raqm),
    pytest.param(Layout.BASIC, id="basic"),
]
HOST = "127.0.0.1:8000"
DARK = Brand("Acme Learning")  # #1b1340, white text
LIGHT = Brand("Lingo Cafe", background="#f5f0e6", accent="#e4572e")  # black text
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl
FLAG = "\U0001f1eb\U0001f1f7"  # France
ELLIPSIS = "…"


def recap(name: str = "Alex Johnson", hero: Fact | None = None, *facts: Fact) -> Recap:
    if hero is None and not facts:
        return Recap(year=2025, name=name, hero=None, facts=())
    return Recap(year=2025, name=name, hero=hero, facts=facts)


TYPICAL = recap(
    "Alex Johnson",
    Fact("142", "days in a row"),
    Fact("12,480", "lessons completed", "top 10%"),
    Fact("March", "most active month"),
    Fact("48", "weeks active"),
)
HUGE = (
    Fact("9,999,999,999", "minutes of deliberate, focused, uninterrupted practice", "top 1%"),
    Fact("9,999,999,999", "lessons completed across every course and every level", "top 50%"),
    Fact("September", "most active month of the whole year by a very wide margin"),
    Fact("9,999,999,999", "weeks active"),
)
CASES = {
    "typical": TYPICAL,
    "long-name": recap("Maximilian Alexander " * 3 + "Z", Fact("142", "days in a row"), *HUGE),
    "ten-digits": recap("Alex", Fact("9,999,999,999", "lessons completed"), *HUGE),
    "no-activity": recap("Alex Johnson"),
    "no-activity-no-name": recap(""),
    "no-name": recap("", Fact("31", "days active"), Fact("5", "weeks active")),
    "arabic": recap("محمد بن عبد الله الهاشمي", Fact("365", "days in a row"), *HUGE[:2]),
    "hebrew": recap("דניאל כהן", Fact("1,024", "days active"), *HUGE[:1]),
    "cjk": recap("王小明", Fact("77", "days in a row"), Fact("3", "weeks active")),
    "korean": recap("김민준", Fact("12", "days in a row"), Fact("3", "weeks active")),
    "emoji": recap(f"Sam {FAMILY} {FLAG} 🎉", Fact("12", "days active")),
    "emoji-flood": recap(FAMILY * 60, Fact("12", "days active")),
}
LONG_BRAND = Brand("The Extraordinarily Long Name of a Learning Company, Incorporated")
LONG_HOST = "wrapped.a-very-long-subdomain.of-an-example-company.example.com:8443"


def card(case: Recap, brand: Brand = DARK, fmt: str = "story", **kw: object) -> CardLayout:
    return layout(case, brand, fmt, host=str(kw.pop("host", HOST)), **kw)  # type: ignore[arg-type]


def inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return (
        inner[0] >= outer[0]
        and inner[1] >= outer[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return not (a[2] <= b[0] or a[0] >= b[2] or a[3] <= b[1] or a[1] >= b[3])


def by_name(result: CardLayout) -> dict[str, DrawnText]:
    return {drawn.name: drawn for drawn in result.texts}


def pixels(image: Image.Image) -> list[tuple[int, int, int]]:
    assert image.mode == "RGB"
    return cast(list[tuple[int, int, int]], list(image.get_flattened_data()))


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# Sizes and the grids ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_png_has_the_formats_size_and_is_rgb(fmt: str) -> None:
    image = png(render_card(TYPICAL, DARK, fmt, host=HOST))
    assert image.format == "PNG"
    assert image.size == FORMATS[fmt]
    assert image.mode == "RGB"


def test_public_interface() -> None:
    assert FORMATS == {"story": (1080, 1920), "square": (1080, 1080), "og": (1200, 630)}
    assert isinstance(RENDERER_VERSION, int) and RENDERER_VERSION >= 1
    with pytest.raises(ValueError, match="format"):
        render_card(TYPICAL, DARK, "banner", host=HOST)


def _boxes(fmt: str) -> dict[str, TextBox]:
    grid = GRIDS[fmt]
    boxes = {
        "kicker": grid.kicker,
        "title": grid.title,
        "hero": grid.hero,
        "hero_label": grid.hero_label,
        "brand": grid.brand,
        "host": grid.host,
    }
    if grid.year is not None:
        boxes["year"] = grid.year
    for i, slot in enumerate(grid.facts):
        boxes.update({f"fact{i}.value": slot.value, f"fact{i}.label": slot.label})
        boxes[f"fact{i}.note"] = slot.note
    return boxes


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_grid_box_is_inside_the_safe_area(fmt: str) -> None:
    grid = GRIDS[fmt]
    left, top, right, bottom = grid.safe
    width, height = grid.size
    margin = {"story": 96, "square": 80, "og": 64}[fmt]
    assert (left, width - right) == (margin, margin)
    if fmt == "story":
        assert (top, height - bottom) == (220, 280)  # the platform's UI
    else:
        assert (top, height - bottom) == (margin, margin)
    for name, box in _boxes(fmt).items():
        assert inside(box.rect, grid.safe), name
        assert 0 < box.min_size <= box.max_size, name
        if fmt == "og":
            assert box.min_size >= 28, f"{name}: unreadable at 600x315"
    assert inside(grid.logo, grid.safe)
    for name, box in _boxes(fmt).items():
        if name != "year":  # the year takes the logo's place when there is none
            assert not overlaps(box.rect, grid.logo), f"{name} crosses the logo"
    if fmt == "og":  # name and hero on the left two thirds, the logo on the right
        for name in ("kicker", "title", "hero", "hero_label"):
            assert _boxes(fmt)[name].rect[2] <= 800, name
        assert grid.logo[0] >= 800


def test_story_sizes_follow_the_brief() -> None:
    grid = GRIDS["story"]
    assert 280 <= grid.hero.max_size <= 360
    assert grid.hero_label.max_size == 56
    assert all(44 <= slot.value.max_size <= 48 for slot in grid.facts)
    assert grid.brand.max_size == grid.host.max_size == 32
    square = GRIDS["square"]
    assert 220 <= square.hero.max_size <= 260 and len(square.facts) == 2


# Fitting --------------------------------------------------------------------------------


def check_fits(result: CardLayout) -> None:
    for drawn in result.texts:
        assert drawn.text, drawn.name
        assert inside(drawn.bbox, drawn.box), f"{drawn.name}: {drawn.bbox} not in {drawn.box}"
        assert inside(drawn.bbox, result.safe), f"{drawn.name}: {drawn.bbox} outside the margins"
        assert drawn.min_size <= drawn.size, drawn.name
        if result.fmt == "og":
            assert drawn.size >= 28, drawn.name
        if drawn.ellipsized:
            assert drawn.size == drawn.min_size, f"{drawn.name}: cut before shrinking"
            assert drawn.text.endswith(ELLIPSIS)


def original(case: Recap, brand: Brand, host: str, drawn: DrawnText) -> str:
    """The text a box was given, before fitting."""
    hero = case.hero
    if drawn.name == "title":
        return case.name or f"Your {case.year}"
    if drawn.name == "hero":
        return hero.value if hero is not None else f"Your {case.year}"
    if drawn.name == "hero_label":
        return hero.label if hero is not None else "starts here"
    if drawn.name == "kicker":
        return f"{case.year} in review" if case.name and hero is not None else "Year in review"
    if drawn.name == "year":
        return str(case.year)
    if drawn.name == "brand":
        return brand.name
    if drawn.name == "host":
        return host
    if drawn.name.startswith("fact"):
        index, part = drawn.name[4:].split(".")
        return str(getattr(case.facts[int(index)], part))
    raise AssertionError(f"unexpected text {drawn.name}")


def check_cut_at_clusters(case: Recap, brand: Brand, host: str, result: CardLayout) -> None:
    for drawn in result.texts:
        given = " ".join(original(case, brand, host, drawn).split())
        if not drawn.ellipsized:
            assert drawn.text == given, drawn.name
            continue
        kept = regex.findall(r"\X", drawn.text[: -len(ELLIPSIS)])
        clusters = regex.findall(r"\X", given)
        assert kept, f"{drawn.name}: nothing kept"
        # Whole clusters of the original, in order (trailing spaces may be dropped).
        assert kept == clusters[: len(kept)], drawn.name


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_text_fits_its_box(fmt: str, case: str, engine: Layout) -> None:
    result = card(CASES[case], DARK, fmt, engine=engine)
    check_fits(result)
    check_cut_at_clusters(CASES[case], DARK, HOST, result)
    names = {drawn.name for drawn in result.texts}
    assert {"hero", "hero_label", "brand", "host"} <= names


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_long_tenant_name_and_host_fit(fmt: str, engine: Layout) -> None:
    result = card(CASES["long-name"], LONG_BRAND, fmt, host=LONG_HOST, engine=engine)
    check_fits(result)
    check_cut_at_clusters(CASES["long-name"], LONG_BRAND, LONG_HOST, result)
    assert by_name(result)["brand"].ellipsized


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_extreme_inputs_are_shrunk_then_cut(fmt: str) -> None:
    texts = by_name(card(CASES["long-name"], DARK, fmt))
    assert texts["title"].ellipsized and texts["title"].size == GRIDS[fmt].title.min_size
    hero = by_name(card(CASES["ten-digits"], DARK, fmt))["hero"]
    assert hero.text == "9,999,999,999" and not hero.ellipsized  # shrunk, never cut
    assert hero.size < GRIDS[fmt].hero.max_size
    plain = by_name(card(TYPICAL, DARK, fmt))
    assert plain["title"].size == GRIDS[fmt].title.max_size and not plain["title"].ellipsized


def test_a_name_that_fits_when_smaller_is_shrunk_not_cut() -> None:
    texts = by_name(card(recap("Maximiliana Konstantinopoulou", Fact("3", "days active"))))
    title = texts["title"]
    assert not title.ellipsized and title.text == "Maximiliana Konstantinopoulou"
    assert GRIDS["story"].title.min_size < title.size < GRIDS["story"].title.max_size


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_ellipsis_never_splits_a_cluster(fmt: str, engine: Layout) -> None:
    for name, cluster in [
        ("family", FAMILY),
        ("flag", FLAG),
        ("combining", "e\u0301"),  # e + combining acute: one cluster, two characters
        ("hebrew-points", "\u05e9\u05c1\u05b8"),  # shin + shin dot + qamats
        ("keycap", "1\ufe0f\u20e3"),
    ]:
        given = cluster * 60
        title = by_name(card(recap(given, Fact("3", "days active")), DARK, fmt, engine=engine))[
            "title"
        ]
        assert title.ellipsized, name
        kept = title.text[: -len(ELLIPSIS)]
        assert kept and kept == cluster * (len(kept) // len(cluster)), name
        assert inside(title.bbox, title.box), name


@pytest.mark.parametrize(
    "case", ["typical", "long-name", "arabic", "hebrew", "cjk", "korean", "emoji"]
)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_measured_bbox_is_where_the_pixels_are(fmt: str, case: str) -> None:
    """Each text drawn alone: its real ink lies inside its measured bbox and its box."""
    result = card(CASES[case], DARK, fmt)
    for drawn in result.texts:
        image = Image.new("RGB", result.size, (0, 0, 0))
        text.draw(image, drawn.line, drawn.origin, (255, 255, 255), result.engine)
        ink = image.getbbox()
        assert ink is not None, drawn.name
        assert inside(ink, drawn.box), f"{drawn.name}: ink {ink} outside {drawn.box}"
        grown = (drawn.bbox[0] - 1, drawn.bbox[1] - 1, drawn.bbox[2] + 1, drawn.bbox[3] + 1)
        assert inside(ink, grown), f"{drawn.name}: ink {ink}, measured {drawn.bbox}"


# Content -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_no_activity_gets_the_friendly_card(fmt: str) -> None:
    texts = by_name(card(recap("Alex Johnson"), DARK, fmt))
    assert texts["hero"].text == "Your 2025"
    assert texts["hero_label"].text == "starts here"
    assert texts["title"].text == "Alex Johnson"
    assert not any(name.startswith("fact") for name in texts)
    assert not any(regex.search(r"\b0\b", t.text) for t in texts.values() if t.name != "host")
    anonymous = by_name(card(recap(""), DARK, fmt))
    assert "title" not in anonymous and anonymous["hero"].text == "Your 2025"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_content_per_format(fmt: str) -> None:
    texts = by_name(card(TYPICAL, DARK, fmt))
    assert texts["title"].text == "Alex Johnson"
    assert texts["kicker"].text == "2025 in review"
    assert (texts["hero"].text, texts["hero_label"].text) == ("142", "days in a row")
    assert (texts["brand"].text, texts["host"].text) == ("Acme Learning", HOST)
    values = [texts[f"fact{i}.value"].text for i in range(3) if f"fact{i}.value" in texts]
    assert values == ["12,480", "March", "48"][: {"story": 3, "square": 2, "og": 2}[fmt]]
    assert texts["fact0.note"].text == "top 10%"
    assert "fact1.note" not in texts  # no note, no empty pill
    if fmt == "og":
        assert texts["year"].text == "2025"  # in the panel when there is no logo
    no_name = by_name(card(CASES["no-name"], DARK, fmt))
    assert no_name["title"].text == "Your 2025" and no_name["kicker"].text == "Year in review"


def test_control_and_bidi_override_characters_are_removed() -> None:
    texts = by_name(card(recap("\u202eAlex\x00\tJohnson\u202c", Fact("3", "days active"))))
    assert texts["title"].text == "Alex Johnson"
    assert not texts["title"].line.rtl


def test_a_name_no_shipped_font_draws_is_left_off() -> None:
    texts = by_name(card(recap("สมชาย ใจดี", Fact("3", "days active"))))
    assert texts["title"].text == "Your 2025"
    assert not fonts.covered("สมชาย") and fonts.covered("王小明 김민준 " + FAMILY)


# Scripts and fonts -----------------------------------------------------------------------


def _cmap(file: str) -> set[int]:
    with TTFont(fonts.FONT_DIR / file, lazy=True) as ttf:
        return set(ttf.getBestCmap())


IGNORABLE = {0x200C, 0x200D, 0xFE0E, 0xFE0F}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", ["arabic", "hebrew", "cjk", "korean", "emoji", "typical"])
def test_each_run_is_drawn_with_a_font_that_has_its_glyphs(case: str, engine: Layout) -> None:
    cmaps: dict[str, set[int]] = {}
    seen = set()
    for drawn in card(CASES[case], DARK, "story", engine=engine).texts:
        for run in drawn.line.runs:
            cmap = cmaps.setdefault(run.font, _cmap(run.font))
            missing = [
                f"U+{ord(c):04X}"
                for c in run.text
                if ord(c) not in cmap and ord(c) not in IGNORABLE
            ]
            assert not missing, f"{drawn.name}: {run.font} lacks {missing} (.notdef)"
            seen.add(run.font)
    expected = {
        "arabic": fonts.ARABIC_BOLD,
        "hebrew": fonts.HEBREW_BOLD,
        "cjk": fonts.CJK,
        "korean": fonts.KOREAN_BOLD,
        "emoji": fonts.EMOJI,
        "typical": fonts.BOLD,
    }[case]
    assert expected in seen


def test_emoji_clusters_go_whole_to_the_emoji_font() -> None:
    title = by_name(card(CASES["emoji"]))["title"]
    emoji = [run.text for run in title.line.runs if run.emoji]
    assert emoji == [FAMILY, FLAG, "🎉"]
    assert all(run.font == fonts.EMOJI for run in title.line.runs if run.emoji)
    assert not fonts.is_emoji("©") and not fonts.is_emoji("1") and fonts.is_emoji("1\ufe0f\u20e3")


@needs_raqm
def test_raqm_draws_a_zwj_sequence_and_a_flag_as_one_glyph() -> None:
    one = fonts.emoji_advance("😀", 100, Layout.RAQM)
    assert fonts.emoji_advance(FAMILY, 100, Layout.RAQM) == one
    assert fonts.emoji_advance(FLAG, 100, Layout.RAQM) == one
    assert fonts.emoji_advance(FAMILY, 100, Layout.BASIC) > 2 * one  # BASIC: the parts


def test_emoji_are_drawn_in_colour() -> None:
    image = Image.new("RGB", (200, 200), (255, 255, 255))
    line = text.shape("🎉", size=100, bold=False)
    text.draw(image, line, (20, 150), (0, 0, 0))
    colours_used = {pixel for pixel in pixels(image) if pixel != (255, 255, 255)}
    saturated = [p for p in colours_used if max(p) - min(p) > 100]
    assert len(saturated) > 50  # not black-only outlines


# Right to left ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logical", "visual"),
    [
        ("אבג", "גבא"),
        ("דני 2025", "2025 ינד"),  # numbers stay left to right
        ("שלום Ben", "Ben םולש"),  # a right-to-left line: the Latin word on the left
        ("Ben שלום", "Ben םולש"),  # a left-to-right line
        ("abc אבג 45%", "abc 45% גבא"),
        ("מחיר: 9,999", "9,999 :ריחמ"),
        ("(אב)", "(בא)"),  # brackets mirrored in right-to-left runs
        ("محمد علي", "يلع دمحم"),
        ("علي ١٢٣", "١٢٣ يلع"),  # Arabic-Indic digits too
    ],
)
def test_basic_layout_reorders_right_to_left_text(logical: str, visual: str) -> None:
    line = text.shape(logical, size=40, bold=True, engine=Layout.BASIC)
    assert line.visual() == visual
    assert line.rtl == (unicodedata.bidirectional(logical.lstrip("(")[0]) in ("R", "AL"))


def test_hebrew_clusters_keep_their_points_when_reversed() -> None:
    shin = "\u05e9\u05c1\u05b8"
    line = text.shape(shin + "ל", size=40, bold=True, engine=Layout.BASIC)
    assert line.visual() == "ל" + shin


def _letters(letters: str) -> Image.Image:
    """`letters` drawn one at a time from left to right (no reordering possible)."""
    image = Image.new("L", (600, 160), 0)
    x = 20
    for letter in letters:
        glyph = text.shape(letter, size=80, bold=True, engine=Layout.BASIC)
        part = Image.new("RGB", image.size, (0, 0, 0))
        text.draw(part, glyph, (x, 120), (255, 255, 255), Layout.BASIC)
        image = ImageChops.lighter(image, part.convert("L"))
        x += glyph.width
    return image


def _pieces(image: Image.Image) -> int:
    """How many horizontally separate pieces of ink (runs of inked columns) there are."""
    columns = [any(image.getpixel((x, y)) for y in range(image.height)) for x in range(image.width)]
    return sum(1 for x, inked in enumerate(columns) if inked and (x == 0 or not columns[x - 1]))


def _draw(words: str, engine: Layout, size: int = 80) -> Image.Image:
    line = text.shape(words, size=size, bold=True, engine=engine)
    rgb = Image.new("RGB", (600, 160), (0, 0, 0))
    text.draw(rgb, line, (20, 120), (255, 255, 255), engine)
    return rgb.convert("L")


@needs_raqm
def test_raqm_lays_hebrew_out_right_to_left() -> None:
    """The first letter (alef) is drawn at the right end, the last (gimel) at the left:
    the line drawn by raqm matches the letters drawn one by one in reverse order."""
    line = _draw("אבג", Layout.RAQM)
    assert _mean_difference(line, _letters("גבא")) < 1.0 < _mean_difference(line, _letters("אבג"))
    # The leftmost glyph is gimel, the last letter.
    gimel = _draw("ג", Layout.RAQM)
    width = text.shape("ג", size=80, bold=True, engine=Layout.RAQM).width
    left_part = (0, 0, 20 + width, line.height)
    assert _mean_difference(line.crop(left_part), gimel.crop(left_part)) < 1.0


@needs_raqm
def test_raqm_shapes_arabic_and_passes_rtl() -> None:
    shaped = text.shape("محمد", size=80, bold=True, engine=Layout.RAQM)
    assert shaped.runs[0].rtl and shaped.rtl
    # Joined by raqm, the four letters are one piece of ink; isolated (BASIC), four.
    assert _pieces(_draw("محمد", Layout.RAQM)) == 1
    assert _pieces(_draw("محمد", Layout.BASIC)) == 4
    face = fonts.font(fonts.ARABIC_BOLD, 80, Layout.RAQM)
    assert face.getlength("محمد", direction="rtl") == pytest.approx(shaped.width, abs=1)


@needs_raqm
@pytest.mark.parametrize("name", ["דניאל כהן", "דני «Dan»"])
def test_raqm_and_basic_agree_on_hebrew_order_in_a_card(name: str) -> None:
    """Hebrew needs no shaping, so the two engines must draw the same title: raqm by
    `direction="rtl"` (which also mirrors brackets), BASIC by the reordering here."""
    images = []
    for engine in (Layout.RAQM, Layout.BASIC):
        case = recap(name, Fact("3", "days active"))
        drawn = by_name(card(case, DARK, "story", engine=engine))["title"]
        image = Image.new("RGB", (1080, 600), (0, 0, 0))
        text.draw(image, drawn.line, drawn.origin, (255, 255, 255), engine)
        images.append(image.convert("L"))
    assert _mean_difference(*images) < 0.5  # kerning may differ by a pixel or two


@needs_raqm
def test_raqm_mirrors_brackets_in_right_to_left_runs() -> None:
    """In "(דני)" read right to left, the logical last character, ")", is drawn first
    (leftmost), mirrored by raqm into the shape of "("."""
    line = text.shape("(דני)", size=80, bold=True, engine=Layout.RAQM)
    first = line.runs[0]
    assert (first.text, first.rtl) == (")", True)
    left = (0, 0, 20 + first.width, 160)
    drawn = _draw("(דני)", Layout.RAQM).crop(left)
    opening = _letters("(").crop(left)
    closing = _letters(")").crop(left)
    assert _mean_difference(drawn, opening) < 0.5 < _mean_difference(drawn, closing)


def test_default_engine_is_raqm_when_pillow_has_it() -> None:
    expected = Layout.RAQM if HAS_RAQM else Layout.BASIC
    assert expected == text.DEFAULT_ENGINE
    assert card(TYPICAL).engine == text.DEFAULT_ENGINE


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_basic_engine_renders_every_format(fmt: str) -> None:
    result = card(CASES["arabic"], LIGHT, fmt, engine=Layout.BASIC)
    image = paint(result)
    assert image.size == FORMATS[fmt] and image.mode == "RGB"
    title = by_name(result)["title"]
    assert title.line.rtl and title.line.runs[0].rtl


# Colour ----------------------------------------------------------------------------------


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a, b).convert("L")
    histogram = diff.histogram()
    return sum(i * n for i, n in enumerate(histogram)) / (a.width * a.height)


@pytest.mark.parametrize("brand", [DARK, LIGHT], ids=["dark", "light"])
@pytest.mark.parametrize("case", ["typical", "no-activity"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_text_contrast_sampled_from_the_pixels(fmt: str, case: str, brand: Brand) -> None:
    result = card(CASES[case], brand, fmt)
    image = paint(result)
    for drawn in result.texts:
        x0, y0, x1, y1 = drawn.bbox
        inked = pixels(image.crop(drawn.bbox))
        ring = [(x, y) for x in range(x0 - 2, x1 + 2) for y in (y0 - 2, y1 + 1)]
        ring += [(x, y) for y in range(y0 - 2, y1 + 2) for x in (x0 - 2, x1 + 1)]
        ground, _ = Counter(
            cast(tuple[int, int, int], image.getpixel(xy)) for xy in ring
        ).most_common(1)[0]
        assert ground in drawn.grounds, f"{drawn.name}: drawn on {ground}"
        strongest = max(contrast(p, ground) for p in inked)
        needed = LARGE_TEXT if drawn.name == "hero" else SMALL_TEXT
        assert strongest >= needed, f"{drawn.name}: {strongest:.2f}"
        for colour in drawn.grounds:  # wherever in the box it may sit
            assert contrast(drawn.fill, colour) >= needed, drawn.name


def test_card_colours_keep_their_contrast_for_any_brand() -> None:
    steps = range(0, 256, 51)
    for r in steps:
        for g in steps:
            for b in steps:
                background = f"#{r:02x}{g:02x}{b:02x}"
                accent = f"#{255 - r:02x}{b:02x}{g:02x}"
                c = colours(Brand("x", background=background, accent=accent))
                p = palette(Brand("x", background=background, accent=accent))
                assert c.palette == p
                for ground in (p.background, c.tint):
                    assert contrast(p.text, ground) >= SMALL_TEXT, background
                    assert contrast(p.muted, ground) >= SMALL_TEXT, background
                    assert contrast(p.hero, ground) >= LARGE_TEXT, background
                assert contrast(c.ink, c.accent) >= SMALL_TEXT, accent


def test_the_hero_is_in_the_hero_colour_and_the_background_is_the_brands() -> None:
    result = card(TYPICAL, LIGHT, "square")
    image = paint(result)
    p = palette(LIGHT)
    assert image.getpixel((2, 1078)) == p.background
    hero = by_name(result)["hero"]
    assert hero.fill == p.hero
    assert p.hero in set(pixels(image.crop(hero.bbox)))


# Determinism, logos ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_rendering_is_deterministic(fmt: str) -> None:
    first = render_card(CASES["emoji"], LIGHT, fmt, host=HOST)
    assert render_card(CASES["emoji"], LIGHT, fmt, host=HOST) == first
    assert render_card(CASES["emoji"], LIGHT, fmt, host="example.com") != first


def _logo_bytes(kind: str = "PNG") -> bytes:
    logo = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rectangle((0, 0, 299, 99), fill=(255, 0, 0, 255))
    buffer = io.BytesIO()
    logo.convert("RGB" if kind == "JPEG" else "RGBA").save(buffer, kind)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_corrupt_logo_is_ignored(fmt: str) -> None:
    plain = render_card(TYPICAL, DARK, fmt, host=HOST)
    for junk in (b"not an image", _logo_bytes()[:60], b"\x89PNG\r\n\x1a\n" + b"\0" * 40):
        broken = Brand("Acme Learning", logo=junk)
        assert render_card(TYPICAL, broken, fmt, host=HOST) == plain


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_real_logo_is_drawn_in_its_box(fmt: str, kind: str) -> None:
    brand = Brand("Acme Learning", logo=_logo_bytes(kind))
    result = card(TYPICAL, brand, fmt)
    assert result.logo is not None
    picture, (x, y) = result.logo
    logo_box = (x, y, x + picture.width, y + picture.height)
    assert inside(logo_box, GRIDS[fmt].logo)
    assert picture.width == GRIDS[fmt].logo[2] - GRIDS[fmt].logo[0] or picture.height == (
        GRIDS[fmt].logo[3] - GRIDS[fmt].logo[1]
    )  # scaled to fit, proportions kept
    image = png(render_card(TYPICAL, brand, fmt, host=HOST))
    red = image.getpixel(((logo_box[0] + logo_box[2]) // 2, (logo_box[1] + logo_box[3]) // 2))
    assert isinstance(red, tuple) and red[0] > 230 and red[1] < 30 and red[2] < 30
    for drawn in result.texts:  # no text under the logo
        assert not overlaps(drawn.bbox, logo_box), drawn.name
    if fmt == "og":
        assert "year" not in by_name(result)  # the logo takes the year's place


# Golden images -----------------------------------------------------------------------------


GOLDEN_CARDS = {
    "story": (TYPICAL, DARK, "story"),
    "square-light": (CASES["arabic"], LIGHT, "square"),
    "og-logo": (TYPICAL, Brand("Acme Learning", "#0b5d4b", "#f7b32b", _logo_bytes()), "og"),
    "story-empty": (recap(f"Sam {FAMILY}"), LIGHT, "story"),
}


@needs_raqm
@pytest.mark.parametrize("name", list(GOLDEN_CARDS))
def test_golden_images(name: str) -> None:
    case, brand, fmt = GOLDEN_CARDS[name]
    image = png(render_card(case, brand, fmt, host=HOST))
    path = GOLDEN / f"{name}.png"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        image.save(path)
    assert path.exists(), f"no golden image {path}: run with UPDATE_GOLDEN=1 and look at it"
    golden = png(path.read_bytes())
    assert golden.size == image.size
    diff = ImageChops.difference(golden.convert("RGB"), image).convert("L")
    histogram = diff.histogram()
    pixels = image.width * image.height
    mean = sum(i * n for i, n in enumerate(histogram)) / pixels
    far = sum(histogram[33:]) / pixels
    assert mean < 1.0, f"mean difference {mean:.3f}"
    assert far < 0.005, f"{far:.2%} of the pixels differ by more than 32"
