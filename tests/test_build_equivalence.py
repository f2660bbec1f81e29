"""The column-wise WeChatMsg CSV read (`read_table`, what `twin build CSV` uses) against the
reference row parser (tests/wechatmsg_reference.py): a build from the CSV and a build from the
messages.jsonl that the reference parser gives for the same CSV must be the same dataset.

Files are written with Python's csv writer, as WeChatMsg did (minimal quoting, CRLF row ends).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wechatmsg_reference import use_reference

from twin.ingest.formats import _wechatmsg_columns, wechatmsg_csv
from twin.ingest.pipeline import ingest
from twin.ingest.report import FileReport
from twin.ingest.sources import Source
from twin.ingest.table import KIND_CODE

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
SHANGHAI = timezone(timedelta(hours=8))
VOICE = '<msg><voicemsg voicelength="2380" transtext="{}" /></msg>'


def strtime(unix: int) -> str:
    return datetime.fromtimestamp(unix, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def row(i, talker, type_, sub, me, unix, content, remark, nick, sender) -> list:
    return [i, talker, type_, sub, int(me), unix, "", content, strtime(unix), remark, nick, sender]


def write_csv(path: Path, rows: list[list], header=HEADER12, encoding="utf-8") -> Path:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def tokenizer(path: Path, skip_bad_rows: bool = False) -> str:
    """Which of the column reader's two tokenizers read the file: "arrow" or "rows" (the csv
    module, for irregular files)."""
    used = []
    read_rows = _wechatmsg_columns._read_rows

    def spy(*args):
        used.append("rows")
        return read_rows(*args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_wechatmsg_columns, "_read_rows", spy)
        result = ingest([str(path)], columnar=True, skip_bad_rows=skip_bad_rows)
    assert result.parts and not result.chats  # read column-wise, whichever way it was tokenized
    return used[0] if used else "arrow"


def build_both(
    twin, csv_path: Path, work: Path, *flags: str, ingest_flags: tuple = ()
) -> tuple[dict, dict]:
    """(fast, rows): train/dev bytes and parts of stats.json of `twin build CSV` and of
    `twin build messages.jsonl` after the reference parser's `twin ingest CSV`; or the error
    when a build fails."""
    jsonl = work / "messages.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        use_reference(mp)
        r = twin("ingest", csv_path, "-o", jsonl, *ingest_flags, "--quiet")
    assert r.code == 0, r.err
    out = {}
    for name, src in (("fast", csv_path), ("rows", jsonl)):
        folder = work / name
        r = twin("build", src, "-o", folder, "--no-report", *ingest_flags, *flags)
        if r.code != 0:
            assert r.code == 1 and r.err.startswith("error: "), r.err
            out[name] = {"error": r.err.replace(str(src), "SRC")}
            continue
        stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
        out[name] = {
            "train": (folder / "train.jsonl").read_bytes(),
            "dev": (folder / "dev.jsonl").read_bytes(),
            "messages": stats["messages"],
            "samples": stats["samples"],
            "redactions": stats["redactions"],
            "chats": stats["chats"],
            "name": stats["name"],
            "language": stats["language"],
        }
    return out["fast"], out["rows"]


def assert_same(twin, csv_path: Path, work: Path, *flags: str, ingest_flags: tuple = ()) -> dict:
    fast, rows = build_both(twin, csv_path, work, *flags, ingest_flags=ingest_flags)
    assert fast == rows
    return fast


# --- hand-written edge cases ----------------------------------------------------------------

MING = ("小明", "Ming")
GROUP = ("", "爬山群")


def edge_rows() -> list[list]:
    t = T0
    rows = []
    # No Remark: an empty Sender cell then defaults to the same name as the others' rows. (With a
    # Remark it would default to the Remark, and the chat would count two people: a group.)
    MING = ("", "Ming")  # noqa: N806

    def add(talker, type_, sub, me, dt, content, chat, sender):
        nonlocal t
        t += dt
        rows.append(row(len(rows) + 1, talker, type_, sub, me, t, content, *chat, sender))

    # a 1:1 chat with every kind of row
    add(5, 1, 0, False, 0, "第一行\n第二行\n\n第四行", MING, "Ming")
    add(5, 1, 0, True, 30, 'he said "hi", then left, ok', MING, "我")
    add(5, 3, 0, False, 30, '<msg><img aeskey="k" length="1024" /></msg>', MING, "Ming")
    add(5, 1, 0, True, 30, "好看！我的电话13812345678", MING, "")  # empty Sender cell: me
    add(5, 34, 0, False, 30, VOICE.format("我到楼下了"), MING, "")  # others' empty Sender
    add(5, 34, 0, True, 30, '<msg><voicemsg voicelength="900" /></msg>', MING, "我")
    add(5, 47, 0, False, 30, '<msg><emoji cdnurl="http://e.org/e.gif" /></msg>', MING, "Ming")
    add(5, 1, 0, True, 0, "哈哈哈2333333", MING, "我")  # same second as the sticker
    add(5, 10000, 0, False, 30, '"小明" 撤回了一条消息', MING, "Ming")
    add(5, 10000, 0, False, 30, "<![CDATA[你已添加了小明，现在可以开始聊天了。]]>", MING, "")
    add(5, 49, 5, False, 30, "", MING, "Ming")  # link
    add(5, 49, 6, True, 30, "", MING, "我")  # file
    add(5, 49, 57, False, 30, "", MING, "Ming")  # quote whose text was not exported
    add(5, 49, 1, True, 30, "app text by me", MING, "我")
    add(
        5,
        48,
        0,
        False,
        30,
        '<msg><location label="某路1号" poiname="某某咖啡" /></msg>',
        MING,
        "Ming",
    )
    add(5, 1, 0, True, 30, "   ", MING, "我")  # empty
    add(5, 1, 0, True, 30, "到了吗？", MING, "我")
    add(5, 1, 0, False, 4000, "刚到", MING, "Ming")  # after the session gap
    add(5, 1, 0, True, 700, "好的", MING, "我")  # after the merge window
    add(5, 1, 0, False, 30, "[微笑]", MING, "Ming")
    add(5, 1, 0, True, 30, "嗯", MING, "我")
    # a group with several senders, wxids and empty Sender cells
    add(9, 1, 0, False, 30, "周末爬山吗", GROUP, "wxid_qiang123")
    add(9, 1, 0, False, 30, "去", GROUP, "小红")
    add(9, 1, 0, False, 30, "我也去", GROUP, "")
    add(9, 10000, 0, False, 30, '"阿强"邀请"小红"加入了群聊', GROUP, "")
    add(9, 1, 0, True, 30, "好，几点？", GROUP, "我")
    add(9, 1, 0, False, 30, "八点", GROUP, "wxid_qiang123")
    add(9, 1, 0, True, 30, "ok 八点见", GROUP, "")
    # a chat without Remark or NickName
    add(11, 1, 0, False, 30, "who is this", ("", ""), "")
    add(11, 1, 0, True, 30, "your old friend", ("", ""), "")
    return rows


@pytest.mark.parametrize("bom", [False, True], ids=["utf8", "utf8-bom"])
@pytest.mark.parametrize("groups", [False, True], ids=["no-groups", "groups"])
def test_edge_cases_fast_path_equals_row_path(twin, tmp_path, bom, groups):
    path = write_csv(
        tmp_path / "messages.csv", edge_rows(), encoding="utf-8-sig" if bom else "utf-8"
    )
    assert tokenizer(path) == "arrow"
    flags = ("--groups",) if groups else ()
    fast = assert_same(twin, path, tmp_path, *flags)
    assert fast["samples"]["total"] > 0
    # in groups, a speaker known only by a wxid gets a stable neutral label, never the id
    # itself, and the id counts as redacted (twin.dataset.names)
    assert fast["redactions"] == ({"PHONE": 1, "WECHAT_ID": 1} if groups else {"PHONE": 1})
    train = fast["train"].decode("utf-8") + fast["dev"].decode("utf-8")
    assert "wxid_qiang123" not in train
    if groups:
        assert train.count("Member 1: ") == 2
    voice, image = (
        ("[语音]", "[图片]") if fast["language"] == "zh" else ("[voice message]", "[image]")
    )
    assert f"{voice} 我到楼下了" in train and image in train
    assert ("爬山" in train or "八点" in train) is groups


def test_out_of_order_rows_and_equal_times(twin, tmp_path):
    """Rows not in time order, and several rows in one second across chats."""
    rows = []
    for i in range(30):
        chat = (MING, GROUP, ("Work, Inc.", '"Team"'))[i % 3]
        me = i % 2 == 1
        unix = T0 + (29 - i) // 4 * 60  # descending, groups of four in one second
        sender = "我" if me else ("阿强", "小红", "")[i % 3]
        rows.append(row(i, i % 3 + 1, 1, 0, me, unix, f"msg {i}", *chat, sender))
    path = write_csv(tmp_path / "m.csv", rows)
    assert tokenizer(path) == "arrow"
    assert_same(twin, path, tmp_path, "--groups")


def test_a_one_to_one_chat_named_by_wxid(twin, tmp_path):
    """NickName holds a wxid and some Sender cells are empty: one chat, one other person."""
    nick = ("", "wxid_ming")
    rows = [
        row(1, 5, 1, 0, False, T0, "hello there", *nick, ""),
        row(2, 5, 1, 0, False, T0 + 5, "are you there", *nick, "wxid_ming"),
        row(3, 5, 1, 0, True, T0 + 9, "yes I am", *nick, ""),
    ]
    path = write_csv(tmp_path / "m.csv", rows)
    assert tokenizer(path) == "arrow"
    assert_same(twin, path, tmp_path)


def test_unit_separator_in_names(twin, tmp_path):
    """A control character the fast path uses internally must not break it."""
    rows = [
        row(1, 5, 1, 0, False, T0, "hello there", "a\x1fb", "Ming", "Ming"),
        row(2, 5, 1, 0, True, T0 + 5, "hi friend", "a\x1fb", "Ming", "我"),
    ]
    path = write_csv(tmp_path / "m.csv", rows)
    assert_same(twin, path, tmp_path)


def test_issender_written_as_01_is_not_read_differently(twin, tmp_path):
    rows = [
        row(1, 5, 1, 0, False, T0, "hello there", *MING, "Ming"),
        row(2, 5, 1, 0, True, T0 + 5, "hi friend", *MING, "我"),
    ]
    rows[1][4] = "01"
    path = write_csv(tmp_path / "m.csv", rows)
    assert (
        tokenizer(path, skip_bad_rows=True) == "rows"
    )  # Arrow must not take what the csv read refuses
    r = twin("build", path, "-o", tmp_path / "ds", "--no-report")
    assert r.code == 1 and "IsSender='01'" in r.err


def test_a_file_larger_than_one_arrow_block(twin, tmp_path, monkeypatch):
    """Arrow reads in blocks: columns arrive in several chunks (here of 256 KB)."""
    monkeypatch.setattr(_wechatmsg_columns, "BLOCK_SIZE", 1 << 18)
    rows = []
    for i in range(9000):
        chat = (MING, GROUP, ("", ""))[i % 3]
        me = (i // 3) % 3 == 2
        text = f"消息 {i} " + "很长的一段话，" * (i % 13) + ("13812345678" if i % 97 == 0 else "")
        type_ = 3 if i % 41 == 0 else 1
        sender = "我" if me else ("阿强", "小红", "", "wxid_x1")[i % 4]
        rows.append(row(i, i % 3 + 1, type_, 0, me, T0 + i * 40, text, *chat, sender))
    path = write_csv(tmp_path / "big.csv", rows)
    assert path.stat().st_size > 1_000_000
    assert tokenizer(path) == "arrow"
    source = Source(display=str(path), path=path, explicit=True, encoding="utf-8")
    part = wechatmsg_csv.read_table(source, FileReport(file=str(path)))
    assert part.text.num_chunks > 1
    fast = assert_same(twin, path, tmp_path, "--groups")
    assert fast["samples"]["total"] > 100 and fast["redactions"]["PHONE"] > 10


# --- generated files ------------------------------------------------------------------------

CHATS = [(1, *MING), (2, *GROUP), (3, "", ""), (4, "Work, Inc.", '"Team"')]
_text = st.one_of(
    st.sampled_from(
        [
            "好的",
            "嗯",
            "ok",
            "哈哈哈2333333",
            "第一行\n第二行",
            'say "hi", ok',
            "  ",
            "",
            "[微笑]",
            "😂",
            "call 13812345678",
            "a@b.com",
            "x\r\ny",
            "wxid_abcdef",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.text(alphabet='你好我们今天去吃饭吧 okay\n,"', min_size=2, max_size=12),
)
_type = st.sampled_from(
    [
        *[(1, 0)] * 12,
        (3, 0),
        (34, 0),
        (43, 0),
        (47, 0),
        (48, 0),
        (50, 0),
        (49, 5),
        (49, 6),
        (49, 57),
        (49, 1),
        (10000, 0),
        (10002, 0),
        (42, 0),
    ]
)
_row = st.tuples(
    st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3]),  # index into CHATS, mostly one chat
    st.sampled_from(["我", "", "Ming", "阿强", "小红", "wxid_qiang123", "wxid_hong456"]),
    st.booleans(),  # IsSender
    st.sampled_from([0, 1, 1, 20, 20, 20, 60, 60, 300, 599, 601, 3599, 3601, 9000]),  # gap (s)
    _type,
    _text,
)


def content_of(type_: int, sub: int, text: str) -> str:
    if type_ == 34:
        return VOICE.format(text.replace('"', "&quot;").replace("<", "&lt;"))
    if type_ == 10000:
        return text or '"阿强" 撤回了一条消息'
    if type_ == 10002:
        return f'<sysmsg type="revokemsg"><revokemsg><replacemsg><![CDATA[{text}]]></replacemsg></revokemsg></sysmsg>'
    if type_ == 48:
        return f'<msg><location label="路" poiname="{text.replace(chr(34), "")}" /></msg>'
    if type_ in (3, 43, 47, 50, 42):
        return "<msg><img /></msg>"
    return text


@settings(
    max_examples=35,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(_row, min_size=10, max_size=60),
    bom=st.booleans(),
    groups=st.booleans(),
    media=st.sampled_from(["placeholder", "split"]),
)
def test_generated_files_fast_path_equals_row_path(twin, rows, bom, groups, media):
    t = T0
    written = [
        # one exchange in a chat of its own that always makes a sample
        row(0, 99, 1, 0, False, T0, "hello there", "", "Anchor", "Anchor"),
        row(1, 99, 1, 0, True, T0 + 1, "hi friend", "", "Anchor", "我"),
    ]
    for i, (c, sender, me, dt, (type_, sub), text) in enumerate(rows, 2):
        t += dt
        talker, remark, nick = CHATS[c]
        if c != 1 and sender not in ("我", ""):
            sender = nick or remark or sender  # a 1:1 chat has one other person
        written.append(
            row(i, talker, type_, sub, me, t, content_of(type_, sub, text), remark, nick, sender)
        )
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        path = write_csv(work / "messages.csv", written, encoding="utf-8-sig" if bom else "utf-8")
        # a carriage return alone in a message sends the file to the csv module (_lone_cr)
        lone_cr = any("\r" in str(v).replace("\r\n", "") for r in written for v in r)
        assert tokenizer(path) == ("rows" if lone_cr else "arrow")
        toml = work / "twin.toml"
        toml.write_text(f'[build]\nmedia = "{media}"\n', encoding="utf-8")
        flags = ("--config", str(toml), *(("--groups",) if groups else ()))
        assert_same(twin, path, work, *flags)


# --- other versions, and files Arrow leaves to the csv module -------------------------------


def _simple_rows() -> list[list]:
    return [
        row(1, 5, 1, 0, False, T0, "晚上吃什么？", *MING, "Ming"),
        row(2, 5, 1, 0, True, T0 + 60, "火锅吧", *MING, "我"),
        row(3, 5, 1, 0, False, T0 + 120, "好啊，七点？", *MING, "Ming"),
        row(4, 5, 1, 0, True, T0 + 180, "七点见，老地方", *MING, "我"),
    ]


def _v026(folder: Path) -> Path:
    rows = [r[:9] + ["5412345678901234567"] for r in _simple_rows()]
    return write_csv(folder / "messages.csv", rows, header=HEADER9)


def _blank_line(folder: Path) -> Path:
    path = write_csv(folder / "messages.csv", _simple_rows())
    text = path.read_bytes().replace(b"\r\n3,", b"\r\n\r\n3,")
    path.write_bytes(text)
    return path


def _gb18030(folder: Path) -> Path:
    return write_csv(folder / "messages.csv", _simple_rows(), encoding="gb18030")


def _bad_type(folder: Path) -> Path:
    rows = _simple_rows()
    rows.insert(2, row(9, 5, "text", 0, False, T0 + 90, "坏行", *MING, "Ming"))
    return write_csv(folder / "messages.csv", rows)


@pytest.mark.parametrize(
    ("make", "flags", "expected"),
    [
        (_v026, (), "arrow"),
        (_blank_line, (), "rows"),
        (_gb18030, (), "rows"),
        (_bad_type, ("--skip-bad-rows",), "rows"),
    ],
    ids=["v0.2.6", "blank-line", "gb18030", "non-integer-type"],
)
def test_other_versions_and_irregular_files_build_the_same(twin, tmp_path, make, flags, expected):
    regular = tmp_path / "regular"
    regular.mkdir()
    reference_csv = write_csv(regular / "messages.csv", _simple_rows())
    assert tokenizer(reference_csv) == "arrow"
    irregular = tmp_path / "irregular"
    irregular.mkdir()
    path = make(irregular)
    assert tokenizer(path, skip_bad_rows=bool(flags)) == expected
    fast = assert_same(twin, path, irregular, ingest_flags=flags)
    # … and the dataset is the one the regular file gives
    reference = assert_same(twin, reference_csv, regular)
    assert fast["train"] + fast["dev"] == reference["train"] + reference["dev"]
    assert fast["samples"]["total"] == 1


def test_plain_kinds_agree_with_the_row_mapping():
    """The column-wise shortcut maps every row it takes exactly as kind_and_text does."""
    cases = [
        (34, 0, '<msg><voicemsg voicelength="2380" /></msg>'),
        (34, 0, '<msg><voicemsg transtext="到了" /></msg>'),
        (10000, 0, '"阿强" 撤回了一条消息'),
        (10000, 0, "你已添加了小明 &amp; 现在可以开始聊天了"),
        (10000, 0, '<a href="x">小红</a> 撤回了一条消息'),
        (10000, 0, ""),
        (49, 57, "quoted reply text"),
        (49, 57, ""),
        (49, 57, "<msg><appmsg><title>t</title></appmsg></msg>"),
        (49, 5, "https://example.com"),
        (49, 6, "<msg/>"),
        (49, 99, "unknown app"),
        (48, 0, '<msg><location poiname="某某咖啡" /></msg>'),
        (10002, 0, "<sysmsg type='revokemsg'><revokemsg>x</revokemsg></sysmsg>"),
    ]
    type_ = np.array([c[0] for c in cases])
    sub = np.array([c[1] for c in cases])
    content = pa.array([c[2] for c in cases], pa.string())
    kind, keep_text, parse = wechatmsg_csv._plain_kinds(type_, sub, content)
    for i, (t, s, raw) in enumerate(cases):
        if parse[i]:
            continue
        expected_kind, expected_text = wechatmsg_csv.kind_and_text(t, s, raw)
        assert (KIND_CODE[expected_kind], raw if keep_text[i] else "") == (
            kind[i],
            expected_text,
        ), cases[i]
    assert parse.tolist().count(True) == 4  # the transcription, the markup, location, revoke
