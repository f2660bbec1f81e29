"""DiscordChatExporter JSON: one channel (or DM) per file (docs/formats.md §6).

`{guild, channel: {id, type, name, …}, messages: [{id, type, timestamp, content, author: {id,
name, nickname, isBot}, attachments, stickers, reference: {messageId}, …}]}`. The export does not
say who ran it, so "me" comes from --me, which matches the author's name, nickname or id.
Timestamps carry their offset and are kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import PurePosixPath

from twin.errors import InputError
from twin.ingest.formats._common import naive_time
from twin.ingest.formats._json import json_type, load_json
from twin.ingest.report import FileReport
from twin.ingest.shown import value as shown
from twin.ingest.sources import Source
from twin.messages import Message

NAME = "discord-json"
LABEL = "DiscordChatExporter JSON"
ME = "--me"  # how the user's messages are found: twin.ingest.importer.MeRule

EXPECTED = (
    "a DiscordChatExporter JSON export {guild, channel, messages: [{id, type, timestamp, "
    "content, author, ...}]}"
)

# Message types that carry what a person wrote: Default, Reply, and the bot responses to slash
# commands and context-menu commands (20, 23), which DiscordChatExporter writes as numbers.
CHAT_TYPES = frozenset(["Default", "Reply", "0", "19", "20", "23"])
CALL_TYPES = frozenset(["Call", "3"])

IMAGE_EXT = frozenset(
    ["png", "jpg", "jpeg", "gif", "webp", "bmp", "heic", "heif", "tif", "tiff", "avif", "svg"]
)
VIDEO_EXT = frozenset(["mp4", "mov", "webm", "mkv", "avi", "m4v", "3gp", "wmv", "flv"])
# Discord voice messages are Ogg/Opus files named voice-message.ogg; other short audio clips
# are read as voice too. Music files (mp3, flac) are files, like Telegram's audio_file.
VOICE_EXT = frozenset(["ogg", "opus", "oga", "m4a", "aac", "amr", "wav", "weba"])

_GUILD = re.compile(r'"guild"\s*:\s*\{')
_CHANNEL = re.compile(r'"channel"\s*:\s*\{')
_FRACTION = re.compile(r"(\.\d{6})\d+")


def sniff(head: str, source: Source) -> bool:
    text = head.lstrip("\ufeff").lstrip()
    return (
        text.startswith("{")
        and bool(_GUILD.search(text))
        and bool(_CHANNEL.search(text))
        and '"messages"' in text
    )


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    data = load_json(source, report, EXPECTED)
    if not isinstance(data, dict):
        raise InputError(source.display, "top level", f"a JSON {json_type(data)}", EXPECTED)
    messages = data.get("messages")
    channel = data.get("channel")
    if not isinstance(messages, list) or not isinstance(channel, dict):
        raise InputError(
            source.display,
            "top level",
            "no channel object or no messages array",
            EXPECTED,
        )
    guild = data.get("guild") if isinstance(data.get("guild"), dict) else {}
    guild_name = str(guild.get("name") or "")
    channel_type = str(channel.get("type") or "")
    channel_name = str(channel.get("name") or channel.get("id") or "")
    group: bool | None
    if channel_type == "DirectTextChat":
        group, variant = False, "direct message"
    elif channel_type == "DirectGroupTextChat":
        group, variant = True, "group direct message"
    elif not channel_type and guild_name == "Direct Messages":
        # Exports from before channel.type was written: a DM or a group DM; the senders tell.
        group, variant = None, "direct messages (no channel type: group decided from senders)"
    else:
        group, variant = True, f"server channel ({channel_type or 'no channel type'})"
    report.version = variant
    is_dm = channel_type.startswith("Direct") or guild_name == "Direct Messages"
    chat_name = channel_name if is_dm or not guild_name else f"{guild_name} #{channel_name}"
    chat = f"discord:{channel.get('id') or channel_name}"
    display = source.display
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            report.bad_row(where, f"a JSON {json_type(msg)}", "a message object")
            continue
        timed = _time(msg.get("timestamp"), where, report)
        if timed is None:
            continue
        author = msg.get("author") if isinstance(msg.get("author"), dict) else {}
        name = str(author.get("name") or "")
        nickname = str(author.get("nickname") or "")
        sender_id = str(author["id"]) if author.get("id") not in (None, "") else None
        sender = nickname or name or sender_id or ""
        if name and name != sender:
            report.sender_aliases.setdefault((sender_id or "", sender), set()).add(name)
        msg_type = str(msg.get("type") if msg.get("type") is not None else "Default")
        reference = msg.get("reference") if isinstance(msg.get("reference"), dict) else {}
        forwarded_msg = msg.get("forwardedMessage")
        forwarded = isinstance(forwarded_msg, dict) or reference.get("type") == "Forward"
        reply_to = None
        if msg_type in CALL_TYPES:
            kind, text = "call", str(msg.get("content") or "")
        elif msg_type in CHAT_TYPES:
            kind, text = _kind_and_text(msg, forwarded_msg)
            if msg_type in ("Reply", "19") and reference.get("messageId"):
                reply_to = {"id": str(reference["messageId"])}
        else:
            kind, text = "system", str(msg.get("content") or "")
        yield Message(
            chat=chat,
            chat_name=chat_name,
            sender=sender,
            sender_id=sender_id,
            me=None,
            group=group,
            time=timed[0],
            ts=timed[1],
            kind=kind,
            text=text,
            reply_to=reply_to,
            id=str(msg["id"]) if msg.get("id") not in (None, "") else None,
            forwarded=forwarded,
            source={"file": display, "item": where},
        )


def _time(value: object, where: str, report: FileReport) -> tuple[str, float] | None:
    if isinstance(value, str):
        text = _FRACTION.sub(r"\1", value.strip())
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return naive_time(datetime.fromisoformat(text))
        except ValueError:
            pass
    report.bad_row(
        where, f"timestamp={shown(value)}", "timestamp as ISO-8601, like 2023-05-01T09:00:00+02:00"
    )
    return None


def _kind_and_text(msg: dict, forwarded: object) -> tuple[str, str]:
    content = str(msg.get("content") or "")
    attachments = msg.get("attachments") or []
    stickers = msg.get("stickers") or []
    embeds = msg.get("embeds") or []
    if isinstance(forwarded, dict) and not (content or attachments or stickers):
        # A forwarded message: its own content is empty, the forwarded one holds the text.
        content = str(forwarded.get("content") or "")
        attachments = forwarded.get("attachments") or []
        stickers = forwarded.get("stickers") or []
        embeds = forwarded.get("embeds") or []
    if isinstance(attachments, list) and attachments:
        first = attachments[0] if isinstance(attachments[0], dict) else {}
        return _attachment_kind(str(first.get("fileName") or first.get("url") or "")), content
    if isinstance(stickers, list) and stickers:
        first = stickers[0] if isinstance(stickers[0], dict) else {}
        return "sticker", content or str(first.get("name") or "")
    if content:
        return "text", content
    if isinstance(embeds, list) and embeds:
        first = embeds[0] if isinstance(embeds[0], dict) else {}
        return "link", str(first.get("title") or first.get("url") or "")
    return "other", ""


def _attachment_kind(file_name: str) -> str:
    ext = PurePosixPath(file_name.split("?", 1)[0]).suffix.lower().lstrip(".")
    if ext in IMAGE_EXT:
        return "image"
    if ext in VIDEO_EXT:
        return "video"
    if ext in VOICE_EXT:
        return "voice"
    return "file"
