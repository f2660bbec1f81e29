"""WeChatMsg / 留痕 / MemoTrace `messages.csv` (WeChat PC 3.x), every version.

The version is told by the header and the field count of the rows (formats.md §1): 0.2.6 added
an unnamed MsgSvrID field, 0.2.7–0.2.9 wrote rows shifted one column right of their header.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator

from twin.errors import InputError
from twin.ingest.formats._common import local_and_unix, strip_markup, unix_time, xml_attr
from twin.ingest.report import FileReport
from twin.ingest.sources import Source
from twin.messages import Message

NAME = "wechatmsg-csv"
LABEL = "WeChatMsg/留痕 CSV"

HEADER9 = [
    "localId",
    "TalkerId",
    "Type",
    "SubType",
    "IsSender",
    "CreateTime",
    "Status",
    "StrContent",
    "StrTime",
]
HEADER12 = HEADER9 + ["Remark", "NickName", "Sender"]
# Versions whose rows carry the server message id (stable across backups) as field 10.
WITH_MSGSVRID = frozenset(["0.2.6", "0.2.6 (hand-edited header)", "0.2.7–0.2.9"])
_REPLACEMSG = re.compile(r"<replacemsg>(.*?)</replacemsg>", re.S)

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

SIMPLE_KINDS = {
    1: "text",
    3: "image",
    34: "voice",
    43: "video",
    47: "sticker",
    48: "location",
    50: "call",
}
APP_KINDS = {
    1: "text",
    3: "link",
    5: "link",
    6: "file",
    8: "sticker",
    33: "link",
    36: "link",
    51: "link",
    57: "text",
}


def sniff(head: str, source: Source) -> bool:
    return head.lstrip("\ufeff").startswith("localId,TalkerId,Type,SubType,IsSender,CreateTime")


def kind_and_text(type_: int, sub: int, content: str) -> tuple[str, str]:
    """Map WeChat's Type/SubType to a kind, and keep what text the row has that a person wrote."""
    kind = SIMPLE_KINDS.get(type_)
    if kind == "text":
        return kind, content
    if kind is not None:
        if kind == "voice":
            return kind, xml_attr(content, "transtext") or ""
        if kind == "location":
            return kind, xml_attr(content, "poiname") or xml_attr(content, "label") or ""
        return kind, ""
    if type_ == 49:
        kind = APP_KINDS.get(sub, "other")
        text = "" if content.startswith("<") else content
        if kind == "text" and not text:
            kind = "other"  # quote/pasted-text rows whose text was never exported
        return kind, text
    if type_ == 10000:
        text = strip_markup(content)
        return ("recall" if "撤回了一条消息" in text else "system"), text
    if type_ == 10002:
        if "revokemsg" in content:
            # The notice shown in the chat; the rest of the XML is ids.
            notice = _REPLACEMSG.search(content)
            return "recall", strip_markup(notice.group(1)) if notice else ""
        return "system", strip_markup(content)
    if type_ in (37, 42):
        return "other", ""
    return "other", "" if content.startswith("<") else content


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    f = report.open_text(newline="")
    with f:
        reader = csv.reader(f)
        try:
            header = [h.strip().lstrip("\ufeff") for h in next(reader)]
        except StopIteration:
            return
        # A wrong header is not a bad row: --skip-bad-rows must not read a foreign table.
        if header[:9] != HEADER9:
            raise InputError(
                source.display,
                "line 1 (header)",
                f"header {','.join(header)!r}",
                "the WeChatMsg header " + ",".join(HEADER9),
            )
        named = len(header)
        if named == 12 and header[9:] != HEADER12[9:]:
            raise InputError(
                source.display,
                "line 1 (header)",
                f"extra columns {header[9:]}",
                "Remark,NickName,Sender",
            )
        display = source.display
        stem = source.name.rsplit(".", 1)[0]
        layout = None  # decided from the first data row
        row_no = 0
        line = 1
        wxid_senders = 0
        for row in reader:
            start, line = line + 1, reader.line_num
            row_no += 1
            if not row or (len(row) == 1 and not row[0].strip()):
                report.skip("blank row")
                continue
            n = len(row)
            if layout is None:
                layout = _layout(named, row, report)
                with_svrid = layout[0] in WITH_MSGSVRID
            where = f"row {row_no} (line {start})"
            if n not in layout[1]:
                report.bad_row(
                    where,
                    f"{n} fields",
                    f"{' or '.join(map(str, sorted(layout[1])))} fields for WeChatMsg {layout[0]}"
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
                    f"Type={row[2]!r}, SubType={row[3]!r}, CreateTime={row[5]!r}",
                    "integer Type, SubType and CreateTime (Unix seconds)",
                )
                continue
            if is_sender not in ("0", "1"):
                report.bad_row(where, f"IsSender={is_sender!r}", "IsSender 0 or 1")
                continue
            me = is_sender == "1"
            talker = row[1]
            if layout[0] == ">=1.0":
                remark, nick, sender = row[9], row[10], row[11]
            elif layout[0] == "0.2.7–0.2.9":
                remark = row[10] if n > 10 else ""
                nick = row[11] if n > 11 else ""
                sender = row[12] if n > 12 else ""
            else:
                remark = nick = sender = ""
            if remark or nick:
                chat = f"wechat:{talker}:{nick or remark}"
                chat_name = remark or nick
            else:
                chat = f"wechat:{stem}:{talker}"
                chat_name = f"TalkerId {talker}"
            sender_id = None
            if me:
                sender = sender or "我"
            else:
                if sender.startswith("wxid_") or sender.endswith("@chatroom"):
                    sender_id = sender
                    wxid_senders += 1
                sender = sender or chat_name
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
        if layout is not None:
            version = layout[0]
            if version == ">=1.0" and report.encoding == "utf-8-sig":
                version = ">=1.0.2"
            if wxid_senders:
                version += ", per-contact 2.x (Sender holds wxids)"
            report.version = version


def _layout(named: int, row: list[str], report: FileReport) -> tuple[str, set[int]]:
    """(version, allowed field counts) from the header width and the first data row."""
    if named == 9:
        return ("0.2.6", {10}) if len(row) == 10 else ("<=0.2.5", {9})
    if named == 10:
        return ("0.2.6 (hand-edited header)", {10})
    if named == 12:
        shifted = len(row) == 13 or (len(row) >= 10 and row[9].isdigit() and len(row[9]) >= 15)
        if shifted:
            return ("0.2.7–0.2.9", {10, 11, 12, 13})
        return (">=1.0", {12})
    return (f"unknown ({named} columns)", {named})
