"""report.html and its charts: what a person wants to see before spending time on training.

Charts are PNG files beside the HTML (twin.charts), so the report opens offline in any browser.
The chats chart names the chats (as redacted by the build) in a CJK font when the system has one
(twin.fonts); characters no installed font can draw are left out of its labels, and the table
below it gives every name in full.
"""

from __future__ import annotations

import html
from pathlib import Path

from twin.charts import Layer, bar_chart, step_chart
from twin.fonts import FONT_STACK, drawable

ME, OTHERS = "#d9480f", "#339af0"


def _timeline(data, path: Path) -> str:
    months = sorted({m for m, _ in data.timeline})
    mine = [data.timeline.get((m, True), 0) for m in months]
    others = [data.timeline.get((m, False), 0) for m in months]
    # Stacked: the total in my colour, the others' part over it.
    total = [a + b for a, b in zip(mine, others, strict=True)]
    return step_chart(
        path,
        [i - 0.5 for i in range(len(months) + 1)],
        [Layer(total, ME, "me"), Layer(others, OTHERS, "others")],
        "Messages over time",
        ylabel="messages per month",
        xticks=list(enumerate(months)),
    )


def _chat_label(i: int, name: str, limit: int = 24) -> str:
    """`#1 name`, cut to `limit` characters, without what no font can draw."""
    shown = drawable(name)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return f"#{i + 1} {shown}".rstrip()


def _chats(top: list[tuple[str, int, int]], path: Path) -> str:
    return bar_chart(
        path,
        [_chat_label(i, name) for i, (name, _, _) in enumerate(top)],
        [Layer([t[1] for t in top], OTHERS, "all"), Layer([t[2] for t in top], ME, "me")],
        "Messages per chat",
        xlabel="messages",
    )


def _hist(hist: tuple[list[int], list[float]], path: Path, title: str, xlabel: str) -> str:
    counts, edges = hist
    return step_chart(path, edges, [Layer(counts, ME)], title, xlabel=xlabel, ylabel="count")


def _barh(counts: dict[str, int], path: Path, title: str, color: str) -> str:
    items = sorted(counts.items(), key=lambda kv: -kv[1])  # the largest on top
    return bar_chart(
        path,
        [k for k, _ in items],
        [Layer([v for _, v in items], color)],
        title,
        show_values=True,
    )


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


_DROPPED = "Messages not used, by reason"
_REPLIES = "Length of my replies (trained)"
_REDACTED = "Personal data redacted, by type"


def draw_charts(folder: Path, stats: dict, data, tokens_exact: bool) -> dict[str, str]:
    """The report's six charts under folder/charts; their file names by the report's key."""
    charts = folder / "charts"
    charts.mkdir(exist_ok=True)
    title = "Sample length in tokens" + (
        "" if tokens_exact else " (estimated; pass --tokenizer to count)"
    )
    return {
        "timeline": _timeline(data, charts / "timeline.png"),
        "chats": _chats(_top_chats(data), charts / "chats.png"),
        "replies": _hist(data.reply_lengths, charts / "reply_lengths.png", _REPLIES, "characters"),
        "tokens": _hist(data.sample_tokens, charts / "tokens.png", title, "tokens"),
        "dropped": _barh(stats["messages"]["dropped"], charts / "dropped.png", _DROPPED, OTHERS),
        "redactions": _barh(stats["redactions"], charts / "redactions.png", _REDACTED, ME),
    }


def write_report(
    folder: Path, stats: dict, data, examples: list[list[dict]], tokens_exact: bool
) -> None:
    """report.html and its charts."""
    images = draw_charts(folder, stats, data, tokens_exact)
    top3 = _top_chats(data)
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
