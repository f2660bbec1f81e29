"""The one message schema (messages.jsonl) that every importer produces and `build` reads.

See docs/architecture.md ("The messages.jsonl schema"). A line is a JSON object with, in this order:
  chat, chat_name, group, sender, [sender_id], me, time, kind, text, [reply_to], [id],
  [forwarded], source
Optional keys are written only when they carry something.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

KINDS = (
    "text",
    "image",
    "voice",
    "video",
    "sticker",
    "link",
    "file",
    "location",
    "call",
    "system",
    "recall",
    "other",
)
KIND_SET = frozenset(KINDS)

_encode = json.JSONEncoder(ensure_ascii=False).encode
_encode_str = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring  # type: ignore[attr-defined]
_EPOCH = datetime(1970, 1, 1)
_EPOCH_AWARE = datetime(1970, 1, 1, tzinfo=timezone.utc)


class FileLine(Mapping):
    """A message's `source` when it is a line of a file: reads and compares as the dict
    {"file": ..., "line": ...}, at a quarter of its memory (a two-key dict is 184 bytes; ingest
    holds a million messages at once before it sorts them)."""

    __slots__ = ("file", "line")

    def __init__(self, file: str, line: int) -> None:
        self.file = file
        self.line = line

    def __getitem__(self, key: str) -> object:
        if key == "file":
            return self.file
        if key == "line":
            return self.line
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("file", "line"))

    def __len__(self) -> int:
        return 2

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self) -> tuple:
        return FileLine, (self.file, self.line)


@dataclass(slots=True)
class Message:
    """One message. `me` and `group` may be None while parsing: ingest decides them per file."""

    chat: str
    chat_name: str
    sender: str
    time: str
    kind: str
    text: str
    source: dict | FileLine
    me: bool | None = None
    group: bool | None = None
    sender_id: str | None = None
    reply_to: dict | None = None
    id: str | None = None
    forwarded: bool = False
    ts: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict:
        d: dict = {
            "chat": self.chat,
            "chat_name": self.chat_name,
            "group": bool(self.group),
            "sender": self.sender,
        }
        if self.sender_id:
            d["sender_id"] = self.sender_id
        d["me"] = bool(self.me)
        d["time"] = self.time
        d["kind"] = self.kind
        d["text"] = self.text
        if self.reply_to:
            d["reply_to"] = self.reply_to
        if self.id is not None:
            d["id"] = self.id
        if self.forwarded:
            d["forwarded"] = True
        d["source"] = dict(self.source)
        return d

    def to_json(self) -> str:
        """The JSON line, assembled from encoded fields (twice as fast as encoding to_dict())."""
        e = _encode_str
        parts = [
            f'{{"chat": {e(self.chat)}, "chat_name": {e(self.chat_name)}, '
            f'"group": {"true" if self.group else "false"}, "sender": {e(self.sender)}'
        ]
        if self.sender_id:
            parts.append(f', "sender_id": {e(self.sender_id)}')
        parts.append(
            f', "me": {"true" if self.me else "false"}, "time": {e(self.time)}, '
            f'"kind": {e(self.kind)}, "text": {e(self.text)}'
        )
        if self.reply_to:
            parts.append(f', "reply_to": {_encode(self.reply_to)}')
        if self.id is not None:
            parts.append(f', "id": {e(self.id)}')
        if self.forwarded:
            parts.append(', "forwarded": true')
        source = self.source
        if type(source) is FileLine:
            parts.append(f', "source": {{"file": {e(source.file)}, "line": {source.line}}}}}')
        else:
            parts.append(f', "source": {_encode(source)}}}')
        return "".join(parts)


def epoch_of(dt: datetime) -> float:
    """Seconds since the epoch; naive times are read as UTC so they still order among themselves."""
    if dt.tzinfo is None:
        return (dt - _EPOCH).total_seconds()
    return (dt - _EPOCH_AWARE).total_seconds()


def iso_time(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds") if dt.microsecond == 0 else dt.isoformat()


def local_from_unix(seconds: float) -> datetime:
    """A Unix timestamp as wall time with the offset of this machine's zone at that instant.

    A timestamp outside what datetime holds (years 1-9999, or NaN) raises ValueError whatever the
    platform would raise (OverflowError, OSError), so importers report it as a bad row.
    """
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).astimezone()
    except (OverflowError, OSError, ValueError) as e:
        raise ValueError(f"Unix time {seconds!r} is out of range ({e})") from None


_OFFSETS: dict[int, timezone] = {}


def with_offset(local: datetime, unix_seconds: float) -> datetime:
    """Attach the zone offset implied by a wall time and its Unix timestamp (exporters give both).

    The offset is rounded to 15 minutes; an implausible one (more than 14 h) means the two disagree,
    and the Unix timestamp wins, shown in this machine's zone.
    """
    try:
        finite = math.isfinite(unix_seconds)
    except OverflowError:  # an integer beyond any float
        finite = False
    if not finite:
        raise ValueError(f"Unix time {unix_seconds!r} is out of range")
    diff = (local - _EPOCH).total_seconds() - unix_seconds
    quarter = round(diff / 900)
    if abs(quarter) > 56:
        return local_from_unix(unix_seconds)
    tz = _OFFSETS.get(quarter)
    if tz is None:
        tz = _OFFSETS[quarter] = timezone(timedelta(seconds=quarter * 900))
    return local.replace(tzinfo=tz)
