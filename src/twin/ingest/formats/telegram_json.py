"""Telegram Desktop "Export chat history" / "Export Telegram data" `result.json` (docs/formats.md §4).

Two shapes: a single chat `{name, type, id, messages}`, and a full export
`{personal_information: {user_id, …}, chats: {list: […]}, left_chats: {list: […]}, …}`. Only the
full export says who "me" is (`from_id == "user" + user_id`); a single-chat export needs --me.
Every media_type, known or not, becomes a message: an unknown one is kind "other".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime

from twin.errors import InputError
from twin.ingest.formats._common import local_and_unix, naive_time, unix_time
from twin.ingest.formats._json import json_type, load_json
from twin.ingest.report import FileReport
from twin.ingest.shown import value
from twin.ingest.sources import Source
from twin.messages import Message

NAME = "telegram-json"
LABEL = "Telegram Desktop JSON"
ME = "file or --me"  # see twin.ingest.importer.MeRule

EXPECTED = (
    "a Telegram Desktop result.json: one chat {name, type, id, messages: [...]} or a full export "
    "{personal_information, chats: {list: [...]}, ...}"
)

PRIVATE_TYPES = frozenset(["personal_chat", "bot_chat", "saved_messages"])
GROUP_TYPES = frozenset(
    [
        "private_group",
        "private_supergroup",
        "public_supergroup",
        "private_channel",
        "public_channel",
        "replies",
    ]
)
UNNAMED = {"saved_messages": "Saved Messages", "replies": "Replies"}

MEDIA_KINDS = {
    "sticker": "sticker",
    "animation": "sticker",
    "voice_message": "voice",
    "video_message": "video",
    "video_file": "video",
    "audio_file": "file",
}
CALL_ACTIONS = frozenset(["phone_call", "group_call"])

_CHAT_TYPE = re.compile(
    r'"type"\s*:\s*"(?:' + "|".join(sorted(PRIVATE_TYPES | GROUP_TYPES)) + r')"'
)
_SENDER_ID = re.compile(r'"(?:from_id|actor_id)"\s*:\s*"(?:user|channel|chat)\d+"')
_UNIXTIME = re.compile(r'"date_unixtime"\s*:\s*"?\d')
_FULL_EXPORT = re.compile(
    r'"personal_information"\s*:\s*\{'
    r'|"(?:chats|left_chats|contacts|frequent_contacts)"\s*:\s*\{\s*"about"\s*:'
)
# Telegram Desktop writes control characters other than \n \r \t as "\x0B", which JSON lacks.
_X_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\x([0-9A-Fa-f]{2})")


def sniff(head: str, source: Source) -> bool:
    text = head.lstrip("\ufeff").lstrip()
    if not text.startswith("{"):
        return False
    if _FULL_EXPORT.search(text):
        return True
    # a trimmed export may keep only date_unixtime, a key no other exporter writes
    return '"messages"' in text and bool(
        _CHAT_TYPE.search(text) or _SENDER_ID.search(text) or _UNIXTIME.search(text)
    )


def _repair_x_escapes(text: str, error: json.JSONDecodeError) -> str | None:
    if "escape" not in error.msg or text[error.pos : error.pos + 2] != "\\x":
        return None
    return _X_ESCAPE.sub(r"\1\\u00\2", text)


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    data = load_json(source, report, EXPECTED, repair=_repair_x_escapes)
    if not isinstance(data, dict):
        raise InputError(source.display, "top level", f"a JSON {json_type(data)}", EXPECTED)
    if "messages" in data:
        report.version = "single chat" + (f" ({data['type']})" if data.get("type") else "")
        yield from _chat(data, "", None, source, report)
        return
    if "chats" not in data and "left_chats" not in data:
        raise InputError(
            source.display, "top level", "an object with neither messages nor chats", EXPECTED
        )
    personal = data.get("personal_information")
    user_id = personal.get("user_id") if isinstance(personal, dict) else None
    me_id = f"user{user_id}" if user_id not in (None, "") else None
    if me_id is None:
        report.note(
            "the export has no personal_information (account information was not exported): "
            "your own messages need --me"
        )
    counts = []
    for section in ("chats", "left_chats"):
        block = data.get(section)
        if block is None:
            continue
        chats = block.get("list") if isinstance(block, dict) else None
        if not isinstance(chats, list):
            report.bad_row(section, f"{section} without a list", f"{section}: {{list: [...]}}")
            continue
        counts.append(f"{len(chats)} {section.replace('_', ' ')}")
        for i, chat in enumerate(chats):
            yield from _chat(chat, f"{section}.list[{i}].", me_id, source, report)
    report.version = "full export" + (f" ({', '.join(counts)})" if counts else "")


def _chat(
    chat: object, prefix: str, me_id: str | None, source: Source, report: FileReport
) -> Iterator[Message]:
    where_chat = prefix.rstrip(".") or "top level"
    if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
        report.bad_row(where_chat, "a chat without a messages array", "{name, type, id, messages}")
        return
    chat_type = chat.get("type") if isinstance(chat.get("type"), str) else ""
    chat_id = chat.get("id") if isinstance(chat.get("id"), (int, str)) else None
    fallback = f"chat {chat_id}" if chat_id is not None else (source.parent_name or "chat")
    name = chat.get("name")
    chat_name = str((name if isinstance(name, str) else "") or UNNAMED.get(chat_type) or fallback)
    key = f"telegram:{chat_id}" if chat_id is not None else f"telegram:{chat_name}"
    if chat_type in PRIVATE_TYPES:
        group: bool | None = False
    elif chat_type in GROUP_TYPES:
        group = True
    else:
        group = None  # an unknown type: decided from the senders seen
        if chat_type:
            report.note(f"chat type {chat_type!r} is new to twin: group decided from senders")
    display = source.display
    for i, msg in enumerate(chat["messages"]):
        where = f"{prefix}messages[{i}]"
        if not isinstance(msg, dict):
            report.bad_row(where, f"a JSON {json_type(msg)}", "a message object")
            continue
        msg_type = msg.get("type")
        if msg_type == "unsupported":
            report.skip("unsupported message (Telegram exported only its id)")
            continue
        timed = _time(msg, where, report)
        if timed is None:
            continue
        if msg_type == "service":
            sender = msg.get("actor")
            sender_id = msg.get("actor_id")
            action = str(msg.get("action") or "")
            kind = "call" if action in CALL_ACTIONS else "system"
            text = _text(msg.get("text")) or _describe(action, msg)
        else:
            if msg_type is None:
                report.note("messages without a type (a trimmed export): read as ordinary")
            elif msg_type != "message":
                report.note(f"message type {msg_type!r} read as an ordinary message")
            sender = msg.get("from")
            sender_id = msg.get("from_id")
            kind, text = _kind_and_text(msg, _text(msg.get("text")), report)
        sender_id = str(sender_id) if sender_id not in (None, "") else None
        reply = msg.get("reply_to_message_id")
        yield Message(
            chat=key,
            chat_name=chat_name,
            sender=str(sender) if sender is not None else (sender_id or ""),
            sender_id=sender_id,
            me=(sender_id == me_id) if me_id else None,
            group=group,
            time=timed[0],
            ts=timed[1],
            kind=kind,
            text=text,
            reply_to={"id": str(reply)} if reply not in (None, "") else None,
            id=str(msg["id"]) if msg.get("id") is not None else None,
            forwarded="forwarded_from" in msg,
            source={"file": display, "item": where},
        )


def _time(msg: dict, where: str, report: FileReport) -> tuple[str, float] | None:
    date = msg.get("date")
    unix = msg.get("date_unixtime")
    if unix not in (None, ""):
        try:
            seconds = int(unix)
        except (TypeError, ValueError):
            report.bad_row(where, f"date_unixtime={value(unix)}", "date_unixtime as Unix seconds")
            return None
        timed = local_and_unix(date, seconds) if isinstance(date, str) else None
        timed = timed or unix_time(seconds)
        if timed is None:
            report.bad_row(
                where,
                f"date_unixtime={value(unix)}",
                "date_unixtime as Unix seconds in years 1-9999",
            )
        return timed
    if isinstance(date, str):
        try:
            return naive_time(datetime.fromisoformat(date))
        except ValueError:
            pass
    report.bad_row(
        where, f"date={value(date)}", "date as a local ISO time like 2023-05-01T09:00:00"
    )
    return None


def _text(value: object) -> str:
    """`text` is a string, or a list mixing strings and {type, text, …} entity objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return ""


def _kind_and_text(msg: dict, text: str, report: FileReport) -> tuple[str, str]:
    media = msg.get("media_type")
    if media is not None:
        kind = MEDIA_KINDS.get(media)
        if kind is None:
            report.note(f"media_type {media!r} is new to twin: read as kind other")
            return "other", text
        if media == "sticker":
            return kind, str(msg.get("sticker_emoji") or text)
        return kind, text
    if "photo" in msg:
        return "image", text
    if "file" in msg:
        return "file", text
    if "location_information" in msg or "place_name" in msg:
        place = ", ".join(str(msg[k]) for k in ("place_name", "address") if msg.get(k))
        return "location", text or place
    if isinstance(msg.get("contact_information"), dict):
        info = msg["contact_information"]
        name = " ".join(str(info[k]) for k in ("first_name", "last_name") if info.get(k))
        return "other", text or name
    if isinstance(msg.get("poll"), dict):
        return "other", text or str(msg["poll"].get("question") or "")
    if "game_title" in msg:
        return "other", text or str(msg.get("game_title") or "")
    if text:
        return "text", text
    return "other", ""


def _describe(action: str, msg: dict) -> str:
    """A short label for a service message, whose `text` is usually empty."""
    if msg.get("information_text"):
        return str(msg["information_text"])
    label = action.replace("_", " ") if action else "service message"
    details = []
    if msg.get("title"):
        details.append(str(msg["title"]))
    members = msg.get("members")
    if isinstance(members, list):
        names = [str(m) for m in members if m]
        if names:
            details.append(", ".join(names))
    seconds = msg.get("duration_seconds") or msg.get("duration")
    if seconds:
        details.append(f"{seconds} s")
    if msg.get("discard_reason"):
        details.append(str(msg["discard_reason"]))
    return label + (f": {'; '.join(details)}" if details else "")
