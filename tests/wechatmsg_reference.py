"""The WeChatMsg CSV row parser, kept as the reference the column-wise reader is tested against.

This is how twin read WeChatMsg CSVs before the column reader took every version: one row at a
time, with Python's csv module, each row checked and mapped on its own (a first pass only tells a
per-contact file, whose chats are keyed differently). It is easy to read and
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
    NAMELESS,
    WITH_MSGSVRID,
    check_header,
    layout,
)
from twin.ingest.formats.wechatmsg_csv import chat_of, contact_of, kind_and_text
from twin.ingest.report import FileReport
from twin.ingest.shown import value
from twin.ingest.sources import Source
from twin.messages import Message


def use_reference(monkeypatch) -> None:  # noqa: ANN001
    """Ingest reads WeChatMsg CSVs with this parser (and never column-wise)."""
    monkeypatch.setattr(wechatmsg_csv, "parse", parse)
    monkeypatch.delattr(wechatmsg_csv, "read_table")


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    """The messages of a WeChatMsg CSV, one row at a time (after a first pass that tells a
    per-contact file)."""
    with report.open_text(source, newline="") as f:
        rows = CsvRows(f, report)
        header = rows.header
        if header is None:
            return
        check_header(header, source)
        found, good = _good_rows(rows, len(header), report)
    if found is None:
        return
    version = found[0]
    with_svrid = version in WITH_MSGSVRID
    # a per-contact file: named <contact>_utf8.csv with one TalkerId, or others' filled Sender
    # cells all account ids
    others = [row[11] for _, row, me in good if not me and row[11]] if version == ">=1.0" else []
    named = source.name.endswith("_utf8.csv") and len({row[1] for _, row, _ in good}) == 1
    per_contact = version == NAMELESS or (
        version == ">=1.0" and (named or (bool(others) and all(map(is_account_id, others))))
    )
    display = source.display
    stem = source.name.rsplit(".", 1)[0]
    chats: dict[tuple[str, str, str], tuple[str, str]] = {}
    for start, row, me in good:
        n = len(row)
        talker = row[1]
        if version == ">=1.0":
            remark, nick, sender = row[9], row[10], row[11]
        elif version == "0.2.7–0.2.9":
            remark = row[10] if n > 10 else ""
            nick = row[11] if n > 11 else ""
            sender = row[12] if n > 12 else ""
        else:
            remark = nick = sender = ""
        sender_id = None
        if per_contact:
            chat, chat_name = contact_of(talker, stem)
            if me:
                sender = "我"
            elif remark or nick or sender:
                # the row's own sender: shown by remark or nickname, the id beside
                sender_id = sender if is_account_id(sender) else None
                sender = remark or nick or sender
            else:
                sender = chat_name
                sender_id = chat_name if is_account_id(chat_name) else None
        else:
            chat_key = (talker, remark, nick)
            named_chat = chats.get(chat_key)
            if named_chat is None:
                named_chat = chats[chat_key] = chat_of(talker, remark, nick, stem)
            chat, chat_name = named_chat
            if me:
                sender = sender or "我"
            else:
                # an empty Sender cell is the friend of a 1:1 chat, named as the filled ones are
                sender = sender or nick or chat_name
                if is_account_id(sender):  # also a chat named by a wxid, as read_table keys it
                    sender_id = sender
        created = int(row[5])
        timed = local_and_unix(row[8], created) if row[8] else None
        if timed is None:
            timed = unix_time(created)
        kind, text = kind_and_text(int(row[2]), int(row[3] or 0), row[7])
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
    if version == ">=1.0" and report.encoding == "utf-8-sig":
        version = ">=1.0.2"
    if found[0] == NAMELESS:
        version = (">=1.0.2" if report.encoding == "utf-8-sig" else ">=1.0") + (
            ", per-contact 1:1 (rows of 9 fields, no names)"
        )
    elif per_contact:
        version += ", per-contact 2.x (Sender holds wxids)"
    report.version = version


def _good_rows(
    rows: CsvRows, named: int, report: FileReport
) -> tuple[tuple[str, set[int]] | None, list[tuple[int, list[str], bool]]]:
    """(layout, [(line, row, mine)] of the rows that pass every check); the others reported."""
    found = None  # decided from the first data row
    good = []
    for where, start, row in rows:
        n = len(row)
        if found is None:
            found = layout(named, row)
        if n not in found[1]:
            report.bad_row(
                where,
                f"{n} fields",
                f"{' or '.join(map(str, sorted(found[1])))} fields for WeChatMsg {found[0]}"
                + (" (is the file cut short?)" if n < 9 else ""),
            )
            continue
        try:
            int(row[2]), int(row[3] or 0)
            created = int(row[5])
        except ValueError:
            report.bad_row(
                where,
                f"Type={value(row[2])}, SubType={value(row[3])}, CreateTime={value(row[5])}",
                "integer Type, SubType and CreateTime (Unix seconds)",
            )
            continue
        if row[4] not in ("0", "1"):
            report.bad_row(where, f"IsSender={value(row[4])}", "IsSender 0 or 1")
            continue
        if not CREATED_RANGE[0] <= created <= CREATED_RANGE[1]:
            report.bad_row(
                where,
                f"CreateTime={value(row[5])}",
                "CreateTime as Unix seconds (years 1 to 9999)",
            )
            continue
        good.append((start, row, row[4] == "1"))
    return found, good
