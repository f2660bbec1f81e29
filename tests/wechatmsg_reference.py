"""The WeChatMsg CSV row parser, kept as the reference the column-wise reader is tested against.

This is how twin read WeChatMsg CSVs before the column reader took every version: one row at a
time, with Python's csv module, each row checked and mapped on its own. It is easy to read and
to trust; tests compare `twin ingest`'s messages.jsonl (and `twin build`'s dataset) from the
column reader with what this parser gives, on every version's layout. `use_reference(monkeypatch)`
makes ingest read WeChatMsg CSVs with it.
"""

from __future__ import annotations

from collections.abc import Iterator

from twin.accounts import is_account_id
from twin.ingest.formats import wechatmsg_csv
from twin.ingest.formats._common import local_and_unix, unix_time
from twin.ingest.formats._csv import CsvRows
from twin.ingest.formats._wechatmsg_columns import (
    CREATED_RANGE,
    WITH_MSGSVRID,
    check_header,
    layout,
)
from twin.ingest.formats.wechatmsg_csv import chat_of, kind_and_text
from twin.ingest.report import FileReport
from twin.ingest.shown import value
from twin.ingest.sources import Source
from twin.messages import Message


def use_reference(monkeypatch) -> None:  # noqa: ANN001
    """Ingest reads WeChatMsg CSVs with this parser (and never column-wise)."""
    monkeypatch.setattr(wechatmsg_csv, "parse", parse)
    monkeypatch.delattr(wechatmsg_csv, "read_table")


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    """The messages of a WeChatMsg CSV, one row at a time."""
    with report.open_text(source, newline="") as f:
        rows = CsvRows(f, report)
        header = rows.header
        if header is None:
            return
        check_header(header, source)
        named = len(header)
        display = source.display
        stem = source.name.rsplit(".", 1)[0]
        found = None  # decided from the first data row
        wxid_senders = 0
        chats: dict[tuple[str, str, str], tuple[str, str]] = {}
        senders: dict[str, str] = {}
        for where, start, row in rows:
            n = len(row)
            if found is None:
                found = layout(named, row)
                with_svrid = found[0] in WITH_MSGSVRID
            if n not in found[1]:
                report.bad_row(
                    where,
                    f"{n} fields",
                    f"{' or '.join(map(str, sorted(found[1])))} fields for WeChatMsg {found[0]}"
                    + (" (is the file cut short?)" if n < 9 else ""),
                )
                continue
            try:
                type_ = int(row[2])
                sub = int(row[3] or 0)
                is_sender = row[4]
                created = int(row[5])
            except ValueError:
                report.bad_row(
                    where,
                    f"Type={value(row[2])}, SubType={value(row[3])}, CreateTime={value(row[5])}",
                    "integer Type, SubType and CreateTime (Unix seconds)",
                )
                continue
            if is_sender not in ("0", "1"):
                report.bad_row(where, f"IsSender={value(is_sender)}", "IsSender 0 or 1")
                continue
            if not CREATED_RANGE[0] <= created <= CREATED_RANGE[1]:
                report.bad_row(
                    where,
                    f"CreateTime={value(row[5])}",
                    "CreateTime as Unix seconds (years 1 to 9999)",
                )
                continue
            me = is_sender == "1"
            talker = row[1]
            if found[0] == ">=1.0":
                remark, nick, sender = row[9], row[10], row[11]
            elif found[0] == "0.2.7–0.2.9":
                remark = row[10] if n > 10 else ""
                nick = row[11] if n > 11 else ""
                sender = row[12] if n > 12 else ""
            else:
                remark = nick = sender = ""
            chat_key = (talker, remark, nick)
            named_chat = chats.get(chat_key)
            if named_chat is None:
                named_chat = chats[chat_key] = chat_of(talker, remark, nick, stem)
            chat, chat_name = named_chat
            # one string object per distinct sender: a million rows name a few hundred people
            sender = senders.setdefault(sender, sender)
            sender_id = None
            if me:
                sender = sender or "我"
            else:
                if is_account_id(sender):
                    wxid_senders += 1
                # an empty Sender cell is the friend of a 1:1 chat, named as the filled ones are
                sender = sender or nick or chat_name
                if is_account_id(sender):  # also a chat named by a wxid, as read_table keys it
                    sender_id = sender
            timed = local_and_unix(row[8], created) if row[8] else None
            if timed is None:
                timed = unix_time(created)
            kind, text = kind_and_text(type_, sub, row[7])
            yield Message(
                chat=chat,
                chat_name=chat_name,
                sender=sender,
                sender_id=sender_id,
                me=me,
                group=None,
                time=timed[0],
                ts=timed[1],
                kind=kind,
                text=text,
                id=(with_svrid and row[9]) or row[0],
                source={"file": display, "line": start},
            )
        if found is not None:
            version = found[0]
            if version == ">=1.0" and report.encoding == "utf-8-sig":
                version = ">=1.0.2"
            if wxid_senders and version.startswith(">=1.0"):
                version += ", per-contact 2.x (Sender holds wxids)"
            report.version = version
