"""What the WeChat importers share: wall-time parsing, chat folders, and WeChat 4.0 rendered text.

WeChatMsg's 2025 rewrite (WeChat 4.0) writes each message as rendered text (`Message.to_text()`
in its wxManager model): `【图片】`, `【表情包】 desc`, `【语音】transcript`, `【文件】name 1.20 MB path
type md5`, `【分享链接】\\n标题：…`, and quotes as `text\\n引用：name: quoted`. Its CSV carries the
Chinese type name beside the text; its TXT does not, so the TXT importer tells the type from the
`【…】` placeholder.
"""

from __future__ import annotations

import re
from datetime import datetime

from twin.ingest.formats._common import naive_time, strip_markup, unix_time
from twin.ingest.report import FileReport
from twin.ingest.sources import Source

_WALL = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")
_FOLDER = re.compile(r"(.*)\(([^()]+)\)", re.S)
_WXID = re.compile(r"[A-Za-z0-9_.@-]{5,}")


def wall_time(text: str) -> tuple[str, float] | None:
    """(ISO time, sort key) from `2024-10-04 11:42:05`, Excel's `2024/10/4 11:42`, or Unix time."""
    text = text.strip()
    if text.isdigit() and len(text) in (10, 13):
        return unix_time(int(text) / 1000 if len(text) == 13 else int(text))
    m = _WALL.fullmatch(text)
    if m is None:
        return None
    try:
        dt = datetime(*(int(g or 0) for g in m.groups()))
    except ValueError:
        return None
    return naive_time(dt)


def message_id(text: str, report: FileReport) -> str | None:
    """A server message id as the string it is; None when a spreadsheet turned it into a float."""
    text = text.strip()
    if text.isdigit():
        return text
    if text:
        report.note(
            "message ids were rounded by a spreadsheet (Excel turns long numbers into floats "
            "like 9.53E+18): ids left out"
        )
    return None


def chat_of(source: Source) -> tuple[str, str, bool | None]:
    """(chat key, chat name, group) of a per-chat WeChatMsg file.

    WeChatMsg 2025 writes `聊天记录/{remark}({wxid})/{remark}.csv`: the folder gives a stable key
    (the wxid) and says whether it is a group (`…@chatroom`). Older exports and renamed files only
    have the file name, and `group` is then left to ingest.
    """
    stem = source.name.rsplit(".", 1)[0]
    m = _FOLDER.fullmatch(source.parent_name)
    if m is not None:
        remark, wxid = m.group(1), m.group(2)
        if _WXID.fullmatch(wxid) and stem.startswith(remark):
            return f"wechat:{wxid}", remark or wxid, wxid.endswith("@chatroom")
    return f"wechat:{stem}", stem, None


# WeChatMsg 2025 type names (wxManager MessageType.name), with the names people and older builds
# use for the same things.
TYPE_KINDS = {
    "文本": "text",
    "引用消息": "text",
    "引用": "text",
    "图片": "image",
    "视频": "video",
    "语音": "voice",
    "表情包": "sticker",
    "表情": "sticker",
    "音视频通话": "call",
    "通话": "call",
    "语音通话": "call",
    "视频通话": "call",
    "文件": "file",
    "位置分享": "location",
    "位置": "location",
    "分享链接": "link",
    "链接": "link",
    "分享": "link",
    "小程序": "link",
    "视频号": "link",
    "音乐分享": "link",
    "红包": "other",
    "转账": "other",
    "合并转发的聊天记录": "other",
    "收藏笔记": "other",
    "个人/公众号名片": "other",
    "企业微信名片": "other",
    "系统消息": "system",
    "拍一拍": "system",
    "撤回": "recall",
    "撤回消息": "recall",
    "未知类型": "other",
}
# For type names not listed above: the first keyword found decides.
_KEYWORDS = (
    ("撤回", "recall"),
    ("引用", "text"),
    ("通话", "call"),
    ("表情", "sticker"),
    ("图片", "image"),
    ("视频号", "link"),
    ("视频", "video"),
    ("语音", "voice"),
    ("文件", "file"),
    ("位置", "location"),
    ("链接", "link"),
    ("分享", "link"),
    ("小程序", "link"),
    ("系统", "system"),
    ("文本", "text"),
    ("文字", "text"),
)
FORWARD_TYPES = frozenset(["合并转发的聊天记录"])

# `【…】` placeholders of the rendered text, and the type each stands for (TXT has no type column).
PLACEHOLDER_TYPES = {
    "图片": "图片",
    "表情包": "表情包",
    "视频": "视频",
    "语音": "语音",
    "文件": "文件",
    "分享链接": "分享链接",
    "视频号": "视频号",
    "合并转发的聊天记录": "合并转发的聊天记录",
    "音视频通话": "音视频通话",
    "位置分享": "位置分享",
    "名片": "个人/公众号名片",
    "红包": "红包",
    "笔记": "收藏笔记",
    "发起转账": "转账",
    "已收款": "转账",
    "已退还": "转账",
    "非实时转账收款": "转账",
    "发起非实时转账": "转账",
}
_PLACEHOLDER = re.compile(r"【([^】\n]{1,12})】")
_FILE = re.compile(r"(.*?) \d+(?:\.\d+)? [KMG]?B(?: |$)", re.S)
_FIELD = {
    "link": re.compile(r"^(?:标题|描述)[:：][ ]?(.*)$", re.M),
    "location": re.compile(r"^(?:名称|标签)[:：][ ]?(.*)$", re.M),
}
QUOTE_2025 = "\n引用："


def kind_of_type(type_name: str) -> str | None:
    """The kind for a Chinese type name, or None when the name is not known."""
    kind = TYPE_KINDS.get(type_name)
    if kind is not None:
        return kind
    for word, kind in _KEYWORDS:
        if word in type_name:
            return kind
    return None


def placeholder_type(content: str) -> str | None:
    """The type name a rendered text's leading `【…】` placeholder stands for, if it is one."""
    m = _PLACEHOLDER.match(content)
    return PLACEHOLDER_TYPES.get(m.group(1)) if m else None


def split_quote(content: str, marker: str, name_sep: str) -> tuple[str, dict | None]:
    """`text{marker}name{sep}quoted` -> (text, {"sender", "text"}); the first marker splits."""
    at = content.find(marker)
    if at < 0:
        return content, None
    text, quoted = content[:at], content[at + len(marker) :]
    name, sep, rest = quoted.partition(name_sep)
    if not sep:
        return text, {"sender": "", "text": quoted.strip()}
    return text, {"sender": name.strip(), "text": rest.strip()}


def rendered(type_name: str, content: str) -> tuple[str, str, dict | None, bool]:
    """(kind, text, reply_to, forwarded) from a 2025 type name and its rendered text."""
    kind = kind_of_type(type_name) or "other"
    if type_name in FORWARD_TYPES:
        return "other", "", None, True
    if type_name == "未知类型":
        return "other", "", None, False  # its text is the raw type number and XML
    if kind == "text":
        if "引用" not in type_name:
            return "text", content, None, False
        text, reply_to = split_quote(content, QUOTE_2025, ": ")
        return "text", text, reply_to, False
    if kind in ("system", "recall"):
        text = strip_markup(content)
        return ("recall" if "撤回了一条消息" in text else kind), text, None, False
    m = _PLACEHOLDER.match(content)
    if m is None:
        # no placeholder: an unknown type keeps its text; media rows keep what caption they have
        return kind, content.strip(), None, False
    rest = content[m.end() :]
    if kind in ("image", "video", "sticker", "voice", "call"):
        return kind, rest.strip(), None, False
    if kind == "file":
        f = _FILE.match(rest)
        return kind, (f.group(1) if f else rest).strip(), None, False
    if kind in _FIELD:
        f = _FIELD[kind].search(rest)
        return kind, (f.group(1).strip() if f else ""), None, False
    return kind, "", None, False
