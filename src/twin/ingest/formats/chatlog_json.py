"""sjzar/chatlog JSON: what its HTTP API writes for `/api/v1/chatlog?…&format=json`.

A JSON array of messages `{seq, time (RFC 3339 with offset), talker, talkerName, isChatRoom,
sender, senderName, isSelf, type, subType, content, contents}`, with WeChat's own type numbers
(1 text, 3 image, 34 voice, 43 video, 47 sticker, 48 location, 49 app message by `subType`, 50
call, 10000 system). `isSelf` marks my messages; `content` is the text (a quote's reply, a pat's
sentence); media have none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from twin.accounts import is_account_id
from twin.errors import InputError
from twin.ingest.formats._json import json_type, load_json
from twin.ingest.report import FileReport
from twin.ingest.shown import value
from twin.ingest.sources import Source
from twin.messages import Message, epoch_of, iso_time

NAME = "chatlog-json"
LABEL = "chatlog JSON (WeChat 3/4)"
ME = "file"  # see twin.ingest.importer.MeRule
EXPECTED = "a chatlog export: a JSON array of {time, talker, sender, isSelf, type, content, …}"

TYPE_KINDS = {1: "text", 3: "image", 34: "voice", 42: "other", 43: "video", 47: "sticker",
              48: "location", 50: "call", 10000: "system"}  # fmt: skip
# Messages of type 49 (app messages), by subType
APP_KINDS = {1: "link", 4: "link", 5: "link", 6: "file", 8: "sticker", 19: "other", 24: "other",
             33: "link", 36: "link", 51: "link", 57: "text", 62: "system", 63: "link", 87: "other",
             92: "link", 2000: "other", 2001: "other", 2003: "other"}  # fmt: skip
_KEYS = re.compile(r'"(?:isSelf|talkerName|isChatRoom)"\s*:')
_FRACTION = re.compile(r"(\.\d{6})\d+")


def sniff(head: str, source: Source) -> bool:
    text = head.lstrip("\ufeff").lstrip()
    return text.startswith("[") and len(_KEYS.findall(text[:4000])) >= 2 and '"talker"' in text


def _time(text: object) -> tuple[str, float] | None:
    """Go's RFC 3339 (`2024-05-01T12:00:00+08:00`, nanoseconds allowed), with its offset."""
    if not isinstance(text, str):
        return None
    try:
        dt = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip()).replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return iso_time(dt), epoch_of(dt)


def _int(value_: object) -> int | None:
    return value_ if isinstance(value_, int) and not isinstance(value_, bool) else None


def kind_and_text(msg: dict) -> tuple[str, str, bool]:
    """(kind, text, forwarded) from chatlog's type numbers and content."""
    type_, sub = _int(msg.get("type")), _int(msg.get("subType"))
    content = msg.get("content") if isinstance(msg.get("content"), str) else ""
    contents = msg.get("contents") if isinstance(msg.get("contents"), dict) else {}
    kind = APP_KINDS.get(sub, "other") if type_ == 49 else TYPE_KINDS.get(type_, "other")
    if kind == "system":
        return ("recall" if "撤回了一条消息" in content else "system"), content.strip(), False
    if kind == "text":
        return kind, content, False
    if kind == "link":
        return kind, str(contents.get("title") or contents.get("url") or ""), False
    if kind == "file":
        return kind, str(contents.get("title") or ""), False
    if kind == "location":
        return kind, str(contents.get("label") or ""), False
    return kind, "", type_ == 49 and sub == 19


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    data = load_json(source, report, EXPECTED)
    if not isinstance(data, list):
        raise InputError(source.display, "top level", f"a JSON {json_type(data)}", EXPECTED)
    display = source.display
    for i, msg in enumerate(data):
        where = f"[{i}]"
        if not isinstance(msg, dict):
            report.bad_row(where, f"a JSON {json_type(msg)}", "a message object")
            continue
        timed = _time(msg.get("time"))
        if timed is None:
            report.bad_row(where, f"time={value(msg.get('time'))}", "an RFC 3339 time")
            continue
        talker = str(msg.get("talker") or "")
        sender = str(msg.get("sender") or "")
        kind, text, forwarded = kind_and_text(msg)
        system = kind in ("system", "recall") and _int(msg.get("type")) == 10000
        me = False if system else bool(msg.get("isSelf"))
        name = str(msg.get("senderName") or "")
        reply_to = None
        refer = (
            (msg.get("contents") or {}).get("refer")
            if isinstance(msg.get("contents"), dict)
            else None
        )
        if kind == "text" and isinstance(refer, dict):
            quoted = refer.get("content")
            reply_to = {
                "sender": str(refer.get("senderName") or ""),  # its wxid is left out
                "text": quoted if isinstance(quoted, str) else "",
            }
        yield Message(
            chat=f"wechat:{talker}",
            chat_name=str(msg.get("talkerName") or talker),
            sender="" if system else (name or ("我" if me else sender)),
            sender_id=sender if is_account_id(sender) else None,
            me=me,
            group=bool(msg.get("isChatRoom")) or talker.endswith("@chatroom"),
            time=timed[0],
            ts=timed[1],
            kind=kind,
            text=text,
            reply_to=reply_to,
            forwarded=forwarded,
            source={"file": display, "item": where},
        )
