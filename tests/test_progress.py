"""Progress off a terminal: plain lines every few seconds, with the count, fields and an ETA."""

from __future__ import annotations

import io

from twin.progress import Progress, clock, say


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_every_few_seconds_with_eta():
    out, now = io.StringIO(), Clock()
    p = Progress(30, "train", "step", tty=False, every=5, stream=out, now=now)
    now.t += 2
    p.update(1, loss=2.3456, tokens_s=450.2)
    assert out.getvalue() == ""  # not yet: lines come every 5 s, not every step
    now.t += 4
    p.update(2, loss=2.1)
    lines = out.getvalue().splitlines()
    assert lines == ["train: step 3/30 (10%), loss 2.100, 450 tokens/s, 0:06 elapsed, ETA 0:54"]
    now.t += 1
    p.update(1)
    assert len(out.getvalue().splitlines()) == 1
    now.t += 5
    p.update(1)
    assert len(out.getvalue().splitlines()) == 2
    p.close()
    p.close()
    assert len(out.getvalue().splitlines()) == 2  # the count did not move since the last line


def test_close_prints_the_last_count_without_eta():
    out, now = io.StringIO(), Clock()
    with Progress(4, "base", "reply", tty=False, every=5, stream=out, now=now) as p:
        for _ in range(4):
            now.t += 0.5
            p.update()
    assert out.getvalue() == "base: reply 4/4 (100%), 0:02 elapsed\n"


def test_resumed_count_measures_eta_from_this_run_only():
    out, now = io.StringIO(), Clock()
    p = Progress(100, "train", initial=50, tty=False, every=1, stream=out, now=now)
    now.t += 10
    p.update(10)
    assert out.getvalue().strip().endswith("0:10 elapsed, ETA 0:40")


def test_disabled_prints_nothing_and_terminal_gets_a_bar():
    out = io.StringIO()
    with Progress(3, "x", enabled=False, tty=False, every=0, stream=out) as p:
        p.update(3)
    assert out.getvalue() == ""
    bar = io.StringIO()
    with Progress(3, "train", tty=True, stream=bar) as p:
        p.update(3, loss=1.5)
    assert "\r" in bar.getvalue() and "3/3" in bar.getvalue() and "loss=1.5" in bar.getvalue()


def test_say_and_clock():
    out = io.StringIO()
    say("loading the model", out)
    assert out.getvalue() == "loading the model\n"
    assert [clock(7), clock(750), clock(3723)] == ["0:07", "12:30", "1:02:03"]


def test_training_off_a_terminal_prints_plain_progress_lines(tiny_model, tiny_dataset, tmp_path):
    """stderr to a pipe (as `make demo 2>&1 | tee demo.log`): lines with step, loss, tokens/s."""
    import os
    import re
    import subprocess
    import sys

    code = (
        "import sys, twin.progress as p; "
        "p.Progress.__init__.__kwdefaults__['every'] = 0.0; "  # a line per step, not per 5 s
        "from twin.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["train", str(tiny_dataset), "--base", str(tiny_model), "-o", str(tmp_path / "run")]
    r = subprocess.run(
        [sys.executable, "-c", code, *args, "--max-steps", "3", "--batch", "2", "--accum", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("train: step")]
    pattern = r"train: step (\d)/3 \(\d+%\), loss \d+\.\d{3}, \d+ tokens/s, \d+:\d\d elapsed"
    assert [re.match(pattern, line).group(1) for line in lines] == ["1", "2", "3"], r.stderr
    assert "ETA" in lines[0] and "ETA" not in lines[-1]
    assert "\r" not in r.stderr  # no bar redrawn into a log
    assert "loading" in r.stderr.splitlines()[0]  # the wait before the first step is explained
