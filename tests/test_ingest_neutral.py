"""The neutral JSONL/CSV format: columns, kinds, booleans, times, bad rows, and twin's own output."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from conftest import read_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.ingest.pipeline import ingest
from twin.messages import KINDS


def write_jsonl(path: Path, rows: list, ensure_ascii: bool = False) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=ensure_ascii) for r in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="")
    return path


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.fixture
def fails(twin, tmp_path):
    """Run ingest expecting a clean user error: exit 1, a message, and nothing in the output folder."""

    def run(*args) -> str:
        out_dir = tmp_path / "out"
        out_dir.mkdir(exist_ok=True)
        result = twin("ingest", *args, "-o", out_dir / "messages.jsonl")
        assert result.code == 1, result.out
        assert result.err.startswith("error: ")
        assert list(out_dir.iterdir()) == []
        return result.err

    return run


# --- columns ----------------------------------------------------------------------------------


def test_jsonl_required_and_optional_columns(tmp_path, twin):
    path = write_jsonl(
        tmp_path / "chat.jsonl",
        [
            {
                "time": "2024-01-02T03:04:05",
                "chat": "signal:42",
                "chat_name": "Family",
                "group": True,
                "sender": "Mum",
                "sender_id": 12345678901234567890,
                "me": False,
                "kind": "text",
                "text": "Dinner at 7?",
                "id": 9007199254740993,
            },
            {
                "time": "2024-01-02T03:05:00",
                "chat": "signal:42",
                "sender": "Me",
                "me": True,
                "text": "Yes, see you",
                "reply_to": 9007199254740993,
                "forwarded": True,
            },
            {
                "time": "2024-01-02T03:06:00",
                "chat": "signal:42",
                "sender": "Me",
                "me": True,
                "kind": "Sticker",
                "text": "",
                "reply_to": {"sender": "Mum", "text": "Dinner at 7?"},
                "forwarded": False,
            },
        ],
    )
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "neutral JSONL/CSV JSONL" in r.out
    a, b, c = read_jsonl(out)
    assert a == {
        "chat": "signal:42",
        "chat_name": "Family",
        "group": True,
        "sender": "Mum",
        "sender_id": "12345678901234567890",
        "me": False,
        "time": "2024-01-02T03:04:05",
        "kind": "text",
        "text": "Dinner at 7?",
        "id": "9007199254740993",
        "source": {"file": str(path), "line": 1},
    }
    assert b["chat_name"] == "signal:42"  # defaults to the chat key
    assert b["reply_to"] == {"id": "9007199254740993"}
    assert b["forwarded"] is True
    assert b["kind"] == "text"
    assert b["me"] is True
    assert c["kind"] == "sticker"
    assert c["reply_to"] == {"sender": "Mum", "text": "Dinner at 7?"}
    assert "forwarded" not in c


def test_csv_with_bom_quoted_commas_multiline(tmp_path, ingest_file):
    path = write_csv(
        tmp_path / "chat.csv",
        [
            ["time", "chat", "sender", "text", "me", "kind"],
            ["2024-01-02 03:04:05", "c1", "Ann", 'Hi, "you"', "0", ""],
            ["2024-01-02 03:05:00", "c1", "Me", "line one\nline two", "1", "text"],
            ["2024-01-02 03:06:00", "c1", "Ann", "", "0", "image"],
        ],
        encoding="utf-8-sig",
    )
    msgs = ingest_file(path)
    assert [(m["sender"], m["me"], m["kind"], m["text"]) for m in msgs] == [
        ("Ann", False, "text", 'Hi, "you"'),
        ("Me", True, "text", "line one\nline two"),
        ("Ann", False, "image", ""),
    ]
    assert [m["time"] for m in msgs] == [
        "2024-01-02T03:04:05",
        "2024-01-02T03:05:00",
        "2024-01-02T03:06:00",
    ]
    assert [m["source"]["line"] for m in msgs] == [2, 3, 5]


def test_csv_header_case_and_extra_columns(tmp_path, ingest_file):
    path = write_csv(
        tmp_path / "chat.csv",
        [
            ["Time", "Chat", "Sender", "Text", "Me", "Reactions"],
            ["2024-01-02T03:04:05", "c", "Ann", "hello", "false", "👍"],
        ],
    )
    (m,) = ingest_file(path)
    assert (m["sender"], m["me"], m["text"]) == ("Ann", False, "hello")


def test_every_kind(tmp_path, ingest_file):
    rows = [
        {
            "time": 1700000000 + i,
            "chat": "c",
            "sender": "Ann",
            "me": False,
            "kind": k.upper(),
            "text": k,
        }
        for i, k in enumerate(KINDS)
    ]
    msgs = ingest_file(write_jsonl(tmp_path / "k.jsonl", rows))
    assert [m["kind"] for m in msgs] == list(KINDS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("true", True),
        ("False", False),
        ("1", True),
        ("0", False),
        ("yes", True),
        ("no", False),
        ("Y", True),
        ("n", False),
        ("t", True),
        ("f", False),
    ],
)
def test_booleans(tmp_path, ingest_file, value, expected):
    row = {
        "time": 1700000000,
        "chat": "c",
        "sender": "Ann",
        "text": "x",
        "me": value,
        "group": value,
    }
    (m,) = ingest_file(write_jsonl(tmp_path / "b.jsonl", [row]))
    assert m["me"] is expected
    assert m["group"] is expected


@pytest.mark.parametrize("value", ["maybe", 2, "2", [True]])
def test_bad_boolean(tmp_path, fails, value):
    row = {"time": 1700000000, "chat": "c", "sender": "Ann", "text": "x", "me": value}
    path = write_jsonl(tmp_path / "b.jsonl", [row])
    err = fails(path)
    assert f"{path}, line 1: me={value!r}; expected me true/false or 1/0" in err


@pytest.mark.parametrize(
    ("value", "time"),
    [
        ("2024-01-02T03:04:05", "2024-01-02T03:04:05"),
        ("2024-01-02 03:04:05", "2024-01-02T03:04:05"),
        ("2024-01-02T03:04:05.250", "2024-01-02T03:04:05.250000"),
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05+00:00"),
        ("2024-01-02T03:04:05+08:00", "2024-01-02T03:04:05+08:00"),
        ("2024-01-02", "2024-01-02T00:00:00"),
        (1701396000, "2023-12-01T10:00:00+08:00"),  # Unix seconds shown in this machine's zone
        (1701396000.5, "2023-12-01T10:00:00.500000+08:00"),
        ("1701396000", "2023-12-01T10:00:00+08:00"),
        (" 1701396000 ", "2023-12-01T10:00:00+08:00"),
    ],
)
def test_times(tmp_path, ingest_file, value, time):
    row = {"time": value, "chat": "c", "sender": "Ann", "me": False, "text": "x"}
    (m,) = ingest_file(write_jsonl(tmp_path / "t.jsonl", [row]))
    assert m["time"] == time


def test_times_order_a_chat(tmp_path, ingest_file):
    rows = [
        {"time": t, "chat": "c", "sender": "Ann", "me": False, "text": text}
        for t, text in [
            ("2024-01-02T10:00:00+08:00", "third"),
            ("2024-01-02T09:00:00+08:00", "first"),
            ("2024-01-02T01:30:00Z", "second"),  # 09:30 in +08:00
            ("2024-01-02T10:00:00+08:00", "fourth"),  # same instant: source order
        ]
    ]
    msgs = ingest_file(write_jsonl(tmp_path / "t.jsonl", rows))
    assert [m["text"] for m in msgs] == ["first", "second", "third", "fourth"]


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00", 1701396000000, "1e9", True])
def test_bad_time(tmp_path, fails, value):
    good = {"time": 1701396000, "chat": "c", "sender": "Ann", "me": False, "text": "ok"}
    path = write_jsonl(tmp_path / "t.jsonl", [good, {**good, "time": value}])
    err = fails(path)
    assert f"{path}, line 2: time={value!r}" in err
    assert "ISO-8601" in err
    assert "Unix seconds" in err


# --- bad rows ---------------------------------------------------------------------------------

GOOD = {"time": "2024-01-02T03:04:05", "chat": "c", "sender": "Ann", "me": False, "text": "ok"}


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({k: v for k, v in GOOD.items() if k != "chat"}, "line 2: missing chat"),
        ({**GOOD, "sender": ""}, "line 2: missing sender"),
        ({k: v for k, v in GOOD.items() if k != "text"}, "line 2: missing text"),
        ({**GOOD, "kind": "gif"}, "line 2: kind='gif'; expected kind one of text, image"),
        ('{"time": "2024-01-02T03:04:05", "chat": "c",', "line 2: invalid JSON"),
        ("[1, 2, 3]", "line 2: a JSON list; expected one JSON object a line"),
    ],
    ids=["no-chat", "empty-sender", "no-text", "bad-kind", "bad-json", "not-object"],
)
def test_bad_jsonl_rows(tmp_path, fails, twin, bad, problem):
    path = write_jsonl(tmp_path / "bad.jsonl", [GOOD, bad, GOOD])
    err = fails(path)
    assert f"{path}, {problem}" in err
    # --skip-bad-rows turns the same row into a counted skip
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "--skip-bad-rows", "-o", out)
    assert r.code == 0, r.err
    assert "skipped   malformed row 1" in r.out
    assert problem.split(";")[0] in r.out  # the summary lists the row and its problem
    assert len(read_jsonl(out)) == 2


def test_invalid_json_names_column(tmp_path, fails):
    path = write_jsonl(tmp_path / "bad.jsonl", [GOOD, '{"time": 1, "chat": x}'])
    err = fails(path)
    assert "line 2: invalid JSON (Expecting value at column 21)" in err


def test_bad_csv_row_field_count(tmp_path, fails):
    path = write_csv(
        tmp_path / "chat.csv",
        [
            ["time", "chat", "sender", "text", "me"],
            ["2024-01-02T03:04:05", "c", "Ann", "ok", "0"],
            ["2024-01-02T03:04:06", "c", "Ann", "too, few"],
        ],
    )
    err = fails(path)
    assert f"{path}, row 2 (line 3): 4 fields; expected 5 fields as in the header" in err


def test_blank_lines_are_counted(tmp_path, twin):
    path = write_jsonl(tmp_path / "chat.jsonl", [GOOD, "", "   ", GOOD])
    out = tmp_path / "m.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code == 0, r.err
    assert "skipped   blank line 2" in r.out
    assert [m["source"]["line"] for m in read_jsonl(out)] == [1, 4]


def test_jsonl_without_required_keys_is_not_neutral(tmp_path, fails):
    path = write_jsonl(tmp_path / "other.jsonl", [{"ts": 1, "from": "a", "msg": "hi"}])
    err = fails(path)
    assert f"{path}: not a chat export format twin knows" in err
    assert "--format" in err


# --- twin's own output reads back ---------------------------------------------------------------

WECHAT = (
    "\ufefflocalId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\r\n"
    "101,5,1,0,0,1701396000,,晚上吃什么？,2023-12-01 10:00:00,小明,Ming,Ming\r\n"
    '102,5,1,0,1,1701396030,,"火锅吧\n七点见",2023-12-01 10:00:30,小明,Ming,我\r\n'
    "103,5,47,0,0,1701396040,,<msg><emoji/></msg>,2023-12-01 10:00:40,小明,Ming,Ming\r\n"
    "104,9,1,0,0,1701400000,,周末爬山吗,2023-12-01 11:06:40,,爬山群,阿强\r\n"
    "105,9,1,0,0,1701400001,,去\u2028不去,2023-12-01 11:06:41,,爬山群,小红\r\n"
    "106,9,49,57,1,1701400060,,,2023-12-01 11:07:40,,爬山群,我\r\n"
)


def test_round_trip_of_twin_output(tmp_path, twin):
    src = tmp_path / "messages.csv"
    src.write_bytes(WECHAT.encode("utf-8"))
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert twin("ingest", src, "-o", first).code == 0
    r = twin("ingest", first, "-o", second)
    assert r.code == 0, r.err
    assert "neutral JSONL/CSV JSONL" in r.out
    assert second.read_bytes() == first.read_bytes()
    msgs = read_jsonl(second)
    assert [m["text"] for m in msgs][-2:] == ["去\u2028不去", ""]
    assert {m["source"]["file"] for m in msgs} == {str(src)}  # still points at the export


def test_round_trip_of_neutral_csv_without_me(tmp_path, twin):
    src = write_csv(
        tmp_path / "chat.csv",
        [
            ["time", "chat", "sender", "sender_id", "text"],
            ["2024-01-02T03:04:05", "c", "Ann", "u1", "hi"],
            ["2024-01-02T03:04:06", "c", "Bo", "u2", "hey"],
            ["2024-01-02T03:04:07", "c", "Cy", "u3", "yo"],
        ],
    )
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert twin("ingest", src, "--me", "bo", "-o", first).code == 0
    r = twin("ingest", first, "-o", second)  # me is now in the file: no --me needed
    assert r.code == 0, r.err
    assert second.read_bytes() == first.read_bytes()
    assert [(m["sender"], m["me"], m["group"]) for m in read_jsonl(second)] == [
        ("Ann", False, True),
        ("Bo", True, True),
        ("Cy", False, True),
    ]


# --- property: random messages written as neutral JSONL parse back equal ----------------------

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
_sender = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_message = st.tuples(
    st.sampled_from(["c1", "c2", "群,聊"]),
    _sender,
    st.booleans(),
    st.integers(min_value=0, max_value=400_000_000),  # seconds after 2000-01-01
    st.sampled_from(KINDS),
    _text,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(_message, min_size=1, max_size=25),
    unix=st.booleans(),
    ensure_ascii=st.booleans(),
)
def test_property_jsonl_round_trip(messages, unix, ensure_ascii):
    from datetime import datetime, timedelta

    base = datetime(2000, 1, 1)
    rows = []
    for chat, sender, me, dt, kind, text in messages:
        when = 946656000 + dt if unix else (base + timedelta(seconds=dt)).isoformat()
        rows.append(
            {"time": when, "chat": chat, "sender": sender, "me": me, "kind": kind, "text": text}
        )
    with tempfile.TemporaryDirectory() as d:
        path = write_jsonl(Path(d) / "chat.jsonl", rows, ensure_ascii=ensure_ascii)
        got = list(ingest([str(path)]).messages())

    order = sorted(range(len(messages)), key=lambda i: (messages[i][0], messages[i][3]))
    assert [m.source["line"] for m in got] == [i + 1 for i in order]
    for m, i in zip(got, order, strict=True):
        chat, sender, me, dt, kind, text = messages[i]
        assert (m.chat, m.sender, m.me, m.kind, m.text) == (chat, sender, me, kind, text)
        if unix:
            assert m.ts == 946656000 + dt
            assert m.time.endswith("+08:00")
        else:
            assert m.time == (base + timedelta(seconds=dt)).isoformat()
