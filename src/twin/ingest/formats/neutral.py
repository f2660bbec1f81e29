"""The neutral format, for any chat source twin has no importer for (and twin's own messages.jsonl).

JSON lines or CSV with a header, one message a row. Required: `time` (ISO-8601, or Unix seconds),
`chat`, `sender`, `text`. Optional: `me` (true/false, 1/0), `chat_name`, `group`, `sender_id`,
`kind` (text, image, voice, video, sticker, link, file, location, call, system, recall, other;
default text), `id`, `reply_to`, `forwarded`. Without `me`, pass --me.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from twin.ingest.formats._common import naive_time, unix_time
from twin.ingest.formats._csv import CsvRows
from twin.ingest.formats._json import loads as json_loads
from twin.ingest.report import FileReport
from twin.ingest.shown import value as shown
from twin.ingest.sources import Source
from twin.messages import KIND_SET, KINDS, Message

NAME = "neutral"
LABEL = "neutral JSONL/CSV"
ME = "file or --me"  # see twin.ingest.importer.MeRule
REQUIRED = ("time", "chat", "sender", "text")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


def sniff(head: str, source: Source) -> bool:
    first = head.lstrip("\ufeff").lstrip().split("\n", 1)[0].strip()
    if first.startswith("{"):
        try:
            obj = json_loads(first)
        except ValueError:
            return False
        return isinstance(obj, dict) and all(k in obj for k in REQUIRED)
    names = {h.strip().strip('"').lower() for h in first.split(",")}
    return all(k in names for k in REQUIRED)


def _bool(value, where: str, column: str, report: FileReport) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    report.bad_row(where, f"{column}={shown(value)}", f"{column} true/false or 1/0")
    return None


def _time(value, where: str, report: FileReport) -> tuple[str, float] | None:
    text = str(value).strip()
    try:
        timed = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            timed = unix_time(float(value))
        elif text.replace(".", "", 1).isdigit():
            timed = unix_time(float(text))
        else:
            return naive_time(datetime.fromisoformat(text.replace("Z", "+00:00")))
        if timed is None:
            raise ValueError("out of range")
        return timed
    except (ValueError, OverflowError, OSError):  # not a time, or a year out of range
        report.bad_row(
            where,
            f"time={shown(value)}",
            "an ISO-8601 time like 2024-01-02T03:04:05, or Unix seconds",
        )
        return None


def _rows(source: Source, report: FileReport) -> Iterator[tuple[str, dict | None, str]]:
    """(where, row as dict or None for a bad row, line) for JSONL or CSV."""
    f = report.open_text(source, newline="")
    with f:
        first = f.readline()
        f.seek(0)
        if first.lstrip("\ufeff").lstrip().startswith("{"):
            report.version = "JSONL"
            for i, line in enumerate(f, 1):
                if not line.strip():
                    report.skip("blank line")
                    continue
                where = f"line {i}"
                try:
                    obj = json_loads(line)
                except ValueError as e:
                    report.bad_row(
                        where,
                        f"invalid JSON ({e.msg} at column {e.colno})",
                        "one JSON object a line",
                    )
                    continue
                if not isinstance(obj, dict):
                    report.bad_row(where, f"a JSON {type(obj).__name__}", "one JSON object a line")
                    continue
                yield where, obj, str(i)
        else:
            report.version = "CSV"
            rows = CsvRows(f, report)
            header = [h.lower() for h in rows.header or []]
            for where, start, row in rows:
                if len(row) != len(header):
                    report.bad_row(
                        where, f"{len(row)} fields", f"{len(header)} fields as in the header"
                    )
                    continue
                yield where, dict(zip(header, row, strict=True)), str(start)


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    display = source.display
    for where, row, line in _rows(source, report):
        missing = [k for k in REQUIRED if row.get(k) in (None, "") and k != "text"]
        if missing or row.get("text") is None:
            report.bad_row(
                where, f"missing {', '.join(missing or ['text'])}", "time, chat, sender and text"
            )
            continue
        timed = _time(row["time"], where, report)
        if timed is None:
            continue
        me = None
        if row.get("me") not in (None, ""):
            me = _bool(row["me"], where, "me", report)
            if me is None:
                continue
        group = None
        if row.get("group") not in (None, ""):
            group = _bool(row["group"], where, "group", report)
            if group is None:
                continue
        kind = str(row.get("kind") or "text").strip().lower()
        if kind not in KIND_SET:
            report.bad_row(where, f"kind={shown(kind)}", "kind one of " + ", ".join(KINDS))
            continue
        src = row.get("source")
        if not isinstance(src, dict) or me is None:
            src = {"file": display, "line": int(line)}
        reply_to = row.get("reply_to")
        if reply_to not in (None, "") and not isinstance(reply_to, dict):
            reply_to = {"id": str(reply_to)}
        yield Message(
            chat=str(row["chat"]),
            chat_name=str(row.get("chat_name") or row["chat"]),
            sender=str(row["sender"]),
            sender_id=str(row["sender_id"]) if row.get("sender_id") not in (None, "") else None,
            me=me,
            group=group,
            time=timed[0],
            ts=timed[1],
            kind=kind,
            text=str(row["text"]),
            id=str(row["id"]) if row.get("id") not in (None, "") else None,
            reply_to=reply_to or None,
            forwarded=bool(row.get("forwarded"))
            and str(row.get("forwarded")).lower() not in _FALSE,
            source=src,
        )
