"""Data-parallel `twin train`: two processes on the CPU (gloo), launched as a user would.

Every process records a digest of its final adapter weights in twin_run.json ("rank_digests");
the processes must agree, and with dropout off and fp32 the result must equal one process doing
the same work by gradient accumulation (2 processes × batch 4 × accum 1 = 1 × batch 4 × accum 2:
the same samples in each optimizer step, the same loss normalisation).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import read_jsonl
from safetensors.torch import load_file

from twin.train.checkpoint import weights_digest

pytestmark = pytest.mark.slow

STEPS = 4


def common(dataset: Path, base: Path, toml: Path) -> list[str]:
    return [
        str(dataset),
        "--base",
        str(base),
        "--max-steps",
        str(STEPS),
        "--batch",
        "4",
        "--lr",
        "5e-3",
        "--config",
        str(toml),
    ]


@pytest.fixture(scope="module")
def exact_toml(tmp_path_factory) -> Path:
    """No dropout and fp32: results depend only on the samples and the arithmetic."""
    path = tmp_path_factory.mktemp("cfg") / "twin.toml"
    path.write_text('[train]\nlora_dropout = 0.0\nprecision = "fp32"\neval_every = 2\n')
    return path


@pytest.fixture(scope="module")
def single(tmp_path_factory, tiny_model, tiny_dataset, exact_toml) -> Path:
    """One process, batch 4 × accum 2."""
    out = tmp_path_factory.mktemp("single") / "run"
    run(
        [sys.executable, "-m", "twin", "train", *common(tiny_dataset, tiny_model, exact_toml)]
        + ["--accum", "2", "-o", str(out)]
    )
    return out


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc


def check_two_processes(out: Path, single: Path, log: str) -> None:
    assert "4×1×2" in log  # batch × accum × processes, as printed by rank 0
    result = json.loads((out / "twin_run.json").read_text(encoding="utf-8"))["result"]
    digests = result["rank_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]
    # the digest is of the final weights: those of the last checkpoint
    last = out / "checkpoints" / f"step-{STEPS}"
    assert digests[0] == weights_digest(load_file(last / "adapter_model.safetensors"))
    losses = [m["loss"] for m in read_jsonl(out / "metrics.jsonl")]
    assert len(losses) == STEPS and losses[-1] < losses[0]

    # equal to one process accumulating the same two batches per step
    mine = load_file(last / "adapter_model.safetensors")
    theirs = load_file(single / "checkpoints" / f"step-{STEPS}" / "adapter_model.safetensors")
    assert mine.keys() == theirs.keys()
    for k in mine:
        torch.testing.assert_close(mine[k], theirs[k], rtol=1e-5, atol=1e-6)
    timing = ("tokens_per_s", "step_s")
    a = [{k: v for k, v in m.items() if k not in timing} for m in read_jsonl(out / "metrics.jsonl")]
    b = [
        {k: v for k, v in m.items() if k not in timing}
        for m in read_jsonl(single / "metrics.jsonl")
    ]
    assert [m["trained_tokens"] for m in a] == [m["trained_tokens"] for m in b]
    for x, y in zip(a, b, strict=True):
        assert x["loss"] == pytest.approx(y["loss"], abs=1e-4)
        assert x.get("dev_loss") == pytest.approx(y.get("dev_loss"), abs=1e-4)


def test_torchrun_two_processes_agree(tmp_path, tiny_model, tiny_dataset, exact_toml, single):
    out = tmp_path / "run"
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    proc = run(
        [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "twin", "train"]
        + common(tiny_dataset, tiny_model, exact_toml)
        + ["--accum", "1", "-o", str(out)]
    )
    check_two_processes(out, single, proc.stderr)
    assert "Trained" in proc.stdout and proc.stdout.count("Trained") == 1  # rank 0 reports


def test_accelerate_launch_two_processes_agree(
    tmp_path, tiny_model, tiny_dataset, exact_toml, single
):
    # `accelerate launch --cpu --num_processes 2` starts ONE process unless MPI is set up
    # (--mpirun_hostfile); on a machine without GPUs, --multi_gpu is what starts several
    # processes (through torch.distributed.run), and twin then uses gloo on the CPU.
    out = tmp_path / "run"
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    proc = run(
        [
            accelerate,
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            "0",
            "-m",
            "twin",
            "train",
        ]
        + common(tiny_dataset, tiny_model, exact_toml)
        + ["--accum", "1", "-o", str(out)]
    )
    check_two_processes(out, single, proc.stderr)
