"""The pytest plugin that makes long tests say what they are doing (tests/long_tests.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("capture", [[], ["-s"]])
def test_a_long_test_says_what_it_does_while_it_runs(tmp_path, capture):
    (tmp_path / "test_waits.py").write_text(
        "import time\n\n"
        "def test_quick():\n    pass\n\n"
        "def test_waits():\n"
        '    """Waits for the model to load."""\n'
        "    print('hidden output')\n"
        "    time.sleep(2.5)\n",
        encoding="utf-8",
    )
    env = {**os.environ, "TWIN_TEST_NOTICE": "0.8", "TWIN_TEST_EVERY": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "long_tests", "-p", "no:cacheprovider"]
        + capture
        + ["test_waits.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    notices = [line for line in r.stdout.splitlines() if "still running" in line]
    assert notices and all(
        n.endswith("still running test_waits.py::test_waits: Waits for the model to load.")
        for n in notices
    ), r.stdout
    assert 1 <= len(notices) <= 3 and notices[0].startswith("[0:01]")
    assert "test_quick" not in r.stdout
