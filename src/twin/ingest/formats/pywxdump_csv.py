"""PyWxDump CSV: `export/<wxid>/<wxid>_<start>_<end>.csv`, 5000 rows a file.

Layouts, told by the header:
- 3.x: `id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime`.
- 2.x: `…,talker,room_name,content,CreateTime`, `content` a JSON string `{"src": …, "msg": …}`
  (the layout WeClone documents). Up to 2.4.8 the rows were written without CSV quoting, so the JSON
  spills over several fields; they are joined back.
`room_name` is the chat (`…@chatroom` for groups), `is_sender` says who is me, `talker` is `我` or a
wxid. A `users.json` beside the file (written by PyWxDump) gives names for those wxids.
Excel re-saves are GB18030 with times like `2024/10/4 11:42` and long ids as floats.

WeFlow (a WeChat 4 exporter) writes the same columns without `room_name` for WeClone ("WeClone
CSV"): one file per chat, named after it, with a BOM; `talker` is the sender's display name
(mine: my name, `我` or `Me`), `type_name` in English (text, image, sticker, video, voice,
location, file; anything else is "text"), and `CreateTime` in UTC (`2023-11-15T10:00:00.000Z`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from twin.ingest.formats._common import strip_markup, unix_time
from twin.ingest.formats._csv import CsvRows
from twin.ingest.formats._json import loads as json_loads
from twin.ingest.formats._wechat import kind_of_type, message_id, split_quote, wall_time
from twin.ingest.report import FileReport
from twin.ingest.shown import header as header_shown
from twin.ingest.shown import value
from twin.ingest.sources import Source
from twin.messages import FileLine, Message

NAME = "pywxdump-csv"
LABEL = "PyWxDump CSV"
ME = "file"  # how the user's messages are found: twin.ingest.importer.MeRule

REQUIRED = ("type_name", "is_sender", "talker", "room_name", "CreateTime")
WEFLOW = ("id", "MsgSvrID", "type_name", "is_sender", "talker", "msg", "src", "CreateTime")
# WeFlow's type names (its `weclone_type_name`); system lines and links come as "text"
WEFLOW_KINDS = {
    "text": "text",
    "image": "image",
    "sticker": "sticker",
    "video": "video",
    "voice": "voice",
    "location": "location",
    "file": "file",
}
_RECALL = re.compile(r"^.{0,40}撤回了一条消息$", re.S)
_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$")
_TRUE = {"1", "true", "1.0"}
_FALSE = {"0", "false", "0.0"}
_PLACEHOLDER_TALKERS = {"我", "未知", "系统", ""}


# PyWxDump's type names (utils.type_converter) whose kind the shared table would get wrong or miss
TYPE_KINDS = {
    "动画表情": "sticker",
    "用户上传的GIF表情": "sticker",
    "位置共享": "location",
    "引用回复": "text",
    "粘贴的文本": "text",
    "系统通知": "system",
    "邀请加群": "system",
    "拍一拍": "system",
    "合并转发的聊天记录": "other",
    "添加好友": "other",
    "推荐公众号": "other",
    "转账": "other",
    "赠送红包封面": "other",
    "接龙": "other",
    "群公告": "other",
    "游戏相关": "other",
    "视频号直播或直播回放": "link",
    "视频号直播或直播回放等": "link",
}
_QUOTE = re.compile(r"\n\n\[引用\]\(([^)\n]*)\)")
_CALL = re.compile(r"语音/视频通话\[(.*)\]", re.S)


def sniff(head: str, source: Source) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0].strip()
    header = [c.strip().strip('"') for c in first.split(",")]
    names = set(header)
    if tuple(header) == WEFLOW:
        return True
    return all(k in names for k in REQUIRED) and ("msg" in names or "content" in names)


def _utc(text: str) -> tuple[str, float] | None:
    """WeFlow's `2023-11-15T10:00:00.000Z`, shown in local time as other Unix times are."""
    if not _ISO_UTC.match(text.strip()):
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return unix_time(moment.timestamp())


def _known(type_name: str) -> bool:
    return (
        type_name in TYPE_KINDS
        or type_name in WEFLOW_KINDS
        or type_name.startswith("(分享)")
        or kind_of_type(type_name) is not None
    )


def kind_and_text(type_name: str, msg: str) -> tuple[str, str, dict | None, bool]:
    """(kind, text, reply_to, forwarded) from PyWxDump's type name and normalized `msg`."""
    kind = TYPE_KINDS.get(type_name) or WEFLOW_KINDS.get(type_name)
    if type_name == "text" and _RECALL.match(msg.strip()):
        return "recall", msg.strip(), None, False  # WeFlow writes system lines as "text"
    if kind is None:
        kind = "link" if type_name.startswith("(分享)") else (kind_of_type(type_name) or "other")
    if type_name == "合并转发的聊天记录":
        return "other", "", None, True
    if type_name in ("引用回复", "引用"):
        m = _QUOTE.search(msg)
        if m is None:
            return "text", msg, None, False
        text, reply_to = split_quote(msg[m.start() :], m.group(0), ":")
        return "text", msg[: m.start()], reply_to, False
    if msg == type_name and type_name != "文本":  # PyWxDump's stand-in when it has nothing better
        return ("other" if kind == "text" else kind), "", None, False
    if kind == "text":
        return kind, msg, None, False
    if kind in ("system", "recall"):
        text = strip_markup(msg)
        return ("recall" if "撤回了一条消息" in text else kind), text, None, False
    if kind == "voice":  # 语音时长：2.38秒\n翻译结果：transcript
        _, _, transcript = msg.partition("翻译结果：")
        return kind, transcript.strip(), None, False
    if kind == "location":  # 纬度:【x】 经度:【y】\n位置：label poiname\n其他信息：{…}
        m = re.search(r"^位置：(.*)$", msg, re.M)
        return kind, (m.group(1).strip() if m else ""), None, False
    if kind == "call":
        m = _CALL.search(msg)
        return kind, (m.group(1).strip() if m else ""), None, False
    if kind == "link":  # title\ndes\n\n<a href=…>点击查看详情</a>
        return kind, msg.split("\n", 1)[0].strip(), None, False
    if kind == "file":  # the file name
        return kind, msg.strip(), None, False
    if not _known(type_name):
        return kind, "" if msg.lstrip().startswith("<") else msg, None, False
    return kind, "", None, False  # 图片, 视频, 表情, transfers: placeholders, not words


def _users(source: Source, report: FileReport) -> dict[str, str]:
    """wxid -> remark or nickname, from PyWxDump's users.json beside the CSV (when it is there)."""
    other = source.relative("users.json")
    if other is None:
        return {}
    try:
        with other.open_binary() as f:
            data = json_loads(f.read().decode("utf-8-sig"))
    except (OSError, ValueError) as e:
        report.note(f"users.json beside the file is unreadable ({e}); senders shown by wxid")
        return {}
    names: dict[str, str] = {}
    if isinstance(data, dict):
        for wxid, user in data.items():
            if isinstance(user, dict):
                name = user.get("remark") or user.get("nickname")
                if isinstance(name, str) and name:
                    names[str(wxid)] = name
    if names:
        report.note(f"names from {other.display}")
    return names


def _chat_from_name(source: Source) -> str:
    """The wxid in `<wxid>_<start>_<end>.csv`, for rows whose room_name is empty."""
    stem = source.name.rsplit(".", 1)[0]
    parts = stem.rsplit("_", 2)
    return parts[0] if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() else stem


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    display = source.display
    names = _users(source, report)
    unknown_types: Counter = Counter()
    excel = False
    spilled = 0
    with report.open_text(source, newline="") as f:
        rows = CsvRows(f, report)
        header = rows.header
        if header is None:
            return
        col = {name: i for i, name in enumerate(header)}
        weflow = tuple(header) == WEFLOW
        missing = [k for k in REQUIRED if k not in col and not (weflow and k == "room_name")]
        body = col.get("msg", col.get("content"))
        if missing or body is None:
            report.bad_row(
                "line 1 (header)",
                f"header {header_shown(header)} lacks {', '.join(missing or ['msg'])}",
                "the PyWxDump header id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,"
                "CreateTime (or …,room_name,content,CreateTime)",
            )
            return
        json_content = "msg" not in col
        # PyWxDump writes UTF-8 (WeFlow with a BOM); Excel re-saves as GB18030 (or with `/` dates,
        # seen below)
        excel = report.encoding not in ("utf-8", "utf-8-sig")
        width = len(header)
        for where, start, row in rows:
            if len(row) > width and json_content:
                # <=2.4.8 wrote the JSON unquoted: its commas split it over several fields
                extra = len(row) - width
                row = (
                    row[:body] + [",".join(row[body : body + extra + 1])] + row[body + extra + 1 :]
                )
                spilled += 1
            if len(row) != width:
                report.bad_row(where, f"{len(row)} fields", f"{width} fields as in the header")
                continue
            msg = row[body]
            if json_content:
                msg = _content_msg(msg, where, report)
                if msg is None:
                    continue
            flag = row[col["is_sender"]].strip().lower()
            if flag not in _TRUE and flag not in _FALSE:
                report.bad_row(where, f"is_sender={value(flag)}", "is_sender 1 or 0")
                continue
            me = flag in _TRUE
            when = row[col["CreateTime"]]
            if "/" in when:
                excel = True
            timed = _utc(when) if weflow else wall_time(when)
            if timed is None and weflow:
                timed = wall_time(when)  # re-saved by a spreadsheet
            if timed is None:
                report.bad_row(
                    where,
                    f"CreateTime={value(when)}",
                    "a time like 2023-12-01 10:00:00 (or 2024/10/4 11:42 after Excel)",
                )
                continue
            room = (row[col["room_name"]].strip() if not weflow else "") or _chat_from_name(source)
            talker = row[col["talker"]].strip()
            sender_id = None if talker in _PLACEHOLDER_TALKERS or weflow else talker
            sender = names.get(talker) or talker or ("我" if me else names.get(room, room))
            type_name = row[col["type_name"]].strip()
            if not _known(type_name):
                unknown_types[type_name] += 1
            kind, text, reply_to, forwarded = kind_and_text(type_name, msg)
            yield Message(
                chat=f"wechat:{room}",
                chat_name=names.get(room, room),
                sender=sender,
                sender_id=sender_id,
                me=me,
                group=None if weflow else room.endswith("@chatroom"),  # WeFlow: by senders
                time=timed[0],
                ts=timed[1],
                kind=kind,
                text=text,
                id=message_id(row[col["MsgSvrID"]], report) if "MsgSvrID" in col else None,
                reply_to=reply_to,
                forwarded=forwarded,
                source=FileLine(display, start),
            )
    version = "2.x (content JSON)" if json_content else "3.x (msg, src)"
    if weflow:
        version = "WeFlow's WeClone CSV (one chat a file, no room_name)"
    if spilled:
        version = "<=2.4.8 (content JSON, unquoted)"
    if excel:
        version += ", re-saved by Excel"
    report.version = version
    if unknown_types:
        listed = ", ".join(f"{name or '(empty)'} ×{n}" for name, n in unknown_types.most_common(5))
        report.note(f"unknown type_name read as kind 'other': {listed}")


def _content_msg(content: str, where: str, report: FileReport) -> str | None:
    """The `msg` of a 2.x `content` cell (a JSON object); plain text is taken as it is."""
    if not content.lstrip().startswith("{"):
        return content
    try:
        obj = json_loads(content)
    except ValueError as e:
        report.bad_row(
            where,
            f"content is not valid JSON ({e})",
            'content a JSON object like {"src": "", "msg": "…"}',
        )
        return None
    if not isinstance(obj, dict):
        return content
    msg = obj.get("msg")
    return msg if isinstance(msg, str) else ("" if msg is None else json.dumps(msg))
