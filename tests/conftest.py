"""Shared test helpers: run the real CLI in-process, and keep user state out of the home folder."""

from __future__ import annotations

import os

# Before anything imports huggingface_hub, which reads these once: no test may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import json
from pathlib import Path

import pytest

from twin.cli import main


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    """No test reads or writes the user's caches, and none reaches a model hub.

    The twin cache (the default model converted from GGUF, ~30 s) is shared by the session.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("TWIN_CACHE", str(tmp_path_factory.getbasetemp() / "twin-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    import time

    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def twin(capsys):
    """Run `twin ARGS...` in this process; returns exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def trained_runs(tok, ids: list[int], mask: list[int]) -> list[str]:
    """The trained stretches of a sample, decoded (one string per run of mask 1)."""
    runs, current = [], []
    for i, m in zip(ids, mask, strict=True):
        if m:
            current.append(i)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [tok.decode(r) for r in runs]


def read_jsonl(path: Path) -> list[dict]:
    return [
        json.loads(line)
        # split on \n only: str.splitlines() would also cut at U+2028 or U+0085 inside a text
        for line in Path(path).read_text(encoding="utf-8").split("\n")
        if line.strip()
    ]


@pytest.fixture
def ingest_file(twin, tmp_path):
    """Ingest files and return the messages written, failing the test on a non-zero exit."""

    def run(*paths, extra: tuple[str, ...] = ()) -> list[dict]:
        out = tmp_path / "messages.jsonl"
        result = twin("ingest", *paths, "-o", out, *extra)
        assert result.code == 0, result.err
        return read_jsonl(out)

    return run


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random Llama + tokenizer folder, usable as --base."""
    from tiny import make_model

    return make_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    from tiny import make_dataset

    return make_dataset(tmp_path_factory.mktemp("tiny_dataset"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_model, tiny_dataset) -> Path:
    """A LoRA run trained for a few steps on the tiny model (shared: do not modify it)."""
    from tiny import make_run

    return make_run(tmp_path_factory.mktemp("tiny_run") / "run", tiny_model, tiny_dataset)


# Long tests say what they are doing (see long_tests.py): the hook, imported, is registered here.
from long_tests import pytest_runtest_protocol  # noqa: E402, F401


def drawn_text(monkeypatch) -> list[str]:
    """Every text the charts draw from now on (twin.charts.Canvas.text), in order."""
    from twin import charts

    drawn: list[str] = []
    original = charts.Canvas.text

    def record(self, x, y, text, size, align="lt", color=charts.INK):
        drawn.append(text)
        return original(self, x, y, text, size, align, color)

    monkeypatch.setattr(charts.Canvas, "text", record)
    return drawn
