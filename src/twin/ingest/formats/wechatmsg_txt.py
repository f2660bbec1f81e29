"""WeChatMsg / 留痕 TXT: one file per chat, messages as blocks separated by a blank line.

    2023-12-01 10:00:00 小明          <- header: StrTime, a space, the sender's name
    晚上吃什么？                       <- body: the text, any number of lines (blank ones too)
                                     <- a blank line ends the block when a header follows
    2023-12-01 10:01:40 "小明" 撤回了一条消息   <- system line: a header with no body

WeChat 3.x builds write media as `[图片]` `[语音]` `[视频]` `[表情包]` `[文件]`, replies as
`text\\n引用:name:quoted`, and HTML/JS-escape the names. The 2025 rewrite (WeChat 4.0) writes the
rendered text of _wechat.py (`【图片】`, `text\\n引用：name: quoted`) and system messages as a bare time
line with the text below it. Nothing in the file says which sender is the exporter: pass --me.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from twin.ingest.formats._common import strip_markup
from twin.ingest.formats._wechat import (
    QUOTE_2025,
    chat_of,
    placeholder_type,
    rendered,
    split_quote,
    wall_time,
)
from twin.ingest.report import FileReport
from twin.ingest.shown import shape, value
from twin.ingest.sources import Source
from twin.messages import FileLine, Message

NAME = "wechatmsg-txt"
LABEL = "WeChatMsg/留痕 TXT"
ME = "--me"  # how the user's messages are found: twin.ingest.importer.MeRule

_HEADER = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?: (.*))?")
_QQ_NAME = re.compile(r".*(\(\d{5,}\)|<[^<>@\s]+@[^<>\s]+>)\s*")
_JS_ESCAPE = re.compile(r"\\(.)", re.S)
_JS_CHARS = {"n": "\n", "r": "\r", "t": "\t"}
MEDIA_3X = {
    "[图片]": "image",
    "[语音]": "voice",
    "[视频]": "video",
    "[表情包]": "sticker",
    "[文件]": "file",
    "[音乐分享]": "link",
}
_LINK_3X = re.compile(r"\s*\[链接\]:title:(.*)")
QUOTE_3X = "\n引用:"


def sniff(head: str, source: Source) -> bool:
    text = head.lstrip("\ufeff")
    if text.lstrip().startswith("消息记录"):
        return False  # QQ's message manager
    lines = text.split("\n")
    if len(lines) > 1:
        lines.pop()  # the head may end in the middle of a line
    first = next((ln.rstrip("\r") for ln in lines if ln.strip()), "")
    if not _HEADER.fullmatch(first):
        return False
    names = []
    blank = True
    for ln in lines:
        ln = ln.rstrip("\r")
        m = _HEADER.fullmatch(ln) if blank else None
        if m is not None and m.group(2):
            names.append(m.group(2))
        blank = not ln.strip()
    if any(n.startswith(("- ", ": ")) for n in names):
        return False  # WhatsApp's `2019-01-01 12:00:00 - Author: text`
    qq_like = sum(1 for n in names if _QQ_NAME.fullmatch(n))
    return not names or qq_like * 2 < len(names)


def unescape_name(name: str) -> str:
    """Undo WeChatMsg's escape_js_and_html (html.escape, then backslash escapes)."""
    if "\\" in name:
        name = _JS_ESCAPE.sub(lambda m: _JS_CHARS.get(m.group(1), m.group(1)), name)
    return html.unescape(name) if "&" in name else name


def _body(body: str) -> tuple[str, str, dict | None, bool, str]:
    """(kind, text, reply_to, forwarded, layout hint) of a message body."""
    kind = MEDIA_3X.get(body)
    if kind is not None:
        return kind, "", None, False, "3.x"
    m = _LINK_3X.match(body)
    if m is not None:
        return "link", m.group(1).strip(), None, False, "3.x"
    type_name = placeholder_type(body)
    if type_name is not None:
        kind, text, reply_to, forwarded = rendered(type_name, body)
        return kind, text, reply_to, forwarded, "2025"
    if QUOTE_3X in body:
        text, reply_to = split_quote(body, QUOTE_3X, ":")
        if reply_to == {"sender": "", "text": "未知"}:
            reply_to = None  # the quoted message was not found when exporting
        return "text", text, reply_to, False, "3.x"
    if QUOTE_2025 in body:
        text, reply_to = split_quote(body, QUOTE_2025, ": ")
        return "text", text, reply_to, False, "2025"
    return "text", body, None, False, ""


def _system(text: str) -> tuple[str, str]:
    text = strip_markup(text.replace("<![CDATA[", "").replace("]]>", ""))
    return ("recall" if "撤回了一条消息" in text else "system"), text


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    chat, chat_name, group = chat_of(source)
    display = source.display
    hints = {"3.x": 0, "2025": 0}

    def message(start: int, when: str, name: str | None, lines: list[str]) -> Message | None:
        while lines and not lines[-1].strip():
            lines.pop()  # the blank line(s) before the next header
        body = "\n".join(lines)
        timed = wall_time(when)
        if timed is None:
            report.bad_row(f"line {start}", f"time {value(when)}", "a real date and time")
            return None
        sender, me, reply_to, forwarded = "", None, None, False
        if name is None:  # 2025: a time line alone, the system text below it
            kind, text = _system(body)
            me = False
            hints["2025"] += 1
        elif not lines:  # 3.x: `time text` on one line, no body
            kind, text = _system(name)
            me = False
            hints["3.x"] += 1
        else:
            sender = unescape_name(name)
            kind, text, reply_to, forwarded, hint = _body(body)
            if hint:
                hints[hint] += 1
        return Message(
            chat=chat,
            chat_name=chat_name,
            sender=sender,
            me=me,
            group=group,
            time=timed[0],
            ts=timed[1],
            kind=kind,
            text=text,
            reply_to=reply_to,
            forwarded=forwarded,
            source=FileLine(display, start),
        )

    current: tuple[int, str, str | None] | None = None
    lines: list[str] = []
    blank = True  # a header starts the file or follows a blank line
    f = report.open_text(source)
    with f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            m = _HEADER.fullmatch(line) if blank else None
            if m is not None:
                if current is not None:
                    msg = message(*current, lines)
                    if msg is not None:
                        yield msg
                current, lines = (n, m.group(1), m.group(2)), []
            elif current is not None:
                lines.append(line)
            elif line.strip():
                report.bad_row(
                    f"line {n}",
                    f"text before the first message, shaped like {shape(line)}",
                    "a WeChatMsg TXT, whose blocks start 'YYYY-MM-DD HH:MM:SS name'",
                )
            blank = not line.strip()
    if current is not None:
        msg = message(*current, lines)
        if msg is not None:
            yield msg
    if hints["2025"] > hints["3.x"]:
        report.version = "2025 (WeChat 4.0)"
    elif hints["3.x"]:
        report.version = "WeChat 3.x"
