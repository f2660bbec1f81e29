"""Reports a Chinese user can read: a CJK font in the charts when one is installed, chat names in
the chart, a font stack for CJK and emoji in the HTML, no raw {} in the skipped-rows cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import drawn_text

from twin.fonts import (
    CJK_FAMILIES,
    FONT_STACK,
    chart_fonts,
    drawable,
    font_runs,
    has_cjk_font,
    pick_cjk,
)


def test_the_preferred_installed_cjk_family_is_picked():
    assert pick_cjk({"DejaVu Sans", "WenQuanYi Zen Hei", "Noto Sans CJK SC"}) == "Noto Sans CJK SC"
    assert pick_cjk({"DejaVu Sans", "Microsoft YaHei"}) == "Microsoft YaHei"
    assert pick_cjk({"PingFang SC", "Arial"}) == "PingFang SC"
    assert pick_cjk({"DejaVu Sans", "Liberation Sans"}) is None
    assert "WenQuanYi Zen Hei" in CJK_FAMILIES


def test_html_font_stack_covers_cjk_and_emoji_on_every_system():
    for family in ("PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei"):
        assert f'"{family}"' in FONT_STACK
    for family in ("Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji"):
        assert f'"{family}"' in FONT_STACK
    from twin.eval.report import CSS

    assert FONT_STACK in CSS


def _chat_labels(path: Path, names: list[str], monkeypatch) -> list[str]:
    """Draw the chats chart and return its chat labels (top to bottom) as drawn."""
    from twin.dataset import report

    drawn = drawn_text(monkeypatch)
    report._chats([(n, 10 - i, 1) for i, n in enumerate(names)], path)
    assert path.is_file()
    return [t for t in drawn if t.startswith("#")]


def test_chats_chart_names_the_chats_without_boxes(tmp_path, monkeypatch):
    names = ["家人群", "weekend climbers 🧗", "Sam (work)", "a" * 40]
    labels = _chat_labels(tmp_path / "chats.png", names, monkeypatch)
    assert labels[1] == "#2 weekend climbers"  # the emoji no chart font has is left out
    assert labels[2] == "#3 Sam (work)"
    assert labels[3] == "#4 " + "a" * 23 + "…"
    if has_cjk_font():
        assert labels[0] == "#1 家人群"
    else:
        assert labels[0] == "#1"  # no font for it here: the table below has the name
    fonts = chart_fonts()
    for label in labels:  # every character drawn has a font with a glyph for it
        assert "".join(part for _, part in font_runs(label, fonts)) == label


@pytest.mark.skipif(not has_cjk_font(), reason="no CJK font installed (fonts-noto-cjk on Linux)")
def test_a_cjk_font_draws_chinese_names():
    assert drawable("家人群 🧗") == "家人群"


def test_report_table_and_charts(twin, tmp_path):
    export = tmp_path / "chat.csv"
    rows = ["time,chat,sender,text,me"]
    for i in range(6):
        rows.append(f"2024-01-0{i + 1}T10:00:00,家人群,妈妈,吃饭了吗 {i},false")
        rows.append(f"2024-01-0{i + 1}T10:01:00,家人群,我,吃了 {i},true")
    export.write_text("\n".join(rows) + "\n", encoding="utf-8")
    r = twin("build", export, "-o", tmp_path / "ds")
    assert r.code == 0, r.err
    page = (tmp_path / "ds" / "report.html").read_text(encoding="utf-8")
    assert "<td>none</td>" in page and "<td>{}</td>" not in page
    assert "家人群" in page and FONT_STACK in page
    assert (tmp_path / "ds" / "charts" / "chats.png").is_file()


def test_skipped_rows_cell():
    from twin.dataset.report import _skipped

    assert _skipped({}) == "none"
    assert _skipped({"malformed row": 2, "system line": 1}) == "malformed row 2, system line 1"
