"""QQ message manager (消息管理器) TXT export: many chats in one file (docs/formats.md §3).

```
消息记录（此消息记录为文本格式，不支持重新导入）

================================================================
消息分组:我的群聊
================================================================
消息对象:周末爬山群
================================================================

2024-01-02 3:04:05 【管理员】阿强(10001)
周末爬山吗
```
Each `消息对象` block is a chat. A message starts with a header line `date time name(QQ号)` or
`name<email>` (1:1 chats may show only a remark name) and its body runs to the next header. The
file does not say which sender is the exporter: that comes from --me (a nickname or QQ number).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from twin.ingest.formats._common import naive_time
from twin.ingest.report import FileReport
from twin.ingest.shown import shape
from twin.ingest.sources import Source
from twin.messages import FileLine, Message

NAME = "qq-txt"
LABEL = "QQ message-manager TXT"
ME = "--me"  # how the user's messages are found: twin.ingest.importer.MeRule

TITLE = "消息记录"
_SEPARATOR = re.compile(r"^={10,}\s*$")
_BLOCK = re.compile(r"^消息(分组|对象)[:：](.*)$")
# date, time, optional AM/PM (a narrow no-break space may precede it), then who wrote
_HEADER = re.compile(
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})"
    r"(?:[ \u202f]([AaPp][Mm])(?= ))? (.*\S)\s*$"
)
_TITLES = re.compile(r"^(?:【[^】]*】\s*)+")
_QQ_NUMBER = re.compile(r"^(.*?)\s*[(（](\d{5,})[)）]$")
_EMAIL = re.compile(r"^(.*?)\s*<([^<>\s]+@[^<>\s]+)>$")
_RECALL = re.compile(r"^.{0,60}撤回了一条(?:消息|成员消息)[。.]?$", re.S)
# QQ's system accounts: 系统消息(10000) in chats, 系统消息(1000000) for group notices (joins,
# name changes) in exports of group chats.
SYSTEM_IDS = frozenset(["10000", "1000000"])
# A body that is only placeholders of one kind is that kind of message.
_PLACEHOLDERS = {
    "图片": "image",
    "闪照": "image",
    "表情": "sticker",
    "语音": "voice",
    "视频": "video",
    "文件": "file",
}
_ONLY_PLACEHOLDERS = re.compile(r"^\[(图片|闪照|表情|语音|视频|文件)\](?:\s*\[\1\])*$")


def sniff(head: str, source: Source) -> bool:
    first = head.lstrip("\ufeff").lstrip().split("\n", 1)[0].strip()
    return first.startswith(TITLE) and (
        "不支持重新导入" in first or "文本格式" in first or "消息对象" in head
    )


def near_miss(head: str) -> tuple[str, str] | None:
    """(where, what is missing) when the start of a file is a QQ TXT body without its 消息记录
    title line (guides tell people to delete it); ingest names it rather than "unknown format"."""
    lines = [line.rstrip("\r") for line in head.lstrip("\ufeff").split("\n")[:40]]
    if lines and lines[0].startswith(TITLE):
        return None
    blocks = sum(1 for line in lines if _BLOCK.match(line))
    headers = 0
    for line in lines:
        m = _HEADER.match(line)
        if m is not None and split_sender(m.group(8))[1] is not None:
            headers += 1
    if blocks or headers >= 2:
        return (
            "line 1",
            f"the title line {TITLE}（此消息记录为文本格式，不支持重新导入） is missing",
        )
    return None


def split_sender(who: str) -> tuple[str, str | None]:
    """(display name, QQ number or email or None) from a header's sender part.

    Titles like `【管理员】` are dropped; a name may itself contain parentheses, so the QQ number
    is the last parenthesised run of digits.
    """
    who = _TITLES.sub("", who).strip()
    m = _QQ_NUMBER.match(who) or _EMAIL.match(who)
    if m:
        name, sender_id = m.group(1).strip(), m.group(2)
        return name or sender_id, sender_id
    return who, None


def _header_time(m: re.Match) -> datetime | None:
    year, month, day, hour, minute, second = map(int, m.group(1, 2, 3, 4, 5, 6))
    ampm = m.group(7)
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def kind_and_text(body: str, system: bool) -> tuple[str, str]:
    stripped = body.strip()
    if _RECALL.match(stripped):
        return "recall", stripped
    if system:
        return "system", stripped
    m = _ONLY_PLACEHOLDERS.match(stripped)
    if m:
        return _PLACEHOLDERS[m.group(1)], ""
    if not stripped:
        return "other", ""
    return "text", body


class _Pending:
    """The message being read: its header, and body lines until the next header."""

    __slots__ = ("line", "when", "sender", "sender_id", "body")

    def __init__(self, line: int, when: datetime, sender: str, sender_id: str | None) -> None:
        self.line = line
        self.when = when
        self.sender = sender
        self.sender_id = sender_id
        self.body: list[str] = []


REPEATED = "message repeated in another block of the same chat (e.g. under 最近联系人)"


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    """The file's messages. QQ lists a chat under each of its 消息分组 (its group and 最近联系人),
    so one chat can be exported twice: a message an earlier block of the chat gave (same time,
    sender, kind and text) is counted under REPEATED, not read again. Repeats inside one block
    are kept: the same "好的" can be sent twice in one second."""
    earlier: dict[str, set[tuple]] = {}  # chat -> its messages in finished blocks
    current: dict[str, set[tuple]] = {}
    last = None
    for block, m in _blocks(source, report):
        if block != last:
            for chat, keys in current.items():
                earlier.setdefault(chat, set()).update(keys)
            current, last = {}, block
        key = (m.ts, m.sender_id or m.sender, m.kind, m.text)
        if key in earlier.get(m.chat, ()):
            report.skip(REPEATED)
            continue
        current.setdefault(m.chat, set()).add(key)
        yield m


def _blocks(source: Source, report: FileReport) -> Iterator[tuple[int, Message]]:
    """(the number of the 消息对象 block, message) for every message of the file."""
    blocks = 0
    display = source.display
    stem = source.name.rsplit(".", 1)[0]
    folder = ""  # 消息分组
    chat_name = ""  # 消息对象
    chat = group = None
    pending: _Pending | None = None
    after_break = True  # the previous line was blank, a separator or a block line
    after_separator = False
    # A `====` line while a message is open is a separator only if a block line follows;
    # otherwise it is a line someone wrote, and belongs to the message.
    held: str | None = None
    skipping = False  # inside a message whose header was unreadable (counted as malformed)
    twelve_hour = False
    f = report.open_text(source)
    with f:
        for n, line in _lines(f, report):
            # block lines come after a separator; in files trimmed of the separators, anywhere
            # outside a message
            block = (
                _BLOCK.match(line)
                if after_separator or held is not None or pending is None
                else None
            )
            if held is not None:
                if block is None and pending is not None:
                    pending.body.append(held)
                held = None
            if block is None and _SEPARATOR.match(line):
                if pending is not None and not after_separator:
                    held = line
                    continue
                after_separator = after_break = True
                continue
            after_separator = False
            if block:
                if pending is not None:
                    yield blocks, _message(pending, chat, chat_name, group, display)
                    pending = None
                skipping = False
                if block.group(1) == "分组":
                    folder = block.group(2).strip()
                else:
                    blocks += 1
                    chat, chat_name, group = _chat(block.group(2).strip() or stem, folder)
                after_break = after_separator = True
                continue
            header = _HEADER.match(line)
            if header is not None:
                sender, sender_id = split_sender(header.group(8))
                # Without a number the header could be a body line that starts with a date:
                # accept it only where QQ puts headers, after a blank line.
                if sender_id is None and not after_break:
                    header = None
            if header is not None:
                if pending is not None:
                    yield blocks, _message(pending, chat, chat_name, group, display)
                    pending = None
                when = _header_time(header)
                if when is None:
                    report.bad_row(
                        f"line {n}",
                        f"impossible time in a header shaped like {shape(line)}",
                        "a message header 'YYYY-MM-DD H:MM:SS name(QQ号)'",
                    )
                    skipping = True  # its body goes with it
                    continue
                skipping = False
                if chat is None:
                    # messages before any 消息对象 line: one chat named after the file
                    chat_name = stem
                    chat = f"qq:{stem}"
                    report.note(
                        "no 消息对象 line before the first message: chat named after the file"
                    )
                twelve_hour = twelve_hour or header.group(7) is not None
                pending = _Pending(n, when, sender, sender_id)
                after_break = False
                continue
            after_break = not line.strip()
            if pending is not None:
                pending.body.append(line)
            elif line.strip() and not skipping:
                report.bad_row(
                    f"line {n}",
                    f"text outside a message, shaped like {shape(line)}",
                    "a message header 'YYYY-MM-DD H:MM:SS name(QQ号)' before message text",
                )
        if pending is not None:
            yield blocks, _message(pending, chat, chat_name, group, display)
    report.version = "12-hour times" if twelve_hour else ""


def _lines(f: TextIO, report: FileReport) -> Iterator[tuple[int, str]]:
    """(line number, line) after the title line. Without a title (read only with --format:
    detection needs it) the first line is body too."""
    for n, raw in enumerate(f, 1):
        line = raw.rstrip("\r\n")
        if n == 1:
            line = line.lstrip("\ufeff")
            if line.startswith(TITLE):
                continue
            report.note(f"no {TITLE} title line: the body was read as it is")
        yield n, line


def _chat(name: str, folder: str) -> tuple[str, str, bool | None]:
    """(chat key, name, group) of a 消息对象 block: a group when its 消息分组 says so."""
    group = True if ("群" in folder or "讨论组" in folder) else None
    return (f"qq:group:{name}" if group else f"qq:{name}"), name, group


def _message(p: _Pending, chat, chat_name: str, group, display: str) -> Message:
    body = p.body
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    system = p.sender_id in SYSTEM_IDS
    kind, text = kind_and_text("\n".join(body), system)
    timed = naive_time(p.when)
    return Message(
        chat=chat,
        chat_name=chat_name,
        sender=p.sender,
        sender_id=p.sender_id,
        # the file never marks the exporter; system notices are nobody's
        me=False if system else None,
        group=group,
        time=timed[0],
        ts=timed[1],
        kind=kind,
        text=text,
        source=FileLine(display, p.line),
    )
