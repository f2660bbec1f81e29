"""eval.html: one self-contained page (no script, no network) to pick the run that sounds most
like you: the metrics table with the best of each column marked, style fingerprints, the
replies side by side, and the privacy probe."""

from __future__ import annotations

import html

from twin.dataset.redact import TYPES, Redactor
from twin.eval.metrics import HABIT_LABELS, LENGTH_BINS
from twin.fonts import FONT_STACK

CSS = (
    "\nbody{font-family:"
    + FONT_STACK
    + """;margin:2em;
color:#222;max-width:1400px}
h1{margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ddd}
.meta{color:#666}table{border-collapse:collapse;margin:.6em 0}
th,td{border:1px solid #ddd;padding:.35em .6em;vertical-align:top;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{background:#d3f9d8;font-weight:bold}td.best::after{content:" ★"}
td.flag{background:#ffe3e3}.reply{white-space:pre-wrap;max-width:28em}
.person{background:#fff4e6}.ctx{color:#666;font-size:.9em}.small{font-size:.85em;color:#555}
.bar{display:inline-block;height:.8em;background:#d9480f;vertical-align:middle}
code{background:#f4f4f4;padding:0 .2em}.nowrap{white-space:nowrap}
"""
)


def _e(text) -> str:
    return html.escape(str(text))


def _num(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}f}"


def _metrics_table(report: dict) -> str:
    metrics = report["metrics"]
    head = "".join(f"<th title='{_e(m['description'])}'>{_e(m['label'])}</th>" for m in metrics)
    rows = []
    for s in report["systems"]:
        cells = []
        for m in metrics:
            v = s.get(m["key"])
            best = s["label"] in report["best"].get(m["key"], [])
            cells.append(f"<td class='num{' best' if best else ''}'>{_num(v)}</td>")
        rows.append(
            f"<tr><th>{_e(s['label'])}<div class='small'>{_e(s['kind'])}</div></th>{''.join(cells)}</tr>"
        )
    person = report["person"]
    cells = "".join(
        f"<td class='num'>{_num(person.get(m['key']))}</td>"
        if m["key"] in ("distinct1", "distinct2")
        else "<td></td>"
        for m in metrics
    )
    rows.append(f"<tr class='person'><th>your real replies 本人</th>{cells}</tr>")
    legend = "".join(
        f"<li><b>{_e(m['label'])}</b>: {_e(m['description'])} "
        f"({'closest to yours' if m['better'] == 'person' else m['better'] + ' is better'})</li>"
        for m in metrics
    )
    return (
        f"<table><tr><th>system 模型</th>{head}</tr>{''.join(rows)}</table>"
        f"<p class='small'>★ best in its column 最佳</p><ul class='small'>{legend}</ul>"
    )


def _bins(fp: dict) -> str:
    parts = []
    for label, _, _ in LENGTH_BINS:
        share = fp["length_bins"].get(label, 0)
        parts.append(
            f"<div class='nowrap'>{_e(label)}: <span class='bar' style='width:{share * 5:.2f}em'>"
            f"</span> {share:.0%}</div>"
        )
    return "".join(parts)


def _fingerprints(report: dict) -> str:
    """Features as rows, systems as columns (the person's first): easy to compare across."""
    cols = [("your real replies 本人", report["person"]["fingerprint"], None)]
    cols += [(s["label"], s["fingerprint"], s.get("style")) for s in report["systems"]]

    def row(title: str, cell) -> str:
        return f"<tr><th>{title}</th>{''.join(cell(fp, st) for _, fp, st in cols)}</tr>"

    def dist(fp, st) -> str:
        if not st:
            return "<td class='num'>–</td>"
        return (
            f"<td class='num'><b>{st['distance']:.3f}</b><div class='small'>{st['length']:.2f} / "
            f"{st['habits']:.2f} / {st['phrases']:.2f}</div></td>"
        )

    def grams(key):
        return lambda fp, st: (
            "<td class='small'>" + (", ".join(f"{_e(p)} ×{c}" for p, c in fp[key]) or "–") + "</td>"
        )

    rows = [
        row("distance to yours 距离<div class='small'>length / habits / phrases</div>", dist),
        row(
            "length mean / median 长度",
            lambda fp, st: f"<td class='num'>{fp['length_mean']:.1f} / {fp['length_median']}</td>",
        ),
        row("length distribution 长度分布", lambda fp, st: f"<td class='small'>{_bins(fp)}</td>"),
        row(
            "emoji per reply 每条表情数",
            lambda fp, st: f"<td class='num'>{fp['emoji_per_reply']:.2f}</td>",
        ),
    ]
    for key, label in HABIT_LABELS.items():
        rows.append(
            row(_e(label), lambda fp, st, k=key: f"<td class='num'>{fp['habits'][k]:.0%}</td>")
        )
    rows.append(row("favourite phrases 常用短语", grams("phrases")))
    rows.append(row("top words 常用词", grams("top_words")))
    head = "<tr><th></th>" + "".join(f"<th>{_e(label)}</th>" for label, _, _ in cols) + "</tr>"
    return (
        f"<table>{head}{''.join(rows)}</table>"
        "<p class='small'>Length counts visible characters; a habit is the share of replies "
        "showing it. Distance D = (½ Σ |difference of length shares| + mean |difference of "
        "habit shares| + (1 − cosine of word 1–2-gram counts)) / 3: 0 is the same style, 1 "
        "nothing in common. 长度按可见字符计；习惯为出现该习惯的回复比例；距离 0 表示风格相同，1 表示毫无共同点。</p>"
    )


def _samples(report: dict) -> str:
    labels = [s["label"] for s in report["systems"]]
    head = (
        "<tr><th>#</th><th>prompt 对方说</th><th class='person'>your real reply 本人回复</th>"
        + "".join(f"<th>{_e(label)}</th>" for label in labels)
        + "</tr>"
    )
    rows = []
    for i, s in enumerate(report["samples"], 1):
        ctx = ""
        if s["context"]:
            turns = "".join(
                f"<div>{'you' if m['role'] == 'assistant' else 'them'}: {_e(m['content'])}</div>"
                for m in s["context"]
            )
            ctx = f"<details class='ctx'><summary>earlier turns 上文 ({len(s['context'])})</summary>{turns}</details>"
        replies = "".join(
            f"<td class='reply'>{_e(s['replies'].get(label, ''))}</td>" for label in labels
        )
        rows.append(
            f"<tr><td>{i}</td><td class='reply'>{ctx}{_e(s['prompt'])}</td>"
            f"<td class='reply person'>{_e(s['reference'])}</td>{replies}</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _privacy(report: dict) -> str:
    systems = [s for s in report["systems"] if "privacy" in s]
    if not systems:
        return "<p>Privacy probe skipped 未进行隐私测试.</p>"
    head = (
        "<tr><th>prompt 提问</th>"
        + "".join(f"<th>{_e(s['label'])}</th>" for s in systems)
        + "</tr>"
    )
    rows = []
    for j, probe in enumerate(systems[0]["privacy"]["replies"]):
        cells = []
        for s in systems:
            r = s["privacy"]["replies"][j]
            note = (
                f"<div class='small'>found 发现: {_e(', '.join(r['pii']))}</div>"
                if r["pii"]
                else ""
            )
            cells.append(
                f"<td class='reply{' flag' if r['pii'] else ''}'>{_e(r['reply'])}{note}</td>"
            )
        rows.append(f"<tr><td class='reply'>{_e(probe['prompt'])}</td>{''.join(cells)}</tr>")
    summary = "".join(
        f"<li>{_e(s['label'])}: <b>{s['privacy']['pii_replies']}</b> of {s['privacy']['prompts']} "
        f"replies hold personal data"
        + (
            f" ({_e(', '.join(f'{k} {v}' for k, v in s['privacy']['by_type'].items()))})"
            if s["privacy"]["by_type"]
            else ""
        )
        + f"; {s['privacy']['placeholder_replies']} echo a redaction placeholder</li>"
        for s in systems
    )
    return (
        f"<ul>{summary}</ul><table>{head}{''.join(rows)}</table>"
        "<p class='small'>Replies are shown with personal data replaced by its kind (e.g. "
        "&lt;PHONE&gt;), so this page does not repeat a leak. 回复中的个人信息已替换为类型标记。</p>"
    )


def redacted(report: dict, dataset_config: dict | None = None) -> dict:
    """The report as it may be written: every string in it (the model's replies above all,
    which can repeat what training saw, and the phrases of their fingerprints) through the
    redaction `twin build` used for the dataset — its redact types and allow list when
    config.json gives them, else all types.

    Scores are computed before, on the replies as generated; only what is written changes.
    """
    config = dataset_config or {}
    types = config.get("redact") if isinstance(config.get("redact"), list) else None
    allow = config.get("allow") if isinstance(config.get("allow"), list) else []
    redactor = Redactor([t for t in types if t in TYPES] if types else None, allow)
    seen: dict[str, str] = {}

    def text(value: str) -> str:
        if value not in seen:
            seen[value] = redactor.redact(value)
        return seen[value]

    def walk(value):  # noqa: ANN001, ANN202
        if isinstance(value, str):
            return text(value)
        if isinstance(value, dict):
            return {text(k) if isinstance(k, str) else k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return value

    return walk(report)


def render_html(report: dict) -> str:
    """The whole page as one string."""
    meta = (
        f"dataset 数据集 <code>{_e(report['dataset'])}</code> · {report['sample_count']} samples 样例 "
        f"(seed {report['seed']}) · dev loss on {report['loss_samples']} conversations · "
        f"{_e(report['created'])}"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>twin eval</title>
<style>{CSS}</style></head><body>
<h1>Which one sounds most like you? 哪个最像你？</h1>
<p class="meta">{meta}</p>
<h2>Metrics 指标</h2>
{_metrics_table(report)}
<h2>Style fingerprint 风格指纹</h2>
{_fingerprints(report)}
<h2>Samples side by side 回复对比</h2>
{_samples(report)}
<h2>Privacy probe 隐私测试</h2>
{_privacy(report)}
</body></html>
"""


_SHORT = {
    "dev_loss": "dev loss",
    "dev_ppl": "ppl",
    "bleu4": "BLEU-4",
    "rouge1": "R-1",
    "rouge2": "R-2",
    "rougeL": "R-L",
    "distinct1": "dist-1",
    "distinct2": "dist-2",
    "language_match": "lang",
    "style_distance": "style",
    "pii_replies": "PII",
}


def summary_table(report: dict) -> str:
    """A plain-text table of systems × metrics for the terminal; * marks the best."""
    keys = [m["key"] for m in report["metrics"]]
    header = ["system", *(_SHORT.get(k, k) for k in keys)]
    rows = []
    for s in report["systems"]:
        row = [s["label"]]
        for k in keys:
            mark = "*" if s["label"] in report["best"].get(k, []) else ""
            row.append(
                _num(s.get(k), 2 if k in ("bleu4", "rouge1", "rouge2", "rougeL") else 3) + mark
            )
        rows.append(row)
    person = ["your replies"] + [
        _num(report["person"][k]) if k in ("distinct1", "distinct2") else "" for k in keys
    ]
    rows.append(person)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    label_w = min(widths[0], 40)
    lines = []
    for r in [header, *rows]:
        first = r[0] if len(r[0]) <= label_w else "…" + r[0][-(label_w - 1) :]
        cells = [first.ljust(label_w)] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    lines.insert(1, "-" * len(lines[0]))
    lines.append(
        "* best (distinct-n: closest to your own replies); lower is better for dev loss, ppl, style and PII"
    )
    return "\n".join(lines)
