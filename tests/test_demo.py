"""The demo end to end on the embedded default: every artefact it promises exists and makes sense."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_demo_runs_the_whole_journey(twin, tmp_path):
    out = tmp_path / "demo"
    r = twin("demo", "-o", out, "--no-serve", "--steps", "3", "--samples", "2")
    assert r.code == 0, r.err
    for step in ("1. build", "2. train", "3. compare"):
        assert step in r.out
    assert "With your own export" in r.out

    stats = json.loads((out / "dataset" / "stats.json").read_text(encoding="utf-8"))
    m = stats["messages"]
    assert m["input"] == m["used"] + sum(m["dropped"].values()) > 3000
    assert stats["name"] == "Mia"
    assert stats["redactions"].get("PHONE", 0) > 0 and stats["redactions"].get("EMAIL", 0) > 0
    train = (out / "dataset" / "train.jsonl").read_text(encoding="utf-8")
    assert "13912345678" not in train and "@example.com" not in train
    assert (out / "dataset" / "report.html").is_file()

    run = out / "run"
    for name in (
        "adapter_model.safetensors",
        "adapter_config.json",
        "twin_run.json",
        "metrics.jsonl",
        "loss.png",
    ):
        assert (run / name).is_file(), name
    info = json.loads((run / "twin_run.json").read_text(encoding="utf-8"))
    assert info["base"]["spec"] == "default" and info["result"]["steps"] == 3
    assert "Mia" in info["system_prompt"]

    evaluation = json.loads((out / "eval" / "eval.json").read_text(encoding="utf-8"))
    assert (out / "eval" / "eval.html").is_file()
    assert len(evaluation["systems"]) == 2  # the clone and the untuned base


@pytest.mark.slow
@pytest.mark.timeout(2400)  # converts the 253 MB GGUF first; took 15+ min on a shared 2-core VM
def test_demo_in_chinese_trains_the_multilingual_base(twin, tmp_path):
    """`twin demo --lang zh`: 小雨's Chinese export, the base chosen by --base auto is the
    embedded Gemma 3 270M, with Gemma's own turn format."""
    out = tmp_path / "demo"
    r = twin(
        "demo", "-o", out, "--lang", "zh", "--no-serve", "--steps", "2", "--samples", "1"
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "base: auto → gemma3-270m" in r.err and "中文示例" in r.out
    stats = json.loads((out / "dataset" / "stats.json").read_text(encoding="utf-8"))
    m = stats["messages"]
    assert m["input"] == m["used"] + sum(m["dropped"].values()) > 2500
    assert stats["redactions"].get("PHONE", 0) > 0 and stats["redactions"].get("EMAIL", 0) > 0
    assert "13812345678" not in (out / "dataset" / "train.jsonl").read_text(encoding="utf-8")
    info = json.loads((out / "run" / "twin_run.json").read_text(encoding="utf-8"))
    assert info["base"]["spec"] == "gemma3-270m"
    assert info["chat_format"]["stop"] == ["<end_of_turn>"]
    assert "小雨" in info["system_prompt"]
    assert (out / "eval" / "eval.json").is_file()
