"""Outputs are renamed into place whole; a write killed outright leaves temps that the next
write to the same target removes (they may hold private messages)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from twin.atomic import atomic_dir, atomic_write, remove_stale_temps

KILLED_WRITE = """
import os, sys
from pathlib import Path
from twin.atomic import atomic_dir, atomic_write
target = Path(sys.argv[1])
if sys.argv[2] == "file":
    with atomic_write(target) as f:
        f.write("private message")
        f.flush()
        os.kill(os.getpid(), 9)
else:
    with atomic_dir(target) as tmp:
        (tmp / "train.jsonl").write_text("private message")
        os.kill(os.getpid(), 9)
"""


def _killed_write(target, kind: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(target), kind], env=env)
    assert r.returncode == -9


def _hidden(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_the_next_write_removes_what_a_killed_one_left(tmp_path, kind):
    target = tmp_path / ("messages.jsonl" if kind == "file" else "dataset")
    _killed_write(target, kind)
    left = _hidden(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".{target.name}.") and left[0].endswith(".tmp")
    if kind == "file":
        with atomic_write(target) as f:
            f.write("new")
    else:
        with atomic_dir(target) as tmp:
            (tmp / "train.jsonl").write_text("new")
    assert _hidden(tmp_path) == []


def test_a_live_writer_keeps_its_temp_and_old_unnamed_temps_go_after_an_hour(tmp_path):
    target = tmp_path / "messages.jsonl"
    mine = tmp_path / f".messages.jsonl.{os.getpid()}-abc.tmp"  # a concurrent live write
    mine.write_text("x")
    fresh = tmp_path / ".messages.jsonl.k2j3h4g5.tmp"  # the old naming, without a PID
    fresh.write_text("x")
    old = tmp_path / ".messages.jsonl.zz9yy8xx.tmp"
    old.write_text("x")
    hour_ago = time.time() - 3700
    os.utime(old, (hour_ago, hour_ago))
    other = tmp_path / ".notes.txt.999999-abc.tmp"  # another target's temp
    other.write_text("x")
    unrelated = tmp_path / ".messages.jsonl.keep"  # not a name twin makes
    unrelated.write_text("x")
    assert remove_stale_temps(target) == [old]
    assert mine.exists() and fresh.exists() and other.exists() and unrelated.exists()
