"""Fuzzed exports give a clean error or a result: zero tracebacks, zero hangs (issue 17 item 6).

The fuzzer (tests/fuzz_ingest.py) runs in a subprocess bounded in time; each of its cases has
its own 10 s deadline, and the subprocess as a whole is killed if it outlives its budget by a
minute (a hang inside C code), naming the case it was on. TWIN_FUZZ_SECONDS sets the budget
(default 25 s); TWIN_FUZZ_SEED the seed (default 17, so a run is repeatable; printed on failure).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FUZZER = Path(__file__).with_name("fuzz_ingest.py")


def test_fuzzed_exports_never_traceback_or_hang(tmp_path):
    seconds = float(os.environ.get("TWIN_FUZZ_SECONDS", "25"))
    seed = int(os.environ.get("TWIN_FUZZ_SEED", "17"))
    out, progress = tmp_path / "fuzz.json", tmp_path / "progress.txt"
    command = [sys.executable, str(FUZZER), "--seconds", str(seconds), "--seed", str(seed)]
    command += ["--out", str(out), "--progress", str(progress)]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        case = progress.read_text() if progress.exists() else "?"
        raise AssertionError(f"fuzzer hung (seed {seed}) on: {case}") from None
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["cases"] >= 50, result  # it did run
    report = "\n\n".join(
        f"{kind} ({entry['count']}x; seed {seed}, {entry['seed']} case_seed {entry['case_seed']}, "
        f"--format {entry['fmt']}, skip_bad_rows={entry['skip']}, columnar={entry['columnar']})\n"
        f"{entry['problem']}\ninput starts: {entry['input']!r}"
        for kind, entry in result["failures"].items()
    )
    assert not result["failures"], report


def test_the_fuzzer_finds_a_planted_crash(tmp_path, monkeypatch):
    """The harness itself can fail: a parser that raises a plain exception is reported."""
    sys.path.insert(0, str(FUZZER.parent))
    import fuzz_ingest

    from twin.ingest.formats import line_txt

    def broken(source, report):
        raise KeyError("planted")
        yield

    monkeypatch.setattr(line_txt, "parse", broken)
    monkeypatch.setattr(fuzz_ingest, "SEEDS", {"line": fuzz_ingest.SEEDS["line"]})
    result = fuzz_ingest.fuzz(1.0, seed=1, progress=None)
    assert result["cases"] > 0
    assert any("KeyError" in kind for kind in result["failures"])
