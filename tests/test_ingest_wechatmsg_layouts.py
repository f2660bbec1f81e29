"""Every WeChatMsg CSV layout through the column reader gives the messages.jsonl (and the
summary) the reference row parser gives (tests/wechatmsg_reference.py), byte for byte; and
`twin build` on the CSV gives the dataset a build from the reference's messages.jsonl gives.

Layouts (docs/formats.md): <=0.2.5 (9 names, 9 fields), 0.2.6 (9 names, 10 fields: MsgSvrID),
0.2.6 with the `_` column the tutorial has people add, 0.2.7–0.2.9 (12 names, rows shifted one
right: 1:1 rows 12 fields, group rows 13, failed look-ups 10), >=1.0 (12 aligned; BOM from 1.0.2),
and per-contact files whose Sender holds wxids. Files are written with Python's csv writer, as
WeChatMsg did.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_build_equivalence import CHATS, T0, _text, _type, assert_same, content_of, strtime
from wechatmsg_reference import use_reference

from twin.ingest.formats import _wechatmsg_columns, wechatmsg_csv
from twin.ingest.pipeline import ingest, summary, write_jsonl

HEADER9 = _wechatmsg_columns.HEADER9
HEADER12 = _wechatmsg_columns.HEADER12
LAYOUTS = [
    "<=0.2.5",
    "0.2.6",
    "0.2.6 _",
    "0.2.7–0.2.9",
    ">=1.0",
    ">=1.0.2",
    "per-contact",
    "per-contact 1:1",
    "per-contact group",
]
# Per-contact files (`<contact>_utf8.csv`) as WeChatMsg's exporter writes them, by version:
# Sender holds the friend's wxid, names constant ("per-contact", as in public samples); 1:1
# rows of 9 fields under the 12-name header ("per-contact 1:1"); group rows whose Remark,
# NickName and Sender are each row's sender's, mine included ("per-contact group").
_MEMBERS = {  # a generated sender -> (Remark, NickName, wxid) in a per-contact group file
    "我": ("", "阿明", "wxid_ming01"),
    "": ("", "", "wxid_anon0001"),
    "Ming": ("小明", "Ming", "wxid_ming01"),
    "阿强": ("强哥", "阿强", "wxid_qiang123"),
    "小红": ("", "小红", "wxid_hong456"),
    "wxid_qiang123": ("强哥", "阿强", "wxid_qiang123"),
    "wxid_hong456": ("", "小红", "wxid_hong456"),
}
_ME = ("", "我的昵称", "wxid_me000001")


def _file_name(layout: str) -> str:
    if layout == "per-contact group":
        return "爬山群_utf8.csv"
    return "小明_utf8.csv" if layout.startswith("per-contact") else "messages.csv"


def _encoding(layout: str) -> str:
    return "utf-8-sig" if layout == ">=1.0.2" or layout.startswith("per-contact") else "utf-8"


def render(layout: str, rows: list[dict]) -> tuple[list[str], list[list]]:
    """(header, rows) of the file WeChatMsg `layout` writes for these messages."""
    out = []
    for r in rows:
        nine = [r["id"], r["talker"], r["type"], r["sub"], int(r["me"]), r["unix"], ""]
        nine += [r["content"], r["strtime"]]
        if layout in ("<=0.2.5", "per-contact 1:1"):
            out.append(nine)
        elif layout.startswith("0.2.6"):
            out.append([*nine, r["svrid"]])
        elif layout == "0.2.7–0.2.9":
            # 1:1 rows: MsgSvrID, Remark, NickName; group rows also the sender; a failed
            # contact look-up: MsgSvrID only
            if not r["remark"] and not r["nick"]:
                out.append([*nine, r["svrid"]])
            elif r["group"]:
                out.append([*nine, r["svrid"], r["remark"], r["nick"], r["sender"]])
            else:
                out.append([*nine, r["svrid"], r["remark"], r["nick"]])
        else:
            out.append([*nine, r["remark"], r["nick"], r["sender"]])
    header = {"<=0.2.5": HEADER9, "0.2.6": HEADER9, "0.2.6 _": [*HEADER9, "_"]}.get(
        layout, HEADER12
    )
    return header, out


def write(path: Path, header: list[str], rows: list[list], encoding: str) -> Path:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def read(path: Path, out: Path, reference: bool, skip_bad_rows: bool) -> tuple[bytes, str, str]:
    """(messages.jsonl bytes, summary, tokenizer used) of `twin ingest` with either reader."""
    used = []
    read_rows = _wechatmsg_columns._read_rows

    def spy(*args):
        used.append("rows")
        return read_rows(*args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_wechatmsg_columns, "_read_rows", spy)
        # ingest reads in blocks: small ones, so that rows, line numbers and a bad row's hand-over
        # to the csv module cross block boundaries in these small files
        mp.setattr(_wechatmsg_columns, "BATCH_BLOCK_SIZE", 1024)
        if reference:
            use_reference(mp)
        result = ingest([str(path)], skip_bad_rows=skip_bad_rows)
        write_jsonl(result, str(out))
    return out.read_bytes(), summary(result), "rows" if used else "arrow"


def assert_same_messages(path: Path, skip_bad_rows: bool = False) -> str:
    """The two readers agree; returns the column reader's tokenizer."""
    work = path.parent
    columns, columns_summary, used = read(path, work / "c.jsonl", False, skip_bad_rows)
    reference, reference_summary, _ = read(path, work / "r.jsonl", True, skip_bad_rows)
    assert columns == reference
    assert columns_summary == reference_summary
    return used


# --- generated files, every layout ----------------------------------------------------------

_WHEN = st.sampled_from(
    # StrTime as written; a zone other than the machine's; Excel's and other re-saves; none;
    # a day that does not exist; one that disagrees with CreateTime by a day
    ["as written"] * 6 + ["+09:00", "excel", "T", "empty", "feb30", "a day off"]
)
_row = st.tuples(
    st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3]),  # index into CHATS, mostly one chat
    st.sampled_from(["我", "", "Ming", "阿强", "小红", "wxid_qiang123", "wxid_hong456"]),
    st.booleans(),  # IsSender
    st.sampled_from([0, 1, 20, 60, 601, 3601, 90000]),  # gap (s)
    _type,
    _text | st.sampled_from(["x\ry", "a\r\n\r\nb", '"', "\n"]),
    _WHEN,
    st.sampled_from(["5412345678901234567", "5412345678901234567", ""]),  # MsgSvrID
)


def _strtime(unix: int, when: str) -> str:
    text = strtime(unix)
    return {
        "as written": text,
        "+09:00": strtime(unix + 3600),
        "excel": text.replace("-", "/")[:16],
        "T": text.replace(" ", "T"),
        "empty": "",
        "feb30": "2023-02-30 10:00:00",
        "a day off": strtime(unix + 86400),
    }[when]


def generated(rows: list[tuple], layout: str) -> list[dict]:
    out = []
    t = T0
    for i, (c, sender, me, dt, (type_, sub), text, when, svrid) in enumerate(rows, 1):
        t += dt
        talker, remark, nick = CHATS[c]
        if layout in ("per-contact", "per-contact 1:1"):
            talker, remark, nick = 5, "小明", "Ming"
            sender = "" if me else "wxid_ming01"
        elif layout == "per-contact group":
            talker = 9
            remark, nick, sender = _ME if me else _MEMBERS[sender]
        elif c != 1 and sender not in ("我", ""):
            sender = nick or remark or sender  # a 1:1 chat has one other person
        if layout == "0.2.7–0.2.9" or (layout.startswith("0.2.6") and not svrid):
            svrid = svrid or "5412345678901234999"  # shifted rows are told by their MsgSvrID
        out.append(
            {
                "id": i,
                "talker": talker,
                "type": type_,
                "sub": sub,
                "me": me,
                "unix": t,
                "content": content_of(type_, sub, text),
                "strtime": _strtime(t, when),
                "remark": remark,
                "nick": nick,
                "sender": sender,
                "svrid": svrid,
                "group": c == 1,
            }
        )
    return out


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@pytest.mark.parametrize("layout", LAYOUTS)
@given(
    rows=st.lists(_row, min_size=1, max_size=40),
    encoding=st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "gb18030"]),
    damage=st.sampled_from([None, None, None, "blank line", "short row", "bad number"]),
)
def test_generated_files_read_as_the_reference_reads_them(layout, rows, encoding, damage):
    if layout == ">=1.0.2":
        encoding = "utf-8-sig"
    header, written = render(layout, generated(rows, layout))
    if damage == "short row":
        written.insert(len(written) // 2, written[0][:5])
    elif damage == "bad number":
        written.insert(len(written) // 2, [*written[0][:2], "1.0", *written[0][3:]])
    with tempfile.TemporaryDirectory() as d:
        name = _file_name(layout)
        try:
            path = write(Path(d) / name, header, written, encoding)
        except UnicodeEncodeError:
            return  # a generated text GB18030 cannot hold (none in practice)
        if damage == "blank line":
            path.write_bytes(path.read_bytes().replace(b"\r\n", b"\r\n\r\n", 2))
        used = assert_same_messages(path, skip_bad_rows=damage is not None)
        widths = {len(r) for r in written}
        # a carriage return alone in a message sends the file to the csv module (_lone_cr)
        lone_cr = any("\r" in str(v).replace("\r\n", "") for r in written for v in r)
        if encoding != "gb18030" and damage is None and len(widths) == 1 and not lone_cr:
            assert used == "arrow"  # the parallel read took it (and agreed)


# --- hand-written files, each layout, through build -----------------------------------------


def edge_messages() -> list[dict]:
    rows = [
        (0, "Ming", False, 0, (1, 0), "第一行\n第二行", "as written", "5412345678901234001"),
        (0, "我", True, 30, (1, 0), 'he said "hi", then left, ok', "as written", ""),
        (0, "", True, 30, (1, 0), "好看！我的电话13812345678", "as written", "5412345678901234002"),
        (0, "Ming", False, 30, (3, 0), "", "as written", "5412345678901234003"),
        (0, "", False, 30, (34, 0), "我到楼下了", "+09:00", "5412345678901234004"),
        (0, "Ming", False, 30, (1, 0), "[微笑] 在吗", "empty", "5412345678901234005"),
        (0, "我", True, 30, (1, 0), "在的在的", "excel", "5412345678901234006"),
        (1, "wxid_qiang123", False, 30, (1, 0), "周末爬山吗", "as written", "5412345678901234007"),
        (1, "小红", False, 30, (1, 0), "去", "as written", "5412345678901234008"),
        (1, "我", True, 30, (1, 0), "好，几点？", "as written", "5412345678901234009"),
        (
            1,
            "",
            False,
            30,
            (10000, 0),
            '"阿强" 撤回了一条消息',
            "as written",
            "5412345678901234010",
        ),
        (2, "", False, 30, (1, 0), "who is this", "as written", "5412345678901234011"),
        (2, "", True, 30, (1, 0), "your old friend", "as written", "5412345678901234012"),
        (0, "Ming", False, 9000, (1, 0), "明天见？", "a day off", "5412345678901234013"),
        (0, "我", True, 30, (1, 0), "明天见", "as written", "5412345678901234014"),
    ]
    return rows


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("groups", [False, True], ids=["no-groups", "groups"])
def test_each_layout_builds_the_reference_dataset(twin, tmp_path, monkeypatch, layout, groups):
    monkeypatch.setattr(wechatmsg_csv, "_SLICE", 4)  # messages made a few rows at a time
    header, written = render(layout, generated(edge_messages(), layout))
    path = write(tmp_path / _file_name(layout), header, written, _encoding(layout))
    assert assert_same_messages(path) == ("rows" if layout == "0.2.7–0.2.9" else "arrow")
    fast = assert_same(twin, path, tmp_path, *(["--groups"] if groups else []))
    if layout == "per-contact group" and not groups:
        return  # one group chat and nothing else: both builds refuse alike (no samples)
    assert fast["samples"]["total"] > 0
    assert fast["redactions"]["PHONE"] == 1


def test_versions_are_named_as_before(tmp_path):
    expected = {
        "<=0.2.5": "<=0.2.5",
        "0.2.6": "0.2.6",
        "0.2.6 _": "0.2.6 (hand-edited header)",
        "0.2.7–0.2.9": "0.2.7–0.2.9",
        ">=1.0": ">=1.0",
        ">=1.0.2": ">=1.0.2",
        "per-contact": ">=1.0.2, per-contact 2.x (Sender holds wxids)",
        "per-contact 1:1": ">=1.0.2, per-contact 1:1 (rows of 9 fields, no names)",
        "per-contact group": ">=1.0.2, per-contact 2.x (Sender holds wxids)",
    }
    for layout, version in expected.items():
        messages = generated(edge_messages(), layout)
        if not layout.startswith("per-contact"):  # a wxid as a Sender marks per-contact files
            messages = [{**m, "sender": m["sender"].replace("wxid_", "")} for m in messages]
        header, written = render(layout, messages)
        encoding = _encoding(layout)
        folder = tmp_path / layout.replace(" ", "_").replace(":", "")
        folder.mkdir()
        path = write(folder / "messages.csv", header, written, encoding)
        result = ingest([str(path)], columnar=True)
        assert result.reports[0].version == version, layout
        assert result.parts and len(result.parts[0]) == len(written)


def test_a_time_out_of_range_is_a_bad_row_not_a_crash(twin, tmp_path):
    header, written = render(">=1.0", generated(edge_messages(), ">=1.0"))
    written[3][5] = "99999999999999"
    path = write(tmp_path / "messages.csv", header, written, "utf-8")
    r = twin("ingest", path, "-o", tmp_path / "m.jsonl")
    assert r.code == 1 and "row 4 (line 6)" in r.err and "CreateTime='99999999999999'" in r.err
    r = twin("build", path, "-o", tmp_path / "ds", "--skip-bad-rows", "--no-report")
    assert r.code == 0, r.err
    assert_same_messages(path, skip_bad_rows=True)


@pytest.mark.parametrize("edited", [False, True], ids=["as-exported", "tutorial-edited"])
def test_the_tutorial_sample_shape(tmp_path, edited):
    """The shape of the 0.2.6 sample the popular tutorial shows (values of our own): 9 names,
    a 15-16 digit MsgSvrID as a 10th field, and a StrTime years away from CreateTime (the time
    then comes from CreateTime, in this machine's zone)."""
    header = [*HEADER9, "_"] if edited else HEADER9
    lines = [
        ",".join(header),
        "3001,7,1,0,1,1530000000,,这样有用吗,2014-02-03 20:10:11,2345678901234567",
        "3002,7,1,0,0,1530000060,,有用的，谢谢😀,2014-02-03 20:11:11,234567890123456",
        "3003,7,1,0,1,1530000120,,不客气,2018-06-26 16:02:00,345678901234567",
    ]
    path = tmp_path / "messages.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    assert assert_same_messages(path) == "arrow"
    result = ingest([str(path)])
    assert result.reports[0].version == ("0.2.6 (hand-edited header)" if edited else "0.2.6")
    messages = list(result.messages())
    assert [m.id for m in messages] == ["2345678901234567", "234567890123456", "345678901234567"]
    assert messages[0].time == "2018-06-26T16:00:00+08:00"  # from CreateTime (TZ Asia/Shanghai)
    assert messages[2].time == "2018-06-26T16:02:00+08:00"  # StrTime agrees: as written
    assert [m.me for m in messages] == [True, False, True]


def test_ingest_reads_in_blocks_and_a_late_bad_row_hands_over_once(twin, tmp_path, monkeypatch):
    """`twin ingest` reads a block at a time (its memory stays that of the messages); a bad row
    blocks into the file ends the Arrow read, the csv module reads the rest, and the rows before
    it come out once, with their lines."""
    monkeypatch.setattr(_wechatmsg_columns, "BATCH_BLOCK_SIZE", 512)
    header, written = render(">=1.0", generated(edge_messages() * 8, ">=1.0"))
    path = write(tmp_path / "messages.csv", header, written, "utf-8")
    batches = [len(c) for c in _wechatmsg_columns.read_in_batches(_source(path), _report(path))]
    assert len(batches) > 4 and sum(batches) == len(written)
    assert assert_same_messages(path) == "arrow"

    late = len(written) - 5
    written.insert(late, [*written[0][:2], "1.0", *written[0][3:]])
    path = write(tmp_path / "messages.csv", header, written, "utf-8")
    assert assert_same_messages(path, skip_bad_rows=True) == "rows"
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if ",1.0," in text)
    r = twin("ingest", path, "-o", tmp_path / "m.jsonl")
    assert r.code == 1 and f"row {late + 1} (line {line})" in r.err, r.err
    result = ingest([str(path)], skip_bad_rows=True)
    assert result.total == len(written) - 1
    assert sorted(m.source["line"] for m in result.messages())[-1] == len(lines)


def _source(path: Path):  # noqa: ANN202
    from twin.ingest.sources import walk

    source = walk([str(path)]).sources[0]
    source.encoding = "utf-8"
    return source


def _report(path: Path):  # noqa: ANN202
    from twin.ingest.report import FileReport

    return FileReport(file=str(path), format="wechatmsg-csv", skip_bad_rows=False)


@pytest.mark.parametrize("block", [37, 64, 101, 256])
def test_a_block_boundary_inside_a_quoted_line_break_loses_nothing(tmp_path, monkeypatch, block):
    """Arrow drops the \\n of a quoted \\r\\n that a block boundary splits: both reads (whole
    file for build, in blocks for ingest) then give the file to the csv module."""
    messages = generated([(0, "Ming", i % 2 == 0, 30, (1, 0), "a\r\n\r\nb", "as written", "")
                          for i in range(40)], ">=1.0")  # fmt: skip
    header, written = render(">=1.0", messages)
    path = write(tmp_path / "messages.csv", header, written, "utf-8")
    monkeypatch.setattr(_wechatmsg_columns, "BLOCK_SIZE", block)
    monkeypatch.setattr(_wechatmsg_columns, "BATCH_BLOCK_SIZE", block)
    source = _source(path)
    cols = _wechatmsg_columns.read_columns(source, _report(path))
    assert cols.content.to_pylist() == ["a\r\n\r\nb"] * 40
    for cols in _wechatmsg_columns.read_in_batches(source, _report(path)):
        assert set(cols.content.to_pylist()) == {"a\r\n\r\nb"}
    # the guard is what keeps it: without it, some block sizes lose a \n
    monkeypatch.setattr(_wechatmsg_columns, "_lone_cr", lambda table: False)
    lost = 0
    for size in range(60, 200):
        monkeypatch.setattr(_wechatmsg_columns, "BLOCK_SIZE", size)
        cols = _wechatmsg_columns.read_columns(source, _report(path))
        lost += cols.content.to_pylist() != ["a\r\n\r\nb"] * 40
    assert lost > 0
