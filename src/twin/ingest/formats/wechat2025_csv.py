"""WeChatMsg / 留痕 2025 rewrite (WeChat 4.0): one CSV per chat.

`聊天记录/{remark}({wxid})/{remark}.csv`, utf-8-sig, header `消息ID,类型,发送人,时间,内容,备注,昵称,更多信息`.
类型 is a Chinese type name, 内容 the rendered text (see _wechat.py). There is no IsSender column, so
`me` stays None: ingest takes --me, or guesses the one sender present in every chat it read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from twin.ingest.formats._csv import CsvRows
from twin.ingest.formats._wechat import chat_of, kind_of_type, message_id, rendered, wall_time
from twin.ingest.report import FileReport
from twin.ingest.shown import header as header_shown
from twin.ingest.shown import value
from twin.ingest.sources import Source
from twin.messages import FileLine, Message

NAME = "wechat2025-csv"
LABEL = "WeChatMsg/留痕 2025 CSV (WeChat 4.0)"
ME = "--me or guess"  # see twin.ingest.importer.MeRule

HEADER = ["消息ID", "类型", "发送人", "时间", "内容", "备注", "昵称", "更多信息"]
_REQUIRED = 5  # 消息ID … 内容; the last three columns only name the sender again


def sniff(head: str, source: Source) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0].strip()
    return [c.strip().strip('"') for c in first.split(",")][:_REQUIRED] == HEADER[:_REQUIRED]


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    chat, chat_name, group = chat_of(source)
    display = source.display
    unknown_types: Counter = Counter()
    with report.open_text(source, newline="") as f:
        rows = CsvRows(f, report)
        header = rows.header
        if header is None:
            return
        if header[:_REQUIRED] != HEADER[:_REQUIRED]:
            report.bad_row(
                "line 1 (header)",
                f"header {header_shown(header)}",
                "the WeChatMsg 2025 header " + ",".join(HEADER),
            )
            return
        report.version = (
            "as exported" if report.encoding == "utf-8-sig" else "re-saved (no UTF-8 BOM)"
        )
        for where, start, row in rows:
            if len(row) < _REQUIRED or len(row) > len(header):
                report.bad_row(
                    where, f"{len(row)} fields", f"{len(header)} fields as in the header"
                )
                continue
            msg_id, type_name, sender, when, content = row[:_REQUIRED]
            timed = wall_time(when)
            if timed is None:
                report.bad_row(where, f"时间={value(when)}", "a time like 2024-12-01 12:00:00")
                continue
            type_name = type_name.strip()
            if kind_of_type(type_name) is None:
                unknown_types[type_name] += 1
            kind, text, reply_to, forwarded = rendered(type_name, content)
            if not sender:
                sender = (row[5] if len(row) > 5 else "") or (row[6] if len(row) > 6 else "")
            yield Message(
                chat=chat,
                chat_name=chat_name,
                sender=sender,
                # a line without a sender is the app's own (system, recall): never the exporter's
                me=False if not sender and kind in ("system", "recall") else None,
                group=group,
                time=timed[0],
                ts=timed[1],
                kind=kind,
                text=text,
                id=message_id(msg_id, report),
                reply_to=reply_to,
                forwarded=forwarded,
                source=FileLine(display, start),
            )
    if unknown_types:
        names = ", ".join(f"{name or '(empty)'} ×{n}" for name, n in unknown_types.most_common(5))
        report.note(f"unknown 类型 read as kind 'other': {names}")
