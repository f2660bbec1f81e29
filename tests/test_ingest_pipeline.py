"""The ingest pipeline around the importers: CLI, sources, encodings, errors, --me, groups, output."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import read_jsonl
from hypothesis import given
from hypothesis import strategies as st

from twin import __version__
from twin.atomic import atomic_dir, atomic_write
from twin.errors import TwinError
from twin.ingest.pipeline import ingest
from twin.ingest.sources import Source
from twin.ingest.table import _chat_time_order

HEADER12 = (
    "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,"
    "Remark,NickName,Sender"
)
WECHAT = (
    HEADER12 + "\r\n"
    "101,5,1,0,0,1701396000,,晚上吃什么？,2023-12-01 10:00:00,小明,Ming,Ming\r\n"
    '102,5,1,0,1,1701396030,,"火锅吧\n七点见",2023-12-01 10:00:30,小明,Ming,我\r\n'
    "103,5,1,0,0,1701396060,,好,2023-12-01 10:01:00,小明,Ming,Ming\r\n"
)


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def neutral_csv(path: Path, rows: list[tuple], header=("time", "chat", "sender", "text")) -> Path:
    return write_csv(path, [list(header), *map(list, rows)])


@pytest.fixture
def out_dir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


@pytest.fixture
def fails(twin, out_dir):
    """Run ingest expecting a clean user error: exit 1, a message, and nothing in the output folder."""

    def run(*args) -> str:
        result = twin("ingest", *args, "-o", out_dir / "messages.jsonl")
        assert result.code == 1, result.out
        assert result.err.startswith("error: ")
        assert result.out == ""
        assert list(out_dir.iterdir()) == []  # neither messages.jsonl nor a temp file
        return result.err

    return run


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["ingest", "--help"]])
def test_help_exits_zero(twin, capsys, args):
    with pytest.raises(SystemExit) as e:
        twin(*args)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: twin" in out
    assert "ingest" in out


def test_ingest_help_lists_options_and_formats(twin, capsys):
    with pytest.raises(SystemExit):
        twin("ingest", "--help")
    out = capsys.readouterr().out
    for option in ("--format", "--me", "--skip-bad-rows", "--output", "--quiet"):
        assert option in out
    for name in ("wechatmsg-csv", "neutral"):
        assert name in out


def test_version_exits_zero(twin, capsys):
    with pytest.raises(SystemExit) as e:
        twin("--version")
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"twin {__version__}"


def test_module_entry_point_version():
    """The installed command's entry, in a fresh process (imports every importer)."""
    r = subprocess.run(
        [sys.executable, "-m", "twin", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (r.returncode, r.stdout.strip()) == (0, f"twin {__version__}"), r.stderr


def test_no_command_prints_help(twin):
    r = twin()
    assert r.code == 2
    assert "usage: twin" in r.out


def test_quiet_prints_nothing(tmp_path, twin):
    path = tmp_path / "messages.csv"
    path.write_text(WECHAT, encoding="utf-8", newline="")
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out, "--quiet")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert len(read_jsonl(out)) == 3


def test_output_folder_is_created(tmp_path, twin):
    path = tmp_path / "messages.csv"
    path.write_text(WECHAT, encoding="utf-8", newline="")
    out = tmp_path / "a" / "b" / "messages.jsonl"
    assert twin("ingest", path, "-o", out).code == 0
    assert [p.name for p in out.parent.iterdir()] == ["messages.jsonl"]


# --- bad input: each a message naming the file and place, exit 1, no output --------------------


def test_unknown_format_given_explicitly(tmp_path, fails):
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\nmilk\neggs\n", encoding="utf-8")
    err = fails(path)
    assert f"{path}: not a chat export format twin knows" in err
    assert "wechatmsg-csv (WeChatMsg/留痕 CSV)" in err
    assert "--format NAME" in err


@pytest.mark.parametrize("content", [b"", b"  \r\n\n"], ids=["empty", "whitespace"])
@pytest.mark.parametrize("forced", [(), ("--format", "neutral"), ("--format", "wechatmsg-csv")])
def test_empty_file(tmp_path, fails, content, forced):
    path = tmp_path / "messages.csv"
    path.write_bytes(content)
    err = fails(path, *forced)
    assert f"{path}: the file is empty; expected a chat export" in err


def test_missing_path(tmp_path, fails):
    err = fails(tmp_path / "nope.csv")
    assert f"{tmp_path / 'nope.csv'}: no such file or folder" in err


def test_unknown_format_name(tmp_path, fails):
    path = tmp_path / "messages.csv"
    path.write_text(WECHAT, encoding="utf-8", newline="")
    err = fails(path, "--format", "wechat")
    assert "unknown --format 'wechat'" in err
    assert "wechatmsg-csv" in err
    assert "neutral" in err


def test_undecodable_byte_names_its_line(tmp_path, fails):
    path = tmp_path / "messages.csv"
    good = WECHAT.encode("utf-8")
    path.write_bytes(good + b"104,5,1,0,0,1701396090,,\xff\xff,2023-12-01 10:01:30,x,y,z\r\n")
    err = fails(path)
    assert f"{path}, line 6 (byte {len(good) + 24}): undecodable bytes ff" in err
    assert "neither UTF-8 nor GB18030" in err


def test_undecodable_byte_in_a_gbk_file_names_its_line(tmp_path, fails):
    """Excel re-saves are GBK: the stray byte, not the first Chinese character, is the problem."""
    path = tmp_path / "messages.csv"
    good = WECHAT.encode("gb18030")
    path.write_bytes(good + b"104,5,1,0,0,1701396090,,\xff\xff,2023-12-01 10:01:30,x,y,z\r\n")
    err = fails(path)
    assert f"{path}, line 6 (byte {len(good) + 24}): undecodable bytes ff" in err


def test_undecodable_byte_after_a_utf8_bom(tmp_path, fails):
    path = tmp_path / "messages.csv"
    path.write_bytes(b"\xef\xbb\xbf" + WECHAT.encode("utf-8") + b"104,\xff\r\n")
    err = fails(path)
    assert f"{path}, line 6 (byte " in err
    assert "utf-8-sig byte-order mark" in err


def test_bad_utf16(tmp_path, fails):
    path = tmp_path / "messages.csv"
    path.write_bytes(WECHAT.encode("utf-16") + b"\x00\xd8A\x00")  # a lone high surrogate
    err = fails(path)
    assert f"{path}, byte " in err
    assert "utf-16 byte-order mark" in err


def test_bad_row_in_a_later_file_leaves_no_output(tmp_path, fails, out_dir):
    good = tmp_path / "a.csv"
    good.write_text(WECHAT, encoding="utf-8", newline="")
    bad = tmp_path / "b.csv"
    bad.write_text(WECHAT + "104,5,1\r\n", encoding="utf-8", newline="")
    err = fails(good, bad)
    assert f"{bad}, row 4 (line 6): 3 fields" in err


def test_failed_ingest_keeps_the_previous_output(tmp_path, twin):
    out = tmp_path / "messages.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    bad = tmp_path / "b.csv"
    bad.write_text(
        WECHAT + "104,5,x,0,0,1701396090,,a,2023-12-01 10:01:30,小明,Ming,Ming\r\n",
        encoding="utf-8",
        newline="",
    )
    r = twin("ingest", bad, "-o", out)
    assert r.code == 1
    assert "row 4 (line 6): Type='x'" in r.err
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv", "messages.jsonl"]


# --- folders and zips -------------------------------------------------------------------------


def test_folder_walk_passes_over_media_and_unknown_files(tmp_path, twin):
    export = tmp_path / "export"
    (export / "media" / "images").mkdir(parents=True)
    (export / "messages.csv").write_text(WECHAT, encoding="utf-8", newline="")
    (export / "media" / "images" / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (export / "media" / "v.mp4").write_bytes(b"\x00\x00\x00\x18ftyp")
    (export / "README.txt").write_text("exported with WeChatMsg\n", encoding="utf-8")
    (export / "blob.bin").write_bytes(b"\xff\xfe\xfd\x00\x81\xff")  # binary: not ours to read
    (export / "empty.txt").write_bytes(b"")
    (export / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # hidden: not even listed
    out = tmp_path / "m.jsonl"
    r = twin("ingest", export, "-o", out)
    assert r.code == 0, r.err
    assert "Read 1 file(s): 3 messages in 1 chats, 1 by me" in r.out
    assert "Passed over 3 file(s) of no known chat format:" in r.out
    for name in ("README.txt", "blob.bin", "empty.txt"):
        assert str(export / name) in r.out
    assert ".DS_Store" not in r.out
    assert "Passed over 2 media file(s)" in r.out
    assert [m["source"]["file"] for m in read_jsonl(out)] == [str(export / "messages.csv")] * 3


def test_folder_with_nothing_to_read(tmp_path, fails):
    export = tmp_path / "export"
    export.mkdir()
    (export / "a.jpg").write_bytes(b"\xff\xd8")
    (export / "notes.txt").write_text("hello\n", encoding="utf-8")
    err = fails(export)
    assert f"no chat export found in {export}" in err
    assert f"passed over: {export / 'notes.txt'}" in err


def test_empty_folder(tmp_path, fails):
    (tmp_path / "export").mkdir()
    err = fails(tmp_path / "export")
    assert "no chat export found" in err


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_zip_given_explicitly(tmp_path, twin):
    path = _zip(
        tmp_path / "export.zip",
        {
            "export/messages.csv": WECHAT.encode("utf-8-sig"),
            "export/images/a.jpg": b"\xff\xd8",
            "__MACOSX/export/._messages.csv": b"\x00\x05\x16\x07",
            "export/notes.txt": b"hello\n",
        },
    )
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    member = f"{path}!/export/messages.csv"
    assert member in r.out
    assert "Passed over 1 media file(s)" in r.out
    assert f"{path}!/export/notes.txt" in r.out
    assert "__MACOSX" not in r.out
    msgs = read_jsonl(out)
    assert [m["text"] for m in msgs] == ["晚上吃什么？", "火锅吧\n七点见", "好"]
    assert {m["source"]["file"] for m in msgs} == {member}


def test_zip_with_a_bad_row_names_the_member(tmp_path, fails):
    path = _zip(tmp_path / "export.zip", {"messages.csv": (WECHAT + "104,5\r\n").encode()})
    err = fails(path)
    assert f"{path}!/messages.csv, row 4 (line 6): 2 fields" in err


def test_zip_with_only_media(tmp_path, fails):
    path = _zip(tmp_path / "export.zip", {"a.jpg": b"\xff\xd8", "b.opus": b"Ogg"})
    err = fails(path)
    assert f"{path}: the zip holds no chat export file" in err


def test_zip_with_no_known_format(tmp_path, fails):
    path = _zip(tmp_path / "export.zip", {"notes.txt": b"hello\n"})
    err = fails(path)
    assert f"no chat export found in {path} (passed over: {path}!/notes.txt)" in err


@pytest.mark.parametrize(
    ("start", "problem"),
    [(30, "File name in directory"), (100, "Bad CRC-32")],
    ids=["local-header", "data"],
)
def test_damaged_zip_member(tmp_path, fails, start, problem):
    good = _zip(tmp_path / "good.zip", {"messages.csv": WECHAT.encode()})
    data = good.read_bytes()
    path = tmp_path / "export.zip"
    path.write_bytes(data[:start] + b"\x00" * 12 + data[start + 12 :])  # the index is intact
    err = fails(path)
    assert f"{path}!/messages.csv: the zip member is damaged ({problem}" in err


# --- who is me, and which chats are groups -------------------------------------------------------

ROWS = [
    ("2024-01-02T10:00:00", "family", "Mum", "Dinner?"),
    ("2024-01-02T10:01:00", "family", "Ann", "Yes"),
    ("2024-01-02T10:02:00", "family", "Dad", "Me too"),
    ("2024-01-02T10:03:00", "family", "Ann", "See you"),
    ("2024-01-02T11:00:00", "bo", "Bo", "hey"),
    ("2024-01-02T11:01:00", "bo", "Ann", "hi"),
    ("2024-01-02T11:02:00", "bo", "Bo", "lunch?"),
]


def test_me_required_lists_candidates(tmp_path, fails):
    path = neutral_csv(tmp_path / "chat.csv", ROWS)
    err = fails(path)
    assert f"cannot tell which sender is you in {path}" in err
    assert "neutral JSONL/CSV exports do not mark your own messages" in err
    assert "Senders found:\n  Ann: 3 messages\n  Bo: 2 messages\n" in err
    assert "Mum: 1 message\n" in err
    assert "--me" in err


@pytest.mark.parametrize("me", ["Ann", "ann", "  ANN "])
def test_me_by_name_case_insensitive(tmp_path, twin, me):
    path = neutral_csv(tmp_path / "chat.csv", ROWS)
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "--me", me, "-o", out)
    assert r.code == 0, r.err
    assert "3 by me" in r.out
    assert f"(--me {me!r})" in r.out
    msgs = read_jsonl(out)
    assert [(m["sender"], m["me"]) for m in msgs] == [
        ("Bo", False),
        ("Ann", True),
        ("Bo", False),
        ("Mum", False),
        ("Ann", True),
        ("Dad", False),
        ("Ann", True),
    ]
    # family: Mum and Dad besides me -> a group; bo: only Bo -> not a group
    assert [m["group"] for m in msgs] == [False] * 3 + [True] * 4


def test_me_by_sender_id(tmp_path, ingest_file):
    path = neutral_csv(
        tmp_path / "chat.csv",
        [
            ("2024-01-02T10:00:00", "c", "Ann", "u100", "hi"),
            ("2024-01-02T10:01:00", "c", "Annie", "U200", "hello"),
        ],
        header=("time", "chat", "sender", "sender_id", "text"),
    )
    msgs = ingest_file(path, extra=("--me", "u200"))
    assert [(m["sender"], m["sender_id"], m["me"]) for m in msgs] == [
        ("Ann", "u100", False),
        ("Annie", "U200", True),
    ]
    assert [m["group"] for m in msgs] == [False, False]


def test_me_matching_nobody(tmp_path, fails):
    path = neutral_csv(tmp_path / "chat.csv", ROWS)
    err = fails(path, "--me", "Zed")
    assert f"--me 'Zed' matches no sender in {path}" in err
    assert "Senders found:\n  Ann: 3 messages" in err


def test_me_given_but_file_marks_me(tmp_path, ingest_file):
    """--me is only for files that do not say; a WeChatMsg file keeps its IsSender."""
    path = tmp_path / "messages.csv"
    path.write_text(WECHAT, encoding="utf-8", newline="")
    msgs = ingest_file(path, extra=("--me", "Ming"))
    assert [m["me"] for m in msgs] == [False, True, False]


def test_me_across_files_notes_a_file_it_does_not_match(tmp_path, twin):
    a = neutral_csv(tmp_path / "a.csv", ROWS)
    b = neutral_csv(tmp_path / "b.csv", [("2024-01-03T10:00:00", "x", "Xi", "hi")])
    wechat = tmp_path / "messages.csv"
    wechat.write_text(WECHAT, encoding="utf-8", newline="")
    out = tmp_path / "m.jsonl"
    r = twin("ingest", a, b, wechat, "--me", "Ann", "-o", out)
    assert r.code == 0, r.err
    assert "note      --me 'Ann' matched no sender in this file" in r.out
    assert "by me 1 (marked in the file)" in r.out
    assert "Read 3 file(s): 11 messages in 4 chats, 4 by me" in r.out
    assert sum(m["me"] for m in read_jsonl(out)) == 4


def test_group_decided_per_chat_system_lines_do_not_count(tmp_path, ingest_file):
    path = write_csv(
        tmp_path / "chat.csv",
        [
            ["time", "chat", "sender", "text", "me", "kind"],
            ["2024-01-02T10:00:00", "c", "Bo", "hey", "0", "text"],
            ["2024-01-02T10:00:01", "c", "Group bot", "Bo joined", "0", "system"],
            ["2024-01-02T10:00:02", "c", "Cy", "", "0", "recall"],
            ["2024-01-02T10:00:03", "c", "Ann", "hi", "1", "text"],
        ],
    )
    msgs = ingest_file(path)
    assert [m["group"] for m in msgs] == [False] * 4


# --- order and summary ----------------------------------------------------------------------------


def test_sort_is_stable_across_files_and_chats(tmp_path, ingest_file):
    header = ("time", "chat", "sender", "text", "me")
    a = neutral_csv(
        tmp_path / "a.csv",
        [
            ("2024-01-02T10:00:05", "z", "Bo", "z2", "0"),
            ("2024-01-02T10:00:00", "a", "Bo", "a1", "0"),
            ("2024-01-02T10:00:00", "z", "Bo", "z1", "0"),
            ("2024-01-02T10:00:00", "a", "Bo", "a2", "1"),
        ],
        header=header,
    )
    b = neutral_csv(
        tmp_path / "b.csv",
        [
            ("2024-01-02T10:00:00", "a", "Bo", "a3", "0"),
            ("2024-01-02T09:00:00", "a", "Bo", "a0", "0"),
        ],
        header=header,
    )
    msgs = ingest_file(a, b)
    assert [m["text"] for m in msgs] == ["a0", "a1", "a2", "a3", "z1", "z2"]


def test_summary(tmp_path, twin):
    path = tmp_path / "messages.csv"
    path.write_text(WECHAT + "\r\n", encoding="utf-8", newline="")
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        f"Read 1 file(s): 3 messages in 1 chats, 1 by me -> {out}",
        "",
        str(path),
        "  format    WeChatMsg/留痕 CSV >=1.0   (encoding utf-8)",
        "  chats     1   messages 3   by me 1 (marked in the file)",
        "  kinds     text 3",
        "  skipped   blank row 1",
    ]


@pytest.mark.parametrize("name", ["messages.csv", "chat.jsonl"])
def test_progress_bar_does_not_change_the_result(tmp_path, name):
    """With a terminal, sources are read through a counting stream (importers may seek it)."""
    path = tmp_path / name
    if name.endswith(".csv"):
        path.write_text(WECHAT, encoding="utf-8", newline="")
    else:
        path.write_text(
            '{"time": 1701396000, "chat": "c", "sender": "Ann", "me": true, "text": "hi"}\n',
            encoding="utf-8",
        )
    quiet = [m.to_dict() for m in ingest([str(path)], progress=False).messages()]
    shown = [m.to_dict() for m in ingest([str(path)], progress=True).messages()]
    assert shown == quiet
    assert quiet


def test_ingest_api_raises_twin_errors(tmp_path):
    with pytest.raises(TwinError, match="no such file or folder"):
        ingest([str(tmp_path / "missing")])


# --- sources and atomic writes --------------------------------------------------------------------


def test_source_relative_and_siblings_on_disk(tmp_path):
    (tmp_path / "chunks").mkdir()
    for n in ("c2.jsonl", "c1.jsonl", "x.txt"):
        (tmp_path / "chunks" / n).write_text("{}\n", encoding="utf-8")
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    src = Source(str(tmp_path / "manifest.json"), path=tmp_path / "manifest.json")
    assert src.name == "manifest.json"
    assert src.parent_name == tmp_path.name
    rel = src.relative("./chunks/c1.jsonl")
    assert rel is not None and rel.path == tmp_path / "chunks" / "c1.jsonl"
    assert src.relative("chunks/none.jsonl") is None
    assert [s.name for s in src.siblings_under("chunks", ".jsonl")] == ["c1.jsonl", "c2.jsonl"]
    assert src.siblings_under("nowhere", ".jsonl") == []


def test_source_relative_and_siblings_in_zip(tmp_path):
    path = _zip(
        tmp_path / "e.zip",
        {"e/manifest.json": b"{}", "e/chunks/c2.jsonl": b"{}", "e/chunks/c1.jsonl": b"{}"},
    )
    with zipfile.ZipFile(path) as z:
        src = Source(f"{path}!/e/manifest.json", zip_path=path, member="e/manifest.json", _zip=z)
        assert (src.name, src.parent_name) == ("manifest.json", "e")
        rel = src.relative("./chunks/c1.jsonl")
        assert rel is not None and rel.display == f"{path}!/e/chunks/c1.jsonl"
        with rel.open_binary() as f:
            assert f.read() == b"{}"
        assert rel.size() == 2
        assert src.relative("chunks/none.jsonl") is None
        assert [s.display for s in src.siblings_under("chunks", ".jsonl")] == [
            f"{path}!/e/chunks/c1.jsonl",
            f"{path}!/e/chunks/c2.jsonl",
        ]


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "messages.jsonl"
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write("half")
        raise RuntimeError("boom")
    assert list(target.parent.iterdir()) == []
    with atomic_write(target) as f:
        f.write("whole\n")
    assert target.read_bytes() == b"whole\n"
    assert [p.name for p in target.parent.iterdir()] == ["messages.jsonl"]


def test_atomic_dir_replaces_only_when_complete(tmp_path):
    target = tmp_path / "dataset"
    with atomic_dir(target) as d:
        (d / "train.jsonl").write_text("1\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_dir(target) as d:
        (d / "train.jsonl").write_text("2\n", encoding="utf-8")
        raise RuntimeError("boom")
    assert (target / "train.jsonl").read_text(encoding="utf-8") == "1\n"
    with atomic_dir(target) as d:
        (d / "dev.jsonl").write_text("3\n", encoding="utf-8")
    assert [p.name for p in target.iterdir()] == ["dev.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5)), max_size=40), st.booleans())
def test_chat_time_order_is_stable_by_chat_then_time(rows, in_time_order):
    """The fast path (rows already in time order) and the general sort agree with sorted()."""
    if in_time_order:
        rows = sorted(rows, key=lambda r: r[1])
    chat = np.array([c for c, _ in rows], dtype=np.int32)
    ts = np.array([t for _, t in rows], dtype=np.float64)
    expected = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1], i))
    assert _chat_time_order(chat, ts, 4).tolist() == expected
