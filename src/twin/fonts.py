"""Fonts that show Chinese: the HTML reports' font stack, and the fonts the charts draw with.

A chart font without Chinese draws a chat called 家人群 as boxes. The charts (twin.charts) draw
with DejaVu Sans and, when the system has one, a CJK font found by its file name (Noto Sans CJK
from Linux's `fonts-noto-cjk`, WenQuanYi, Microsoft YaHei on Windows, PingFang on macOS, ...),
character by character: each character is drawn in the first font whose character map has it,
and characters no font has (most emoji) are left out rather than drawn as boxes. Browsers pick
per character from FONT_STACK, which lists the CJK and emoji fonts of each system.
"""

from __future__ import annotations

import os
import struct
import sys
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

FONT_STACK = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, '
    '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", '
    '"Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", sans-serif, '
    '"Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji"'
)

# In order of preference (Simplified Chinese first; JP/KR/TC variants still cover hanzi).
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "SimHei",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "Arial Unicode MS",
)

# File names of those fonts (lower case, without - and _), in the same order of preference.
CJK_FILES = (
    "notosanscjk",
    "notosanssc",
    "sourcehansans",
    "wqy",
    "msyh",
    "pingfang",
    "hiragino",
    "stheiti",
    "simhei",
    "droidsansfallback",
    "uming",
    "arialuni",
)
_HEAVY = ("bold", "black", "heavy", "light", "thin", "medium", "mono")
BASE_FILE = "DejaVuSans.ttf"


def pick_cjk(installed: set[str], prefer: tuple[str, ...] = CJK_FAMILIES) -> str | None:
    """The preferred CJK family among the installed ones, or None."""
    return next((f for f in prefer if f in installed), None)


def font_dirs() -> list[Path]:
    """Where Linux, macOS and Windows keep fonts, system-wide and per user."""
    home = Path.home()
    dirs = [
        Path("/usr/share/fonts"),
        Path("/usr/local/share/fonts"),
        home / ".local/share/fonts",
        home / ".fonts",
        Path("/System/Library/Fonts"),
        Path("/Library/Fonts"),
        home / "Library/Fonts",
    ]
    if sys.platform == "win32":
        dirs.append(Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts")
        dirs.append(Path(os.environ.get("LOCALAPPDATA", "")) / "Microsoft/Windows/Fonts")
    return [d for d in dirs if d.is_dir()]


def _font_files(dirs: list[Path]) -> list[Path]:
    found = []
    for top in dirs:
        for root, _, files in os.walk(top):
            found += [Path(root, f) for f in files if f.lower().endswith((".ttf", ".otf", ".ttc"))]
    return found


def _squash(path: Path) -> str:
    return path.name.lower().replace("-", "").replace("_", "")


def cjk_candidates(files: list[Path]) -> list[Path]:
    """The CJK fonts among `files`, best first: by CJK_FILES order, regular weights first."""
    ranked = []
    for path in files:
        name = _squash(path)
        rank = next((i for i, prefix in enumerate(CJK_FILES) if name.startswith(prefix)), None)
        if rank is not None:
            ranked.append((rank, any(w in name for w in _HEAVY), name, path))
    return [path for *_, path in sorted(ranked)]


def base_font_file(files: list[Path]) -> Path | None:
    """DejaVu Sans: matplotlib's copy (found without importing matplotlib), or the system's."""
    spec = find_spec("matplotlib")
    if spec and spec.submodule_search_locations:
        for top in spec.submodule_search_locations:
            path = Path(top, "mpl-data", "fonts", "ttf", BASE_FILE)
            if path.is_file():
                return path
    return next((f for f in files if f.name == BASE_FILE), None)


# -- which characters a font has: the OpenType `cmap` table, formats 4 and 12 ------------------


class FontFileError(ValueError):
    """A font file this module cannot read (damaged, or a layout it does not know)."""


def _read(f, offset: int, size: int) -> bytes:  # noqa: ANN001
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise FontFileError("the file ends inside a table")
    return data


def _face_offsets(f) -> list[int]:  # noqa: ANN001
    """Where each face's table directory starts: one for .ttf/.otf, several for .ttc."""
    tag = _read(f, 0, 4)
    if tag != b"ttcf":
        return [0]
    (count,) = struct.unpack(">I", _read(f, 8, 4))
    return list(struct.unpack(f">{count}I", _read(f, 12, 4 * count)))


def _cmap_offset(f, face: int) -> int:  # noqa: ANN001
    (tables,) = struct.unpack(">H", _read(f, face + 4, 2))
    directory = _read(f, face + 12, 16 * tables)
    for i in range(tables):
        tag, _, offset, _ = struct.unpack_from(">4sIII", directory, 16 * i)
        if tag == b"cmap":
            return offset
    raise FontFileError("the font has no cmap table")


def _format12(f, at: int) -> list[tuple[int, int]]:  # noqa: ANN001
    (groups,) = struct.unpack(">I", _read(f, at + 12, 4))
    data = _read(f, at + 16, 12 * groups)
    return [(start, end) for start, end, _ in struct.iter_unpack(">III", data)]


def _format4(f, at: int) -> list[tuple[int, int]]:  # noqa: ANN001
    length, _, seg_x2 = struct.unpack(">HHH", _read(f, at + 2, 6))
    n = seg_x2 // 2
    table = _read(f, at, length)
    ends = struct.unpack_from(f">{n}H", table, 14)
    starts = struct.unpack_from(f">{n}H", table, 16 + seg_x2)
    range_at = 16 + 3 * seg_x2
    range_offsets = struct.unpack_from(f">{n}H", table, range_at)
    ranges = []
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if start == 0xFFFF:
            continue
        if range_offsets[i] == 0:
            ranges.append((start, end))  # every code maps (glyph = code + delta)
            continue
        for code in range(start, end + 1):  # glyphs from the array: 0 means missing
            where = range_at + 2 * i + range_offsets[i] + 2 * (code - start)
            if where + 2 <= len(table) and struct.unpack_from(">H", table, where)[0]:
                ranges.append((code, code))
    return ranges


def read_cmap(f, face: int = 0) -> list[tuple[int, int]]:  # noqa: ANN001
    """The code point ranges (first, last) that face `face` of an open font file maps to glyphs.

    Unicode subtables only: format 12 (all planes) when the font has one, else format 4 (the
    basic plane). Raises FontFileError for anything else.
    """
    faces = _face_offsets(f)
    if not 0 <= face < len(faces):
        raise FontFileError(f"the file has {len(faces)} faces, not {face + 1}")
    cmap = _cmap_offset(f, faces[face])
    (count,) = struct.unpack(">H", _read(f, cmap + 2, 2))
    best: dict[int, int] = {}
    for i in range(count):
        platform, encoding, offset = struct.unpack(">HHI", _read(f, cmap + 4 + 8 * i, 8))
        if (platform, encoding) in ((3, 10), (0, 4), (0, 6), (3, 1), (0, 3)):
            (fmt,) = struct.unpack(">H", _read(f, cmap + offset, 2))
            best.setdefault(fmt, cmap + offset)
    if 12 in best:
        ranges = _format12(f, best[12])
    elif 4 in best:
        ranges = _format4(f, best[4])
    else:
        raise FontFileError("the font has no Unicode character map of format 4 or 12")
    return sorted(ranges)


@dataclass(frozen=True)
class ChartFont:
    """A font file (and face in it) the charts draw with, and the characters it has."""

    path: str | None  # None: Pillow's own font (ASCII)
    index: int
    ranges: tuple[tuple[int, int], ...]

    def has(self, char: str) -> bool:
        code = ord(char)
        i = bisect_right(self.ranges, (code, sys.maxunicode + 1)) - 1
        return i >= 0 and self.ranges[i][0] <= code <= self.ranges[i][1]


def _load(path: Path, prefer: tuple[str, ...] = ()) -> ChartFont | None:
    """The face of `path` whose family comes first in `prefer` (else face 0), or None."""
    from PIL import ImageFont

    families: dict[str, int] = {}  # family -> its first face
    try:
        with open(path, "rb") as f:
            count = len(_face_offsets(f))
            for index in range(count if prefer else 1):
                family = ImageFont.truetype(str(path), 12, index=index).getname()[0]
                families.setdefault(family, index)
            index = families.get(pick_cjk(set(families), prefer) or "", 0)
            return ChartFont(str(path), index, tuple(read_cmap(f, index)))
    except (OSError, FontFileError, struct.error):
        return None  # unreadable: as if it were not installed


@lru_cache(maxsize=1)
def chart_fonts() -> tuple[ChartFont, ...]:
    """The fonts charts draw with, in order: DejaVu Sans, then a CJK font when one is found."""
    files = _font_files(font_dirs())
    base_path = base_font_file(files)
    base = _load(base_path) if base_path else None
    if base is None:  # Pillow's built-in font: ASCII for sure
        base = ChartFont(None, 0, ((0x20, 0x7E),))
    cjk = next(filter(None, (_load(p, CJK_FAMILIES) for p in cjk_candidates(files))), None)
    return (base, cjk) if cjk else (base,)


def font_runs(text: str, fonts: tuple[ChartFont, ...]) -> list[tuple[ChartFont, str]]:
    """`text` cut into runs, each drawn in the first font that has its characters; characters
    no font has are left out (a space stays, in the font of the run it ends)."""
    runs: list[tuple[ChartFont, str]] = []
    for char in text:
        font = next((f for f in fonts if f.has(char)), None)
        if font is None and char.isspace():
            font = runs[-1][0] if runs else fonts[0]
        if font is None:
            continue
        if runs and runs[-1][0] is font:
            runs[-1] = (font, runs[-1][1] + char)
        else:
            runs.append((font, char))
    return runs


def drawable(text: str) -> str:
    """`text` without the characters no chart font can draw (they would be boxes)."""
    if text.isascii():
        return text
    kept = "".join(s for _, s in font_runs(text, chart_fonts()))
    return " ".join(kept.split())


def has_cjk_font() -> bool:
    return len(chart_fonts()) > 1
