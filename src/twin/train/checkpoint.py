"""Checkpoints that a crash cannot corrupt, and that `--resume` continues from exactly.

A checkpoint is written to a temporary folder and renamed into place; `latest` names the newest
complete one. Weights are safetensors; optimizer and scheduler states are loaded with
`torch.load(weights_only=True)`, never as arbitrary pickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch
from peft import get_peft_model_state_dict, set_peft_model_state_dict
from safetensors.torch import load_file

from twin.errors import TwinError
from twin.runs import RunFolder


def save_adapter(model, folder: Path) -> None:
    """A standard PEFT adapter folder (adapter_config.json + adapter_model.safetensors).

    Embedding layers are never trained here; saying so spares PEFT a look for the base's
    config.json (absent beside a GGUF file) and a hub request to find out.
    """
    model.save_pretrained(folder, safe_serialization=True, save_embedding_layers=False)


def save_checkpoint(
    run: RunFolder, step: int, model, optimizer, scheduler, state: dict, keep: int
) -> Path:
    """`RUN/checkpoints/step-N`, made complete before `latest` names it; the oldest beyond `keep`
    are removed."""
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    final = run.checkpoint(step)
    tmp = run.checkpoint_tmp(step)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_adapter(model, tmp)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save({"torch": torch.get_rng_state()}, tmp / "rng.pt")
    (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    pointer = run.checkpoints / ".latest.tmp"
    pointer.write_text(final.name, encoding="utf-8")
    os.replace(pointer, run.latest_pointer)
    for old in run.checkpoint_steps()[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def save_best(model, run: RunFolder) -> None:
    """`RUN/best`, replaced whole: written beside it first, so a crash leaves the previous best."""
    shutil.rmtree(run.best_tmp, ignore_errors=True)
    save_adapter(model, run.best_tmp)
    shutil.rmtree(run.best, ignore_errors=True)
    run.best_tmp.rename(run.best)


def load_checkpoint(path: Path, model, optimizer, scheduler) -> dict:
    """Restore weights, optimizer, scheduler and RNG; returns the trainer state."""
    try:
        weights = load_file(str(path / "adapter_model.safetensors"))
        set_peft_model_state_dict(model, weights)
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
        torch.set_rng_state(torch.load(path / "rng.pt", weights_only=True)["torch"])
        return json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        raise TwinError(f"{path}: cannot resume from this checkpoint ({e})") from e


def adapter_weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(model).items()}


def weights_digest(weights: dict[str, torch.Tensor]) -> str:
    """SHA-256 of named tensors (names, dtypes, shapes and bytes): equal weights, equal digest."""
    h = hashlib.sha256()
    for name in sorted(weights):
        t = weights[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
