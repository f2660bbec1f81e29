"""WeChat exports beside WeChatMsg's messages.csv: the 2025 CSV (WeChat 4.0), PyWxDump CSV, and
WeChatMsg TXT. Fixtures follow docs/formats.md §1–2 and the exporters' own writers."""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import read_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.ingest.formats import pywxdump_csv, wechat2025_csv, wechatmsg_txt
from twin.ingest.formats._wechat import rendered
from twin.ingest.report import FileReport
from twin.ingest.sources import Source


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    """Rows as Python's csv writer writes them (the exporters use it): CRLF ends, LF inside."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def parse_direct(module, path: Path):
    source = Source(str(path), path=path)
    report = FileReport(file=str(path), format=module.NAME)
    report._source = source
    return list(module.parse(source, report)), report


def by_text(messages: list[dict]) -> dict[str, dict]:
    return {m["text"]: m for m in messages}


# ---------------------------------------------------------------- WeChatMsg 2025 CSV (WeChat 4.0)

HEADER_2025 = ["消息ID", "类型", "发送人", "时间", "内容", "备注", "昵称", "更多信息"]


def chat_2025(root: Path) -> Path:
    """A 1:1 chat with every kind of row WeChatMsg 2025 writes."""
    rows = [
        HEADER_2025,
        ["5412345678901234561", "文本", "小明", "2024-12-01 10:00:00", "晚上吃什么？", "小明", "Ming", "more"],
        ["5412345678901234562", "文本", "阿狸", "2024-12-01 10:00:30", "火锅吧，\n七点见, 不见不散", "", "阿狸", "more"],
        ["5412345678901234563", "图片", "小明", "2024-12-01 10:00:40", "【图片】", "小明", "Ming", "more"],
        ["5412345678901234564", "表情包", "阿狸", "2024-12-01 10:00:50", "【表情包】 好的", "", "阿狸", "more"],
        ["5412345678901234565", "引用消息", "小明", "2024-12-01 10:01:00", "好呀\n引用：阿狸: 火锅吧，\n七点见, 不见不散", "小明", "Ming", "more"],
        ["5412345678901234566", "语音", "小明", "2024-12-01 10:02:00", "【语音】我到楼下了", "小明", "Ming", "more"],
        ["5412345678901234567", "文件", "阿狸", "2024-12-01 10:03:00", "【文件】菜单 v2.pdf 0.12 MB C:\\wx\\菜单 v2.pdf pdf 0f3c", "", "阿狸", "more"],
        ["5412345678901234568", "分享链接", "小明", "2024-12-01 10:04:00", "【分享链接】\n标题：成都火锅排行\n描述：十家店\n链接: https://example.com/a\n应用：\n", "小明", "Ming", "more"],
        ["5412345678901234569", "位置分享", "阿狸", "2024-12-01 10:05:00", "【位置分享】\n坐标: (30.6,104.0)\n名称: 小龙坎\n标签: 春熙路\n", "", "阿狸", "more"],
        ["5412345678901234570", "音视频通话", "小明", "2024-12-01 10:06:00", "【音视频通话】\n通话时长 00:12", "小明", "Ming", "more"],
        ["5412345678901234571", "系统消息", "", "2024-12-01 10:07:00", "你撤回了一条消息", "", "", "more"],
        ["5412345678901234572", "拍一拍", "小明", "2024-12-01 10:08:00", '"小明" 拍了拍我', "小明", "Ming", "more"],
        ["5412345678901234573", "合并转发的聊天记录", "阿狸", "2024-12-01 10:09:00", "【合并转发的聊天记录】\n\n- 2024-11-30 09:00:00 阿强: 周末爬山吗\n", "", "阿狸", "more"],
        ["5412345678901234574", "红包", "小明", "2024-12-01 10:10:00", "【红包】: 恭喜发财", "小明", "Ming", "more"],
        ["5412345678901234575", "群待办", "小明", "2024-12-01 10:11:00", "周五交报告", "小明", "Ming", "more"],
    ]  # fmt: skip
    return write_csv(root / "聊天记录" / "小明(wxid_ming01)" / "小明.csv", rows)


def group_2025(root: Path) -> Path:
    rows = [
        HEADER_2025,
        ["6412345678901234561", "文本", "阿强", "2024-12-02 09:00:00", "周末爬山吗", "阿强", "Qiang", "more"],
        ["6412345678901234562", "文本", "阿狸", "2024-12-02 09:01:00", "去, 带上水", "", "阿狸", "more"],
        ["6412345678901234563", "文本", "小红", "2024-12-02 09:02:00", "我也去", "", "小红", "more"],
        ["6412345678901234564", "系统消息", "", "2024-12-02 09:03:00", '"小红"邀请"小绿"加入了群聊', "", "", "more"],
    ]  # fmt: skip
    return write_csv(root / "聊天记录" / "爬山群(4567890123@chatroom)" / "爬山群.csv", rows)


def test_wechat2025_guesses_me_across_chats(tmp_path, twin):
    chat_2025(tmp_path)
    group_2025(tmp_path)
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", tmp_path / "聊天记录", "-o", out)
    assert r.code == 0, r.err
    assert "guessed: '阿狸' is the only sender in all 2 chats" in r.out
    assert "WeChatMsg/留痕 2025 CSV (WeChat 4.0) as exported   (encoding utf-8-sig)" in r.out
    assert "unknown 类型 read as kind 'other': 群待办 ×1" in r.out
    msgs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [m["chat"] for m in msgs[:4]] == ["wechat:4567890123@chatroom"] * 4
    group = msgs[:4]
    assert all(m["group"] and m["chat_name"] == "爬山群" for m in group)
    assert [(m["sender"], m["me"]) for m in group[:3]] == [
        ("阿强", False),
        ("阿狸", True),
        ("小红", False),
    ]
    assert group[3]["kind"] == "system" and group[3]["me"] is False

    one = msgs[4:]
    assert all(m["chat"] == "wechat:wxid_ming01" and not m["group"] for m in one)
    assert [m["time"] for m in one] == sorted(m["time"] for m in one)
    t = by_text(one)
    first = t["晚上吃什么？"]
    assert first == {
        "chat": "wechat:wxid_ming01",
        "chat_name": "小明",
        "group": False,
        "sender": "小明",
        "me": False,
        "time": "2024-12-01T10:00:00",
        "kind": "text",
        "text": "晚上吃什么？",
        "id": "5412345678901234561",
        "source": {
            "file": str(tmp_path / "聊天记录" / "小明(wxid_ming01)" / "小明.csv"),
            "line": 2,
        },
    }
    multi = t["火锅吧，\n七点见, 不见不散"]
    assert multi["me"] is True and multi["source"]["line"] == 3
    assert t["好呀"]["reply_to"] == {"sender": "阿狸", "text": "火锅吧，\n七点见, 不见不散"}
    assert t["好呀"]["source"]["line"] == 7  # the multi-line rows above take two lines each
    kinds = [(m["kind"], m["text"]) for m in one]
    assert ("image", "") in kinds
    assert ("sticker", "好的") in kinds
    assert ("voice", "我到楼下了") in kinds
    assert ("file", "菜单 v2.pdf") in kinds
    assert ("link", "成都火锅排行") in kinds
    assert ("location", "小龙坎") in kinds
    assert ("call", "通话时长 00:12") in kinds
    assert ("recall", "你撤回了一条消息") in kinds
    assert ("system", '"小明" 拍了拍我') in kinds
    assert ("other", "周五交报告") in kinds  # an unknown type keeps its text
    forwarded = [m for m in one if m.get("forwarded")]
    assert [(m["kind"], m["text"], m["sender"]) for m in forwarded] == [("other", "", "阿狸")]
    assert len(one) == 15


def test_wechat2025_me_given(tmp_path, ingest_file):
    msgs = ingest_file(chat_2025(tmp_path), extra=("--me", "小明"))
    assert {m["sender"] for m in msgs if m["me"]} == {"小明"}


def test_wechat2025_one_chat_needs_me(tmp_path, twin):
    path = chat_2025(tmp_path)
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code != 0
    assert "cannot tell which sender is you" in r.err
    assert "WeChatMsg/留痕 2025 CSV (WeChat 4.0) exports do not mark your own messages" in r.err
    assert "小明: " in r.err and "阿狸: " in r.err
    assert not out.exists()


def test_wechat2025_one_chat_where_the_exporter_writes_me_as_wo(tmp_path, twin):
    """Where my rows say 我 (as some exports of the 2025 rewrite write them), one chat is
    enough to tell: no --me needed, and the summary says it guessed."""
    rows = [
        HEADER_2025,
        ["1", "文本", "小红", "2024-12-01 10:00:00", "在吗", "小红", "Hong", "more"],
        ["2", "文本", "我", "2024-12-01 10:00:30", "在", "我", "我", "more"],
    ]  # fmt: skip
    path = write_csv(tmp_path / "聊天记录" / "小红(wxid_red01)" / "小红.csv", rows)
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "guessed: '我' is how the exporter names you" in r.out
    assert [m["me"] for m in read_jsonl(out)] == [False, True]


def test_wechat2025_file_outside_its_folder(tmp_path, ingest_file):
    rows = [
        HEADER_2025,
        ["1", "文本", "小明", "2024-12-01 10:00:00", "在吗", "小明", "Ming", "more"],
        ["2", "文本", "阿狸", "2024-12-01 10:01:00", "在", "", "阿狸", "more"],
    ]
    msgs = ingest_file(write_csv(tmp_path / "小明.csv", rows), extra=("--me", "阿狸"))
    assert {(m["chat"], m["chat_name"], m["group"]) for m in msgs} == {
        ("wechat:小明", "小明", False)
    }


def test_wechat2025_bad_time(tmp_path, twin):
    rows = [HEADER_2025, ["1", "文本", "小明", "昨天", "在吗", "", "", "more"]]
    path = write_csv(tmp_path / "小明.csv", rows)
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", path, "-o", out, "--me", "小明")
    assert r.code != 0
    assert f"{path}, row 1 (line 2): 时间='昨天'" in r.err
    assert not out.exists()


def test_wechat2025_sniff():
    head = (
        "消息ID,类型,发送人,时间,内容,备注,昵称,更多信息\n1,文本,a,2024-01-01 00:00:00,x,,,more\n"
    )
    assert wechat2025_csv.sniff(head, None)
    assert not wechat2025_csv.sniff("localId,TalkerId,Type\n", None)


@pytest.mark.parametrize(
    ("type_name", "content", "expected"),
    [
        ("文本", "【通知】明天开会", ("text", "【通知】明天开会")),
        ("位置", "【位置分享】\n名称: 小龙坎\n", ("location", "小龙坎")),
        ("链接/分享", "【分享链接】\n标题：排行\n描述：十家店\n", ("link", "排行")),
        ("视频号", "【视频号】\n描述: 日落\n发布者: 阿强\n", ("link", "日落")),
        ("通话", "【音视频通话】\n已取消", ("call", "已取消")),
        ("撤回", '"小明" 撤回了一条消息', ("recall", '"小明" 撤回了一条消息')),
        ("系统消息", "<![CDATA[你撤回了一条消息]]>", ("recall", "你撤回了一条消息")),
        ("视频", "【视频】", ("video", "")),
        ("转账", "【发起转账】:￥20.00\n备注: 饭钱\n", ("other", "")),
        ("未知类型", "49\n{'msg': …}", ("other", "")),
        ("群待办", "周五交报告", ("other", "周五交报告")),
    ],
)
def test_wechat2025_type_names(type_name, content, expected):
    assert rendered(type_name, content)[:2] == expected


NAMES = ["小明", "阿狸", "Bob & Co", "阿强"]
TEXT = st.text(
    alphabet=st.sampled_from(list("你好吃饭了吗，。,.!? abcXYZ:\"'\n")), min_size=1, max_size=30
)


@st.composite
def chat_messages(draw, kinds: list[str]):
    n = draw(st.integers(1, 8))
    start = datetime(2024, 1, 1, 8, 0, 0)
    gaps = draw(st.lists(st.integers(0, 90_000), min_size=n, max_size=n))
    out = []
    when = start
    for gap in gaps:
        when += timedelta(seconds=gap)
        sender = draw(st.sampled_from(NAMES))
        kind = draw(st.sampled_from(kinds))
        text = draw(TEXT)
        quoted = draw(TEXT)
        out.append({"sender": sender, "time": when, "kind": kind, "text": text, "quoted": quoted})
    return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chat_messages(["text", "image", "sticker", "voice", "quote"]))
def test_wechat2025_roundtrip(tmp_path, messages):
    rows = [HEADER_2025]
    for i, m in enumerate(messages):
        type_name, content = {
            "text": ("文本", m["text"]),
            "image": ("图片", "【图片】"),
            "sticker": ("表情包", "【表情包】 " + m["text"].strip()),
            "voice": ("语音", "【语音】" + m["text"].strip()),
            "quote": ("引用消息", f"{m['text']}\n引用：阿强: {m['quoted']}"),
        }[m["kind"]]
        when = m["time"].strftime("%Y-%m-%d %H:%M:%S")
        rows.append([str(10**18 + i), type_name, m["sender"], when, content, "", "", "more"])
    path = write_csv(tmp_path / "聊天记录" / "群(123456@chatroom)" / "群.csv", rows)
    parsed, report = parse_direct(wechat2025_csv, path)
    assert len(parsed) == len(messages)
    for m, p in zip(messages, parsed, strict=True):
        kind = "text" if m["kind"] == "quote" else m["kind"]
        text = {"image": "", "sticker": m["text"].strip(), "voice": m["text"].strip()}
        assert (p.sender, p.me, p.kind, p.group) == (m["sender"], None, kind, True)
        assert p.text == text.get(m["kind"], m["text"])
        assert p.time == m["time"].isoformat()
        if m["kind"] == "quote":
            assert p.reply_to == {"sender": "阿强", "text": m["quoted"].strip()}


# ---------------------------------------------------------------- PyWxDump CSV

HEADER_PYWX = ["id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "msg", "src", "CreateTime"]  # fmt: skip


def pywx_chat(root: Path) -> Path:
    room = "wxid_ming01"
    rows = [
        HEADER_PYWX,
        ["1", "7594861486645126961", "系统通知", "0", room, room, "你已添加了小明，现在可以开始聊天了。", "", "2023-12-01 09:59:00"],
        ["2", "7594861486645126962", "文本", "0", room, room, "晚上吃什么？", "", "2023-12-01 10:00:00"],
        ["3", "7594861486645126963", "文本", "1", "我", room, "火锅吧，\n七点见, 不见不散", "", "2023-12-01 10:00:30"],
        ["4", "7594861486645126964", "图片", "0", room, room, "图片", "FileStorage\\MsgAttach\\a.dat", "2023-12-01 10:00:40"],
        ["5", "7594861486645126965", "动画表情", "1", "我", room, "表情", "http://emoji.example/x.gif", "2023-12-01 10:00:50"],
        ["6", "7594861486645126966", "引用回复", "0", room, room, "好呀\n\n[引用](2023-12-01 10:00:30)阿狸:火锅吧，\n七点见, 不见不散", "", "2023-12-01 10:01:00"],
        ["7", "7594861486645126967", "语音", "0", room, room, "语音时长：2.38秒\n翻译结果：我到楼下了", "audio\\x.wav", "2023-12-01 10:02:00"],
        ["8", "7594861486645126968", "消息撤回1", "1", "我", room, "你撤回了一条消息", "", "2023-12-01 10:03:00"],
        ["9", "7594861486645126969", "拍一拍", "0", room, room, '"小明" 拍了拍我', "", "2023-12-01 10:04:00"],
        ["10", "7594861486645126970", "(分享)卡片式链接", "1", "我", room, '成都火锅排行\n十家店\n\n<a href="https://example.com/a">点击查看详情</a>', "https://example.com/a", "2023-12-01 10:05:00"],
        ["11", "7594861486645126971", "语音通话", "0", room, room, "语音/视频通话[通话时长 00:12]", "", "2023-12-01 10:06:00"],
        ["12", "7594861486645126972", "合并转发的聊天记录", "1", "我", room, "群聊的聊天记录\n阿强: 周末爬山吗", "", "2023-12-01 10:07:00"],
        ["13", "7594861486645126973", "(分享)小程序", "0", room, room, "(分享)小程序", "", "2023-12-01 10:08:00"],
        ["14", "7594861486645126974", "位置", "1", "我", room, "纬度:【30.6】 经度:【104.0】\n位置：春熙路 小龙坎\n其他信息：{}", "", "2023-12-01 10:09:00"],
        ["15", "7594861486645126975", "文件", "1", "我", room, "菜单.pdf", "FileStorage\\File\\菜单.pdf", "2023-12-01 10:10:00"],
        ["16", "7594861486645126976", "转账", "1", "我", room, "转账：￥20.00\n转账说明：\n转账时间：2023-12-01 10:11:00\n", "", "2023-12-01 10:11:00"],
    ]  # fmt: skip
    return write_csv(root / "export" / room / f"{room}_0_5000.csv", rows, encoding="utf-8")


def test_pywxdump_one_to_one(tmp_path, twin):
    path = pywx_chat(tmp_path)
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "PyWxDump CSV 3.x (msg, src)   (encoding utf-8)" in r.out
    assert "marked in the file" in r.out
    msgs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(msgs) == 16
    assert all(m["chat"] == "wechat:wxid_ming01" and m["group"] is False for m in msgs)
    t = by_text(msgs)
    assert t["晚上吃什么？"] == {
        "chat": "wechat:wxid_ming01",
        "chat_name": "wxid_ming01",
        "group": False,
        "sender": "wxid_ming01",
        "sender_id": "wxid_ming01",
        "me": False,
        "time": "2023-12-01T10:00:00",
        "kind": "text",
        "text": "晚上吃什么？",
        "id": "7594861486645126962",
        "source": {"file": str(path), "line": 3},
    }
    mine = t["火锅吧，\n七点见, 不见不散"]
    assert (mine["sender"], mine["me"], "sender_id" in mine) == ("我", True, False)
    assert t["好呀"]["reply_to"] == {"sender": "阿狸", "text": "火锅吧，\n七点见, 不见不散"}
    assert t["好呀"]["source"]["line"] == 8
    kinds = [(m["kind"], m["text"]) for m in msgs]
    assert kinds[0] == ("system", "你已添加了小明，现在可以开始聊天了。")
    for expected in [
        ("image", ""),
        ("sticker", ""),
        ("voice", "我到楼下了"),
        ("recall", "你撤回了一条消息"),
        ("system", '"小明" 拍了拍我'),
        ("link", "成都火锅排行"),
        ("call", "通话时长 00:12"),
        ("link", ""),
        ("location", "春熙路 小龙坎"),
        ("file", "菜单.pdf"),
        ("other", ""),
    ]:
        assert expected in kinds
    assert [m["kind"] for m in msgs if m.get("forwarded")] == ["other"]


def test_pywxdump_group_with_users_json(tmp_path, ingest_file):
    room = "4567890123@chatroom"
    rows = [
        HEADER_PYWX,
        ["1", "1001", "文本", "0", "wxid_qiang", room, "周末爬山吗", "", "2023-12-02 09:00:00"],
        ["2", "1002", "文本", "1", "我", room, "去", "", "2023-12-02 09:01:00"],
        ["3", "1003", "文本", "0", "wxid_hong", room, "我也去", "", "2023-12-02 09:02:00"],
        [
            "4",
            "1004",
            "邀请加群",
            "0",
            "系统",
            room,
            '"小红"邀请"小绿"加入了群聊',
            "",
            "2023-12-02 09:03:00",
        ],
    ]
    path = write_csv(tmp_path / room / f"{room}_0_5000.csv", rows, encoding="utf-8")
    users = {
        "wxid_qiang": {"wxid": "wxid_qiang", "nickname": "Qiang", "remark": "阿强"},
        "wxid_hong": {"wxid": "wxid_hong", "nickname": "小红", "remark": ""},
        room: {"wxid": room, "nickname": "爬山群", "remark": ""},
    }
    (tmp_path / room / "users.json").write_text(json.dumps(users, ensure_ascii=False), "utf-8")
    msgs = ingest_file(path)
    assert [(m["sender"], m.get("sender_id"), m["me"]) for m in msgs] == [
        ("阿强", "wxid_qiang", False),
        ("我", None, True),
        ("小红", "wxid_hong", False),
        ("系统", None, False),
    ]
    assert all(m["group"] and m["chat_name"] == "爬山群" for m in msgs)
    assert msgs[3]["kind"] == "system"


WECLONE_EXAMPLE = "\n".join(  # WeClone's README example (PyWxDump 2.x), plus an escaped newline
    [
        "id,MsgSvrID,type_name,is_sender,talker,room_name,content,CreateTime",
        '1,953020244103908134,系统通知,0,xinglaifaxianzhe,xinglaifaxianzhe,"{""src"": """", ""msg"": ""你已添加了白桃乌龙，现在可以开始聊天了。""}",2023-08-12 23:22:41',
        '2,7594861486645126963,文本,1,我,xinglaifaxianzhe,"{""src"": """", ""msg"": ""哦吼""}",2023-08-12 23:22:54',
        '3,5795621731176683438,文本,0,xinglaifaxianzhe,xinglaifaxianzhe,"{""src"": """", ""msg"": ""咱们老家,\\n离得近嘞""}",2023-08-12 23:23:02',
        "",
    ]
)


def test_pywxdump_content_json_layout(tmp_path, twin):
    path = tmp_path / "yy.csv"
    path.write_text(WECLONE_EXAMPLE, encoding="utf-8")
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "PyWxDump CSV 2.x (content JSON)" in r.out
    msgs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(m["kind"], m["text"], m["me"]) for m in msgs] == [
        ("system", "你已添加了白桃乌龙，现在可以开始聊天了。", False),
        ("text", "哦吼", True),
        ("text", "咱们老家,\n离得近嘞", False),
    ]
    assert msgs[0]["id"] == "953020244103908134"


def test_pywxdump_unquoted_json_of_old_versions(tmp_path, ingest_file):
    """Up to 2.4.8 rows were joined with commas by hand, so the JSON spills over fields."""
    lines = [
        "id,MsgSvrID,type_name,is_sender,talker,room_name,content,CreateTime",
        '1,1001,文本,0,wxid_bai,wxid_bai,{"src": "", "msg": "你好, 在吗"},2023-08-12 23:22:41',
        '2,1002,文本,1,我,wxid_bai,{"src": "", "msg": "在,\\"刚到\\", 怎么了"},2023-08-12 23:22:54',
        '3,1003,图片,0,wxid_bai,wxid_bai,{"src": "FileStorage\\\\a.dat", "msg": "图片"},2023-08-12 23:23:00',
    ]
    path = tmp_path / "wxid_bai_0_5000.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    msgs = ingest_file(path)
    assert [(m["kind"], m["text"]) for m in msgs] == [
        ("text", "你好, 在吗"),
        ("text", '在,"刚到", 怎么了'),
        ("image", ""),
    ]


def test_weflow_weclone_csv_one_chat_a_file(tmp_path, twin):
    """WeFlow's "WeClone CSV": PyWxDump's columns without room_name, a BOM, English type
    names, UTC times with a Z; the chat is the file, the group told by its senders."""
    rows = [
        "\ufeffid,MsgSvrID,type_name,is_sender,talker,msg,src,CreateTime",
        "1,9001,text,0,阿强,周末爬山吗？,,2023-11-15T10:00:00.000Z",
        "2,9002,text,1,我,好啊,,2023-11-15T10:00:05.000Z",
        "3,9003,image,0,小明,图片,images/a.jpg,2023-11-15T10:01:00.000Z",
        "4,9004,text,0,小明,小明撤回了一条消息,,2023-11-15T10:02:00.000Z",
        '5,9005,file,1,我,"行程,v2.pdf",行程.pdf,2023-11-15T10:03:00.000Z',
    ]
    path = tmp_path / "爬山群.csv"
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("utf-8"))
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "WeFlow's WeClone CSV" in r.out and "Excel" not in r.out
    msgs = read_jsonl(out)
    assert [(m["sender"], m["me"], m["kind"], m["text"]) for m in msgs] == [
        ("阿强", False, "text", "周末爬山吗？"),
        ("我", True, "text", "好啊"),
        ("小明", False, "image", ""),
        ("小明", False, "recall", "小明撤回了一条消息"),
        ("我", True, "file", "行程,v2.pdf"),
    ]
    assert {m["chat"] for m in msgs} == {"wechat:爬山群"}
    assert datetime.fromisoformat(msgs[0]["time"]).timestamp() == 1700042400  # UTC
    assert "wxid" not in json.dumps(msgs)


def test_pywxdump_excel_resave_gb18030(tmp_path, twin):
    """Excel: GB18030, CRLF, times without seconds, long ids shown as floats."""
    text = (
        "id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime\r\n"
        "1,7.59486E+18,文本,0,wxid_ming01,wxid_ming01,晚上吃什么？,,2024/10/4 11:42\r\n"
        '2,7.59486E+18,文本,1,我,wxid_ming01,"火锅吧，\n七点见, 不见不散",,2024/10/4 11:42\r\n'
        "3,7.59486E+18,图片,0,wxid_ming01,wxid_ming01,图片,,2024/10/4 11:43\r\n"
    )
    path = tmp_path / "wxid_ming01_0_5000.csv"
    path.write_bytes(text.encode("gb18030"))
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "PyWxDump CSV 3.x (msg, src), re-saved by Excel   (encoding gb18030)" in r.out
    assert "ids were rounded by a spreadsheet" in r.out
    msgs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(m["time"], m["text"], m["me"]) for m in msgs] == [
        ("2024-10-04T11:42:00", "晚上吃什么？", False),
        ("2024-10-04T11:42:00", "火锅吧，\n七点见, 不见不散", True),  # same minute: file order
        ("2024-10-04T11:43:00", "", False),
    ]
    assert all("id" not in m for m in msgs)


def test_pywxdump_bad_is_sender(tmp_path, twin):
    rows = [
        HEADER_PYWX,
        ["1", "1001", "文本", "0", "wxid_a", "wxid_a", "在吗", "", "2023-12-01 10:00:00"],
        ["2", "1002", "文本", "maybe", "wxid_a", "wxid_a", "在", "", "2023-12-01 10:00:01"],
    ]
    path = write_csv(tmp_path / "wxid_a_0_5000.csv", rows, encoding="utf-8")
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code != 0
    assert f"{path}, row 2 (line 3): is_sender='maybe'; expected is_sender 1 or 0" in r.err
    assert not out.exists()
    r = twin("ingest", path, "-o", out, "--skip-bad-rows")
    assert r.code == 0 and "malformed row 1" in r.out


def test_pywxdump_sniff():
    assert pywxdump_csv.sniff(",".join(HEADER_PYWX) + "\n", None)
    assert pywxdump_csv.sniff(WECLONE_EXAMPLE, None)
    assert not pywxdump_csv.sniff("time,chat,sender,text\n", None)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chat_messages(["text", "image", "voice", "quote"]), st.sampled_from(["msg", "content"]))
def test_pywxdump_roundtrip(tmp_path, messages, layout):
    room = "123456@chatroom"
    header = HEADER_PYWX if layout == "msg" else HEADER_PYWX[:6] + ["content", "CreateTime"]
    rows = [header]
    for i, m in enumerate(messages):
        me = m["sender"] == "阿狸"
        type_name, msg = {
            "text": ("文本", m["text"]),
            "image": ("图片", "图片"),
            "voice": ("语音", "语音时长：1.00秒\n翻译结果：" + m["text"].strip()),
            "quote": ("引用回复", f"{m['text']}\n\n[引用](2024-01-01 08:00:00)阿强:{m['quoted']}"),
        }[m["kind"]]
        talker = "我" if me else m["sender"]
        when = m["time"].strftime("%Y-%m-%d %H:%M:%S")
        if layout == "msg":
            cells = [msg, ""]
        else:
            cells = [json.dumps({"src": "", "msg": msg}, ensure_ascii=False)]
        rows.append(
            [str(i + 1), str(10**18 + i), type_name, str(int(me)), talker, room, *cells, when]
        )
    path = write_csv(tmp_path / f"{room}_0_5000.csv", rows, encoding="utf-8")
    parsed, report = parse_direct(pywxdump_csv, path)
    assert len(parsed) == len(messages)
    for m, p in zip(messages, parsed, strict=True):
        me = m["sender"] == "阿狸"
        kind = "text" if m["kind"] == "quote" else m["kind"]
        text = {"image": "", "voice": m["text"].strip()}.get(m["kind"], m["text"])
        assert (p.sender, p.me, p.kind, p.text) == ("我" if me else m["sender"], me, kind, text)
        assert (p.time, p.group, p.chat) == (m["time"].isoformat(), True, f"wechat:{room}")
        if m["kind"] == "quote":
            assert p.reply_to == {"sender": "阿强", "text": m["quoted"].strip()}


# ---------------------------------------------------------------- WeChatMsg TXT

TXT_3X = """\
2023-12-01 10:00:00 小明
晚上吃什么？

2023-12-01 10:00:30 阿狸
火锅吧

七点见
2023-12-01 10:00:30 这一行在正文里

2023-12-01 10:00:40 小明
[图片]

2023-12-01 10:00:50 阿狸
[表情包]

2023-12-01 10:01:00 小明
好呀
引用:阿狸:火锅吧

2023-12-01 10:01:40 "小明" 撤回了一条消息

2023-12-01 10:02:00 小明
[语音]

2023-12-01 10:03:00 阿狸
            [链接]:title:成都火锅排行
            description:十家店
            url:https://example.com/a
            name:None
            \n\n"""


def test_wechatmsg_txt_3x(tmp_path, twin):
    path = tmp_path / "聊天记录" / "小明" / "小明.txt"
    path.parent.mkdir(parents=True)
    path.write_text(TXT_3X, encoding="utf-8")
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", path, "-o", out, "--me", "阿狸")
    assert r.code == 0, r.err
    assert "WeChatMsg/留痕 TXT WeChat 3.x   (encoding utf-8)" in r.out
    msgs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(m["sender"], m["me"], m["kind"], m["text"], m["source"]["line"]) for m in msgs] == [
        ("小明", False, "text", "晚上吃什么？", 1),
        ("阿狸", True, "text", "火锅吧\n\n七点见\n2023-12-01 10:00:30 这一行在正文里", 4),
        ("小明", False, "image", "", 10),
        ("阿狸", True, "sticker", "", 13),
        ("小明", False, "text", "好呀", 16),
        ("", False, "recall", '"小明" 撤回了一条消息', 20),
        ("小明", False, "voice", "", 22),
        ("阿狸", True, "link", "成都火锅排行", 25),
    ]
    assert msgs[4]["reply_to"] == {"sender": "阿狸", "text": "火锅吧"}
    assert all(m["chat"] == "wechat:小明" and m["group"] is False for m in msgs)
    assert msgs[0]["time"] == "2023-12-01T10:00:00"


def test_wechatmsg_txt_escaped_names_make_a_group(tmp_path, ingest_file):
    def esc(name: str) -> str:  # WeChatMsg's escape_js_and_html
        return html.escape(name, quote=False).replace("\\", "\\\\").replace("'", "\\'")

    text = "".join(
        f"2024-01-02 09:0{i}:00 {esc(name)}\n{body}\n\n"
        for i, (name, body) in enumerate(
            [("Tom & Jerry's", "周末爬山吗"), ("<阿强>", "去"), ("阿狸", "我也去"), ("a\\b", "好")]
        )
    )
    path = tmp_path / "爬山群.txt"
    path.write_text(text, encoding="utf-8")
    assert "Tom &amp; Jerry\\'s" in text
    msgs = ingest_file(path, extra=("--me", "阿狸"))
    assert [m["sender"] for m in msgs] == ["Tom & Jerry's", "<阿强>", "阿狸", "a\\b"]
    assert all(m["group"] for m in msgs)  # more than one other sender
    assert [m["me"] for m in msgs] == [False, False, True, False]


TXT_2025 = """\
2024-12-01 10:00:00 小明
晚上吃什么？

2024-12-01 10:00:40 小明
【图片】

2024-12-01 10:01:00 阿狸
好呀
引用：小明: 晚上吃什么？

2024-12-01 10:01:40
你撤回了一条消息

2024-12-01 10:02:00 阿狸
【表情包】 好的

2024-12-01 10:03:00 小明
【文件】菜单.pdf 0.12 MB C:\\wx\\菜单.pdf pdf 0f3c"""


def test_wechatmsg_txt_2025(tmp_path, twin):
    path = tmp_path / "聊天记录" / "小明(wxid_ming01)" / "小明.txt"
    path.parent.mkdir(parents=True)
    path.write_text(TXT_2025, encoding="utf-8")
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", path, "-o", out, "--me", "阿狸")
    assert r.code == 0, r.err
    assert "WeChatMsg/留痕 TXT 2025 (WeChat 4.0)" in r.out
    msgs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(m["sender"], m["me"], m["kind"], m["text"]) for m in msgs] == [
        ("小明", False, "text", "晚上吃什么？"),
        ("小明", False, "image", ""),
        ("阿狸", True, "text", "好呀"),
        ("", False, "recall", "你撤回了一条消息"),
        ("阿狸", True, "sticker", "好的"),
        ("小明", False, "file", "菜单.pdf"),
    ]
    assert msgs[2]["reply_to"] == {"sender": "小明", "text": "晚上吃什么？"}
    assert {(m["chat"], m["chat_name"], m["group"]) for m in msgs} == {
        ("wechat:wxid_ming01", "小明", False)
    }


def test_wechatmsg_txt_utf16_crlf(tmp_path, ingest_file):
    """Notepad's "Unicode" re-save: UTF-16 with BOM and CRLF line ends."""
    path = tmp_path / "小明.txt"
    path.write_bytes(TXT_3X.replace("\n", "\r\n").encode("utf-16"))
    msgs = ingest_file(path, extra=("--me", "阿狸"))
    assert len(msgs) == 8
    assert msgs[1]["text"] == "火锅吧\n\n七点见\n2023-12-01 10:00:30 这一行在正文里"


def test_wechatmsg_txt_needs_me(tmp_path, twin):
    path = tmp_path / "小明.txt"
    path.write_text(TXT_3X, encoding="utf-8")
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code != 0
    assert "小明: 4 messages" in r.err and "阿狸: 3 messages" in r.err
    assert not out.exists()


def test_wechatmsg_txt_text_before_first_header(tmp_path, twin):
    bad = tmp_path / "bad.txt"
    bad.write_text("聊天记录\n\n" + TXT_3X, encoding="utf-8")
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", bad, "-o", out, "--me", "阿狸", "--format", "wechatmsg-txt")
    assert r.code != 0
    assert f"{bad}, line 1: text before the first message, shaped like 'A'" in r.err
    assert not out.exists()


QQ_TXT = """\
消息记录（此消息记录为文本格式，不支持重新导入）

================================================================
消息分组:我的群聊
================================================================
消息对象:周末爬山群
================================================================

2024-01-02 3:04:05 【管理员】阿强(10001)
周末爬山吗
带上水

2024-01-02 03:05:06 Bob<bob@example.com>
[图片]
"""


@pytest.mark.parametrize(
    "head",
    [
        QQ_TXT,
        QQ_TXT.split("================================================================\n\n", 1)[1],
        "2024-01-02 03:04:05 阿强(10001)\n周末爬山吗\n\n2024-01-02 03:05:06 Bob<bob@example.com>\n[图片]\n",
        "1/4/23, 7:02 PM - Ann: hi\n1/4/23, 7:03 PM - Bob: hello\n",
        "[04/01/2023, 19:05:02] Ann: hi\n",
        "2019-01-01 12:00 - Ann: hi\n",
        "2019-01-01 12:00:00 - Ann: hi\n2019-01-01 12:00:05 - Bob: yo\n",
        "消息ID,类型,发送人,时间,内容,备注,昵称,更多信息\n",
        "time,chat,sender,text\n",
    ],
)
def test_wechatmsg_txt_sniff_leaves_other_formats(head):
    assert not wechatmsg_txt.sniff(head, None)


def test_wechatmsg_txt_sniff_takes_its_own():
    assert wechatmsg_txt.sniff(TXT_3X, None)
    assert wechatmsg_txt.sniff("\ufeff" + TXT_2025, None)
    assert wechatmsg_txt.sniff("2024-12-01 10:01:40\n你撤回了一条消息\n", None)


def test_wechatmsg_txt_detected_among_all_formats(tmp_path, twin):
    path = tmp_path / "小明.txt"
    path.write_text(TXT_3X, encoding="utf-8")
    r = twin("ingest", path, "-o", tmp_path / "m.jsonl", "--me", "阿狸")
    assert r.code == 0, r.err
    assert "format    WeChatMsg/留痕 TXT" in r.out


NAME_CHARS = st.sampled_from(list("小明阿狸强Tom &<>'\"\\;"))
TXT_NAMES = st.lists(
    st.text(NAME_CHARS, min_size=1, max_size=8).map(str.strip).filter(bool),
    min_size=2,
    max_size=4,
    unique_by=str.casefold,
)
TXT_TEXT = st.text(
    alphabet=st.sampled_from(list("你好吃饭了吗，。,.!? abcXYZ:\"'\n")), min_size=1, max_size=40
).filter(lambda t: t.strip() and t.split("\n")[-1].strip())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    TXT_NAMES,
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from(["text", "image", "voice", "sticker", "quote", "system"]),
            TXT_TEXT,
            st.integers(0, 90_000),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_wechatmsg_txt_roundtrip(tmp_path, names, items):
    def esc(name: str) -> str:
        return (
            html.escape(name, quote=False)
            .replace("\\", "\\\\")
            .replace("'", "\\'")
            .replace('"', '\\"')
        )

    when = datetime(2024, 1, 1, 8, 0, 0)
    blocks, expected = [], []
    for who, kind, text, gap in items:
        when += timedelta(seconds=gap)
        name = names[who % len(names)]
        stamp = when.strftime("%Y-%m-%d %H:%M:%S")
        if kind == "system":
            line = text.replace("\n", " ").strip() or "x"
            blocks.append(f"{stamp} {line}\n\n")
            expected.append(("", "system", line, None))
            continue
        body = {
            "image": "[图片]",
            "voice": "[语音]",
            "sticker": "[表情包]",
            "quote": f"{text}\n引用:{names[0]}:原文",
        }.get(kind, text)
        blocks.append(f"{stamp} {esc(name)}\n{body}\n\n")
        shown = text if kind in ("text", "quote") else ""
        expected.append((name, "text" if kind == "quote" else kind, shown, when.isoformat()))
    path = tmp_path / "chat.txt"
    path.write_text("".join(blocks), encoding="utf-8")
    parsed, report = parse_direct(wechatmsg_txt, path)
    assert [(p.sender, p.kind, p.text) for p in parsed] == [e[:3] for e in expected]
    for p, e in zip(parsed, expected, strict=True):
        assert p.me is (False if e[1] == "system" else None)
        if e[3]:
            assert p.time == e[3]
