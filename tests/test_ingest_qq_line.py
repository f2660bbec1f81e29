"""QQ message-manager TXT, QQChatExporter JSON (one file and chunked) and LINE TXT (docs/formats.md §3, §6)."""

from __future__ import annotations

import json
import tempfile
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from conftest import read_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.ingest.formats import line_txt, qq_json, qq_txt
from twin.ingest.pipeline import ingest


def pick(msgs: list[dict], *keys: str) -> list[tuple]:
    return [tuple(m.get(k) for k in keys) for m in msgs]


def failed(twin, tmp_path, *args):
    """Run an ingest that must fail: non-zero exit, no output file."""
    out = tmp_path / "out.jsonl"
    r = twin("ingest", *args, "-o", out)
    assert r.code != 0
    assert not out.exists()
    return r


# ---------------------------------------------------------------- QQ message-manager TXT

QQ_TITLE = "消息记录（此消息记录为文本格式，不支持重新导入）"
SEP = "=" * 64

QQ_LINES = [
    QQ_TITLE,  # 1
    "",
    SEP,
    "消息分组:我的群聊",
    SEP,
    "消息对象:周末爬山群",  # 6
    SEP,
    "",
    "2024-01-02 3:04:05 【管理员】阿强(10001)",  # 9
    "周末爬山吗",
    "带上水",
    "",
    "2024-01-02 03:05:06 Bob<bob@example.com>",  # 13
    "[图片]",
    "",
    "2024-01-02 8:43:38 PM 小明(Ming)(20002)",  # 16
    "[表情]",
    "",
    "2024-01-02 8:44:00 PM 系统消息(10000)",  # 19
    "阿强撤回了一条消息",
    "",
    "2024-01-02 8:45:00 PM 系统消息(10000)",  # 22
    "阿强修改了群名称",
    "",
    "2024-01-02 12:10:00 AM 【群主】【话痨】我(30003)",  # 25
    "夜猫子",
    "",
    "2024-01-02 9:00:00 我(30003)",  # 28
    "看这个[图片]",
    "",
    "   第二段",
    "",
    SEP,
    "消息分组:我的好友",
    SEP,
    "消息对象:小红",  # 36
    SEP,
    "",
    "2024-01-03 10:00:00 小红",  # 39
    "在吗",
    "2024-01-03 10:00:01 这行只是正文",
    "",
    "2024-01-03 10:00:30 我",  # 43
    "在",
    "",
    SEP,
    "消息分组:同学",
    SEP,
    "消息对象:老同学",  # 49
    SEP,
    "",
    "2024-01-04 10:00:00 甲(40004)",  # 52
    "一",
    "",
    "2024-01-04 10:00:01 乙(50005)",  # 55
    "二",
    "",
]


def write_qq(path: Path, lines=QQ_LINES, encoding="utf-8", newline="\r\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def test_qq_txt_blocks_headers_and_kinds(ingest_file, tmp_path):
    msgs = ingest_file(write_qq(tmp_path / "全部消息记录.txt"), extra=("--me", "我"))
    by_line = {m["source"]["line"]: m for m in msgs}
    assert pick(msgs, "chat", "sender", "sender_id", "kind", "text") == [
        ("qq:group:周末爬山群", "我", "30003", "text", "夜猫子"),
        ("qq:group:周末爬山群", "阿强", "10001", "text", "周末爬山吗\n带上水"),
        ("qq:group:周末爬山群", "Bob", "bob@example.com", "image", ""),
        ("qq:group:周末爬山群", "我", "30003", "text", "看这个[图片]\n\n   第二段"),
        ("qq:group:周末爬山群", "小明(Ming)", "20002", "sticker", ""),
        ("qq:group:周末爬山群", "系统消息", "10000", "recall", "阿强撤回了一条消息"),
        ("qq:group:周末爬山群", "系统消息", "10000", "system", "阿强修改了群名称"),
        ("qq:小红", "小红", None, "text", "在吗\n2024-01-03 10:00:01 这行只是正文"),
        ("qq:小红", "我", None, "text", "在"),
        ("qq:老同学", "甲", "40004", "text", "一"),
        ("qq:老同学", "乙", "50005", "text", "二"),
    ]
    # 12-hour times, unpadded hours, 12 AM is just after midnight
    assert by_line[25]["time"] == "2024-01-02T00:10:00"
    assert by_line[9]["time"] == "2024-01-02T03:04:05"
    assert by_line[16]["time"] == "2024-01-02T20:43:38"
    assert by_line[16]["source"]["file"].endswith("全部消息记录.txt")
    # --me names a nickname: it matches in the group and in the 1:1 chat
    assert [m["source"]["line"] for m in msgs if m["me"]] == [25, 28, 43]
    assert not by_line[19]["me"]
    # 分组 with 群 -> group; a 1:1 chat is not; two other senders make a group
    groups = {m["chat"]: m["group"] for m in msgs}
    assert groups == {"qq:group:周末爬山群": True, "qq:小红": False, "qq:老同学": True}
    assert {m["chat_name"] for m in msgs} == {"周末爬山群", "小红", "老同学"}


def test_qq_txt_me_by_qq_number_and_summary(twin, tmp_path):
    path = write_qq(tmp_path / "qq.txt")
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "-o", out, "--me", "30003")
    assert r.code == 0, r.err
    assert "QQ message-manager TXT 12-hour times" in r.out
    assert "chats     3   messages 11   by me 2" in r.out
    msgs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [m["source"]["line"] for m in msgs if m["me"]] == [25, 28]


def test_qq_txt_without_me_lists_senders(twin, tmp_path):
    r = failed(twin, tmp_path, write_qq(tmp_path / "qq.txt"))
    assert "QQ message-manager TXT exports do not mark your own messages" in r.err
    assert "阿强 (id 10001)" in r.err
    assert "系统消息" not in r.err  # system notices are nobody's


def test_qq_txt_encodings(ingest_file, tmp_path):
    """UTF-16 with BOM (some QQ versions), UTF-8 with BOM, and GBK re-saves read the same."""
    plain = ingest_file(write_qq(tmp_path / "a.txt"), extra=("--me", "我"))
    for i, encoding in enumerate(("utf-16", "utf-8-sig", "gb18030")):
        path = write_qq(tmp_path / f"qq{i}.txt", encoding=encoding, newline="\n")
        msgs = ingest_file(path, extra=("--me", "我"))
        assert pick(msgs, "text", "time", "sender") == pick(plain, "text", "time", "sender")
    assert (tmp_path / "qq0.txt").read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")


def test_qq_txt_utf16_summary_names_encoding(twin, tmp_path):
    path = write_qq(tmp_path / "qq.txt", encoding="utf-16")
    r = twin("ingest", path, "-o", tmp_path / "o.jsonl", "--me", "我")
    assert r.code == 0, r.err
    assert "(encoding utf-16)" in r.out


def test_qq_txt_detected_by_content_not_name(ingest_file, tmp_path):
    msgs = ingest_file(write_qq(tmp_path / "export.log"), extra=("--me", "我"))
    assert len(msgs) == 11
    assert not qq_txt.sniff("2024-01-02 3:04:05 阿强(10001)\n你好\n", None)


def test_qq_txt_text_outside_a_message(twin, tmp_path):
    lines = QQ_LINES[:8] + ["这行没有消息头"] + QQ_LINES[8:]
    path = write_qq(tmp_path / "bad.txt", lines)
    r = failed(twin, tmp_path, path, "--me", "我")
    assert f"{path}, line 9: text outside a message" in r.err
    assert "YYYY-MM-DD H:MM:SS name(QQ号)" in r.err
    r = twin("ingest", path, "-o", tmp_path / "ok.jsonl", "--me", "我", "--skip-bad-rows")
    assert r.code == 0, r.err
    assert "malformed row 1" in r.out


def test_qq_txt_impossible_time(twin, tmp_path):
    lines = QQ_LINES[:8] + ["2024-02-30 3:04:05 阿强(10001)", "x", ""] + QQ_LINES[8:]
    r = failed(twin, tmp_path, write_qq(tmp_path / "bad.txt", lines), "--me", "我")
    assert "line 9: impossible time" in r.err


def test_qq_txt_separator_and_block_lines_typed_in_a_message(ingest_file, tmp_path):
    body = ["分割线", SEP, "完", "消息对象:不是新的聊天"]
    lines = QQ_LINES[:10] + body + QQ_LINES[11:]
    msgs = ingest_file(write_qq(tmp_path / "qq.txt", lines), extra=("--me", "我"))
    first = next(m for m in msgs if m["source"]["line"] == 9)
    assert first["text"] == "周末爬山吗\n" + "\n".join(body)
    assert len(msgs) == 11
    assert {m["chat"] for m in msgs} == {"qq:group:周末爬山群", "qq:小红", "qq:老同学"}


def test_qq_txt_group_notices_of_the_1000000_account_are_system_lines(ingest_file, tmp_path):
    """Group notices (joins, renames) come from 系统消息(1000000), not only (10000)."""
    lines = QQ_LINES[:8] + ["2019-09-23 8:49:12 PM 系统消息(1000000)", "小明加入本群。", ""]
    msgs = ingest_file(write_qq(tmp_path / "qq.txt", lines + QQ_LINES[8:]), extra=("--me", "我"))
    notice = next(m for m in msgs if m["text"] == "小明加入本群。")
    assert notice["kind"] == "system" and notice["sender_id"] == "1000000"


def test_qq_txt_chat_listed_under_two_groups_is_read_once(twin, tmp_path):
    """A chat under its 消息分组 and again under 最近联系人: the second copy's messages are
    counted, not read twice; the same message twice inside one block stays."""
    block = [
        "2010-05-27 12:29:35 小明(10001)", "6块钱包月55", "",
        "2010-05-27 12:30:01 阿强(10002)", "好的", "",
        "2010-05-27 12:30:01 阿强(10002)", "好的", "",
    ]  # fmt: skip
    lines = [QQ_TITLE, "", SEP, "消息分组:我的好友", SEP, "消息对象:小明", SEP, "", *block]
    lines += [SEP, "消息分组:最近联系人", SEP, "消息对象:小明", SEP, "", *block[:6]]
    out = tmp_path / "m.jsonl"
    r = twin("ingest", write_qq(tmp_path / "qq.txt", lines), "-o", out, "--me", "阿强")
    assert r.code == 0, r.err
    assert [m["text"] for m in read_jsonl(out)] == ["6块钱包月55", "好的", "好的"]
    assert "repeated in another block of the same chat" in r.out and " 2" in r.out


def test_qq_txt_skipped_header_takes_its_body(ingest_file, tmp_path):
    lines = QQ_LINES[:8] + ["2024-13-01 3:04:05 阿强(10001)", "坏消息", "第二行", ""] + QQ_LINES[8:]
    msgs = ingest_file(
        write_qq(tmp_path / "qq.txt", lines), extra=("--me", "我", "--skip-bad-rows")
    )
    assert len(msgs) == 11
    assert not any("坏消息" in m["text"] for m in msgs)


def test_qq_txt_split_sender():
    assert qq_txt.split_sender("【管理员】阿强(10001)") == ("阿强", "10001")
    assert qq_txt.split_sender("A (x) (B)(123456)") == ("A (x) (B)", "123456")
    assert qq_txt.split_sender("小明（88888）") == ("小明", "88888")
    assert qq_txt.split_sender("Bob<bob@example.com>") == ("Bob", "bob@example.com")
    assert qq_txt.split_sender("(123456)") == ("123456", "123456")
    assert qq_txt.split_sender("备注名(2)") == ("备注名(2)", None)


def _qq_writer(messages: list[tuple[str, str, datetime, str, bool, bool]]) -> str:
    """A QQ TXT export of one group chat: (name, qq, time, text, twelve_hour, padded)."""
    out = [QQ_TITLE, "", SEP, "消息分组:我的群聊", SEP, "消息对象:测试群", SEP, ""]
    for name, qq, when, text, twelve, padded in messages:
        if twelve:
            hour = when.hour % 12 or 12
            clock = f"{hour}:{when:%M:%S} {'PM' if when.hour >= 12 else 'AM'}"
        else:
            clock = f"{when.hour:02d}:{when:%M:%S}" if padded else f"{when.hour}:{when:%M:%S}"
        out += [f"{when:%Y-%m-%d} {clock} {name}({qq})", text, ""]
    return "\n".join(out) + "\n"


_NAMES = st.text(st.sampled_from("阿强Bob小(明) 【】-_x"), min_size=1, max_size=8).map(str.strip)
_WORDS = st.text(st.sampled_from("你好啊 hey![]()图片表情,.\"'"), min_size=1, max_size=12)
_TEXTS = st.lists(_WORDS, min_size=1, max_size=3).map(lambda ls: "\n".join(ls).strip())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["10001", "20002", "30003"]),
            _NAMES,
            st.integers(0, 86_400 * 3),
            _TEXTS,
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_qq_txt_roundtrip(rows):
    rows = [r for r in rows if r[1] and not r[1].startswith("【") and r[3]]
    t = datetime(2024, 3, 1, 0, 0, 0)
    messages = [("我", "30003", t, "开始", False, True)]  # --me must match someone
    for qq, name, step, text, twelve, padded in rows:
        t += timedelta(seconds=step)
        messages.append((name, qq, t, text, twelve, padded))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "qq.txt"
        path.write_text(_qq_writer(messages), encoding="utf-8")
        result = ingest([str(path)], me="30003", progress=False)
        got = [(m.sender, m.sender_id, m.me, m.time, m.kind, m.text) for m in result.messages()]
    want = []
    for name, qq, when, text, _, _ in messages:
        kind, expected = qq_txt.kind_and_text(text, False)
        want.append((name, qq, qq == "30003", when.isoformat(), kind, expected))
    assert got == want


# ---------------------------------------------------------------- QQChatExporter JSON

CHAT_INFO = {
    "name": "周末爬山群",
    "type": "group",
    "avatar": "https://example.com/a.png",
    "participantCount": 3,
    "selfUid": "u_self",
    "selfUin": "30003",
    "selfName": "我",
    "peerUid": "123456789",
}
T0 = 1704164645000  # 2024-01-02 03:04:05 UTC, in ms


def qmsg(i: int, uin, elements=None, **extra) -> dict:
    names = {"10001": "阿强", "30003": "我", 20002: "小明", "88888": "小红"}
    m = {
        "id": f"7320000000000000{i:03d}",
        "seq": str(100 + i),
        "timestamp": T0 + i * 60_000,
        "time": datetime.fromtimestamp((T0 + i * 60_000) / 1000, timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z"
        ),
        "sender": {
            "uid": f"u_{uin}",
            "uin": uin,
            "name": names.get(uin, "?"),
            "nickname": f"nick{uin}",
        },
        "type": "text",
        "content": {
            "text": "(rendered)",
            "html": "",
            "elements": elements if elements is not None else [],
            "resources": [],
            "mentions": [],
        },
        "recalled": False,
        "system": False,
    }
    m.update(extra)
    return m


def el(type_: str, **data) -> dict:
    return {"type": type_, "data": data}


QQ_MESSAGES = [
    qmsg(0, "10001", [el("text", text="周末爬山吗？"), el("face", id="14", name="/微笑")]),
    qmsg(1, "30003", [el("at", uid="u_10001", uin="10001", name="阿强"), el("text", text=" 去！")]),
    qmsg(2, 20002, [el("image", filename="a.jpg", size=10, url="")], type="text"),
    qmsg(3, "10001", [el("image", filename="s.gif", subType="sticker")]),
    qmsg(4, "10001", [el("market_face", name="[吃瓜]", emojiId="abc")]),
    qmsg(5, "30003", [el("face", id="14", name="/微笑")]),
    qmsg(6, "10001", [el("file", filename="路线.pdf", size=100)], type="file"),
    qmsg(7, "10001", [el("video", filename="v.mp4", duration=3)], type="video"),
    qmsg(8, "30003", [el("audio", filename="语音", duration=2)], type="audio"),
    qmsg(
        9,
        "30003",
        [
            el(
                "reply",
                messageId="111",
                referencedMessageId="7320000000000000000",
                senderName="阿强",
            ),
            el("text", text="好的"),
        ],
        type="reply",
    ),
    qmsg(10, "10001", [el("reply", senderName="小明", content="原文"), el("text", text="同意")]),
    qmsg(11, "10001", [el("forward", title="聊天记录", summary="查看3条转发消息", messages=[])]),
    qmsg(12, "10001", [el("text", text="说错了")], recalled=True),
    qmsg(
        13,
        "0",
        [el("system", text="阿强 邀请 小明 加入了群聊")],
        type="system",
        system=True,
        sender={"uid": "未知", "name": ""},
    ),
    qmsg(14, "10001", [el("brand_new_thing", x=1)], type="type_99"),
    qmsg(15, "10001", [el("json", title="JSON消息", url="https://example.org")], type="json"),
    qmsg(16, "10001", [el("location", title="位置消息", summary="分享了位置")]),
    qmsg(17, "10001", [el("av_record", summary="语音通话 - 通话时长 00:32")]),
    qmsg(18, "10001", [], content={"text": "只有文本"}),
    qmsg(19, "10001", None, content="内容是字符串"),
    qmsg(20, "10001", [el("markdown", content="**粗体**")]),
    qmsg(
        21,
        "0",
        [el("system", text="阿强撤回了一条消息")],
        type="system",
        system=True,
        sender={"uid": "0", "uin": "0", "name": ""},
    ),
]


def qq_doc(messages=QQ_MESSAGES, chat_info=CHAT_INFO) -> dict:
    return {
        "metadata": {
            "name": "QQChatExporter V4",
            "copyright": "https://github.com/shuakami/qq-chat-exporter",
            "version": "4.9.1",
        },
        "chatInfo": chat_info,
        "statistics": {"totalMessages": len(messages)},
        "messages": messages,
        "exportOptions": {},
    }


def write_json(path: Path, obj, indent=2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=indent), encoding="utf-8")
    return path


def test_qq_json_kinds_me_and_replies(ingest_file, tmp_path):
    msgs = ingest_file(write_json(tmp_path / "group.json", qq_doc()))
    assert pick(msgs, "sender", "sender_id", "me", "kind", "text") == [
        ("阿强", "10001", False, "text", "周末爬山吗？[微笑]"),
        ("我", "30003", True, "text", "@阿强 去！"),
        ("小明", "20002", False, "image", ""),
        ("阿强", "10001", False, "sticker", ""),
        ("阿强", "10001", False, "sticker", "吃瓜"),
        ("我", "30003", True, "sticker", "[微笑]"),
        ("阿强", "10001", False, "file", "路线.pdf"),
        ("阿强", "10001", False, "video", ""),
        ("我", "30003", True, "voice", ""),
        ("我", "30003", True, "text", "好的"),
        ("阿强", "10001", False, "text", "同意"),
        ("阿强", "10001", False, "other", ""),
        ("阿强", "10001", False, "recall", "说错了"),
        ("", None, False, "system", "阿强 邀请 小明 加入了群聊"),
        ("阿强", "10001", False, "other", ""),
        ("阿强", "10001", False, "link", "https://example.org"),
        ("阿强", "10001", False, "location", ""),
        ("阿强", "10001", False, "call", "语音通话 - 通话时长 00:32"),
        ("阿强", "10001", False, "text", "只有文本"),
        ("阿强", "10001", False, "text", "内容是字符串"),
        ("阿强", "10001", False, "text", "**粗体**"),
        ("", None, False, "recall", "阿强撤回了一条消息"),
    ]
    assert {m["chat"] for m in msgs} == {"qq:group:123456789"}
    assert all(m["group"] is True and m["chat_name"] == "周末爬山群" for m in msgs)
    assert msgs[9]["reply_to"] == {"id": "7320000000000000000"}
    assert msgs[10]["reply_to"] == {"sender": "小明", "text": "原文"}
    assert msgs[11]["forwarded"] is True
    assert msgs[0]["id"] == "7320000000000000000"
    assert msgs[0]["time"] == "2024-01-02T11:04:05+08:00"  # Unix ms, shown in local time
    assert msgs[3]["source"] == {"file": str(tmp_path / "group.json"), "item": "messages[3]"}


def _rendered(i: int, uin, text: str, *parts: dict) -> dict:
    """A message as QCE's V5 JsonExporter writes it: the whole rendered text first, as a text
    element, then the message's parts again as elements."""
    m = qmsg(i, uin, [el("text", text=text), *parts])
    m["content"]["text"] = text
    return m


def test_qq_json_v5_rendered_text_is_taken_apart(ingest_file, tmp_path):
    """QCE V5 writes content.text as the first element, then the parts: no mention or face
    twice, a picture is an image (not the text `[图片: a.jpg]`), no `[回复 …]` in the text."""
    reply = el("reply", messageId="9", referencedMessageId="9", senderName="阿强", content="几点？")
    messages = [
        _rendered(0, "10001", "周末爬山吗？[/微笑]", el("face", id="14", name="/微笑")),
        _rendered(1, "30003", "@阿强 去！", el("at", uid="u_10001", name="阿强")),
        _rendered(2, "10001", "[图片: a.jpg]", el("image", filename="a.jpg", size=10, url="")),
        _rendered(3, "10001", "看[图片: b.png]好看吗", el("image", filename="b.png", size=1)),
        _rendered(4, "30003", "[回复 阿强: 几点？]\n八点", reply),
        _rendered(5, "30003", "[语音 7秒]", el("audio", filename="v.silk", size=12)),
        _rendered(6, "10001", "[文件: 路线.pdf]", el("file", filename="路线.pdf", size=100)),
        _rendered(7, "30003", "[[微笑]]", el("face", id="14", name="[微笑]")),
        _rendered(8, "10001", "[视频]", el("video", filename="", size=3)),
    ]
    msgs = ingest_file(write_json(tmp_path / "v5.json", qq_doc(messages)))
    assert pick(msgs, "kind", "text") == [
        ("text", "周末爬山吗？[微笑]"),
        ("text", "@阿强 去！"),
        ("image", ""),
        ("text", "看好看吗"),
        ("text", "八点"),
        ("voice", ""),
        ("file", "路线.pdf"),
        ("sticker", "[微笑]"),
        ("video", ""),
    ]
    assert msgs[4]["reply_to"] == {"id": "9"}


QCE_TXT = """[QQChatExporter V5 / https://github.com/shuakami/qq-chat-exporter]
[本软件是免费的开源项目~]

===============================================
           QQ聊天记录导出文件
===============================================

聊天名称: 周末爬山群
聊天类型: 群聊
参与人数: 3
消息总数: 7


阿强:
时间: 2024-01-02 08:00:00
内容: 周末爬山吗？[/微笑]
第二行


我:
时间: 2024-01-02 08:01:00
内容: @阿强 去！
提及: 阿强


小明:
时间: 2024-01-02 08:02:00
内容: [图片: a.jpg]
资源: 1 个文件
  - image: a.jpg


小明:
时间: 2024-01-02 08:03:00
内容: [image消息]
资源: 1 个文件
  - image: b.jpg


阿强:
时间: 2024-01-02 08:04:00
内容: [回复 我: @阿强 去！]
好的
回复: 01-02 08:01 我 - @阿强 去！


我:
时间: 2024-01-02 08:05:00
内容: [语音 3秒]
资源: 1 个文件
  - audio: v.silk


系统消息:
时间: 2024-01-02 08:06:00
内容: [系统消息]

===============================================
              导出完成
===============================================
总计导出 7 条消息
"""


def test_qce_txt_read_as_its_json_twin(ingest_file, tmp_path):
    """QCE's TXT export: blocks of `name:`, `时间:`, `内容:` (its rendered text, lines after it
    too), `资源:`; read as the same exporter's JSON is."""
    path = tmp_path / "周末爬山群.txt"
    path.write_text(QCE_TXT, encoding="utf-8")
    msgs = ingest_file(path, extra=("--me", "我"))
    assert pick(msgs, "sender", "me", "kind", "text") == [
        ("阿强", False, "text", "周末爬山吗？[/微笑]\n第二行"),
        ("我", True, "text", "@阿强 去！"),
        ("小明", False, "image", ""),
        ("小明", False, "image", ""),
        ("阿强", False, "text", "好的"),
        ("我", True, "voice", ""),
        ("", False, "system", ""),
    ]
    assert msgs[4]["reply_to"] == {"sender": "我", "text": "@阿强 去！"}
    assert {(m["chat_name"], m["group"]) for m in msgs} == {("周末爬山群", True)}
    assert msgs[0]["source"]["line"] == 14  # its `name:` line


def test_qq_json_private_by_uid_and_local_wall_time(ingest_file, tmp_path):
    info = {"name": "小红", "type": "private", "selfUid": "u_self", "peerUin": "88888"}
    m1 = qmsg(0, "88888", [el("text", text="在吗")], time="2024-01-02 11:04:05")
    m2 = qmsg(1, None, [el("text", text="在")], sender={"uid": "u_self", "name": "我"})
    m2["timestamp"] = str(m2["timestamp"])  # numbers as strings are fine too
    msgs = ingest_file(write_json(tmp_path / "p.json", qq_doc([m1, m2], info), indent=None))
    assert pick(msgs, "chat", "group", "sender", "sender_id", "me", "time") == [
        ("qq:private:88888", False, "小红", "88888", False, "2024-01-02T11:04:05+08:00"),
        ("qq:private:88888", False, "我", "u_self", True, "2024-01-02T11:05:05+08:00"),
    ]


def test_qq_json_without_self_needs_me(twin, ingest_file, tmp_path):
    info = {"name": "群", "type": "group"}
    path = write_json(tmp_path / "g.json", qq_doc(QQ_MESSAGES[:3], info))
    r = failed(twin, tmp_path, path)
    assert "QQChatExporter JSON exports do not mark your own messages" in r.err
    msgs = ingest_file(path, extra=("--me", "nick30003"))  # any name the sender goes by
    assert [m["me"] for m in msgs] == [False, True, False]


def test_qq_json_malformed(twin, tmp_path):
    path = tmp_path / "cut.json"
    text = json.dumps(qq_doc(), ensure_ascii=False, indent=2)
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    r = failed(twin, tmp_path, path)
    assert f"{path}, line " in r.err and ", column " in r.err
    assert "invalid JSON" in r.err


def test_qq_json_bad_message(twin, tmp_path):
    bad = qmsg(1, "10001", [])
    del bad["timestamp"], bad["time"]
    path = write_json(tmp_path / "g.json", qq_doc([QQ_MESSAGES[0], bad, "oops"]))
    r = failed(twin, tmp_path, path)
    assert f"{path}, messages[1]: timestamp=None" in r.err
    r = twin("ingest", path, "-o", tmp_path / "o.jsonl", "--skip-bad-rows")
    assert r.code == 0, r.err
    assert "malformed row 2" in r.out


def test_qq_json_odd_shapes_do_not_crash(ingest_file, tmp_path):
    odd = [
        qmsg(0, "10001", None, sender=None),
        qmsg(1, "10001", None, content=["not", "an", "object"]),
        qmsg(2, "10001", None, content={"elements": {"type": "text"}, "text": "文本"}),
        qmsg(3, "10001", [el("text", text=5), {"type": None}, {"data": []}]),
        qmsg(4, "10001", [el("image")], timestamp=(T0 + 4 * 60_000) / 1000 + 0.5),  # seconds
        qmsg(5, "10001", [el("reply", messageId="0")], type=None, recalled="yes"),
    ]
    msgs = ingest_file(write_json(tmp_path / "odd.json", qq_doc(odd)), extra=("--me", "我"))
    assert pick(msgs, "sender", "kind", "text") == [
        ("", "text", "(rendered)"),
        ("阿强", "other", ""),
        ("阿强", "text", "文本"),
        ("阿强", "text", "5"),
        ("阿强", "image", ""),
        ("阿强", "text", "(rendered)"),  # nothing but a reply element: the rendered text
    ]


def write_chunked(root: Path, per_chunk=(8, 8, 6), info=CHAT_INFO) -> Path:
    msgs = list(QQ_MESSAGES)
    chunks, start = [], 0
    for i, n in enumerate(per_chunk, 1):
        name = f"c{i:06d}.jsonl"
        part = msgs[start : start + n]
        start += n
        (root / "chunks").mkdir(parents=True, exist_ok=True)
        (root / "chunks" / name).write_text(
            "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in part), encoding="utf-8"
        )
        chunks.append(
            {"index": i, "fileName": name, "relativePath": f"chunks/{name}", "count": len(part)}
        )
    manifest = {
        "metadata": {"name": "QQChatExporter V4", "version": "4.9.1"},
        "chatInfo": info,
        "statistics": {"totalMessages": len(msgs)},
        "chunked": {
            "format": "jsonl",
            "chunksDir": "chunks",
            "chunkFileExt": ".jsonl",
            "maxMessagesPerChunk": 8,
            "maxBytesPerChunk": 0,
            "chunks": chunks,
        },
    }
    return write_json(root / "manifest.json", manifest)


def test_qq_json_chunked_folder_reads_each_message_once(twin, ingest_file, tmp_path):
    root = tmp_path / "group_chunked_jsonl"
    write_chunked(root)
    single = ingest_file(write_json(tmp_path / "single" / "g.json", qq_doc()))
    msgs = ingest_file(root)
    assert pick(msgs, "id", "kind", "text", "me", "time") == pick(
        single, "id", "kind", "text", "me", "time"
    )
    assert msgs[8]["source"] == {"file": str(root / "chunks" / "c000002.jsonl"), "line": 1}
    r = twin("ingest", root, "-o", tmp_path / "o.jsonl")
    assert r.code == 0, r.err
    assert "QQChatExporter JSON 4.9.1, chunked JSONL" in r.out
    assert f"read through {root / 'manifest.json'}" in r.out
    assert "Passed over" not in r.out


def test_qq_json_chunked_zip(ingest_file, tmp_path):
    root = tmp_path / "export"
    write_chunked(root)
    zpath = tmp_path / "export.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in sorted(root.rglob("*")):
            z.write(p, f"qq/{p.relative_to(root)}")
    msgs = ingest_file(zpath)
    assert len(msgs) == len(QQ_MESSAGES)
    assert msgs[0]["source"]["file"] == f"{zpath}!/qq/chunks/c000001.jsonl"


def test_qq_json_lone_chunk(twin, ingest_file, tmp_path):
    root = tmp_path / "export"
    write_chunked(root)
    chunk = root / "chunks" / "c000001.jsonl"
    # named alone while its manifest exists: the manifest owns it, nothing is read twice
    r = twin("ingest", chunk, "-o", tmp_path / "o.jsonl")
    assert r.code == 0, r.err
    assert "messages 0" in r.out and "read through" in r.out
    # without a manifest: read on its own, and --me is needed
    (root / "manifest.json").unlink()
    failed(twin, tmp_path, chunk)
    msgs = ingest_file(chunk, extra=("--me", "30003"))
    assert len(msgs) == 8
    assert {m["chat"] for m in msgs} == {"qq:chat:export"}
    assert [m["me"] for m in msgs][:2] == [False, True]


def test_qq_json_chunk_missing_and_bad_line(twin, tmp_path):
    root = tmp_path / "export"
    write_chunked(root)
    (root / "chunks" / "c000003.jsonl").unlink()
    r = failed(twin, tmp_path, root / "manifest.json")
    assert "chunk file(s) not found: c000003.jsonl" in r.err
    write_chunked(root)
    chunk = root / "chunks" / "c000002.jsonl"
    chunk.write_text(
        chunk.read_text(encoding="utf-8") + '{"id": "x", "sender":\n', encoding="utf-8"
    )
    r = failed(twin, tmp_path, root)
    assert f"{chunk}, line 9, column" in r.err


def test_qq_json_sniff():
    head = json.dumps(qq_doc(QQ_MESSAGES[:1]), ensure_ascii=False, indent=2)
    assert qq_json.sniff(head, None)
    assert qq_json.sniff(json.dumps(QQ_MESSAGES[0]) + "\n", None)
    telegram = '{"name": "Alice", "type": "personal_chat", "id": 1, "messages": []}'
    assert not qq_json.sniff(telegram, None)
    neutral = '{"time": "2024-01-01T00:00:00", "chat": "c", "sender": "a", "text": "x"}\n'
    assert not qq_json.sniff(neutral, None)


_ELEMENT = st.one_of(
    st.builds(lambda t: el("text", text=t), st.text(max_size=10)),
    st.builds(lambda: el("image", filename="x.jpg")),
    st.builds(lambda n: el("face", id="1", name=n), st.text(max_size=4)),
    st.builds(lambda n: el("market_face", name=n), st.text(max_size=4)),
    st.builds(lambda: el("reply", senderName="a")),
    st.builds(lambda t: el(t), st.text(max_size=6)),
    st.integers(),
    st.none(),
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["10001", "30003", 20002]),
            st.lists(_ELEMENT, max_size=4),
            st.booleans(),
            st.integers(0, 10**9),
        ),
        max_size=8,
    )
)
def test_qq_json_roundtrip_never_crashes(rows):
    messages, ts = [], T0
    for i, (uin, elements, recalled, step) in enumerate(rows):
        ts += step
        m = qmsg(i, uin, elements, recalled=recalled)
        m["timestamp"] = ts
        messages.append(m)
    with tempfile.TemporaryDirectory() as d:
        path = write_json(Path(d) / "g.json", qq_doc(messages))
        try:
            result = ingest([str(path)], progress=False)
        except Exception as e:  # an empty export is the only acceptable complaint
            assert not messages, e
            return
        got = list(result.messages())
    assert len(got) == len(messages)
    for m, src in zip(got, messages, strict=True):
        assert m.me == (str(src["sender"]["uin"]) == "30003")
        assert m.sender_id == str(src["sender"]["uin"])
        assert m.ts == src["timestamp"] / 1000
        assert m.kind == "recall" if src["recalled"] else m.kind != "recall"
        texts = [
            e["data"]["text"]
            for e in src["content"]["elements"]
            if isinstance(e, dict) and e["type"] == "text" and "text" in e["data"]
        ]
        if "".join(texts).strip() and not src["recalled"]:
            assert m.kind == "text"
            assert all(t.strip() in m.text for t in texts)


# ---------------------------------------------------------------- LINE TXT

LINE_EN = [
    "[LINE] Chat history in Hiking club",  # 1
    "Saved on: 2024/01/10 12:34",
    "",
    "2024.01.02 Tuesday",  # 4
    "09:00\tAlice\tMorning!",  # 5
    '09:01\tBob\t"Two lines,',  # 6
    "",
    "2024.01.03 Wednesday",
    '09:02\tnot a message, she said ""hi"" and left"',
    "09:03\tAlice\t[Photo]",  # 10
    "09:04\tAlice\t[Sticker]",
    "09:05\tCarol\t[Video]",
    "09:06\tCarol\t[Voice message]",
    "09:07\tCarol\t[File] plan.pdf",
    "09:08\tCarol\t[Location] Mt. Takao",  # 15
    "09:09\t\tCarol unsent a message.",
    "09:10\tYou unsent a message.",
    "09:11\tCarol added Dan to the group.",
    "09:12\tBob\t☎ Missed call",
    "09:13\tAlice\t☎ Call time 0:32",  # 20
    '09:14\tBob\t"quoted on one line"',
    '09:15\tBob\t"he said "hi" but',
    "10:00\tAlice\tok",  # 23: the quote above never closes: read as ordinary lines
    "",
    "Tue, 01/09/2024",  # 25
    "02:30PM\tAlice\tafternoon",
    "12:05AM\tBob\tlate",
    "",
    "Thu, 11/01/2024",  # a weekday only the day-first reading fits: 11 January 2024
    "08:00\tAlice\tday first",
]


def write_line(path: Path, lines: list[str], encoding="utf-8", newline="\r\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def test_line_english_group(ingest_file, tmp_path):
    msgs = ingest_file(
        write_line(tmp_path / "[LINE] Hiking club.txt", LINE_EN), extra=("--me", "Bob")
    )
    # sorted by time: 12:05AM (line 27) comes before 02:30PM (line 26)
    assert [m["source"]["line"] for m in msgs] == [5, 6, *range(10, 24), 27, 26, 30]
    assert pick(msgs, "sender", "kind", "text") == [
        ("Alice", "text", "Morning!"),
        (
            "Bob",
            "text",
            'Two lines,\n\n2024.01.03 Wednesday\n09:02\tnot a message, she said "hi" and left',
        ),
        ("Alice", "image", ""),
        ("Alice", "sticker", ""),
        ("Carol", "video", ""),
        ("Carol", "voice", ""),
        ("Carol", "file", "plan.pdf"),
        ("Carol", "location", "Mt. Takao"),
        ("Carol", "recall", "Carol unsent a message."),
        ("You", "recall", "You unsent a message."),
        ("", "system", "Carol added Dan to the group."),
        ("Bob", "call", "Missed call"),
        ("Alice", "call", "Call time 0:32"),
        ("Bob", "text", "quoted on one line"),
        ("Bob", "text", '"he said "hi" but'),
        ("Alice", "text", "ok"),
        ("Bob", "text", "late"),
        ("Alice", "text", "afternoon"),
        ("Alice", "text", "day first"),
    ]
    assert [m["time"] for m in msgs][:2] == ["2024-01-02T09:00:00", "2024-01-02T09:01:00"]
    times = {m["text"]: m["time"] for m in msgs}
    assert times["afternoon"] == "2024-01-09T14:30:00"
    assert times["late"] == "2024-01-09T00:05:00"
    assert times["day first"] == "2024-01-11T08:00:00"
    assert [m["me"] for m in msgs if m["sender"] in ("Bob", "You")] == [True] * 6
    assert not any(m["me"] for m in msgs if m["sender"] in ("Alice", "Carol", ""))
    assert {(m["chat"], m["chat_name"], m["group"]) for m in msgs} == {
        ("line:Hiking club", "Hiking club", True)
    }


LINE_JA = [
    "\ufeff[LINE] 太郎とのトーク履歴",
    "保存日時：2024/01/10 12:34",
    "",
    "2024/01/02(火)",
    "9:00\t太郎\tおはよう",
    "午後1:05\t花子\t[写真]",
    "13:06\t太郎\t[スタンプ]",
    "13:07\t太郎\t[動画]",
    "13:08\t太郎\t[ボイスメッセージ]",
    "13:09\t太郎\t[ファイル]",
    "13:10\t太郎\t[位置情報]",
    "13:11\t\t太郎がメッセージの送信を取り消しました",
    "13:12\t花子\t☎ 通話時間 1:02",
    "",
    "2024/01/03(水)",
    '7:00\t花子\t"一行目',
    '二行目"',
]


def test_line_japanese_private(ingest_file, tmp_path, twin):
    path = write_line(tmp_path / "talk.txt", LINE_JA, newline="\n")
    msgs = ingest_file(path, extra=("--me", "花子"))
    assert pick(msgs, "sender", "me", "kind", "text", "time") == [
        ("太郎", False, "text", "おはよう", "2024-01-02T09:00:00"),
        ("花子", True, "image", "", "2024-01-02T13:05:00"),
        ("太郎", False, "sticker", "", "2024-01-02T13:06:00"),
        ("太郎", False, "video", "", "2024-01-02T13:07:00"),
        ("太郎", False, "voice", "", "2024-01-02T13:08:00"),
        ("太郎", False, "file", "", "2024-01-02T13:09:00"),
        ("太郎", False, "location", "", "2024-01-02T13:10:00"),
        ("太郎", False, "recall", "太郎がメッセージの送信を取り消しました", "2024-01-02T13:11:00"),
        ("花子", True, "call", "通話時間 1:02", "2024-01-02T13:12:00"),
        ("花子", True, "text", "一行目\n二行目", "2024-01-03T07:00:00"),
    ]
    assert {(m["chat"], m["group"]) for m in msgs} == {("line:太郎", False)}
    r = twin("ingest", path, "-o", tmp_path / "o.jsonl", "--me", "花子")
    assert "LINE TXT Japanese, 12-hour times   (encoding utf-8-sig)" in r.out


def test_line_message_before_date(twin, tmp_path):
    lines = LINE_EN[:3] + ["08:00\tAlice\ttoo early"] + LINE_EN[3:]
    path = write_line(tmp_path / "l.txt", lines)
    r = failed(twin, tmp_path, path, "--me", "Bob")
    assert f"{path}, line 4: a message before any date line" in r.err


def test_line_without_me(twin, tmp_path):
    r = failed(twin, tmp_path, write_line(tmp_path / "l.txt", LINE_EN))
    assert "LINE TXT exports do not mark your own messages" in r.err
    assert "Alice" in r.err


def test_line_day_lines():
    from datetime import date

    assert line_txt.day_of("2024.01.02 Tuesday") == (date(2024, 1, 2), True)
    assert line_txt.day_of("2024/01/02(火)") == (date(2024, 1, 2), True)
    assert line_txt.day_of("2024/1/30周二") == (date(2024, 1, 30), True)
    assert line_txt.day_of("Tue, 01/02/2024") == (date(2024, 1, 2), True)
    assert line_txt.day_of("Thu, 02/01/2024") == (date(2024, 2, 1), True)
    assert line_txt.day_of("2024/01/02 dinner") is None
    assert line_txt.day_of("Saved on: 2024/01/10 12:34") is None
    assert line_txt.time_of("02:30PM") == timedelta(hours=14, minutes=30)
    assert line_txt.time_of("午前12:15") == timedelta(minutes=15)
    assert line_txt.time_of("24:53") == timedelta(days=1, minutes=53)  # after midnight
    assert line_txt.time_of("25:00") is None and line_txt.time_of("24:60") is None


def test_line_pc_save_chat_unquoted_texts_with_blank_lines_and_spaced_notices(
    ingest_file, tmp_path
):
    """LINE's older PC export: spaces for tabs, multi-line texts unquoted with blank lines
    inside, `12:30 Bがメッセージの送信を取り消しました` with no space after the name."""
    lines = [
        "2021.1.1 金曜日",
        "12:30 B [写真]",
        "12:31 Bがメッセージの送信を取り消しました",
        "20:55 B 会議に参加する",
        "https://example.org/j/1",
        "",
        "ミーティングID: 000 0000 0000",
        "",
        "",
        "2021.01.02 土曜日",
        "21:00 A ok",
    ]
    path = tmp_path / "talk.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    msgs = ingest_file(path, extra=("--format", "line-txt", "--me", "A"))
    assert pick(msgs, "sender", "kind", "text") == [
        ("B", "image", ""),
        ("B", "recall", "Bがメッセージの送信を取り消しました"),
        ("B", "text", "会議に参加する\nhttps://example.org/j/1\n\nミーティングID: 000 0000 0000"),
        ("A", "text", "ok"),
    ]


def test_line_album_note_and_event_notices_are_system_lines(ingest_file, tmp_path):
    lines = [
        "[LINE] テストとのトーク履歴",
        "",
        "2021/1/1(金)",
        "午後04:47\tB\tアルバムに写真を追加しました",
        "午後07:23\tA\tノートに投稿しました。",
        "午後07:42\tA\tイベント「花見」が作成されました。",
        "午後07:43\tA\tアルバムに写真を追加しましたよ",
    ]
    path = tmp_path / "line.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    msgs = ingest_file(path, extra=("--me", "A"))
    assert [m["kind"] for m in msgs] == ["system", "system", "system", "text"]
    assert msgs[0]["sender"] == "B"  # who did it, kept; the build leaves system lines out


def test_line_after_midnight_written_as_hour_24_is_the_next_day(ingest_file, tmp_path):
    text = "[LINE] Chat history with Ann\nSaved on: 2018/04/20 10:00\n\n2018/04/19(Thu)\n"
    text += "23:50\tAnn\thello\n24:53\tBo\tlate night\n"
    path = tmp_path / "line.txt"
    path.write_text(text, encoding="utf-8")
    msgs = ingest_file(path, extra=("--me", "Ann"))
    assert pick(msgs, "sender", "time", "text") == [
        ("Ann", "2018-04-19T23:50:00", "hello"),
        ("Bo", "2018-04-20T00:53:00", "late night"),
    ]


def _line_writer(rows: list[tuple[str, datetime, str]]) -> str:
    out = ["[LINE] Chat history with Alice", "Saved on: 2024/05/01 10:00", ""]
    day = None
    for sender, when, text in rows:
        if when.date() != day:
            day = when.date()
            out += ["", f"{when:%Y.%m.%d} {when:%A}"]
        if "\n" in text or text.startswith('"'):
            text = '"' + text.replace('"', '""') + '"'
        out.append(f"{when:%H:%M}\t{sender}\t{text}")
    return "\n".join(out) + "\n"


_LINE_TEXT = st.text(st.sampled_from('ab あ"\n[]☎x.\t'), max_size=14)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["Alice", "Bob"]), st.integers(0, 60 * 30), _LINE_TEXT),
        min_size=1,
        max_size=10,
    )
)
def test_line_roundtrip(rows):
    t = datetime(2024, 4, 29, 22, 0)
    messages = [("Bob", t, "hi")]  # --me must match someone
    for sender, step, text in rows:
        t += timedelta(minutes=step)
        messages.append((sender, t, text))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "line.txt"
        path.write_text(_line_writer(messages), encoding="utf-8")
        result = ingest([str(path)], me="Bob", progress=False)
        got = [(m.sender, m.me, m.time, m.kind, m.text) for m in result.messages()]
    want = []
    for sender, when, text in messages:
        kind, expected = line_txt.kind_and_text(text, False)
        want.append((sender, sender == "Bob", when.isoformat(), kind, expected))
    assert got == want
