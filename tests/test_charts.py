"""The report's chart drawing (twin.charts) and the font reading under it (twin.fonts): axis
ticks, which characters a font file has (fonts built here with fontTools, in each layout a
system font can have), the character-by-character choice of font, and the PNG files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import drawn_text
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont
from fontTools.ttLib.ttCollection import TTCollection
from PIL import Image

from twin import fonts
from twin.charts import Layer, bar_chart, nice_ticks, number, step_chart
from twin.fonts import ChartFont, FontFileError, cjk_candidates, font_runs, read_cmap


def test_nice_ticks_inside_a_range_and_covering_it():
    assert nice_ticks(34, 470, 10) == [50, 100, 150, 200, 250, 300, 350, 400, 450]
    assert nice_ticks(0, 44_000 * 1.05, cover=True) == [0, 10_000, 20_000, 30_000, 40_000, 50_000]
    assert nice_ticks(0, 5.25, cover=True) == [0, 1, 2, 3, 4, 5, 6]
    assert nice_ticks(0, 1.05, cover=True)[-1] >= 1.05
    assert nice_ticks(3, 3) == [3]  # an empty range: one tick, no division by zero
    assert number(1_250) == "1,250" and number(2.5) == "2.5" and number(0.6000000001) == "0.6"


def _font(family: str, chars: dict[int, str]) -> FontBuilder:
    """A TrueType font with an empty glyph for each code point in `chars` (code -> glyph name)."""
    names = [".notdef", *sorted(set(chars.values()))]
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap(chars)
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((0, 500))
    pen.lineTo((400, 0))
    pen.closePath()
    glyph = pen.glyph()
    fb.setupGlyf({n: glyph for n in names})
    fb.setupHorizontalMetrics({n: (500, 0) for n in names})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": family, "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    return fb


def _save(fb: FontBuilder, path: Path) -> Path:
    fb.save(str(path))
    return path


def _codes(ranges: list[tuple[int, int]]) -> set[int]:
    return {c for first, last in ranges for c in range(first, last + 1)}


def test_cmap_of_a_basic_plane_font_format_4(tmp_path):
    # 0x4E00.. mapped to glyphs out of order: format 4 stores those through its glyph array
    chars = {ord(c): f"g{ord(c)}" for c in "ABCxyz"}
    chars.update({0x4E00 + i: f"h{(i * 7) % 5}" for i in range(5)})
    path = _save(_font("Test Sans", chars), tmp_path / "basic.ttf")
    with open(path, "rb") as f:
        assert _codes(read_cmap(f)) == set(chars)


def test_cmap_beyond_the_basic_plane_format_12(tmp_path):
    chars = {ord("a"): "a", 0x1F9D7: "climber", 0x20000: "ext_b", 0x20001: "ext_b2"}
    path = _save(_font("Test Emoji", chars), tmp_path / "wide.ttf")
    with open(path, "rb") as f:
        assert _codes(read_cmap(f)) == set(chars)


def test_cmap_of_each_face_of_a_collection(tmp_path):
    first = _save(_font("Test CJK JP", {0x3042: "a"}), tmp_path / "jp.ttf")
    second = _save(_font("Test CJK SC", {0x5BB6: "jia", 0x4EBA: "ren"}), tmp_path / "sc.ttf")
    collection = TTCollection()
    collection.fonts = [TTFont(str(p)) for p in (first, second)]
    path = tmp_path / "both.ttc"
    collection.save(str(path))
    with open(path, "rb") as f:
        assert _codes(read_cmap(f, 0)) == {0x3042}
        assert _codes(read_cmap(f, 1)) == {0x5BB6, 0x4EBA}
        with pytest.raises(FontFileError, match="2 faces"):
            read_cmap(f, 2)
    chosen = fonts._load(path, ("Test CJK SC", "Test CJK JP"))
    assert chosen is not None and chosen.index == 1 and chosen.has("家")


def test_a_damaged_font_file_is_as_if_not_installed(tmp_path):
    good = _save(_font("Test Sans", {ord("A"): "A"}), tmp_path / "good.ttf").read_bytes()
    for name, data in {"cut.ttf": good[:60], "junk.ttf": b"\x00" * 12, "empty.ttf": b""}.items():
        path = tmp_path / name
        path.write_bytes(data)
        with open(path, "rb") as f, pytest.raises((FontFileError, ValueError)):
            read_cmap(f)
        assert fonts._load(path) is None


def test_cjk_fonts_are_found_by_file_name_regular_weight_first():
    files = [
        Path("/f/DejaVuSans.ttf"),
        Path("/f/NotoSansCJK-Bold.ttc"),
        Path("/f/NotoSansCJK-Regular.ttc"),
        Path("/f/wqy-zenhei.ttc"),
        Path("/w/msyh.ttc"),
    ]
    assert cjk_candidates(files) == [files[2], files[1], files[3], files[4]]


BASE = ChartFont("base.ttf", 0, ((0x20, 0x7E), (0x400, 0x4FF)))
CJK = ChartFont("cjk.ttc", 2, ((0x20, 0x7E), (0x3000, 0x303F), (0x4E00, 0x9FFF)))


def test_each_character_drawn_in_the_first_font_that_has_it():
    assert font_runs("#1 家人群 🧗", (BASE, CJK)) == [(BASE, "#1 "), (CJK, "家人群"), (BASE, " ")]
    assert font_runs("Жан 小明", (BASE, CJK)) == [(BASE, "Жан "), (CJK, "小明")]
    assert font_runs("家人群", (BASE,)) == []  # no font: nothing drawn rather than boxes
    assert BASE.has("~") and not BASE.has("\x7f") and not BASE.has("家") and CJK.has("鿿")


def _pixels(path: Path) -> Image.Image:
    image = Image.open(path)
    image.load()
    return image.convert("RGB")


def test_step_chart_draws_each_layer_stacked(tmp_path):
    path = tmp_path / "timeline.png"
    name = step_chart(
        path,
        [-0.5, 0.5, 1.5, 2.5],
        [Layer([30, 40, 10], "#d9480f", "me"), Layer([20, 10, 5], "#339af0", "others")],
        "Messages over time",
        ylabel="messages per month",
        xticks=[(0, "2024-01"), (1, "2024-02"), (2, "2024-03")],
    )
    assert name == "timeline.png" and path.read_bytes()[:4] == b"\x89PNG"
    image = _pixels(path)
    assert image.size == (900, 300)
    colours = {c for _, c in image.getcolors(1 << 16)}
    assert (0xD9, 0x48, 0x0F) in colours and (0x33, 0x9A, 0xF0) in colours


def test_bar_chart_fits_long_labels_and_shows_values(tmp_path, monkeypatch):
    drawn = drawn_text(monkeypatch)
    labels = ["short", "x" * 300]
    bar_chart(tmp_path / "b.png", labels, [Layer([5, 1_234], "#339af0")], "T", show_values=True)
    assert "short" in drawn and "1,234" in drawn
    cut = next(t for t in drawn if t.startswith("xxx"))
    assert cut.endswith("…") and len(cut) < 300  # within half the picture's width
    image = _pixels(tmp_path / "b.png")
    assert image.size[0] == 900


def test_empty_charts_say_none(tmp_path, monkeypatch):
    drawn = drawn_text(monkeypatch)
    bar_chart(tmp_path / "a.png", [], [Layer([], "#339af0")], "Redacted")
    step_chart(tmp_path / "b.png", [], [Layer([], "#339af0")], "Lengths", xlabel="characters")
    assert drawn.count("none") == 2
    assert all(_pixels(tmp_path / n).size[1] >= 120 for n in ("a.png", "b.png"))


def test_a_chart_is_a_png_others_can_open(tmp_path):
    step_chart(
        tmp_path / "h.png", [0, 10, 20], [Layer([3, 4], "#d9480f")], "Hist", "chars", "count"
    )
    data = (tmp_path / "h.png").read_bytes()
    assert Image.open(io.BytesIO(data)).format == "PNG"
