"""The trainer's precision on GPUs, decided by compute capability (faked here): bf16 from 8.0,
fp16 below (a T4 is 7.5, and torch.cuda.is_bf16_supported() says True there, because bf16 is
emulated). The notebook's GPU cell (twin/notebook/gpu.py) must decide the same for each card."""

from __future__ import annotations

import pytest
import torch

from twin.errors import TwinError
from twin.models import cuda_has_native_bf16
from twin.notebook import gpu
from twin.train.config import TrainConfig
from twin.train.loop import choose_precision

CARDS = {"T4": (7, 5), "V100": (7, 0), "A100": (8, 0), "L4": (8, 9), "H100": (9, 0)}


@pytest.fixture
def card(monkeypatch):
    """Pretend the CUDA device has this compute capability (and claims bf16 support anyway)."""

    def use(capability: tuple[int, int]) -> None:
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)

    return use


@pytest.mark.parametrize("name", CARDS)
def test_auto_precision_follows_compute_capability(card, name):
    card(CARDS[name])
    expected = torch.bfloat16 if CARDS[name] >= (8, 0) else torch.float16
    assert choose_precision(TrainConfig(precision="auto"), "cuda:0") == expected
    assert cuda_has_native_bf16("cuda:1") is (CARDS[name] >= (8, 0))
    # the notebook's GPU cell says the same for this card
    plan = gpu.plan(
        [{"name": name, "capability": CARDS[name], "memory_gb": 16}],
        ["sm_70", "sm_75", "sm_80", "sm_90"],
    )
    assert plan["precision"] == {torch.bfloat16: "bf16", torch.float16: "fp16"}[expected]


def test_explicit_choices_are_kept_with_a_warning_for_emulated_bf16(card, capsys):
    card(CARDS["T4"])
    assert choose_precision(TrainConfig(precision="bf16"), "cuda") == torch.bfloat16
    assert "emulated" in capsys.readouterr().err
    assert choose_precision(TrainConfig(precision="fp16"), "cuda") == torch.float16
    assert choose_precision(TrainConfig(precision="fp32"), "cuda") is None
    card(CARDS["A100"])
    assert choose_precision(TrainConfig(precision="fp16"), "cuda") == torch.float16
    assert choose_precision(TrainConfig(precision="bf16"), "cuda") == torch.bfloat16
    assert "emulated" not in capsys.readouterr().err


def test_cpu_precision_unchanged(monkeypatch):
    monkeypatch.setattr("twin.train.loop.cpu_has_native_bf16", lambda: False)
    assert choose_precision(TrainConfig(precision="auto"), "cpu") is None
    monkeypatch.setattr("twin.train.loop.cpu_has_native_bf16", lambda: True)
    assert choose_precision(TrainConfig(precision="auto"), "cpu") == torch.bfloat16
    with pytest.raises(TwinError, match="fp16 needs a GPU"):
        choose_precision(TrainConfig(precision="fp16"), "cpu")


def test_inference_on_a_gpu_loads_16_bit_and_qlora_runs_4_bit(card, monkeypatch, tiny_run):
    """What chat, eval and the notebook load on a GPU (load_model faked: no CUDA here)."""
    from twin import runs

    calls = []

    def fake_load_model(ref, dtype=None, device=None, quantize_4bit=False):
        calls.append((dtype, device, quantize_4bit))
        raise RuntimeError("stop here")

    monkeypatch.setattr("twin.models.load_model", fake_load_model)
    info = runs.read_run(tiny_run)
    for capability, method, expected in [
        ((7, 5), "lora", (torch.float16, "cuda:0", False)),
        ((8, 0), "lora", (torch.bfloat16, "cuda:0", False)),
        ((7, 5), "qlora", (torch.float16, "cuda:0", True)),
    ]:
        card(capability)
        info.method = method
        with pytest.raises(RuntimeError, match="stop here"):
            runs.load_for_inference(info, "cuda:0")
        assert calls[-1] == expected
    with pytest.raises(RuntimeError, match="stop here"):
        runs.load_for_inference(info, "cpu")
    assert calls[-1] == (torch.float32, "cpu", False)
