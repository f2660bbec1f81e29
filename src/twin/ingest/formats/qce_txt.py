"""QQChatExporter (shuakami/qq-chat-exporter) TXT, V4 and V5.

```
[QQChatExporter V5 / https://github.com/shuakami/qq-chat-exporter]
…
聊天名称: 周末爬山群
聊天类型: 群聊
…

阿强:
时间: 2024-01-01 08:01:40
内容: 看这个[图片: a.jpg]
资源: 1 个文件
  - image: a.jpg
提及: 小明
回复: 01-01 08:00 小明 - 几点？
```

A message starts at a `name:` line followed by `时间: …`; `内容:` holds the rendered text, as
`content.text` of the exporter's JSON (`[图片: a.jpg]`, `[回复 name: text]` on its first line,
faces as `[name]`), continued on the lines after it; `资源:` lists the media. The message is
rebuilt as the JSON exporter writes it and read by twin.ingest.formats.qq_json, so both
exports of a chat read the same. Without text the exporter writes a stand-in (`[image消息]`,
`[系统消息]`, `[表情消息]`, `[无文本内容]`). The file does not say which sender is you: --me.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from twin.ingest.formats import qq_json
from twin.ingest.formats._wechat import wall_time
from twin.ingest.report import FileReport
from twin.ingest.shown import value
from twin.ingest.sources import Source
from twin.messages import FileLine, Message

NAME = "qce-txt"
LABEL = "QQChatExporter TXT"
ME = "--me"  # see twin.ingest.importer.MeRule

_TIME = re.compile(r"时间: (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})$")
_FIELD = re.compile(r"(资源|提及|回复): ?(.*)$")
_RESOURCE = re.compile(r"  - (\w+): (.*)$")
_REPLY = re.compile(r"\[回复 (.*?): (.*)\]$")
_STAND_IN = re.compile(r"\[([\w、]+)消息\]|\[无文本内容\]")
_GROUP_TYPES = {"群聊": True, "私聊": False, "好友": False, "临时会话": False}


def sniff(head: str, source: Source) -> bool:
    text = head.lstrip("\ufeff").lstrip()
    return text.startswith("[QQChatExporter") and "QQ聊天记录导出文件" in text[:1000]


def _message(sender: str, content: list[str], resources: list[tuple[str, str]]) -> dict:
    """The message as QCE's JSON exporter writes it: rendered text first, then the parts."""
    text = "\n".join(content).strip()
    stand_in = _STAND_IN.fullmatch(text)
    elements: list[dict] = []
    if stand_in is not None:
        text = ""
        if stand_in.group(1) == "系统":
            return {
                "sender": {"name": sender},
                "system": True,
                "content": {"text": "", "elements": []},
            }
        if stand_in.group(1) == "表情":
            elements.append({"type": "market_face", "data": {"name": ""}})
    if text:
        elements.append({"type": "text", "data": {"text": text}})
    first = text.split("\n", 1)[0]
    reply = _REPLY.fullmatch(first)
    if reply is not None:
        elements.append(
            {"type": "reply", "data": {"senderName": reply.group(1), "content": reply.group(2)}}
        )
    for kind, name in resources:
        elements.append({"type": kind, "data": {"filename": name}})
    return {"sender": {"name": sender}, "content": {"text": text, "elements": elements}}


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    display = source.display
    chat_name, group = source.name.rsplit(".", 1)[0], None
    with report.open_text(source) as f:
        lines = [line.rstrip("\r\n") for line in f]
    for line in lines[:40]:
        if line.startswith("聊天名称: "):
            chat_name = line[len("聊天名称: ") :].strip() or chat_name
        elif line.startswith("聊天类型: "):
            group = _GROUP_TYPES.get(line[len("聊天类型: ") :].strip())
    chat = f"qq:{chat_name}"
    starts = [
        i
        for i in range(len(lines) - 1)
        if lines[i].endswith(":") and _TIME.match(lines[i + 1]) and not lines[i].startswith("时间")
    ]
    if not starts:
        report.bad_row(
            "line 1", "no message in the file", "blocks of 'name:', '时间: …', '内容: …'"
        )
        return
    for n, i in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        block = lines[i:end]
        if n + 1 == len(starts):  # the last message ends where the footer's rule starts
            footer = next(
                (k for k, x in enumerate(block) if k > 1 and x.startswith("=" * 10)), None
            )
            block = block[:footer] if footer is not None else block
        sender = block[0][:-1].strip()
        when = _TIME.match(block[1]).group(1)
        timed = wall_time(when)
        if timed is None:
            report.bad_row(
                f"line {i + 2}", f"时间={value(when)}", "a time like 2024-01-01 08:00:00"
            )
            continue
        content: list[str] = []
        resources: list[tuple[str, str]] = []
        field = "内容"
        for line in block[2:]:
            if line.startswith("内容: ") and field == "内容" and not content:
                content.append(line[len("内容: ") :])
                continue
            m = _FIELD.match(line)
            if m is not None:
                field = m.group(1)
                continue
            if field == "资源":
                r = _RESOURCE.match(line)
                if r is not None:
                    resources.append((r.group(1).lower(), r.group(2).strip()))
                continue
            if field == "内容":
                content.append(line)
        while content and not content[-1].strip():
            content.pop()
        obj = _message(sender, content, resources)
        kind, text, reply_to, forwarded = qq_json.message_content(obj)
        if obj.get("system"):
            kind = "system"
        yield Message(
            chat=chat,
            chat_name=chat_name,
            sender="" if kind == "system" else sender,
            me=False if kind == "system" else None,
            group=group,
            time=timed[0],
            ts=timed[1],
            kind=kind,
            text=text,
            reply_to=reply_to,
            forwarded=forwarded,
            source=FileLine(display, i + 1),
        )
