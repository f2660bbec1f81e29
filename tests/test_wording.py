"""Words that agree with the code: help texts, the errors a newcomer meets first, plurals."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from twin.words import plural

ROOT = Path(__file__).resolve().parent.parent


def test_help_texts_cite_docs_in_the_repository(capsys):
    from twin.cli import main

    for verb in ("ingest", "build", "serve"):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        text = capsys.readouterr().out
        assert "DESIGN.md" not in text, verb
    with pytest.raises(SystemExit):
        main(["ingest", "--help"])
    assert "docs/architecture.md" in capsys.readouterr().out
    for path in (ROOT / "src").rglob("*.py"):
        assert "DESIGN.md" not in path.read_text(encoding="utf-8"), path


def test_one_llamacpp_figure_in_one_place(capsys):
    """The speed-up is measured once (README's Benchmarks table); everything else refers to it."""
    from twin.cli import main

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    help_text = capsys.readouterr().out
    figure = re.compile(r"\d+(?:\.\d+)?\s*(?:x|×|倍)")
    assert "Benchmarks" in help_text and not figure.search(help_text)
    engine = (ROOT / "src" / "twin" / "serve" / "engine.py").read_text(encoding="utf-8")
    assert not figure.search(engine.split('"""')[1])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    outside_table = [
        line
        for line in readme.splitlines()
        if "llama" in line.lower()
        and not line.startswith("|")
        and figure.search(line[line.lower().find("llama") :])
    ]
    assert outside_table == []
    decode_rows = [line for line in readme.splitlines() if line.startswith("| decode")]
    assert len(decode_rows) == 1 and figure.search(decode_rows[0])


def test_train_on_a_file_says_it_is_one_and_how_to_build(twin, tmp_path):
    export = tmp_path / "messages.csv"
    export.write_text("time,chat,sender,text\n", encoding="utf-8")
    r = twin("train", export)
    assert r.code == 1 and "Traceback" not in r.err
    assert "is a file, not a dataset folder" in r.err and f"twin build {export}" in r.err
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "train.jsonl").write_text("", encoding="utf-8")
    r = twin("train", dataset / "train.jsonl")
    assert r.code == 1 and f"twin train {dataset}" in r.err
    r = twin("train", tmp_path / "nothing")
    assert r.code == 1 and "no such dataset folder" in r.err


def test_train_on_a_folder_without_train_jsonl_fails_before_loading_torch(tmp_path):
    code = (
        "import sys; from twin.cli import main; "
        f"code = main(['train', {str(tmp_path)!r}]); "
        "print(code, 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert r.stdout.split() == ["1", "False", "False"], r.stderr
    assert "has no train.jsonl, so it is not a dataset folder" in r.stderr


MAGIC = {
    "shot.png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "a PNG image"),
    "photo.jpg": (b"\xff\xd8\xff\xe0" + bytes(range(256)), "a JPEG image"),
    "scan.pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)), "a PDF document"),
    "MSG0.db": (b"SQLite format 3\x00" + bytes(200), "an SQLite database"),
    "notes.docx": (b"PK\x03\x04" + bytes(100), "a Word document"),
    "voice.mp4": (b"\x00\x00\x00\x18ftypmp42" + bytes(100), "a video (MP4/MOV)"),
}


@pytest.mark.parametrize("name", sorted(MAGIC))
def test_a_non_export_file_is_named_for_what_it_is(twin, tmp_path, name):
    data, kind = MAGIC[name]
    path = tmp_path / name
    path.write_bytes(data)
    for verb in ("ingest", "build"):
        r = twin(verb, path, "-o", tmp_path / f"out-{verb}")
        assert r.code == 1, r.err
        assert f"{path}: not a chat export ({kind})" in r.err
        assert "undecodable" not in r.err and "Traceback" not in r.err
    if "SQLite" in kind:
        assert "encrypted" in r.err and "WeChatMsg" in r.err


def test_a_picture_beside_an_export_is_passed_over(twin, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "shot.png").write_bytes(MAGIC["shot.png"][0])
    (folder / "a.csv").write_text(
        "time,chat,sender,text,me\n2024-01-01T10:00:00,c,Bob,hi,false\n", encoding="utf-8"
    )
    r = twin("ingest", folder, "-o", tmp_path / "m.jsonl")
    assert r.code == 0, r.err


def test_one_message_is_singular(twin, tmp_path):
    path = tmp_path / "chat.csv"
    path.write_text(
        "time,chat,sender,text\n2024-01-01T10:00:00,c,Bob,hi\n"
        "2024-01-01T10:01:00,c,Amy,hey\n2024-01-01T10:02:00,c,Amy,so\n",
        encoding="utf-8",
    )
    r = twin("ingest", path, "-o", tmp_path / "m.jsonl")
    assert r.code != 0
    assert "Bob: 1 message\n" in r.err + "\n" and "Amy: 2 messages" in r.err
    assert [plural(1, "reply"), plural(3, "reply"), plural(0, "chat")] == [
        "1 reply",
        "3 replies",
        "0 chats",
    ]


def test_the_demo_folder_is_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "twin-demo/" in ignored
