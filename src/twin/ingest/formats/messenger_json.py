"""Facebook Messenger and Instagram "Download your information" JSON, `message_N.json`.

`{participants: [{name}], messages: [{sender_name, timestamp_ms, content, photos, videos,
audio_files, gifs, files, sticker, share, call_duration, is_unsent, type}], title, thread_type,
thread_path}`, newest message first; a long thread is split into message_1.json, message_2.json, …
which share `thread_path` and so one chat. Every string was written as UTF-8 bytes read as
Latin-1 ("\u00e2\u0080\u0099" for ’): each is re-encoded to Latin-1 and decoded as UTF-8, and a
string that does not survive the round trip is kept as it is. The export does not say who
downloaded it: --me names you.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from twin.errors import InputError
from twin.ingest.formats._common import unix_time
from twin.ingest.formats._json import json_type, load_json
from twin.ingest.report import FileReport
from twin.ingest.sources import Source
from twin.messages import Message

NAME = "messenger-json"
LABEL = "Messenger/Instagram JSON"
ME = "--me"  # how the user's messages are found: twin.ingest.importer.MeRule

EXPECTED = (
    "a Messenger/Instagram message_N.json {participants: [{name}], messages: [{sender_name, "
    "timestamp_ms, ...}], title, thread_path}"
)

# Attachment lists, in the order that decides the kind of a message with several.
MEDIA_KINDS = (
    ("photos", "image"),
    ("videos", "video"),
    ("audio_files", "voice"),
    ("gifs", "sticker"),
    ("files", "file"),
)
SYSTEM_TYPES = frozenset(["Subscribe", "Unsubscribe"])
# Instagram writes reactions and likes as messages of their own; nobody typed them.
_REACTION = re.compile(
    r"^(?:Liked a message|Reacted .{1,16} to your message|.+ reacted .{1,16} to your message)$",
    re.S,
)
_PARTICIPANTS = re.compile(r'"participants"\s*:\s*\[')
_MESSAGE_KEY = re.compile(r'"(?:sender_name|timestamp_ms)"\s*:')


def sniff(head: str, source: Source) -> bool:
    text = head.lstrip("\ufeff").lstrip()
    return (
        text.startswith("{")
        and bool(_PARTICIPANTS.search(text))
        and '"messages"' in text
        and bool(_MESSAGE_KEY.search(text))
    )


class _Repair:
    """Undo the Latin-1 mojibake in every string of the document, counting the strings fixed."""

    def __init__(self) -> None:
        self.fixed = 0

    def text(self, s: str) -> str:
        if s.isascii():
            return s
        try:
            good = s.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return s
        self.fixed += 1
        return good

    def tree(self, value: object) -> object:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.tree(v) for v in value]
        if isinstance(value, dict):
            return {k: self.tree(v) for k, v in value.items()}
        return value


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    raw = load_json(source, report, EXPECTED)
    if not isinstance(raw, dict):
        raise InputError(source.display, "top level", f"a JSON {json_type(raw)}", EXPECTED)
    repair = _Repair()
    data = repair.tree(raw)
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise InputError(source.display, "top level", "no messages array", EXPECTED)
    participants = [
        str(p.get("name") or "")
        for p in (data.get("participants") or [])
        if isinstance(p, dict) and p.get("name")
    ]
    title = str(data.get("title") or "")
    thread_path = str(data.get("thread_path") or "")
    chat_name = title or ", ".join(participants) or source.parent_name
    chat = "messenger:" + (thread_path or title or ", ".join(sorted(participants)))
    if chat == "messenger:":
        chat += source.parent_name
        report.note("no thread_path, title or participants: chat named after the folder")
    thread_type = data.get("thread_type")
    group: bool | None
    if thread_type == "RegularGroup":
        group = True
    elif thread_type == "Regular":
        group = False
    elif participants:
        group = len(participants) > 2
    else:
        group = None
    report.version = (
        f"Latin-1 mojibake repaired in {repair.fixed} strings" if repair.fixed else "plain UTF-8"
    )
    # Newest first in the file: read oldest first so equal timestamps keep their real order.
    order = range(len(messages))
    if messages and _newest_first(messages):
        order = reversed(order)
    display = source.display
    for i in order:
        msg = messages[i]
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            report.bad_row(where, f"a JSON {json_type(msg)}", "a message object")
            continue
        ms = msg.get("timestamp_ms")
        if isinstance(ms, bool) or not isinstance(ms, (int, float)):
            report.bad_row(
                where, f"timestamp_ms={ms!r}", "timestamp_ms as Unix time in milliseconds"
            )
            continue
        time, ts = unix_time(ms / 1000)
        kind, text = _kind_and_text(msg)
        yield Message(
            chat=chat,
            chat_name=chat_name,
            sender=str(msg.get("sender_name") or ""),
            me=None,
            group=group,
            time=time,
            ts=ts,
            kind=kind,
            text=text,
            source={"file": display, "item": where},
        )


def _newest_first(messages: list) -> bool:
    stamps = [m.get("timestamp_ms") for m in (messages[0], messages[-1]) if isinstance(m, dict)]
    if len(stamps) == 2 and all(isinstance(s, (int, float)) for s in stamps):
        return stamps[0] > stamps[1]
    return True  # how Facebook and Instagram write them


def _kind_and_text(msg: dict) -> tuple[str, str]:
    content = msg.get("content")
    text = content if isinstance(content, str) else ""
    if msg.get("is_unsent"):
        return "recall", text
    msg_type = msg.get("type")
    if msg_type == "Call" or "call_duration" in msg:
        return "call", text
    if msg_type in SYSTEM_TYPES:
        if text:
            return "system", text
        users = ", ".join(
            str(u.get("name")) for u in (msg.get("users") or []) if isinstance(u, dict)
        )
        verb = "added" if msg_type == "Subscribe" else "removed"
        return "system", f"{verb} {users}".strip()
    for key, kind in MEDIA_KINDS:
        if msg.get(key):
            return kind, text
    if msg.get("sticker"):
        return "sticker", text
    share = msg.get("share")
    if isinstance(share, dict) and share:
        return "link", text or str(share.get("link") or share.get("share_text") or "")
    if text and _REACTION.match(text):
        return "system", text
    if text:
        return "text", text
    return "other", ""
