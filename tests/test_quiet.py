"""Library warnings stay out of twin's output unless --verbose; twin's own lines stay in."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

from twin.quiet import quiet_libraries, verbose_requested


def _train(tiny_model, tiny_dataset, out, *extra) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "default"}  # as loud as Python gets by itself
    env.pop("TWIN_VERBOSE", None)
    args = ["train", str(tiny_dataset), "--base", str(tiny_model), "-o", str(out)]
    return subprocess.run(
        [sys.executable, "-m", "twin", *args, "--max-steps", "1", *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


def test_train_shows_twins_lines_and_no_library_warning(tiny_model, tiny_dataset, tmp_path):
    quiet = _train(tiny_model, tiny_dataset, tmp_path / "quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert "training lora on" in quiet.stderr and "Trained" in quiet.stdout
    assert "Warning" not in quiet.stderr and "is_gradient_checkpointing" not in quiet.stderr
    loud = _train(tiny_model, tiny_dataset, tmp_path / "loud", "--verbose")
    assert loud.returncode == 0, loud.stderr
    assert "training lora on" in loud.stderr
    assert "FutureWarning" in loud.stderr  # what --verbose is for


def test_own_warnings_still_show_and_verbose_keeps_everything(monkeypatch):
    monkeypatch.delenv("TWIN_VERBOSE", raising=False)
    assert verbose_requested(["train", "--verbose"]) and not verbose_requested(["train"])
    monkeypatch.setenv("TWIN_VERBOSE", "1")
    assert verbose_requested(["train"])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_libraries(verbose=False)
        warnings.warn_explicit("x is deprecated", FutureWarning, "lib.py", 1, module="peft.tuners")
        warnings.warn_explicit("odd input", UserWarning, "m.py", 1, module="twin.eval.metrics")
        warnings.warn_explicit("bad", RuntimeWarning, "t.py", 1, module="torch.nn")
    assert [str(w.message) for w in seen] == ["odd input", "bad"]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_libraries(verbose=True)
        warnings.warn_explicit("x is deprecated", FutureWarning, "lib.py", 1, module="peft.tuners")
    assert len(seen) == 1
