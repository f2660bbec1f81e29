"""Fonts that show Chinese: the HTML reports' font stack, and a CJK font for the charts.

matplotlib's own DejaVu Sans has no Chinese, so a chat called 家人群 came out as boxes and the
charts hid chat names behind numbers. When the system has a CJK font (Noto Sans CJK from Linux's
`fonts-noto-cjk`, WenQuanYi, Microsoft YaHei on Windows, PingFang on macOS, …) the charts use it
as a fallback after DejaVu Sans, so Latin text looks as before and Chinese shows; characters that
no installed font has (most emoji) are left out of chart labels rather than drawn as boxes.
Browsers pick per character from FONT_STACK, which lists the CJK and emoji fonts of each system.
"""

from __future__ import annotations

from functools import lru_cache

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
BASE_FAMILY = "DejaVu Sans"  # matplotlib's own, always there


def pick_cjk(installed: set[str]) -> str | None:
    """The preferred CJK family among the installed ones, or None."""
    return next((f for f in CJK_FAMILIES if f in installed), None)


# File names of those fonts, for fonts installed after matplotlib cached its font list.
CJK_FILES = (
    "notosanscjk",
    "notosanssc",
    "sourcehansans",
    "wqy",
    "msyh",
    "pingfang",
    "hiragino",
    "simhei",
    "droidsansfallback",
    "uming",
    "arialuni",
)


@lru_cache(maxsize=1)
def chart_families() -> tuple[str, ...]:
    """The families charts draw with: DejaVu Sans, then a CJK font when one is installed."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    cjk = pick_cjk({f.name for f in manager.ttflist})
    if cjk is None:  # matplotlib's cached list predates the font's installation: look again
        known = {f.fname for f in manager.ttflist}
        for path in font_manager.findSystemFonts():
            name = path.rsplit("/", 1)[-1].lower().replace("-", "").replace("_", "")
            if path not in known and name.startswith(CJK_FILES):
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        cjk = pick_cjk({f.name for f in manager.ttflist})
    return (BASE_FAMILY, cjk) if cjk else (BASE_FAMILY,)


def chart_rc() -> dict:
    """matplotlib settings for the charts (pass to rc_context)."""
    import logging

    # A CJK font of weight 500 makes findfont log a warning per label; nothing to act on.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    # Families in font.family itself: matplotlib falls back glyph by glyph along that list
    # (a generic "sans-serif" would resolve to its first installed member only).
    return {"font.family": list(chart_families())}


@lru_cache(maxsize=1)
def _covered() -> frozenset[int]:
    """Every code point some chart font has a glyph for."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    paths = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    points: set[int] = set()
    for family in chart_families():
        if family in paths:
            points.update(FT2Font(paths[family]).get_charmap())
    return frozenset(points)


def drawable(text: str) -> str:
    """`text` without the characters no chart font can draw (they would be boxes)."""
    if text.isascii():
        return text
    covered = _covered()
    kept = "".join(c for c in text if ord(c) in covered or c.isspace())
    return " ".join(kept.split())


def has_cjk_font() -> bool:
    return len(chart_families()) > 1
