"""QQChatExporter (shuakami/qq-chat-exporter) JSON, one file or `manifest.json` + `chunks/`.

One file: `{"metadata": {name, version, …}, "chatInfo": {name, type, selfUid, selfUin, selfName,
peerUid, peerUin, …}, "statistics": {…}, "messages": [message, …]}`. Chunked mode writes the same
head into `manifest.json` (with a `chunked` section listing the chunk files instead of
`messages`) and one message a line into `chunks/c000001.jsonl`, `c000002.jsonl`, ….

A message: `{id, seq, timestamp (Unix ms), time, sender: {uid, uin, name, nickname, groupCard,
remark}, type, content: {text, elements: [{type, data}], resources, mentions}, recalled, system}`.
`content.text` renders media as placeholders (`[图片:x.jpg]`), so the text a person wrote is taken
from the `text`/`at`/`face` elements; V5's JSON exporter writes that rendering as the first text
element and the parts again after it, and `_unrendered` takes it apart. The shape is only partly documented and changed between
versions: unknown element or message types become kind "other", never an error.

Chunk files belong to their manifest, which reads them in name order. A chunk file met on its own
(walking a folder, or named on the command line) is read only when there is no manifest above it;
otherwise it is reported as read through the manifest, so no message is read twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from twin.errors import InputError
from twin.ingest.decode import decode_head, sniff_encoding
from twin.ingest.formats._common import local_and_unix, naive_time, unix_time
from twin.ingest.formats._json import json_type, load_json
from twin.ingest.formats._json import loads as json_loads
from twin.ingest.report import FileReport
from twin.ingest.shown import value
from twin.ingest.sources import Source, read_head
from twin.messages import Message

NAME = "qq-json"
LABEL = "QQChatExporter JSON"
ME = "file or --me"  # see twin.ingest.importer.MeRule
EXPECTED = 'a QQChatExporter export: {"metadata", "chatInfo", "messages": [...]} or a manifest.json'
MANIFEST = "manifest.json"

_CHAT_INFO = re.compile(r'"chatInfo"\s*:\s*\{')
_BODY = re.compile(r'"(?:messages"\s*:\s*\[|chunked"\s*:\s*\{)')
_CHUNKED = re.compile(r'"chunked"\s*:\s*\{')
_NAIVE_WALL = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}$")
_RECALL_NOTICE = re.compile(r"撤回了.{0,6}消息")
_NO_ID = frozenset(["", "0", "未知", "unknown", "None", "null"])

# element type -> kind, for elements that are not text
_ELEMENT_KINDS = {
    "image": "image",
    "pic": "image",
    "picture": "image",
    "photo": "image",
    "flash_image": "image",
    "market_face": "sticker",
    "marketface": "sticker",
    "mface": "sticker",
    "sticker": "sticker",
    "face_bubble": "sticker",
    "giphy": "sticker",
    "video": "video",
    "short_video": "video",
    "audio": "voice",
    "voice": "voice",
    "ptt": "voice",
    "record": "voice",
    "file": "file",
    "location": "location",
    "json": "link",
    "ark": "link",
    "xml": "link",
    "card": "link",
    "share": "link",
    "link": "link",
    "music": "link",
    "av_record": "call",
    "call": "call",
    "forward": "other",
    "multi_forward": "other",
    "long_message": "other",
}
# message `type` -> kind, when a message has no elements to look at
_TYPE_KINDS = {
    "text": "text",
    "reply": "text",
    "markdown": "text",
    "file": "file",
    "video": "video",
    "audio": "voice",
    "voice": "voice",
    "ptt": "voice",
    "image": "image",
    "pic": "image",
    "picture": "image",
    "json": "link",
    "forward": "other",
    "system": "system",
}
# labels QQChatExporter fills in when it has nothing better: not worth keeping as text
_PLACEHOLDER_LABELS = frozenset(
    ["JSON消息", "位置消息", "分享了位置", "商城表情", "图片", "文件", "视频", "语音", "聊天记录"]
)


def sniff(head: str, source: Source) -> bool:
    text = head.lstrip("\ufeff").lstrip()
    if not text.startswith("{"):
        return False
    if _CHAT_INFO.search(text) and _BODY.search(text):
        return True
    return _is_chunk_line(text.split("\n", 1)[0])


def _is_chunk_line(line: str) -> bool:
    """Is this the first line of a chunk file (one message object)?"""
    try:
        obj = json_loads(line)
    except ValueError:
        # a first line longer than the sniffed head: judge by how QCE starts a message
        return line.startswith('{"id":') and '"sender":{' in line and '"content":{' in line
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("sender"), dict)
        and "content" in obj
        and ("timestamp" in obj or "time" in obj)
    )


@dataclass
class ChatInfo:
    chat: str
    name: str
    group: bool | None
    self_uin: str | None
    self_uid: str | None

    @classmethod
    def of(cls, info: dict, fallback_name: str) -> ChatInfo:
        name = _str(info.get("name")) or fallback_name
        kind = _str(info.get("type")).lower()
        if kind in ("group", "2"):
            group, family = True, "group"
        elif kind in ("private", "friend", "temp", "c2c", "1", "100"):
            group, family = False, "private"
        else:
            group, family = None, "chat"
        peer = _id(info.get("peerUin")) or _id(info.get("peerUid")) or _id(info.get("groupCode"))
        return cls(
            chat=f"qq:{family}:{peer or name}",
            name=name,
            group=group,
            self_uin=_id(info.get("selfUin")),
            self_uid=_id(info.get("selfUid")),
        )


def _str(value) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def _id(value) -> str | None:
    """An id as a string (QQ numbers may be written as JSON numbers); placeholders are None."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return None if text in _NO_ID else text


def _head_text(source: Source) -> str:
    raw = read_head(source)
    if source.encoding is None:
        source.encoding = sniff_encoding(source, raw)
    return decode_head(raw, source.encoding).lstrip()


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    head = _head_text(source)
    if not (_CHAT_INFO.search(head) and _BODY.search(head)) and _is_chunk_line(
        head.split("\n", 1)[0]
    ):
        yield from _parse_lone_chunk(source, report)
        return
    doc = load_json(source, report, EXPECTED)
    if not isinstance(doc, dict) or not isinstance(doc.get("chatInfo"), dict):
        raise InputError(
            source.display,
            None,
            f"a JSON {json_type(doc)} without a chatInfo object",
            EXPECTED,
        )
    info = ChatInfo.of(doc["chatInfo"], source.name.rsplit(".", 1)[0])
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    version = _str(metadata.get("version"))
    if info.self_uin is None and info.self_uid is None:
        report.note("chatInfo has no selfUin/selfUid: pass --me to say which sender is you")
    messages = doc.get("messages")
    chunked = doc.get("chunked")
    if isinstance(messages, list):
        report.version = version
        for i, obj in enumerate(messages):
            where = f"messages[{i}]"
            m = _message(
                obj, info, report, source.display, where, {"file": source.display, "item": where}
            )
            if m is not None:
                yield m
    elif isinstance(chunked, dict):
        report.version = (version + ", " if version else "") + "chunked JSONL"
        yield from _parse_manifest(source, report, info, chunked)
    else:
        raise InputError(
            source.display,
            None,
            "neither a messages array nor a chunked section",
            EXPECTED,
        )


def _parse_manifest(
    source: Source, report: FileReport, info: ChatInfo, chunked: dict
) -> Iterator[Message]:
    folder = _str(chunked.get("chunksDir")) or "chunks"
    suffix = _str(chunked.get("chunkFileExt")) or ".jsonl"
    chunks = source.siblings_under(folder, suffix)
    listed = [
        _str(c.get("fileName")) or PurePosixPath(_str(c.get("relativePath"))).name
        for c in chunked.get("chunks") or []
        if isinstance(c, dict)
    ]
    missing = sorted(set(filter(None, listed)) - {c.name for c in chunks})
    if missing or not chunks:
        report.bad_row(
            f"chunked.chunks ({folder}/)",
            f"chunk file(s) not found: {', '.join(missing[:5]) or 'none at all'}",
            f"the {folder}/ folder written next to {source.name}, with every chunk it lists",
        )
    for chunk in chunks:
        yield from _read_chunk(chunk, report, info)


def _parse_lone_chunk(source: Source, report: FileReport) -> Iterator[Message]:
    manifest = source.relative(f"../{MANIFEST}")
    if manifest is not None and _CHUNKED.search(_head_text(manifest)):
        # The manifest reads this chunk with the rest (and knows the chat and who is me).
        report.version = "chunk file"
        report.note(
            f"read through {manifest.display}, with the chat's other chunks"
            " (pass that file or its folder if it was not among the inputs)"
        )
        return
    report.version = "chunk file without manifest.json"
    report.note(
        "no manifest.json above this chunk: the chat's name, its type and which sender is you"
        " are unknown (pass --me)"
    )
    export_folder = _grandparent_name(source) or source.name.rsplit(".", 1)[0]
    info = ChatInfo(f"qq:chat:{export_folder}", export_folder, None, None, None)
    yield from _read_chunk(source, report, info)


def _grandparent_name(source: Source) -> str:
    if source.member is not None:
        return PurePosixPath(source.member).parent.parent.name
    return source.path.parent.parent.name if source.path else ""


def _read_chunk(chunk: Source, report: FileReport, info: ChatInfo) -> Iterator[Message]:
    with report.open_text(chunk) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                report.skip("blank line")
                continue
            try:
                obj = json_loads(line)
            except json.JSONDecodeError as e:
                _bad(
                    report,
                    chunk.display,
                    f"line {n}, column {e.colno}",
                    f"invalid JSON ({e.msg})",
                    "one message object a line (is the chunk file cut short?)",
                )
                continue
            m = _message(
                obj, info, report, chunk.display, f"line {n}", {"file": chunk.display, "line": n}
            )
            if m is not None:
                yield m


def _bad(report: FileReport, file: str, where: str, problem: str, expected: str) -> None:
    """report.bad_row, naming the file the row is in (a chunk, not the manifest)."""
    if report.skip_bad_rows or file == report.file:
        report.bad_row(where if file == report.file else f"{file} {where}", problem, expected)
        return
    raise InputError(file, where, problem, expected)


def _time(obj: dict) -> tuple[str, float] | None:
    ts = obj.get("timestamp")
    if isinstance(ts, str) and ts.strip().isdigit():
        ts = int(ts)
    wall = obj.get("time")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool) and ts > 0:
        try:
            unix = ts / 1000 if ts > 1e11 else float(ts)  # milliseconds; older files: seconds
        except OverflowError:  # beyond any float: no time (the caller reports the message)
            return None
        if isinstance(wall, str) and _NAIVE_WALL.match(wall.strip()):
            timed = local_and_unix(wall.strip(), unix)
            if timed is not None:
                return timed
        return unix_time(unix)
    if isinstance(wall, str) and wall.strip():
        try:
            return naive_time(datetime.fromisoformat(wall.strip().replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _message(
    obj, info: ChatInfo, report: FileReport, file: str, where: str, src: dict
) -> Message | None:
    if not isinstance(obj, dict):
        _bad(report, file, where, f"a JSON {json_type(obj)}", "a message object")
        return None
    timed = _time(obj)
    if timed is None:
        _bad(
            report,
            file,
            where,
            f"timestamp={value(obj.get('timestamp'))}, time={value(obj.get('time'))}",
            "timestamp in Unix milliseconds, or an ISO time",
        )
        return None
    sender = obj.get("sender") if isinstance(obj.get("sender"), dict) else {}
    uin, uid = _id(sender.get("uin")), _id(sender.get("uid"))
    name = next(
        (
            _str(sender.get(k))
            for k in ("name", "groupCard", "remark", "nickname")
            if _str(sender.get(k))
        ),
        uin or uid or "",
    )
    kind, text, reply_to, forwarded = message_content(obj)
    if obj.get("recalled") is True:
        kind = "recall"
    elif obj.get("system") is True or _str(obj.get("type")).lower() == "system":
        kind = "system"
    if kind == "system" and _RECALL_NOTICE.search(text):
        kind = "recall"  # a grey notice "X撤回了一条消息"
        me = False
    elif kind == "system":
        me = False
    elif info.self_uin is None and info.self_uid is None:
        me = None
        # --me may name any of the names the sender goes by
        aliases = {_str(sender.get(k)) for k in ("nickname", "groupCard", "remark")} - {"", name}
        if aliases:
            report.sender_aliases.setdefault((uin or uid or "", name), set()).update(aliases)
    else:
        me = bool((uin and uin == info.self_uin) or (uid and uid == info.self_uid))
    return Message(
        chat=info.chat,
        chat_name=info.name,
        sender=name,
        sender_id=uin or uid,
        me=me,
        group=info.group,
        time=timed[0],
        ts=timed[1],
        kind=kind,
        text=text,
        reply_to=reply_to,
        id=_id(obj.get("id")),
        forwarded=forwarded,
        source=src,
    )


def _label(data: dict, *keys: str) -> str:
    for key in keys:
        value = _str(data.get(key))
        if value and value not in _PLACEHOLDER_LABELS:
            return value
    return ""


def message_content(obj: dict) -> tuple[str, str, dict | None, bool]:
    """(kind, text a person wrote or a media label, reply_to, forwarded) from a message."""
    content = obj.get("content")
    if isinstance(content, str):
        content = {"text": content}
    elif not isinstance(content, dict):
        content = {}
    elements = content.get("elements") if isinstance(content.get("elements"), list) else []
    elements = _unrendered(content, elements) or elements
    written: list[str] = []  # text, @mentions, inline faces, in order
    has_words = False  # anything besides inline faces
    faces: list[str] = []
    media: list[tuple[str, str]] = []
    notices: list[str] = []
    reply_to = None
    forwarded = False
    for el in elements:
        if not isinstance(el, dict):
            continue
        etype = _str(el.get("type")).lower()
        data = el.get("data") if isinstance(el.get("data"), dict) else {}
        if etype in ("text", "plain"):
            raw = data.get("text", data.get("content"))
            piece = raw if isinstance(raw, str) else _str(raw)
            written.append(piece)
            has_words = has_words or bool(piece.strip())
        elif etype in ("at", "mention"):
            who = _str(data.get("name")) or _str(data.get("text")) or _str(data.get("uin"))
            written.append(who if who.startswith("@") else f"@{who}")
            has_words = True
        elif etype == "face":
            # `/微笑` in QQ's own names, `[微笑]` in some exports: twin writes `[微笑]`
            face = _str(data.get("name")).strip("[]").lstrip("/") or f"表情{_str(data.get('id'))}"
            written.append(f"[{face}]")
            faces.append(f"[{face}]")
        elif etype == "markdown":
            piece = _str(data.get("content"))
            written.append(piece)
            has_words = has_words or bool(piece)
        elif etype == "reply":
            reply_to = _reply(data)
        elif etype in ("system", "gray_tip", "graytip", "grey_tip"):
            notices.append(_label(data, "text", "summary"))
        elif etype in _ELEMENT_KINDS:
            kind = _ELEMENT_KINDS[etype]
            if kind == "image" and _str(data.get("subType")) == "sticker":
                kind = "sticker"
            forwarded = forwarded or etype in ("forward", "multi_forward")
            label = ""
            if kind == "sticker":
                label = _label(data, "name", "summary").strip("[]")
            elif kind == "voice":
                label = _label(data, "text", "transcript")
            elif kind == "file":
                label = _label(data, "filename", "name")
            elif kind in ("location", "link"):
                label = _label(data, "title", "description", "summary", "url")
            elif kind == "call":
                label = _label(data, "summary", "text")
            media.append((kind, label))
        else:
            media.append(("other", ""))
    text = "".join(written).strip()
    if has_words:
        return "text", text, reply_to, forwarded
    if notices:
        return "system", "\n".join(n for n in notices if n), reply_to, forwarded
    if media:
        kind, label = media[0]
        if kind == "sticker" and not label and faces:
            label = "".join(faces)
        return kind, label, reply_to, forwarded
    if faces:
        return "sticker", text, reply_to, forwarded
    # no elements to go by: the message type and the rendered text
    fallback = _str(content.get("text"))
    kind = _TYPE_KINDS.get(_str(obj.get("type")).lower())
    resources = content.get("resources") if isinstance(content.get("resources"), list) else []
    if kind is None or (kind == "text" and not fallback):
        first = next((r for r in resources if isinstance(r, dict)), None)
        kind = _ELEMENT_KINDS.get(_str(first.get("type")).lower(), "other") if first else None
    if kind is None:
        kind = "text" if fallback else "other"
    return kind, fallback if kind in ("text", "system") else "", reply_to, forwarded


# How QCE's parser renders a part in content.text: (element type, its label in `[label: file]`)
_RENDERED_MEDIA = {"image": "图片", "video": "视频", "file": "文件"}
_RENDERED_VOICE = re.compile(r"\[语音(?: \d+秒)?\]")


def _unrendered(content: dict, elements: list) -> list | None:
    """The parts of a message written the way QCE's JsonExporter of V5 writes them, or None.

    That exporter's first element is a text element holding the whole rendered `content.text`
    (`[回复 Ann: hi]\n@Bob look [图片: a.png][微笑]`), and the parts follow it again as
    elements: images, videos, voice, files, mentions, faces, the reply. Read as parts, every
    mention and face came out twice and a picture was a text message saying `[图片: a.png]`.
    Here the rendering is taken apart again: media and the reply prefix are cut out of the
    text (their elements stay), faces become face elements where they stand, and mentions stay
    in the text as the person wrote them.
    """
    if len(elements) < 2 or not all(isinstance(el, dict) for el in elements):
        return None
    first = elements[0].get("data") if isinstance(elements[0].get("data"), dict) else {}
    text = first.get("text")
    kinds = [_str(el.get("type")).lower() for el in elements]
    if (
        kinds[0] != "text"
        or not isinstance(text, str)
        or text != content.get("text")
        or any(k in ("text", "plain") for k in kinds[1:])
    ):
        return None
    parts, faces = [], []
    for el, kind in zip(elements[1:], kinds[1:], strict=True):
        data = el.get("data") if isinstance(el.get("data"), dict) else {}
        if kind == "reply":
            shown = f"[回复 {_str(data.get('senderName'))}: {_str(data.get('content'))}]"
            text = text.replace(shown + "\n", "", 1).replace(shown, "", 1)
        elif kind in _RENDERED_MEDIA:
            label, name = _RENDERED_MEDIA[kind], _str(data.get("filename"))
            shown = f"[{label}: {name}]" if name and f"[{label}: {name}]" in text else f"[{label}]"
            text = text.replace(shown, "", 1)
        elif kind in ("audio", "voice", "ptt"):
            text = _RENDERED_VOICE.sub("", text, count=1)
        elif kind in ("face", "market_face"):
            faces.append(el)
            continue
        elif kind in ("at", "mention"):
            continue  # `@Name` is in the text where it was written
        parts.append(el)
    pieces: list[dict] = []
    unplaced = []  # faces whose `[name]` is not in the text: after it
    for face in faces:  # each face where its `[name]` stands, the text before it as text
        data = face.get("data") if isinstance(face.get("data"), dict) else {}
        before, found, after = text.partition(f"[{_str(data.get('name'))}]")
        if not found:
            unplaced.append(face)
            continue
        pieces += [{"type": "text", "data": {"text": before}}, face]
        text = after
    return [*pieces, {"type": "text", "data": {"text": text}}, *unplaced, *parts]


def _reply(data: dict) -> dict | None:
    for key in ("referencedMessageId", "messageId", "replyMsgId", "msgId", "id"):
        rid = _id(data.get(key))
        if rid:
            return {"id": rid}
    sender = _str(data.get("senderName")) or _str(data.get("sender"))
    text = _str(data.get("content")) or _str(data.get("text"))
    if sender or text:
        return {"sender": sender, "text": text}
    return None
