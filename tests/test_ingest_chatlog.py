"""sjzar/chatlog's CSV and JSON (its HTTP API's `format=csv` / `format=json`), from fixtures
written here in the shapes its code writes (docs/formats.md, "chatlog")."""

from __future__ import annotations

import json
from datetime import datetime

from conftest import read_jsonl

CSV_HEAD = "Time,SenderName,Sender,TalkerName,Talker,Content"


def _ingest(twin, tmp_path, name: str, data: str, *extra: str) -> tuple[list[dict], str]:
    path = tmp_path / name
    path.write_text(data, encoding="utf-8")
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out, *extra)
    assert r.code == 0, r.err
    return read_jsonl(out), r.out


def test_chatlog_csv_kinds_quotes_and_me_from_one_to_one_chats(twin, tmp_path):
    rows = [
        CSV_HEAD,
        "2024-05-01 12:00:00,阿强,wxid_qiang,阿强,wxid_qiang,周末爬山吗？",
        "2024-05-01 12:01:00,,wxid_me123,阿强,wxid_qiang,好啊",
        "2024-05-01 12:02:00,阿强,wxid_qiang,阿强,wxid_qiang,![图片](http://127.0.0.1:5030/image/a)",
        '2024-05-01 12:03:00,阿强,wxid_qiang,阿强,wxid_qiang,"> 我(wxid_me123) 05-01 12:01:00\n> 好啊\n几点？"',
        '2024-05-01 12:04:00,,系统消息,阿强,wxid_qiang,"""阿强"" 撤回了一条消息"',
        "2024-05-01 12:05:00,小明,wxid_ming,爬山群,12345@chatroom,[文件|路线.pdf](http://h/file/x)",
        "2024-05-01 12:06:00,,wxid_me123,爬山群,12345@chatroom,[语音](http://h/voice/y)",
        "2024-05-01 12:07:00,小明,wxid_ming,爬山群,12345@chatroom,[链接|好文章](https://example.org/a)",
        "2024-05-01 12:08:00,小明,wxid_ming,爬山群,12345@chatroom,[位置|西湖|杭州|120.1|30.2]",
        "2024-05-01 12:09:00,小明,wxid_ming,爬山群,12345@chatroom,[语音通话]",
    ]
    msgs, out = _ingest(twin, tmp_path, "chatlog.csv", "\n".join(rows) + "\n")
    assert "chatlog CSV" in out
    got = [(m["chat_name"], m["sender"], m["me"], m["kind"], m["text"]) for m in msgs]
    assert got == [
        ("爬山群", "小明", False, "file", "路线.pdf"),
        ("爬山群", "我", True, "voice", ""),
        ("爬山群", "小明", False, "link", "好文章"),
        ("爬山群", "小明", False, "location", "西湖"),
        ("爬山群", "小明", False, "call", ""),
        ("阿强", "阿强", False, "text", "周末爬山吗？"),
        ("阿强", "我", True, "text", "好啊"),
        ("阿强", "阿强", False, "image", ""),
        ("阿强", "阿强", False, "text", "几点？"),
        ("阿强", "", False, "recall", '"阿强" 撤回了一条消息'),
    ]
    assert msgs[8]["reply_to"] == {"sender": "我", "text": "好啊"}
    assert [m["group"] for m in msgs[:2]] == [True, True]


def test_chatlog_csv_of_group_chats_alone_needs_me(twin, tmp_path):
    rows = [
        CSV_HEAD,
        "2024-05-01 12:05:00,小明,wxid_ming,爬山群,12345@chatroom,走吗",
        "2024-05-01 12:06:00,,wxid_me123,爬山群,12345@chatroom,走",
    ]
    path = tmp_path / "chatlog.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    r = twin("ingest", path, "-o", tmp_path / "m.jsonl")
    assert r.code != 0 and "--me" in r.err
    msgs, _ = _ingest(twin, tmp_path, "chatlog.csv", "\n".join(rows) + "\n", "--me", "wxid_me123")
    assert [m["me"] for m in msgs] == [False, True]


def test_chatlog_json_types_self_and_quotes(twin, tmp_path):
    def msg(i: int, talker: str, sender: str, type_: int, sub: int = 0, **extra) -> dict:
        return {
            "seq": i, "time": f"2024-05-01T12:0{i}:00+08:00", "talker": talker,
            "talkerName": "爬山群" if talker.endswith("@chatroom") else "阿强",
            "isChatRoom": talker.endswith("@chatroom"), "sender": sender,
            "senderName": {"wxid_qiang": "阿强", "wxid_ming": "小明"}.get(sender, ""),
            "isSelf": sender == "wxid_me123", "type": type_, "subType": sub,
            "content": "",
        } | extra  # fmt: skip

    refer = {"type": 1, "sender": "wxid_me123", "senderName": "", "content": "好啊"}
    data = [
        msg(0, "wxid_qiang", "wxid_qiang", 1, content="周末爬山吗？"),
        msg(1, "wxid_qiang", "wxid_me123", 1, content="好啊", time="2024-05-01T12:01:00.5+08:00"),
        msg(2, "wxid_qiang", "wxid_qiang", 3, contents={"md5": "abc"}),
        msg(3, "wxid_qiang", "wxid_qiang", 49, 57, content="几点？", contents={"refer": refer}),
        msg(4, "wxid_qiang", "系统消息", 10000, content='"阿强" 撤回了一条消息'),
        msg(5, "12345@chatroom", "wxid_ming", 49, 6, contents={"title": "路线.pdf"}),
        msg(6, "12345@chatroom", "wxid_ming", 49, 62, content='"小明" 拍了拍我'),
        msg(7, "12345@chatroom", "wxid_ming", 49, 19, contents={}),
    ]
    msgs, out = _ingest(twin, tmp_path, "chatlog.json", json.dumps(data, ensure_ascii=False))
    assert "chatlog JSON" in out
    got = [(m["sender"], m["me"], m["kind"], m["text"], m.get("forwarded", False)) for m in msgs]
    assert got == [
        ("小明", False, "file", "路线.pdf", False),
        ("小明", False, "system", '"小明" 拍了拍我', False),
        ("小明", False, "other", "", True),
        ("阿强", False, "text", "周末爬山吗？", False),
        ("我", True, "text", "好啊", False),
        ("阿强", False, "image", "", False),
        ("阿强", False, "text", "几点？", False),
        ("", False, "recall", '"阿强" 撤回了一条消息', False),
    ]
    assert msgs[6]["reply_to"] == {"sender": "", "text": "好啊"}
    assert datetime.fromisoformat(msgs[4]["time"]).timestamp() == 1714536060.5


def test_chatlog_json_bad_time_names_the_item(twin, tmp_path):
    data = [{"time": "yesterday", "talker": "wxid_qiang", "talkerName": "阿强", "isSelf": False,
             "isChatRoom": False, "sender": "wxid_qiang", "type": 1, "content": "hi"}]  # fmt: skip
    path = tmp_path / "chatlog.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    r = twin("ingest", path, "-o", tmp_path / "m.jsonl")
    assert r.code != 0
    assert "[0]" in r.err and "time='yesterday'" in r.err and "RFC 3339" in r.err
