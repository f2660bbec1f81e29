"""sjzar/chatlog CSV: what its HTTP API writes for `/api/v1/chatlog?…&format=csv` (WeChat 3.x
and 4.x, Windows and macOS).

Header `Time,SenderName,Sender,TalkerName,Talker,Content`; one row a message, oldest first;
`Time` is local wall time (`2024-05-01 12:00:00`), `Sender`/`Talker` are wxids (`…@chatroom`
for groups, `系统消息` for system lines), `SenderName`/`TalkerName` display names (empty for my
own rows). `Content` is chatlog's plain text: media as Markdown-like links
(`![图片](http://host/image/…)`, `[语音](…)`, `[文件|name](…)`, `[链接|title](url)`,
`[位置|label|…]`), a quote as `> ` lines of the quoted message before the reply. A query may
cover several chats (`talker=a,b`).

Who is me: in a one-to-one chat every sender who is not the talker; that wxid is me in the
file's group chats too. A file of group chats alone does not say: --me names you.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from twin.accounts import is_account_id
from twin.ingest.formats._csv import CsvRows
from twin.ingest.formats._wechat import wall_time
from twin.ingest.report import FileReport
from twin.ingest.shown import header as header_shown
from twin.ingest.shown import value
from twin.ingest.sources import Source
from twin.messages import FileLine, Message

NAME = "chatlog-csv"
LABEL = "chatlog CSV (WeChat 3/4)"
ME = "file or --me"  # see twin.ingest.importer.MeRule

HEADER = ["Time", "SenderName", "Sender", "TalkerName", "Talker", "Content"]
SYSTEM_SENDER = "系统消息"

# chatlog's renderings of what is not text (its Message.PlainTextContent), in order
_RENDERED = [
    (re.compile(r"!\[图片\]\(.*\)", re.S), "image", None),
    (re.compile(r"!\[视频\]\(.*\)", re.S), "video", None),
    (re.compile(r"\[语音\](?:\(.*\))?", re.S), "voice", None),
    (re.compile(r"(?:!\[动画表情\]\(.*\)|\[动画表情\]|\[GIF表情\])", re.S), "sticker", None),
    (re.compile(r"\[位置\|([^|\]]*).*\]", re.S), "location", 1),
    (re.compile(r"\[文件\|(.*?)\]\(.*\)", re.S), "file", 1),
    (re.compile(r"\[(?:链接|小程序|视频号|音乐)\|(.*?)\]\(.*\)", re.S), "link", 1),
    (re.compile(r"\[视频号直播(?:\|(.*))?\]", re.S), "link", 1),
    (re.compile(r"\[语音通话\]"), "call", None),
    (re.compile(r"\[(?:合并转发|笔记|群公告)\].*", re.S), "other", None),
    (re.compile(r"\[(?:名片|红包|红包封面|分享|小程序|视频号|引用)\]"), "other", None),
    (re.compile(r"Type: \d+ Content: .*", re.S), "other", None),
]
# A quote: the quoted message as chatlog prints one (`name(wxid) 01-02 15:04:05` then its text),
# each line after `> `, then the reply
_QUOTE = re.compile(r"> (.*?) ?\d{2}-\d{2} \d{2}:\d{2}:\d{2}\n((?:> [^\n]*\n)*)(.*)", re.S)
_QUOTED_NAME = re.compile(r"(.*)\(([^()]*)\)")
_RECALL = re.compile(r"撤回了一条消息")


def sniff(head: str, source: Source) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0].strip()
    return [c.strip().strip('"') for c in first.split(",")] == HEADER


def kind_and_text(content: str, system: bool) -> tuple[str, str, dict | None]:
    """(kind, text, reply_to) of chatlog's plain text of a message."""
    if system:
        return ("recall" if _RECALL.search(content) else "system"), content.strip(), None
    for pattern, kind, group in _RENDERED:
        m = pattern.fullmatch(content.strip())
        if m is not None:
            return kind, (m.group(group) or "").strip() if group else "", None
    if content.startswith("> [引用]\n"):  # a quote whose message chatlog could not find
        return "text", content[len("> [引用]\n") :], None
    m = _QUOTE.fullmatch(content)
    if m is not None:
        who = m.group(1).strip()
        named = _QUOTED_NAME.fullmatch(who)
        quoted = "\n".join(line[2:] for line in m.group(2).splitlines())
        reply_to = {"sender": named.group(1) if named else who, "text": quoted}
        return "text", m.group(3), reply_to
    return "text", content, None


def my_ids(rows: list[tuple[str, str]]) -> set[str]:
    """My wxids: in one-to-one chats, every sender who is not the chat's talker."""
    return {
        sender
        for sender, talker in rows
        if talker
        and not talker.endswith("@chatroom")
        and sender
        and sender != talker
        and sender != SYSTEM_SENDER
    }


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    display = source.display
    with report.open_text(source, newline="") as f:
        rows = CsvRows(f, report)
        header = rows.header
        if header is None:
            return
        if header != HEADER:
            report.bad_row(
                "line 1 (header)",
                f"header {header_shown(header)}",
                "the chatlog header " + ",".join(HEADER),
            )
            return
        kept = []
        for where, start, row in rows:
            if len(row) != len(HEADER):
                report.bad_row(
                    where, f"{len(row)} fields", f"{len(HEADER)} fields as in the header"
                )
                continue
            kept.append((where, start, row))
    mine = my_ids([(row[2].strip(), row[4].strip()) for _, _, row in kept])
    report.version = "my wxid from its one-to-one chats" if mine else "no one-to-one chat"
    for where, start, row in kept:
        when, sender_name, sender, talker_name, talker = (c.strip() for c in row[:5])
        content = row[5]
        timed = wall_time(when)
        if timed is None:
            report.bad_row(where, f"Time={value(when)}", "a time like 2024-05-01 12:00:00")
            continue
        system = sender == SYSTEM_SENDER
        kind, text, reply_to = kind_and_text(content, system)
        me: bool | None = False if system else (sender in mine if mine else None)
        yield Message(
            chat=f"wechat:{talker}",
            chat_name=talker_name or talker,
            sender="" if system else (sender_name or ("我" if me else sender)),
            sender_id=sender if is_account_id(sender) else None,
            me=me,
            group=talker.endswith("@chatroom"),
            time=timed[0],
            ts=timed[1],
            kind=kind,
            text=text,
            reply_to=reply_to,
            source=FileLine(display, start),
        )
