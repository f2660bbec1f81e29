"""WeChatMsg / 留痕 CSV (docs/formats.md §1): every version, the edge cases, bad rows, a property test.

Files are written here with Python's csv writer, as WeChatMsg did: minimal quoting, CRLF row ends,
bare LF inside quoted fields, `"` doubled.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import read_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.ingest.pipeline import ingest

HEADER9 = [
    "localId",
    "TalkerId",
    "Type",
    "SubType",
    "IsSender",
    "CreateTime",
    "Status",
    "StrContent",
    "StrTime",
]
HEADER12 = HEADER9 + ["Remark", "NickName", "Sender"]
T0 = 1701396000  # 2023-12-01 10:00:00 in Asia/Shanghai (the tests' TZ)
SVRID = "5412345678901234567"  # longer than a float keeps


def strtime(unix: int, hours: float = 8) -> str:
    """StrTime as the exporting machine wrote it (its zone `hours` east of UTC)."""
    tz = timezone(timedelta(hours=hours))
    return datetime.fromtimestamp(unix, tz).strftime("%Y-%m-%d %H:%M:%S")


def row(local_id, talker, type_, sub, is_sender, unix, content, *extra, str_time=None) -> list:
    """The nine MSG columns, then whatever a version appends."""
    when = strtime(unix) if str_time is None else str_time
    return [local_id, talker, type_, sub, is_sender, unix, "", content, when, *extra]


def csv_text(header: list | None, rows: list[list]) -> str:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)  # lineterminator \r\n, QUOTE_MINIMAL, doublequote
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_csv(path: Path, header, rows, encoding: str = "utf-8") -> Path:
    path.write_bytes(csv_text(header, rows).encode(encoding))
    return path


def out_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def fails(twin, tmp_path):
    """Run ingest expecting a clean user error: exit 1, a message, and nothing in the output folder."""

    def run(*args) -> str:
        out_dir = tmp_path / "out"
        out_dir.mkdir(exist_ok=True)
        result = twin("ingest", *args, "-o", out_dir / "messages.jsonl")
        assert result.code == 1, result.out
        assert result.err.startswith("error: ")
        assert out_files(out_dir) == []
        return result.err

    return run


# --- the example of docs/formats.md §1, >=1.0.2 (BOM) ------------------------------------------

EXAMPLE = (
    "\ufefflocalId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\r\n"
    "101,5,1,0,0,1701396000,,晚上吃什么？,2023-12-01 10:00:00,小明,Ming,Ming\r\n"
    '102,5,1,0,1,1701396030,,"火锅吧\n七点见",2023-12-01 10:00:30,小明,Ming,我\r\n'
    '103,5,47,0,0,1701396040,,"<msg><emoji fromusername=""wxid_a"" md5=""0f3c"" /></msg>",2023-12-01 10:00:40,小明,Ming,Ming\r\n'
    '104,5,10000,0,0,1701396100,,"""小明"" 撤回了一条消息",2023-12-01 10:01:40,小明,Ming,Ming\r\n'
    "105,9,1,0,0,1701400000,,周末爬山吗,2023-12-01 11:06:40,,爬山群,阿强\r\n"
    "106,9,49,57,1,1701400060,,,2023-12-01 11:07:40,,爬山群,我\r\n"
)


def test_formats_md_example(tmp_path, twin):
    path = tmp_path / "messages.csv"
    path.write_bytes(EXAMPLE.encode("utf-8"))
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    msgs = read_jsonl(out)
    assert [(m["id"], m["kind"], m["text"], m["me"], m["sender"]) for m in msgs] == [
        ("101", "text", "晚上吃什么？", False, "Ming"),
        ("102", "text", "火锅吧\n七点见", True, "我"),
        ("103", "sticker", "", False, "Ming"),
        ("104", "recall", '"小明" 撤回了一条消息', False, "Ming"),
        ("105", "text", "周末爬山吗", False, "阿强"),
        ("106", "other", "", True, "我"),  # a quote whose text was never exported
    ]
    assert [m["source"]["line"] for m in msgs] == [2, 3, 5, 6, 7, 8]
    assert {m["source"]["file"] for m in msgs} == {str(path)}
    assert [m["chat"] for m in msgs] == ["wechat:5:Ming"] * 4 + ["wechat:9:爬山群"] * 2
    assert [m["chat_name"] for m in msgs] == ["小明"] * 4 + ["爬山群"] * 2
    assert msgs[0]["time"] == "2023-12-01T10:00:00+08:00"
    assert msgs[5]["time"] == "2023-12-01T11:07:40+08:00"
    # one other sender in each chat: neither is a group by the "more than one other" rule
    assert not any(m["group"] for m in msgs)
    assert "WeChatMsg/留痕 CSV >=1.0.2" in r.out
    assert "encoding utf-8-sig" in r.out
    assert "6 messages in 2 chats, 2 by me" in r.out
    assert "marked in the file" in r.out


# --- every version ------------------------------------------------------------------------


def test_v025_nine_fields(tmp_path, ingest_file):
    path = write_csv(
        tmp_path / "messages.csv",
        HEADER9,
        [
            row(1, 5, 1, 0, 0, T0, "在吗"),
            row(2, 5, 1, 0, 1, T0 + 5, "在"),
            row(3, 7, 1, 0, 0, T0 + 9, "hello"),
        ],
    )
    msgs = ingest_file(path)
    assert [(m["chat"], m["chat_name"], m["sender"], m["me"], m["text"]) for m in msgs] == [
        ("wechat:messages:5", "TalkerId 5", "TalkerId 5", False, "在吗"),
        ("wechat:messages:5", "TalkerId 5", "我", True, "在"),
        ("wechat:messages:7", "TalkerId 7", "TalkerId 7", False, "hello"),
    ]
    assert [m["id"] for m in msgs] == ["1", "2", "3"]
    assert not any(m["group"] for m in msgs)


def test_v025_summary_names_version(tmp_path, twin):
    path = write_csv(tmp_path / "messages.csv", HEADER9, [row(1, 5, 1, 0, 0, T0, "在吗")])
    r = twin("ingest", path, "-o", tmp_path / "m.jsonl")
    assert r.code == 0, r.err
    assert "WeChatMsg/留痕 CSV <=0.2.5" in r.out
    assert "encoding utf-8)" in r.out


@pytest.mark.parametrize(
    ("header", "version"),
    [(HEADER9, "0.2.6"), (HEADER9 + ["_"], "0.2.6 (hand-edited header)")],
    ids=["raw", "hand-edited"],
)
def test_v026_tenth_field_is_msgsvrid(tmp_path, twin, header, version):
    path = write_csv(
        tmp_path / "messages.csv",
        header,
        [
            row(101, 5, 1, 0, 0, T0, "晚上吃什么？", SVRID),
            row(102, 5, 1, 0, 1, T0 + 30, "火锅吧\n七点见", "5412345678901234568"),
        ],
    )
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert f"WeChatMsg/留痕 CSV {version} " in r.out
    lines = out.read_text("utf-8").split("\n")
    # the id is written as the exact string, never through a float
    assert f'"id": "{SVRID}"' in lines[0]
    msgs = [json.loads(line) for line in lines if line]
    assert [(m["id"], m["text"], m["me"]) for m in msgs] == [
        (SVRID, "晚上吃什么？", False),
        ("5412345678901234568", "火锅吧\n七点见", True),
    ]


def test_v027_shifted_rows(tmp_path, twin):
    """12-name header, rows shifted right by MsgSvrID: 12 fields 1:1, 13 in groups, fewer on lookup failure."""
    path = write_csv(
        tmp_path / "messages.csv",
        HEADER12,
        [
            row(1, 5, 1, 0, 0, T0, "你好", "5000000000000000001", "小明", "Ming"),
            row(2, 5, 1, 0, 1, T0 + 1, "你好呀", "5000000000000000002", "小明", "Ming"),
            row(3, 9, 1, 0, 0, T0 + 2, "周末爬山吗", "5000000000000000003", "", "爬山群", "阿强"),
            row(4, 9, 1, 0, 0, T0 + 3, "去！", "5000000000000000004", "", "爬山群", "小红"),
            row(5, 9, 1, 0, 1, T0 + 4, "我也去", "5000000000000000005", "", "爬山群", "我"),
            row(6, 11, 1, 0, 0, T0 + 5, "陌生人", "5000000000000000006"),  # lookup failed
            row(7, 12, 1, 0, 0, T0 + 6, "只有备注", "5000000000000000007", "老王"),
        ],
    )
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "WeChatMsg/留痕 CSV 0.2.7–0.2.9 " in r.out
    msgs = {m["text"]: m for m in read_jsonl(out)}
    assert msgs["你好"]["chat"] == "wechat:5:Ming"
    assert msgs["你好"]["chat_name"] == "小明"
    assert (
        msgs["你好"]["sender"] == "Ming"
    )  # 1:1 rows carry no sender: the NickName, as filled cells do
    assert msgs["你好"]["group"] is False
    assert msgs["你好"]["id"] == "5000000000000000001"
    assert msgs["你好呀"]["sender"] == "我"
    assert msgs["你好呀"]["me"] is True
    assert [msgs[t]["sender"] for t in ("周末爬山吗", "去！", "我也去")] == ["阿强", "小红", "我"]
    assert all(msgs[t]["group"] for t in ("周末爬山吗", "去！", "我也去"))
    assert msgs["周末爬山吗"]["chat"] == "wechat:9:爬山群"
    assert msgs["陌生人"]["chat"] == "wechat:messages:11"
    assert msgs["陌生人"]["chat_name"] == "TalkerId 11"
    assert msgs["陌生人"]["id"] == "5000000000000000006"
    assert msgs["只有备注"]["chat_name"] == "老王"


def test_v1_aligned_rows_without_bom(tmp_path, twin):
    path = write_csv(
        tmp_path / "messages.csv",
        HEADER12,
        [
            row(1, 9, 1, 0, 0, T0, "周末爬山吗", "", "爬山群", "阿强"),
            row(2, 9, 1, 0, 0, T0 + 1, "去", "", "爬山群", "小红"),
            row(3, 9, 1, 0, 1, T0 + 2, "好", "", "爬山群", "我"),
            row(4, 5, 1, 0, 0, T0 + 3, "在吗", "小明", "Ming", "Ming"),
        ],
    )
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "WeChatMsg/留痕 CSV >=1.0 " in r.out
    msgs = read_jsonl(out)
    assert [(m["chat"], m["sender"], m["group"], m["id"]) for m in msgs] == [
        ("wechat:5:Ming", "Ming", False, "4"),
        ("wechat:9:爬山群", "阿强", True, "1"),
        ("wechat:9:爬山群", "小红", True, "2"),
        ("wechat:9:爬山群", "我", True, "3"),
    ]


def test_per_contact_2x_sender_holds_wxids(tmp_path, twin):
    """WeChatMsg's per-contact exporter (`<contact>_utf8.csv`) writes each row's own sender in
    Remark, NickName and Sender (a wxid), mine included: one chat, named by the file; others
    shown by remark, else nickname, the wxid beside; mine 我."""
    folder = tmp_path / "data" / "聊天记录" / "爬山群"
    folder.mkdir(parents=True)
    path = write_csv(
        folder / "爬山群_utf8.csv",
        HEADER12,
        [
            row(1, 9, 1, 0, 0, T0, "周末爬山吗", "强哥", "阿强", "wxid_qiang123"),
            row(2, 9, 1, 0, 0, T0 + 1, "去", "", "小红", "wxid_hong456"),
            row(3, 9, 1, 0, 1, T0 + 2, "好", "", "我的昵称", "wxid_me000001"),
            row(4, 9, 1, 0, 0, T0 + 3, "八点见", "", "", "wxid_anon0001"),
        ],
        encoding="utf-8-sig",
    )
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "per-contact 2.x (Sender holds wxids)" in r.out and "chats     1 " in r.out
    msgs = read_jsonl(out)
    assert [(m["sender"], m.get("sender_id"), m["me"]) for m in msgs] == [
        ("强哥", "wxid_qiang123", False),
        ("小红", "wxid_hong456", False),
        ("我", None, True),
        ("wxid_anon0001", "wxid_anon0001", False),
    ]
    assert all(m["group"] for m in msgs)
    assert {(m["chat"], m["chat_name"]) for m in msgs} == {("wechat:爬山群_utf8:9", "爬山群")}


def test_per_contact_file_of_a_friend_with_an_old_style_id(tmp_path, twin):
    """An old account's id (`zhangsan88`) reads like a name, so the exporter's file name (one
    TalkerId in `<contact>_utf8.csv`) tells the per-contact file: still one chat."""
    path = write_csv(
        tmp_path / "老张_utf8.csv",
        HEADER12,
        [
            row(1, 7, 1, 0, 0, T0, "在吗", "老张", "张三", "zhangsan88"),
            row(2, 7, 1, 0, 1, T0 + 1, "在的", "", "我的昵称", "wxid_me000001"),
            row(3, 7, 1, 0, 0, T0 + 2, "明天见", "老张", "张三", "zhangsan88"),
        ],
        encoding="utf-8-sig",
    )
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    msgs = read_jsonl(out)
    assert {m["chat_name"] for m in msgs} == {"老张"}
    assert [(m["sender"], m["me"]) for m in msgs] == [
        ("老张", False),
        ("我", True),
        ("老张", False),
    ]
    copy = tmp_path / "messages.csv"
    copy.write_bytes(path.read_bytes())  # the same rows under another name: keyed by names
    r = twin("ingest", copy, "-o", out)
    assert r.code == 0, r.err
    assert len({m["chat"] for m in read_jsonl(out)}) == 2


def test_per_contact_1to1_rows_without_name_fields(tmp_path, twin):
    """Some per-contact exporters wrote 1:1 rows of 9 fields under the 12-name header: read,
    not refused, as one chat named by the file, the friend named as the chat."""
    path = tmp_path / "小明_utf8.csv"
    lines = [",".join(HEADER12)] + [
        f"{i},5,1,0,{me},{T0 + i},2,{text},{strtime(T0 + i)}"
        for i, (me, text) in enumerate([(0, "晚上吃什么？"), (1, "火锅吧"), (0, "好")], 1)
    ]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "per-contact 1:1 (rows of 9 fields, no names)" in r.out
    msgs = read_jsonl(out)
    assert [(m["chat_name"], m["sender"], m["me"], m["group"]) for m in msgs] == [
        ("小明", "小明", False, False),
        ("小明", "我", True, False),
        ("小明", "小明", False, False),
    ]


# --- content edge cases ---------------------------------------------------------------------

EDGE_ROWS = [
    # (Type, SubType, IsSender, StrContent) -> (kind, text)
    ((1, 0, 0, "第一行\n第二行\n\n第四行"), ("text", "第一行\n第二行\n\n第四行")),
    ((1, 0, 1, "a, b, and c"), ("text", "a, b, and c")),
    ((1, 0, 0, 'he said "hi", then left'), ("text", 'he said "hi", then left')),
    ((1, 0, 0, "[微笑][捂脸]"), ("text", "[微笑][捂脸]")),
    ((3, 0, 0, '<msg><img aeskey="k" length="1024" /></msg>'), ("image", "")),
    (
        (34, 0, 0, '<msg><voicemsg voicelength="2380" transtext="我到楼下了" /></msg>'),
        ("voice", "我到楼下了"),
    ),
    ((34, 0, 1, '<msg><voicemsg voicelength="900" /></msg>'), ("voice", "")),
    ((43, 0, 0, '<msg><videomsg playlength="7" /></msg>'), ("video", "")),
    (
        (47, 0, 0, '<msg><emoji cdnurl="http://example.org/e.gif" md5="ab" /></msg>'),
        ("sticker", ""),
    ),
    (
        (48, 0, 0, '<msg><location x="39.9" y="116.4" label="北京市朝阳区某路1号" /></msg>'),
        ("location", "北京市朝阳区某路1号"),
    ),
    (
        (48, 0, 1, '<msg><location label="某路1号" poiname="某某咖啡" /></msg>'),
        ("location", "某某咖啡"),
    ),
    (
        (
            50,
            0,
            1,
            '<voipmsg type="VoIPBubbleMsg"><VoIPBubbleMsg><msg><![CDATA[通话时长 00:42]]></msg></VoIPBubbleMsg></voipmsg>',
        ),
        ("call", ""),
    ),
    ((42, 0, 0, '<msg username="wxid_card" nickname="名片" />'), ("other", "")),
    ((49, 5, 0, ""), ("link", "")),
    ((49, 6, 1, ""), ("file", "")),
    ((49, 57, 0, ""), ("other", "")),
    ((49, 2000, 0, ""), ("other", "")),
    (
        (10000, 0, 0, "<![CDATA[你已添加了小明，现在可以开始聊天了。]]>"),
        ("system", "你已添加了小明，现在可以开始聊天了。"),
    ),
    (
        (
            10000,
            8000,
            0,
            '"阿强"邀请"小红"加入了群聊  <a href="weixin://findfriend/verifycontact">撤销</a>',
        ),
        ("system", '"阿强"邀请"小红"加入了群聊  撤销'),
    ),
    ((10000, 4, 0, '"阿强" 拍了拍我'), ("system", '"阿强" 拍了拍我')),
    ((10000, 0, 1, "你撤回了一条消息"), ("recall", "你撤回了一条消息")),
    ((10000, 0, 0, '"小明" 撤回了一条消息'), ("recall", '"小明" 撤回了一条消息')),
    (
        (
            10002,
            0,
            0,
            '<sysmsg type="revokemsg"><revokemsg><session>wxid_a</session><msgid>1</msgid><newmsgid>5412345678901234567</newmsgid><replacemsg><![CDATA["小明" 撤回了一条消息]]></replacemsg></revokemsg></sysmsg>',
        ),
        ("recall", '"小明" 撤回了一条消息'),
    ),
    ((9999, 0, 0, "<msg>?</msg>"), ("other", "")),
]


def test_content_edge_cases(tmp_path, ingest_file):
    rows = [
        row(i, 5, t, s, me, T0 + i, content, "小明", "Ming", "我" if me else "Ming")
        for i, ((t, s, me, content), _) in enumerate(EDGE_ROWS, 1)
    ]
    path = write_csv(tmp_path / "messages.csv", HEADER12, rows, encoding="utf-8-sig")
    msgs = ingest_file(path)
    assert [(m["kind"], m["text"]) for m in msgs] == [want for _, want in EDGE_ROWS]
    assert [m["me"] for m in msgs] == [bool(me) for (_, _, me, _), _ in EDGE_ROWS]
    # the multi-line text spans lines 2-5: every later row starts where the file says
    starts, line = [], 2
    for (_, _, _, content), _ in EDGE_ROWS:
        starts.append(line)
        line += content.count("\n") + 1
    assert [m["source"]["line"] for m in msgs] == starts


def test_time_offset_from_strtime_and_createtime(tmp_path, ingest_file):
    """CreateTime is the instant; StrTime tells the exporting machine's zone."""
    path = write_csv(
        tmp_path / "messages.csv",
        HEADER12,
        [
            row(1, 5, 1, 0, 0, T0, "东八区", "小明", "Ming", "Ming"),
            row(
                2, 5, 1, 0, 0, T0 + 60, "东京", "小明", "Ming", "Ming", str_time=strtime(T0 + 60, 9)
            ),
            row(
                3,
                5,
                1,
                0,
                0,
                T0 + 120,
                "伦敦",
                "小明",
                "Ming",
                "Ming",
                str_time=strtime(T0 + 120, 0),
            ),
            row(
                4,
                5,
                1,
                0,
                0,
                T0 + 180,
                "印度",
                "小明",
                "Ming",
                "Ming",
                str_time=strtime(T0 + 180, 5.5),
            ),
            row(5, 5, 1, 0, 0, T0 + 240, "没有StrTime", "小明", "Ming", "Ming", str_time=""),
        ],
    )
    msgs = ingest_file(path)
    assert [m["time"] for m in msgs] == [
        "2023-12-01T10:00:00+08:00",
        "2023-12-01T11:01:00+09:00",
        "2023-12-01T02:02:00+00:00",
        "2023-12-01T07:33:00+05:30",
        "2023-12-01T10:04:00+08:00",  # from CreateTime, in this machine's zone
    ]
    assert [m["text"] for m in msgs] == ["东八区", "东京", "伦敦", "印度", "没有StrTime"]


def test_stable_sort_interleaved_chats_equal_times(tmp_path, ingest_file):
    ming = ("小明", "Ming", "Ming")
    hill = ("", "爬山群", "阿强")
    path = write_csv(
        tmp_path / "messages.csv",
        HEADER12,
        [
            row(1, 9, 1, 0, 0, T0 + 50, "g-late", *hill),
            row(2, 5, 1, 0, 0, T0 + 10, "m-b1", *ming),
            row(3, 9, 1, 0, 0, T0 + 10, "g-early", *hill),
            row(4, 5, 1, 0, 0, T0, "m-first", *ming),
            row(5, 5, 1, 0, 1, T0 + 10, "m-b2", "小明", "Ming", "我"),
            row(6, 9, 1, 0, 0, T0 + 50, "g-late-2", *hill),
            row(7, 5, 1, 0, 0, T0 + 10, "m-b3", *ming),
            row(8, 5, 1, 0, 0, T0 + 5, "m-second", *ming),
        ],
    )
    msgs = ingest_file(path)
    assert [m["text"] for m in msgs] == [
        "m-first",
        "m-second",
        "m-b1",
        "m-b2",
        "m-b3",
        "g-early",
        "g-late",
        "g-late-2",
    ]


def _v1_rows() -> list[list]:
    return [
        row(1, 5, 1, 0, 0, T0, "晚上吃什么？", "小明", "Ming", "Ming"),
        row(2, 5, 1, 0, 1, T0 + 30, "火锅吧\n七点见，老地方", "小明", "Ming", "我"),
        row(3, 5, 1, 0, 0, T0 + 60, "好的「收到」", "小明", "Ming", "Ming"),
    ]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-16"], ids=["excel-gb18030", "utf16-bom"])
def test_other_encodings(tmp_path, twin, encoding):
    path = write_csv(tmp_path / "messages.csv", HEADER12, _v1_rows(), encoding=encoding)
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert f"(encoding {encoding})" in r.out
    msgs = read_jsonl(out)
    assert [m["text"] for m in msgs] == ["晚上吃什么？", "火锅吧\n七点见，老地方", "好的「收到」"]
    assert [m["chat_name"] for m in msgs] == ["小明"] * 3
    assert [m["source"]["line"] for m in msgs] == [2, 3, 5]


def test_blank_rows_are_counted(tmp_path, twin):
    text = csv_text(HEADER12, _v1_rows()[:1]) + "\r\n\r\n" + csv_text(None, _v1_rows()[2:])
    path = tmp_path / "messages.csv"
    path.write_text(text, encoding="utf-8", newline="")
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "skipped   blank row 2" in r.out
    msgs = read_jsonl(out)
    assert [(m["text"], m["source"]["line"]) for m in msgs] == [
        ("晚上吃什么？", 2),
        ("好的「收到」", 5),
    ]


# --- bad input --------------------------------------------------------------------------------


def test_truncated_file_last_row_cut_mid_field(tmp_path, fails):
    text = csv_text(HEADER12, _v1_rows())
    path = tmp_path / "messages.csv"
    cut = text + '4,5,1,0,0,1701396090,,"我在路上，'  # the export stopped inside a quoted field
    path.write_bytes(cut.encode("utf-8"))
    err = fails(path)
    assert str(path) in err
    assert "row 4 (line 6)" in err
    assert "8 fields" in err
    assert "12 fields" in err
    assert "cut short" in err


def test_row_with_too_few_fields(tmp_path, fails):
    rows = _v1_rows()
    rows.insert(1, ["102", "5", "1", "0", "1", str(T0 + 10), "", "只有八个字段"])
    path = write_csv(tmp_path / "messages.csv", HEADER12, rows)
    err = fails(path)
    assert f"{path}, row 2 (line 3): 8 fields; expected 12 fields for WeChatMsg >=1.0" in err


def test_row_with_too_many_fields_in_v025(tmp_path, fails):
    path = write_csv(
        tmp_path / "messages.csv",
        HEADER9,
        [row(1, 5, 1, 0, 0, T0, "ok"), row(2, 5, 1, 0, 0, T0, "a", "extra")],
    )
    err = fails(path)
    assert "row 2 (line 3): 10 fields; expected 9 fields for WeChatMsg <=0.2.5" in err


def test_non_integer_type(tmp_path, fails):
    rows = _v1_rows()
    rows[2][2] = "文本"
    path = write_csv(tmp_path / "messages.csv", HEADER12, rows)
    err = fails(path)
    assert f"{path}, row 3 (line 5)" in err
    assert "Type='文本'" in err
    assert "integer Type" in err


def test_bad_issender(tmp_path, fails):
    rows = _v1_rows()
    rows[0][4] = "yes"
    path = write_csv(tmp_path / "messages.csv", HEADER12, rows)
    err = fails(path)
    assert "row 1 (line 2): IsSender='yes'; expected IsSender 0 or 1" in err


def test_forced_format_on_a_foreign_table(tmp_path, fails):
    """A wrong header is a file error, even with --skip-bad-rows (it is not a row to skip)."""
    path = tmp_path / "chat.csv"
    path.write_text("time,chat,sender,text\r\n2024-01-01T10:00:00,c,a,hi\r\n", encoding="utf-8")
    for extra in ((), ("--skip-bad-rows",)):
        err = fails(path, "--format", "wechatmsg-csv", *extra)
        assert f"{path}, line 1 (header)" in err
        assert "localId,TalkerId,Type" in err


def test_skip_bad_rows_counts_malformed_rows(tmp_path, twin):
    rows = _v1_rows()
    rows.insert(1, ["102", "5", "1"])
    rows[3][2] = "x"
    path = write_csv(tmp_path / "messages.csv", HEADER12, rows)
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "--skip-bad-rows", "-o", out)
    assert r.code == 0, r.err
    assert "skipped   malformed row 2" in r.out
    assert "row 2 (line 3): 3 fields" in r.out
    assert "row 4 (line 6): Type='x'" in r.out
    assert "messages 2" in r.out
    assert [m["text"] for m in read_jsonl(out)] == ["晚上吃什么？", "火锅吧\n七点见，老地方"]


# --- property: a >=1.0 file written by a small writer parses back equal ----------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=40,
)
_name = st.one_of(
    st.sampled_from(["小明", "Ming", "阿强", "O'Brien", 'quote"d', "a,b"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
)
_message = st.tuples(
    st.integers(min_value=0, max_value=2),  # chat
    _name,
    st.booleans(),  # IsSender
    st.integers(min_value=0, max_value=10_000),  # seconds after T0
    st.sampled_from([1, 1, 1, 3, 47, 10000]),
    _text,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_message, min_size=1, max_size=25), bom=st.booleans())
def test_property_v1_round_trip(messages, bom):
    chats = [("小明", "Ming"), ("", "爬山群"), ("Work, Inc.", '"Team"')]
    rows = []
    for i, (c, sender, me, dt, type_, text) in enumerate(messages):
        content = text if type_ in (1, 10000) else "<msg><img /></msg>"
        rows.append(
            row(i, c + 1, type_, 0, int(me), T0 + dt, content, *chats[c], "我" if me else sender)
        )
    with tempfile.TemporaryDirectory() as d:
        path = write_csv(Path(d) / "messages.csv", HEADER12, rows, "utf-8-sig" if bom else "utf-8")
        result = ingest([str(path)])
        got = list(result.messages())

    def kind_of(type_, text):
        if type_ == 1:
            return "text"
        if type_ == 10000:
            return "recall" if "撤回了一条消息" in text else "system"
        return {3: "image", 47: "sticker"}[type_]

    expected = sorted(
        range(len(messages)),
        key=lambda i: (f"wechat:{messages[i][0] + 1}:{chats[messages[i][0]][1]}", messages[i][3]),
    )
    assert [m.id for m in got] == [str(i) for i in expected]
    for m, i in zip(got, expected, strict=True):
        c, sender, me, dt, type_, text = messages[i]
        assert m.kind == kind_of(type_, text)
        if type_ == 1:
            assert m.text == text
        elif type_ != 10000:
            assert m.text == ""
        assert m.me is me
        assert m.sender == ("我" if me else sender)
        assert m.chat_name == (chats[c][0] or chats[c][1])
        assert m.time == strtime(T0 + dt).replace(" ", "T") + "+08:00"
        assert m.ts == T0 + dt
