"""report.html and its charts: what a person wants to see before spending time on training.

Charts are PNG files beside the HTML (matplotlib's object API, no display needed), so the report
opens offline in any browser. The chats chart names the chats (as redacted by the build) in a CJK
font when the system has one (twin.fonts); characters no installed font can draw are left out of
its labels, and the table below it gives every name in full.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import partial
from pathlib import Path
from unicodedata import east_asian_width

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from twin.fonts import FONT_STACK, chart_rc, drawable

ME, OTHERS = "#d9480f", "#339af0"


def _save(fig: Figure, path: Path, left: float = 0.09) -> str:
    height = fig.get_figheight()  # margins in inches: tall charts get no wider bands
    fig.subplots_adjust(left=left, right=0.97, bottom=0.66 / height, top=1 - 0.36 / height)
    # Unhinted glyphs render 10% faster and read the same at this size; PNG compression level
    # 1 encodes in half the time for files a fifth larger.
    with rc_context({"text.hinting": "no_hinting"}):
        fig.savefig(path, dpi=100, pil_kwargs={"compress_level": 1})
    return path.name


def _timeline(data, path: Path) -> str:
    months = sorted({m for m, _ in data.timeline})
    fig = Figure(figsize=(9, 3))
    ax = fig.add_subplot()
    mine = [data.timeline.get((m, True), 0) for m in months]
    others = [data.timeline.get((m, False), 0) for m in months]
    x = range(len(months))
    edges = np.arange(len(months) + 1) - 0.5
    # Stacked: mine drawn over the total, then the others' part over mine (one shape each).
    ax.stairs(np.add(others, mine), edges, fill=True, color=ME, label="me")
    ax.stairs(others, edges, fill=True, color=OTHERS, label="others")
    step = max(1, len(months) // 12)
    ax.set_xticks(list(x)[::step], months[::step], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("messages per month")
    ax.legend()
    ax.set_title("Messages over time", y=1.0)
    return _save(fig, path)


def _chat_label(i: int, name: str, limit: int = 24) -> str:
    """`#1 name`, cut to `limit` characters, without what no font can draw."""
    shown = drawable(name)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return f"#{i + 1} {shown}".rstrip()


def _label_margin(labels: list[str], fig_width: float) -> float:
    """The left margin (a fraction of the width) that fits the longest label at 10 pt."""
    widest = max(
        (sum(2 if east_asian_width(c) in "WF" else 1 for c in s) for s in labels), default=0
    )
    return min(0.5, (0.35 + 0.075 * widest) / fig_width)


def _chats(top: list[tuple[str, int, int]], path: Path) -> str:
    names = [name for name, _, _ in top]
    rc = chart_rc() if any(not n.isascii() for n in names) else {}
    with rc_context(rc):  # fonts are chosen when the text is made: the whole chart inside
        fig = Figure(figsize=(9, max(2.5, 0.32 * len(top) + 1)))
        ax = fig.add_subplot()
        labels = [_chat_label(i, name) for i, name in enumerate(names)][::-1]
        y = range(len(labels))
        ax.barh(y, [t[1] for t in top][::-1], color=OTHERS, label="all")
        ax.barh(y, [t[2] for t in top][::-1], color=ME, label="me")
        ax.set_yticks(list(y), labels)  # by position: two chats may share a shown name
        ax.tick_params(axis="y", labelsize=10)
        ax.set_xlabel("messages")
        ax.legend()
        ax.set_title("Messages per chat", y=1.0)
        return _save(fig, path, left=_label_margin(labels, 9))


def _hist(hist: tuple[list[int], list[float]], path: Path, title: str, xlabel: str) -> str:
    fig = Figure(figsize=(9, 3))
    ax = fig.add_subplot()
    counts, edges = hist
    if counts:
        ax.stairs(counts, edges, fill=True, color=ME)  # one shape, not a patch per bar: faster
    ax.set_title(title, y=1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    return _save(fig, path)


def _barh(counts: dict[str, int], path: Path, title: str, color: str) -> str:
    items = sorted(counts.items(), key=lambda kv: kv[1])
    # As wide as the other charts, labels as large as theirs, the margin fitted to the labels.
    fig = Figure(figsize=(9, max(2.2, 0.4 * len(items) + 1.2)))
    ax = fig.add_subplot()
    if items:
        ax.barh([k for k, _ in items], [v for _, v in items], color=color)
        ax.tick_params(axis="y", labelsize=10)
        for i, (_, v) in enumerate(items):
            ax.text(v, i, f" {v}", va="center", fontsize=10)
        ax.set_xlim(0, max(1, items[-1][1]) * 1.15)  # room for the largest count's label
    else:
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title, y=1.0)
    return _save(fig, path, left=_label_margin([k for k, _ in items], 9))


def _skipped(rows: dict[str, int]) -> str:
    """A file's skipped rows for the table: "none", or "reason 3, other reason 1"."""
    return ", ".join(f"{reason} {n}" for reason, n in rows.items()) or "none"


def _conversation(messages: list[dict]) -> str:
    rows = []
    for m in messages:
        role = m["role"]
        note = " (context only, not trained)" if m.get("weight") == 0 else ""
        rows.append(
            f'<div class="turn {role}"><b>{role}{note}</b><pre>{html.escape(m["content"])}</pre></div>'
        )
    return '<div class="conv">' + "".join(rows) + "</div>"


def _top_chats(data) -> list[tuple[str, int, int]]:
    top = sorted(data.per_chat.items(), key=lambda kv: -kv[1])[:20]
    return [(name, n, data.per_chat_me[name]) for name, n in top]


def overview_charts(folder: Path, data) -> list[Callable[[], object]]:
    """The charts of the input alone (known long before the samples are), each drawable on
    its own, so that two processes can share them."""
    charts = folder / "charts"
    charts.mkdir(exist_ok=True)
    return [
        partial(_timeline, data, charts / "timeline.png"),
        partial(_chats, _top_chats(data), charts / "chats.png"),
    ]


_DROPPED = "Messages not used, by reason"
_REPLIES = "Length of my replies (trained)"
_REDACTED = "Personal data redacted, by type"


def result_charts(
    folder: Path, stats: dict, data, tokens_exact: bool
) -> list[Callable[[], object]]:
    """The charts of the finished build, each drawable on its own."""
    charts = folder / "charts"
    title = "Sample length in tokens" + (
        "" if tokens_exact else " (estimated; pass --tokenizer to count)"
    )
    return [
        partial(_barh, stats["messages"]["dropped"], charts / "dropped.png", _DROPPED, OTHERS),
        partial(_hist, data.reply_lengths, charts / "reply_lengths.png", _REPLIES, "characters"),
        partial(_barh, stats["redactions"], charts / "redactions.png", _REDACTED, ME),
        partial(_hist, data.sample_tokens, charts / "tokens.png", title, "tokens"),
    ]


def write_report(folder: Path, stats: dict, data, examples: list[list[dict]]) -> None:
    """report.html, around the charts of `overview_charts` and `result_charts`."""
    top3 = _top_chats(data)
    images = {
        "timeline": "timeline.png",
        "chats": "chats.png",
        "replies": "reply_lengths.png",
        "dropped": "dropped.png",
        "redactions": "redactions.png",
        "tokens": "tokens.png",
    }
    m = stats["messages"]
    s = stats["samples"]
    chat_rows = "".join(
        f"<tr><td>#{i + 1}</td><td>{html.escape(name)}</td><td>{n}</td><td>{me}</td></tr>"
        for i, (name, n, me) in enumerate(top3)
    )
    step_rows = "".join(
        f"<tr><td>{html.escape(st['step'])}</td><td>{st['messages']}</td></tr>"
        for st in stats["steps"]
    )
    drop_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in m["dropped"].items()
    )
    red_rows = "".join(
        f"<tr><td>&lt;{html.escape(k)}&gt;</td><td>{v}</td></tr>"
        for k, v in stats["redactions"].items()
    ) or ("<tr><td colspan=2>nothing found</td></tr>")
    file_rows = "".join(
        f"<tr><td>{html.escape(f['file'])}</td><td>{html.escape(f['format'])} {html.escape(f['version'])}</td>"
        f"<td>{f['messages']}</td><td>{f['by_me']}</td><td>{html.escape(_skipped(f['rows_skipped']))}</td></tr>"
        for f in stats["input"]["files"]
    )
    examples_html = "".join(_conversation(e) for e in examples)
    img = lambda key, alt: f'<img src="charts/{images[key]}" alt="{alt}">'  # noqa: E731
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>twin dataset report</title>
<style>
body {{ font-family: {FONT_STACK}; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: .5em 0 1.5em; }} td, th {{ border: 1px solid #ddd; padding: 3px 8px; text-align: left; }}
img {{ max-width: 100%; display: block; margin: 0 auto; }} .big {{ font-size: 1.3em; }}
.conv {{ border: 1px solid #ccc; border-radius: 6px; padding: .5em; margin: 1em 0; }}
.turn pre {{ white-space: pre-wrap; margin: .2em 0 .6em; font-family: inherit; }}
.user {{ color: #1c4f80; }} .assistant {{ color: #8a2c07; }} .system {{ color: #666; }}
</style></head><body>
<h1>twin dataset report</h1>
<p class="big">{m["input"]} messages in, <b>{m["used"]}</b> used in <b>{s["total"]}</b> samples
({s["train"]} train, {s["dev"]} dev; {s["assistant_turns_trained"]} of your replies trained on).
Every other message is counted below under the reason it was left out.</p>
<p>System prompt: <code>{html.escape(stats["system_prompt"])}</code> (language: {stats["language"]})</p>
<h2>Input files</h2><table><tr><th>file</th><th>format</th><th>messages</th><th>by me</th><th>rows skipped</th></tr>{file_rows}</table>
<h2>Messages over time</h2>{img("timeline", "messages per month")}
<h2>Chats</h2>{img("chats", "messages per chat")}
<table><tr><th>#</th><th>chat</th><th>messages</th><th>by me</th></tr>{chat_rows}</table>
<h2>Your replies</h2>{img("replies", "reply lengths")}
<h2>Sample lengths</h2>{img("tokens", "sample tokens")}
<h2>What was left out, and why</h2>{img("dropped", "drop reasons")}
<table><tr><th>step</th><th>messages left</th></tr>{step_rows}</table>
<table><tr><th>reason</th><th>messages</th></tr>{drop_rows}</table>
<h2>Redacted personal data</h2>{img("redactions", "redactions")}
<table><tr><th>placeholder</th><th>replaced</th></tr>{red_rows}</table>
<h2>Sample conversations</h2>
<p>As the model will see them (after redaction). Replies marked "context only" are not trained on.</p>
{examples_html}
</body></html>
"""
    (folder / "report.html").write_text(page, encoding="utf-8")
