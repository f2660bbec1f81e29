"""Ingest on hostile or broken input (issue 17 item 6): out-of-range timestamps, JSON nested
100,000 deep, FIFOs, link loops and /dev/zero in a walked folder, and zip bombs. Each gives a
clear error naming the file (and row), or a counted skip; none a traceback or a hang.
"""

from __future__ import annotations

import json
import os
import signal
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import read_jsonl

from twin.ingest import sources
from twin.messages import local_from_unix

HUGE = "99999999999999"


class Hung(BaseException):
    """Not an OSError (zipfile.is_zipfile swallows those) nor an Exception (the CLI reports
    those): nothing on the way can mistake it for a bad file."""


@contextmanager
def deadline(seconds: float):
    """Fail instead of hanging (a FIFO opened for reading blocks until a writer comes)."""

    def on_alarm(signum, frame):
        raise Hung(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_json(path: Path, obj) -> Path:
    return write(path, json.dumps(obj, ensure_ascii=False))


@pytest.mark.parametrize("seconds", [1e14, -1e14, float("inf"), float("nan"), 1e300])
def test_local_from_unix_out_of_range_is_a_value_error(seconds):
    with pytest.raises(ValueError, match="out of range"):
        local_from_unix(seconds)


def telegram(unix: str) -> dict:
    msg = {"id": 1, "type": "message", "date": "2023-05-01T09:00:00", "from": "Pat"}
    ok = {**msg, "id": 2, "date_unixtime": "1682931600", "text": "fine"}
    return {
        "name": "Pat",
        "type": "personal_chat",
        "id": 1,
        "messages": [ok, {**msg, "date_unixtime": unix, "from_id": "user1", "text": "x"}],
    }


def messenger(ms) -> dict:
    return {
        "participants": [{"name": "Pat"}, {"name": "Sam"}],
        "messages": [
            {"sender_name": "Pat", "timestamp_ms": ms, "content": "x"},
            {"sender_name": "Sam", "timestamp_ms": 1682931600000, "content": "fine"},
        ],
        "title": "Pat",
        "thread_path": "inbox/pat_1",
    }


def qq_json(ts) -> dict:
    def msg(i, t):
        return {
            "id": str(i),
            "timestamp": t,
            "sender": {"uid": "u1", "uin": "10001", "name": "Pat"},
            "type": "text",
            "content": {"text": "fine" if i else "x", "elements": []},
        }

    return {
        "metadata": {"name": "QQChatExporter", "version": "5.0.0"},
        "chatInfo": {"name": "Pat", "type": "private"},
        "statistics": {},
        "messages": [msg(0, ts), msg(1, 1682931600000)],
    }


WECHATMSG_CSV = (
    "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,"
    "NickName,Sender\n"
    "1,1,1,0,0,{ts},2,x,,,Pat,Pat\n"
    "2,1,1,0,1,1682931600,2,fine,2023-05-01 17:00:00,,Pat,me\n"
)

CASES = {
    "telegram": lambda p: write_json(p / "result.json", telegram(HUGE)),
    "messenger": lambda p: write_json(p / "message_1.json", messenger(int(HUGE) * 1000)),
    "qq": lambda p: write_json(p / "qq.json", qq_json(int(HUGE) * 1000)),
    "neutral": lambda p: write(
        p / "m.jsonl",
        json.dumps({"chat": "c", "sender": "Pat", "time": float(HUGE), "text": "x"})
        + "\n"
        + json.dumps({"chat": "c", "sender": "Sam", "time": "2023-05-01T09:00:00", "text": "ok"})
        + "\n",
    ),
    "wechatmsg": lambda p: write(p / "Pat.csv", WECHATMSG_CSV.format(ts=HUGE)),
}


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_out_of_range_time_is_an_input_error_naming_file_and_row(twin, tmp_path, fmt):
    path = CASES[fmt](tmp_path)
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "--me", "Pat", "-o", out)
    assert r.code != 0
    assert r.err.startswith(f"error: {path}, ")  # the file, then where in it
    where = {
        "telegram": "messages[1]",
        "messenger": "messages[0]",
        "qq": "messages[0]",
        "neutral": "line 1",
        "wechatmsg": "row 1",
    }
    assert r.err.startswith(f"error: {path}, {where[fmt]}"), r.err
    assert "Traceback" not in r.err and not out.exists()


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_out_of_range_time_is_a_counted_skip(twin, tmp_path, fmt):
    path = CASES[fmt](tmp_path)
    out = tmp_path / "out.jsonl"
    me = "Sam" if fmt in ("messenger", "neutral") else "Pat"  # the bad row is Pat's there
    r = twin("ingest", path, "--me", me, "--skip-bad-rows", "-o", out)
    assert r.code == 0, r.err
    assert "malformed row 1" in r.out
    assert [m["text"] for m in read_jsonl(out)] in (["fine"], ["ok"])


@pytest.mark.parametrize("fmt", ["auto", "telegram-json", "messenger-json", "qq-json", "neutral"])
def test_json_nested_100000_deep_is_a_clean_error(twin, tmp_path, fmt):
    path = write(tmp_path / "deep.json", '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}")
    r = twin("ingest", path, "--format", fmt, "--me", "Pat", "-o", tmp_path / "o.jsonl")
    assert r.code != 0 and r.err.startswith(f"error: {path}")
    assert "Traceback" not in r.err


def test_json_nested_just_under_the_parser_limit_is_a_clean_error(twin, tmp_path):
    # parses, but walking the tree afterwards would recurse too deep
    deep = "[" * 980 + "]" * 980
    obj = messenger(1682931600000)
    text = json.dumps(obj).replace('"content": "x"', f'"content": {deep}')
    path = write(tmp_path / "message_1.json", text)
    r = twin("ingest", path, "--me", "Pat", "-o", tmp_path / "o.jsonl")
    assert r.code != 0 and r.err.startswith(f"error: {path}")


WHATSAPP = "1/4/23, 7:02 PM - Eva: hi\n1/4/23, 7:03 PM - Pat: hello\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_in_a_walked_folder_are_skipped_and_counted(twin, tmp_path):
    folder = tmp_path / "export"
    write(folder / "WhatsApp Chat with Eva.txt", WHATSAPP)
    os.mkfifo(folder / "pipe.txt")
    (folder / "loop_a.txt").symlink_to(folder / "loop_b.txt")
    (folder / "loop_b.txt").symlink_to(folder / "loop_a.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "gone.txt").symlink_to(folder / "nowhere.txt")
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)  # a folder loop
    out = tmp_path / "out.jsonl"
    with deadline(20):
        r = twin("ingest", folder, "--me", "Pat", "-o", out)
    assert r.code == 0, r.err
    assert len(read_jsonl(out)) == 2
    assert "Passed over 5 file(s) that are not regular files" in r.out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_given_by_name_is_refused_without_hanging(twin, tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with deadline(20):
        r = twin("ingest", tmp_path / "pipe.txt", "-o", tmp_path / "o.jsonl")
        loop = twin("ingest", tmp_path / "loop", "-o", tmp_path / "o.jsonl")
    assert r.code != 0 and "not a regular file" in r.err
    assert loop.code != 0 and "cannot be read" in loop.err


def test_zip_bomb_member_is_refused_before_reading(twin, tmp_path):
    path = tmp_path / "WhatsApp Chat with Eva.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_chat.txt", WHATSAPP + "1/4/23, 7:04 PM - Eva: " + "a" * (40 << 20) + "\n")
    assert path.stat().st_size < 200_000
    r = twin("ingest", path, "--me", "Pat", "-o", tmp_path / "o.jsonl")
    assert r.code != 0
    assert f"{path}!/_chat.txt" in r.err and ":1)" in r.err and "compressed at most" in r.err


def test_zip_member_size_cap(twin, tmp_path, monkeypatch):
    path = tmp_path / "chat.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("_chat.txt", WHATSAPP * 100)
    monkeypatch.setattr(sources, "MAX_ZIP_MEMBER_BYTES", 1000)
    r = twin("ingest", path, "--me", "Pat", "-o", tmp_path / "o.jsonl")
    assert r.code != 0 and "expands to 5,500 bytes" in r.err
    monkeypatch.setattr(sources, "MAX_ZIP_MEMBER_BYTES", 10_000)
    assert twin("ingest", path, "--me", "Pat", "-o", tmp_path / "o.jsonl").code == 0


def test_ordinary_zip_compression_is_accepted(ingest_file, tmp_path):
    # real chat text compresses well, but not a hundredfold
    lines = [
        f"1/4/23, 7:{i % 60:02d} PM - {'Eva' if i % 3 else 'Pat'}: message {i * 7919 % 10007}"
        for i in range(60_000)
    ]
    path = tmp_path / "chat.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_chat.txt", "\n".join(lines) + "\n")
    assert len(ingest_file(path, extra=("--me", "Pat"))) == 60_000


# ---------------------------------------------------------------- found by tests/fuzz_ingest.py


def test_fields_of_the_wrong_json_type_are_input_errors_or_read(twin, tmp_path):
    tg = telegram("1682931660")
    tg["type"], tg["id"], tg["name"] = ["personal_chat"], {"a": 1}, 5
    fb = messenger(1682931600000)
    fb["participants"], fb["title"] = 1.5, ["x"]
    qq = qq_json(1682931600000)
    qq["messages"][0]["timestamp"], qq["messages"][0]["time"] = float("inf"), "2023-05-01 17:00:00"
    for name, obj in (("result.json", tg), ("message_1.json", fb), ("qq.json", qq)):
        path = tmp_path / name
        path.write_text(json.dumps(obj), encoding="utf-8")  # inf is written as Infinity
        r = twin("ingest", path, "--me", "Pat", "--skip-bad-rows", "-o", tmp_path / "o.jsonl")
        assert r.code == 0, (name, r.err)


def test_damaged_zip_members_are_input_errors(twin, tmp_path):
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        nameless = zipfile.ZipInfo("a")
        nameless.filename = ""  # zipfile refuses to write one, but reads it
        z.writestr(nameless, b"nameless")
        z.writestr("_chat.txt", WHATSAPP.encode())
    data = bytearray(buf.getvalue())
    path = tmp_path / "nameless.zip"
    path.write_bytes(bytes(data))
    assert twin("ingest", path, "--me", "Pat", "-o", tmp_path / "o.jsonl").code == 0
    # the member's local header offset pointing before the file's start
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("_chat.txt")
    central = data.rfind(b"PK\x01\x02")
    data[central + 42 : central + 46] = (2**32 - 5).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    r = twin("ingest", path, "--me", "Pat", "-o", tmp_path / "o.jsonl")
    assert r.code != 0 and "Traceback" not in r.err, r.err
    assert info.filename == "_chat.txt"
