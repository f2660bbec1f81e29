"""Bar and step charts as PNG files, drawn with Pillow.

The dataset report needs six plain charts. matplotlib drew them well but took 0.5 s of CPU to
import and 0.1 s per chart, more than the rest of the report together, on the path of every
`twin build` (benchmarks/bench_build.py). These are axis-aligned rectangles and text, which
Pillow draws in a few milliseconds; text goes through twin.fonts, so Chinese names show when the
system has a CJK font and no character is drawn as a box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from twin.fonts import ChartFont, chart_fonts, font_runs

TITLE, LABEL, TICK = 16, 13, 12  # text sizes in pixels
INK, GRID, BACKGROUND = "#222222", "#e6e6e6", "#ffffff"
PAD = 8  # around the picture's edge and between neighbours


@dataclass
class Layer:
    """One series: a value per bar (or per bin), drawn over the layers before it."""

    values: Sequence[float]
    color: str
    name: str = ""


def nice_ticks(low: float, high: float, most: int = 7, cover: bool = False) -> list[float]:
    """Round values (1, 2, 2.5 or 5 times a power of ten apart), at most about `most` of them:
    inside [low, high], or, with `cover`, from the last at or below low to the first at or
    above high (an axis that must show every value)."""
    if not high > low:
        return [low]
    raw = (high - low) / max(1, most - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    snap_low, snap_high = (math.floor, math.ceil) if cover else (math.ceil, math.floor)
    first = snap_low(low / step + (1e-9 if cover else -1e-9))
    last = snap_high(high / step + (-1e-9 if cover else 1e-9))
    return [round(v * step, 9) for v in range(first, last + 1)]


def number(value: float) -> str:
    """A tick or bar label: 1,250 for whole numbers, 2.5 otherwise."""
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:.3g}"


class Canvas:
    """A white picture, with text drawn run by run in the fonts that have its characters."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.image = Image.new("RGB", (width, height), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        self.fonts = chart_fonts()
        self._cache: dict[tuple[ChartFont, int], ImageFont.FreeTypeFont] = {}

    def font(self, font: ChartFont, size: int) -> ImageFont.FreeTypeFont:
        key = (font, size)
        if key not in self._cache:
            if font.path is None:
                self._cache[key] = ImageFont.load_default(size)
            else:
                self._cache[key] = ImageFont.truetype(
                    font.path, size, index=font.index, layout_engine=ImageFont.Layout.BASIC
                )
        return self._cache[key]

    def width_of(self, text: str, size: int) -> float:
        return sum(self.font(f, size).getlength(s) for f, s in font_runs(text, self.fonts))

    def fit(self, text: str, size: int, width: float) -> str:
        """`text`, cut with an ellipsis where it would be wider than `width` pixels."""
        if self.width_of(text, size) <= width:
            return text
        while text and self.width_of(text + "…", size) > width:
            text = text[:-1]
        return text.rstrip() + "…"

    def text(
        self, x: float, y: float, text: str, size: int, align: str = "lt", color: str = INK
    ) -> None:
        """Text whose left/middle/right (align[0]: l, m, r) and top/middle/bottom (align[1]:
        t, m, b) is at (x, y); every run on the first font's baseline."""
        runs = font_runs(text, self.fonts)
        ascent, descent = self.font(self.fonts[0], size).getmetrics()
        x -= {"l": 0, "m": 0.5, "r": 1}[align[0]] * self.width_of(text, size)
        baseline = y + {"t": ascent, "m": (ascent - descent) / 2, "b": -descent}[align[1]]
        for font, part in runs:
            face = self.font(font, size)
            self.draw.text((x, baseline), part, font=face, fill=color, anchor="ls")
            x += face.getlength(part)

    def text_up(self, x: float, y: float, text: str, size: int) -> None:
        """Text read bottom to top, its middle at (x, y): an axis label beside a y axis."""
        width = math.ceil(self.width_of(text, size)) + 2
        ascent, descent = self.font(self.fonts[0], size).getmetrics()
        strip = Canvas(width, ascent + descent + 2)
        strip.text(1, 1, text, size)
        turned = strip.image.transpose(Image.Transpose.ROTATE_90)
        self.image.paste(turned, (round(x - turned.width / 2), round(y - turned.height / 2)))

    def save(self, path: Path) -> str:
        # Compression level 1: encoded in a third of the time, files about a fifth larger.
        self.image.save(path, format="PNG", compress_level=1)
        return path.name


@dataclass
class Box:
    """The plot area in pixels and the data range it shows."""

    left: int
    top: int
    right: int
    bottom: int
    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, value: float) -> int:
        return round(self.left + (value - self.x0) / (self.x1 - self.x0) * (self.right - self.left))

    def y(self, value: float) -> int:
        return round(
            self.bottom - (value - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)
        )


def _frame(canvas: Canvas, box: Box, title: str) -> None:
    canvas.text(canvas.width / 2, PAD, title, TITLE, "mt")
    canvas.draw.rectangle((box.left, box.top, box.right, box.bottom), outline=INK)


def _x_axis(canvas: Canvas, box: Box, ticks: list[tuple[float, str]], label: str) -> None:
    """Tick marks and labels under the plot, thinned so that no two labels touch."""
    widest = max((canvas.width_of(t, TICK) for _, t in ticks), default=0)
    room = (box.right - box.left) / max(1, len(ticks))
    every = max(1, math.ceil((widest + 2 * PAD) / room))
    for value, text in ticks[::every]:
        x = box.x(value)
        canvas.draw.line((x, box.bottom, x, box.bottom + 4), fill=INK)
        canvas.text(x, box.bottom + 6, text, TICK, "mt")
    if label:
        canvas.text((box.left + box.right) / 2, canvas.height - PAD, label, LABEL, "mb")


def _grid_y(canvas: Canvas, box: Box, ticks: list[float]) -> None:
    for value in ticks:
        y = box.y(value)
        canvas.draw.line((box.left + 1, y, box.right - 1, y), fill=GRID)
        canvas.draw.line((box.left - 4, y, box.left, y), fill=INK)
        canvas.text(box.left - 6, y, number(value), TICK, "rm")


def _grid_x(canvas: Canvas, box: Box, ticks: list[float]) -> None:
    for value in ticks:
        x = box.x(value)
        canvas.draw.line((x, box.top + 1, x, box.bottom - 1), fill=GRID)


def _legend(canvas: Canvas, box: Box, layers: Sequence[Layer]) -> None:
    """The named layers' colours, in a row at the right of the title line (off the data)."""
    named = [layer for layer in layers if layer.name]
    if len(named) < 2:
        return
    x, y = box.right, PAD + TITLE / 2
    for layer in reversed(named):
        x -= canvas.width_of(layer.name, LABEL)
        canvas.text(x, y, layer.name, LABEL, "lm")
        x -= 4 + 12
        canvas.draw.rectangle((x, y - 6, x + 12, y + 6), fill=layer.color)
        x -= 3 * PAD


def _right_edge(canvas: Canvas, last_tick: str) -> int:
    """The plot's right edge: room for half the last tick label, which is centred on it."""
    return canvas.width - PAD - max(PAD, round(canvas.width_of(last_tick, TICK) / 2))


def step_chart(
    path: Path,
    edges: Sequence[float],
    layers: Sequence[Layer],
    title: str,
    xlabel: str = "",
    ylabel: str = "",
    xticks: list[tuple[float, str]] | None = None,
    size: tuple[int, int] = (900, 300),
) -> str:
    """Filled steps over the bins between consecutive `edges` (a histogram, or one bin a month).

    `xticks`: (position, label) pairs for bins that are categories; numbers by default.
    """
    canvas = Canvas(*size)
    top_value = max((max(layer.values, default=0) for layer in layers), default=0)
    y_ticks = nice_ticks(0, max(5, top_value) * 1.05, cover=True)
    y_label_width = max(canvas.width_of(number(v), TICK) for v in y_ticks)
    left = PAD + (LABEL + PAD if ylabel else 0) + round(y_label_width) + 10
    bottom = size[1] - PAD - TICK - 10 - (LABEL + PAD if xlabel else 0)
    x0, x1 = (edges[0], edges[-1]) if len(edges) > 1 else (0.0, 1.0)
    if xticks is None:
        xticks = [(v, number(v)) for v in nice_ticks(x0, x1, 10)]
    right = _right_edge(canvas, xticks[-1][1] if xticks else "")
    box = Box(left, PAD + TITLE + PAD, right, bottom, x0, x1, 0, y_ticks[-1])
    _grid_y(canvas, box, y_ticks)
    if not any(len(layer.values) for layer in layers):
        canvas.text((box.left + box.right) / 2, (box.top + box.bottom) / 2, "none", LABEL, "mm")
    for layer in layers:
        for i, value in enumerate(layer.values):
            if value > 0:
                canvas.draw.rectangle(
                    (box.x(edges[i]), box.y(value), box.x(edges[i + 1]), box.bottom),
                    fill=layer.color,
                )
    _frame(canvas, box, title)
    _x_axis(canvas, box, xticks, xlabel)
    if ylabel:
        canvas.text_up(PAD + LABEL / 2, (box.top + box.bottom) / 2, ylabel, LABEL)
    _legend(canvas, box, layers)
    return canvas.save(path)


def bar_chart(
    path: Path,
    labels: Sequence[str],
    layers: Sequence[Layer],
    title: str,
    xlabel: str = "",
    show_values: bool = False,
    width: int = 900,
) -> str:
    """Horizontal bars, one row per label from the top; a later layer's bar over an earlier's.

    The labels get at most half the width; `show_values` writes each first layer's value
    after its bar.
    """
    row = 28
    height = PAD + TITLE + PAD + max(2, len(labels)) * row + TICK + 10 + PAD
    height += LABEL + PAD if xlabel else 0
    canvas = Canvas(width, max(120, height))
    top_value = max((max(layer.values, default=0) for layer in layers), default=0)
    room = 1.15 if show_values else 1.05  # room for the largest value's label
    x_ticks = nice_ticks(0, max(5, top_value) * room, cover=True)
    label_width = max((canvas.width_of(t, LABEL) for t in labels), default=0)
    left = min(width // 2, PAD + round(label_width) + 12)
    bottom = canvas.height - PAD - TICK - 10 - (LABEL + PAD if xlabel else 0)
    right = _right_edge(canvas, number(x_ticks[-1]))
    box = Box(left, PAD + TITLE + PAD, right, bottom, 0, x_ticks[-1], 0, 1)
    _grid_x(canvas, box, x_ticks)
    if not labels:
        canvas.text((box.left + box.right) / 2, (box.top + box.bottom) / 2, "none", LABEL, "mm")
    pitch = (box.bottom - box.top) / max(1, len(labels))
    for i, text in enumerate(labels):
        middle = box.top + pitch * (i + 0.5)
        canvas.draw.line((box.left - 4, middle, box.left, middle), fill=INK)
        canvas.text(box.left - 6, middle, canvas.fit(text, LABEL, box.left - 6 - PAD), LABEL, "rm")
        for layer in layers:
            value = layer.values[i]
            if value > 0:
                canvas.draw.rectangle(
                    (box.left, middle - pitch * 0.4, box.x(value), middle + pitch * 0.4),
                    fill=layer.color,
                )
        if show_values:
            value = layers[0].values[i]
            canvas.text(box.x(value) + 4, middle, number(value), LABEL, "lm")
    _frame(canvas, box, title)
    _x_axis(canvas, box, [(v, number(v)) for v in x_ticks], xlabel)
    _legend(canvas, box, layers)
    return canvas.save(path)
