"""Ingest errors say where, not what (issue 17 item 9): a bad line is named by its number and
shown by its shape, never by the words in it — errors end up pasted into issues and chats."""

from __future__ import annotations

import json

import pytest

from twin.ingest.shown import header, shape, value

SECRET = "Meet Lisa at Hotel Adlon 13912345678"
WORDS = ["Lisa", "Adlon", "13912345678", "Hotel"]


def _cases(tmp_path):
    """(file, --format, the 'where' the error must name) for each error path that once quoted
    a line or a value."""
    cases = []

    def add(name, text, fmt, where):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        cases.append((path, fmt, where))

    add("wa.txt", f"{SECRET}\n12/03/2023, 10:00 - Anna: hi\n", "whatsapp-txt", "line 1")
    add(
        "line2.txt",
        f"[LINE] Chat history with Anna\nSaved on: 2023/12/02 10:00\n\n2023/12/01(Fri)\n{SECRET}\n",
        "line-txt",
        "line 5",
    )
    add("qq1.txt", f"{SECRET}\n\n2023-12-01 10:00:00 Anna(12345)\nhi\n", "qq-txt", "line 1")
    add(
        "qq2.txt",
        "消息记录（此消息记录为文本格式，不支持重新导入）\n\n"
        "================================================================\n"
        "消息分组:我的好友\n"
        "================================================================\n"
        "消息对象:Anna\n"
        "================================================================\n\n"
        f"{SECRET}\n",
        "qq-txt",
        "line 9",
    )
    add("wx.txt", f"{SECRET}\n2023-12-01 10:00:00 Anna\nhi\n", "wechatmsg-txt", "line 1")
    add(
        "n.csv",
        f"time,chat,sender,text,me\n2023-12-01T10:00:00,c,Anna,hi,{SECRET}\n",
        "neutral",
        "row 1",
    )
    add(
        "k.jsonl",
        json.dumps({"time": "2023-12-01T10:00:00", "chat": "c", "sender": "A", "text": "hi",
                    "me": True, "kind": SECRET}) + "\n",
        "neutral",
        "line 1",
    )  # fmt: skip
    add("t.jsonl", json.dumps({"time": SECRET, "chat": "c", "sender": "A", "text": "x"}) + "\n",
        "neutral", "line 1")  # fmt: skip
    add("w.csv", f"{SECRET},more words here\n1,2\n", "wechatmsg-csv", "")
    add("p.csv", f"{SECRET},more words here\n1,2\n", "pywxdump-csv", "")
    add(
        "result.json",
        json.dumps({"name": "Anna", "type": "personal_chat", "id": 1,
                    "messages": [{"id": 1, "type": "message", "date": SECRET, "from": "Anna",
                                  "from_id": "user1", "text": "hi"}]}),
        "telegram-json",
        "messages[0]",
    )  # fmt: skip
    return cases


def test_no_error_quotes_the_input(twin, tmp_path):
    for path, fmt, where in _cases(tmp_path):
        r = twin("ingest", path, "--format", fmt, "-o", tmp_path / "m.jsonl", "--me", "Anna")
        assert r.code != 0, (path.name, r.out)
        assert "Traceback" not in r.err
        assert str(path) in r.err and where in r.err, (path.name, r.err)
        for word in WORDS:
            assert word not in r.err, (path.name, r.err)


def test_skipped_rows_listed_without_their_text(twin, tmp_path):
    path = tmp_path / "n.csv"
    rows = [
        f"2023-12-01T10:0{i}:00,c,{'Anna' if i % 2 else 'Bob'},hi {i},{i % 2}" for i in range(4)
    ]
    rows.insert(2, f"2023-12-01T10:09:00,c,Anna,hi,{SECRET}")
    path.write_text("time,chat,sender,text,me\n" + "\n".join(rows) + "\n", encoding="utf-8")
    r = twin("ingest", path, "-o", tmp_path / "m.jsonl", "--skip-bad-rows")
    assert r.code == 0, r.err
    assert "row 3" in r.out and "malformed row 1" in r.out
    for word in WORDS:
        assert word not in r.out + r.err


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("12/03/2023, 10:00 - Anna: hi", "'99/99/9999, 99:99 - A: A'"),
        ("[04/01/2023, 19:05:02] 小明: 你好", "'[99/99/9999, 99:99:99] A: A'"),
        ("2023-12-01 10:00:00 Anna(12345)", "'9999-99-99 99:99:99 A(99999)'"),
    ],
)
def test_shape(line, expected):
    assert shape(line) == expected


def test_values_and_headers():
    assert value("2023-13-45T10:00") == "'2023-13-45T10:00'"
    assert value(17) == "17"
    assert value("yes please") == "'yes please'"
    assert "13912345678" not in value("13912345678")
    assert value(SECRET) == "a value shaped like 'A A A A A 99999999999'"
    assert header(["localId", "TalkerId", "Type"]) == "'localId,TalkerId,Type'"
    assert "Lisa" not in header([SECRET, "x"])
