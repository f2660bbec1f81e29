"""Facebook Messenger and Instagram "Download your information" JSON, `message_N.json`.

`{participants: [{name}], messages: [{sender_name, timestamp_ms, content, photos, videos,
audio_files, gifs, files, sticker, share, call_duration, is_unsent, type}], title, thread_type,
thread_path}`, newest message first; a long thread is split into message_1.json, message_2.json, …
which share `thread_path` and so one chat. Every string was written as UTF-8 bytes read as
Latin-1 ("\u00e2\u0080\u0099" for ’): each is re-encoded to Latin-1 and decoded as UTF-8, and a
string that does not survive the round trip is kept as it is. The export does not say who
downloaded it: --me names you.

End-to-end encrypted chats (Messenger's default since 2024) come in another layout:
`{participants: ["name", …], threadName, messages: [{senderName, text, timestamp (Unix ms),
type, isUnsent, media: [{uri}], reactions}]}`, oldest first. It is read as the layout above
(`_from_e2ee`), the kind of each medium told by its file's extension.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from twin.errors import InputError
from twin.ingest.formats._common import unix_time
from twin.ingest.formats._json import json_type, load_json
from twin.ingest.report import FileReport
from twin.ingest.shown import value
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
# Notices Facebook and Instagram write as ordinary messages (the 2024 layout has no `type` to
# tell them apart): reactions, likes, attachments the export lost, calls, people leaving, the
# group renamed, themes and nicknames. Nobody typed them, so they are system lines or calls
# (dropped by build, counted there). English and Chinese (simplified and traditional) wordings.
# A notice names who did it: the message's own sender, "You", or an account Meta does not name;
# any other name means a person typed a sentence of that shape ("I sent a photo.", "Tom left
# the group." from Bob), which stays text.
_WHO = r"(?P<who>.{1,80}?)"
_ZH_WHO = r"(?P<who>.{0,80}?)"
_ZH_MESSAGE = r"(?:消息|讯息|訊息)"
_ZH_GROUP = r"(?:群组|群組|群聊|对话|對話)"
_ZH_CALL = r"(?:視訊通話|视频通话|語音通話|语音通话|通話|通话|視訊聊天|视频聊天)"
_NOTICES = [
    (r"Liked a message", "system"),
    (
        rf"(?:{_WHO} )?(?:reacted|Reacted) .{{1,16}} to (?:your|a|their|his|her) message\.?",
        "system",
    ),
    (rf"{_WHO} liked (?:your|a) message\.?", "system"),
    (
        rf"(?:{_WHO} )?[Ss]ent (?:an?|\d+) (?:attachments?|photos?|videos?|voice messages?|audio clips?"
        r"|GIFs?|stickers?|links?)\.?",
        "system",
    ),
    (rf"{_WHO} (?:left|has left) the (?:group|conversation|chat)\.?", "system"),
    (rf"{_WHO} named the (?:group|conversation|chat) .{{1,200}}", "system"),
    (rf"{_WHO} (?:removed|changed) the (?:group|conversation|chat) (?:name|photo)\.?", "system"),
    (rf"{_WHO} changed the group photo\.?", "system"),
    (
        rf"{_WHO} (?:added|removed) .{{1,200}} (?:to|from) the (?:group|conversation|chat)\.?",
        "system",
    ),
    (rf"{_WHO} set (?:the|your|his|her|their) nickname .{{1,200}}", "system"),
    (rf"{_WHO} (?:changed|set) the (?:theme|emoji|chat theme|quick reaction) .{{0,200}}", "system"),
    (rf"{_WHO} added \d+ .{{1,40}} text effects?\.?", "system"),
    (rf"{_WHO} unsent a message\.?", "recall"),
    (rf"{_WHO} (?:started|joined|ended) (?:an? |the )?(?:video |audio )?(?:call|chat)\.?", "call"),
    (r"(?:The )?(?i:video chat|video call|audio call|call) (?:has )?ended\.?", "call"),
    (rf"{_WHO} called you\.?", "call"),
    (r"You (?:called|placed an? (?:video |audio )?call to .{1,80}?)\.?", "call"),
    (r"You missed an? (?:video |audio )?(?:call|chat) from .{1,80}?\.?", "call"),
    # Chinese (simplified, traditional)
    (
        rf"{_ZH_WHO}(?:對|对)你的{_ZH_MESSAGE}.{{0,40}}?(?:做出了回應|做出了回应|傳達了.{{1,16}}心情"
        r"|传达了.{1,16}心情).{0,24}",  # the reaction may follow: "… 做出了回应 ❤"
        "system",
    ),
    (rf"{_ZH_WHO}用.{{1,16}}(?:回應|回应)了你的{_ZH_MESSAGE}[。.]?", "system"),
    (rf"{_ZH_WHO}(?:喜歡了|喜欢了)(?:一則|一条){_ZH_MESSAGE}[。.]?", "system"),
    (
        rf"{_ZH_WHO}(?:发送|傳送)了?\s?(?:一个|一個|一|\d+\s?(?:份|個|个|张|張)?)?\s?"
        r"(?:附件|照片|影片|视频|語音訊息|语音消息)[。.]?",
        "system",
    ),
    (rf"{_ZH_WHO}已?(?:离开|離開|退出)了?{_ZH_GROUP}[。.]?", "system"),
    (
        rf"{_ZH_WHO}(?:将|將|把){_ZH_GROUP}(?:名称|名稱)?(?:命名为|命名為|改为|改為|更改为|更改為).{{1,200}}",
        "system",
    ),
    (rf"{_ZH_WHO}(?:将|將)(?:.{{1,80}})?(?:添加到|加入|新增至){_ZH_GROUP}[。.]?", "system"),
    (rf"{_ZH_WHO}(?:更改了|變更了){_ZH_GROUP}(?:照片|名称|名稱|主题|主題)[。.]?", "system"),
    (
        rf"{_ZH_WHO}已?(?:将|將)(?:主題|主题)(?:變更為|变更为|更改为|更改為|改為|改为).{{1,200}}",
        "system",
    ),
    (rf"{_ZH_WHO}(?:将|將)(?:你|.{{1,80}}?)的(?:暱稱|昵称)(?:設為|设为).{{1,200}}", "system"),
    (rf"{_ZH_WHO}已?新增了?\s?\d+\s?(?:個|个)\s?.{{1,40}}文字特效[。.]?", "system"),
    (rf"{_ZH_WHO}(?:取消发送了|收回了)(?:一条|一則)?{_ZH_MESSAGE}[。.]?", "recall"),
    (rf"☎?\s*{_ZH_WHO}(?:開始了|开始了){_ZH_CALL}[。.]?", "call"),
    (rf"☎?\s*{_ZH_CALL}已(?:結束|结束)[。.]?", "call"),
    (rf"☎?\s*{_ZH_WHO}(?:撥打了電話給|拨打了电话给).{{0,80}}?[。.]?", "call"),
    (r"☎?\s*你(?:錯過了|错过了).{0,80}?的(?:來電|来电)[。.]?", "call"),
]
_NOTICE_PATTERNS = [(re.compile(f"^(?:{p})$", re.S), kind) for p, kind in _NOTICES]
# Who a notice may name besides the sender: you, or an account Meta leaves unnamed
_YOU = frozenset(["You", "你", "您"])
_UNNAMED = re.compile(
    r"^(?:A contact|\d+ Messenger users?|An? Instagram user|Instagram user"
    r"|(?:一|\d+) ?位 ?(?:聯絡人|联系人|Messenger 用戶|Messenger 用户)|Instagram ?(?:用戶|用户))$"
)


def notice_kind(text: str, sender: str) -> str | None:
    """ "system", "recall" or "call" when `text` is a notice of Facebook's or Instagram's and
    not words of the sender's, else None."""
    if not text or len(text) > 300:
        return None
    for pattern, kind in _NOTICE_PATTERNS:
        m = pattern.match(text)
        if m is None:
            continue
        who = (m.groupdict().get("who") or "").strip()
        if not who or who == sender.strip() or who in _YOU or _UNNAMED.match(who):
            return kind
    return None


_PARTICIPANTS = re.compile(r'"participants"\s*:\s*\[')
_MESSAGE_KEY = re.compile(r'"(?:sender_name|timestamp_ms)"\s*:')
_SENDER_NAME = re.compile(r'"sender_name"\s*:\s*"')
_TIMESTAMP_MS = re.compile(r'"timestamp_ms"\s*:\s*\d')


_E2EE_SENDER = re.compile(r'"senderName"\s*:\s*"')
_E2EE_TIMESTAMP = re.compile(r'"timestamp"\s*:\s*\d')
_E2EE_THREAD = re.compile(r'"(?:threadName|participants)"\s*:')


def sniff(head: str, source: Source) -> bool:
    """A message_N.json, also trimmed of `participants`: then messages must carry both
    sender_name and timestamp_ms (no other exporter writes those two keys). The end-to-end
    encrypted layout: threadName or participants, and senderName with timestamp."""
    text = head.lstrip("\ufeff").lstrip()
    if not text.startswith("{") or '"messages"' not in text:
        return False
    if _PARTICIPANTS.search(text) and _MESSAGE_KEY.search(text):
        return True
    if _E2EE_THREAD.search(text) and _E2EE_SENDER.search(text) and _E2EE_TIMESTAMP.search(text):
        return True
    return bool(_SENDER_NAME.search(text) and _TIMESTAMP_MS.search(text))


# The kind of an end-to-end encrypted export's medium, by its file's extension
_E2EE_MEDIA = {
    **dict.fromkeys(("jpg", "jpeg", "png", "webp", "heic", "bmp"), "photos"),
    **dict.fromkeys(("mp4", "mov", "webm", "m4v", "3gp"), "videos"),
    **dict.fromkeys(("aac", "m4a", "mp3", "ogg", "opus", "wav", "amr"), "audio_files"),
    "gif": "gifs",
}


def _from_e2ee(data: dict) -> dict:
    """An end-to-end encrypted export in the classic layout's keys; others unchanged."""
    messages = data.get("messages")
    if not isinstance(messages, list) or not any(
        isinstance(m, dict) and "senderName" in m for m in messages
    ):
        return data
    listed = data.get("participants")
    out = {
        "participants": [
            {"name": p} if isinstance(p, str) else p
            for p in (listed if isinstance(listed, list) else [])
        ],
        "title": data.get("threadName", data.get("title")),
        "messages": [],
    }
    for m in messages:
        if not isinstance(m, dict):
            out["messages"].append(m)
            continue
        msg = {
            "sender_name": m.get("senderName"),
            "timestamp_ms": m.get("timestamp"),
            "content": m.get("text"),
            "is_unsent": m.get("isUnsent"),
        }
        for medium in m.get("media") if isinstance(m.get("media"), list) else []:
            uri = str(medium.get("uri") or "") if isinstance(medium, dict) else ""
            key = _E2EE_MEDIA.get(uri.rsplit(".", 1)[-1].lower(), "files")
            msg.setdefault(key, []).append(medium)
        out["messages"].append(msg)
    return out


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
    data = _from_e2ee(repair.tree(raw))
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise InputError(source.display, "top level", "no messages array", EXPECTED)
    listed = data.get("participants")
    participants = [
        str(p.get("name") or "")
        for p in (listed if isinstance(listed, list) else [])
        if isinstance(p, dict) and p.get("name")
    ]
    title = _string(data.get("title"))
    thread_path = _string(data.get("thread_path"))
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
                where, f"timestamp_ms={value(ms)}", "timestamp_ms as Unix time in milliseconds"
            )
            continue
        try:
            timed = unix_time(ms / 1000)
        except OverflowError:  # beyond any float
            timed = None
        if timed is None:
            report.bad_row(
                where,
                f"timestamp_ms={value(ms)}",
                "timestamp_ms as Unix milliseconds in years 1-9999",
            )
            continue
        time, ts = timed
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


def _string(value: object) -> str:
    """A top-level name field: a string, or nothing (a number or list there names no chat)."""
    return value if isinstance(value, str) else ""


def _newest_first(messages: list) -> bool:
    stamps = [m.get("timestamp_ms") for m in (messages[0], messages[-1]) if isinstance(m, dict)]
    if len(stamps) == 2 and all(isinstance(s, (int, float)) for s in stamps):
        return stamps[0] >= stamps[1]  # equal: nothing says otherwise
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
    notice = notice_kind(text.strip(), str(msg.get("sender_name") or ""))
    caption = "" if notice else text  # "X sent a photo." over a photo is no caption
    for key, kind in MEDIA_KINDS:
        if msg.get(key):
            return kind, caption
    if msg.get("sticker"):
        return "sticker", caption
    share = msg.get("share")
    if isinstance(share, dict) and share:
        link = str(share.get("link") or share.get("share_text") or "")
        return "link", caption or link
    if notice:
        return notice, text.strip()
    if text:
        return "text", text
    return "other", ""
