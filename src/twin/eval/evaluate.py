"""`twin eval`: score runs, checkpoints and the untuned base on the same held-out conversations.

Every system is measured the same way, so the numbers compare: dev loss on the same dev samples
(rendered and masked exactly as in training, through twin.train's own encode/evaluate), replies
to the same seeded dev prompts with the same per-sample seeds, the same privacy probe.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import random
import time
import warnings
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from twin.errors import TwinError
from twin.eval import metrics as M
from twin.eval.privacy import PROBES, probe_summary
from twin.progress import Progress, say
from twin.runs import RunFolder, RunInfo, base_info, read_run

# key, label (English + Chinese), which value is best, description
METRICS: list[tuple[str, str, str, str]] = [
    ("dev_loss", "Dev loss 验证损失", "lower", "mean loss per reply token on dev.jsonl"),
    ("dev_ppl", "Perplexity 困惑度", "lower", "exp(dev loss)"),
    ("bleu4", "BLEU-4", "higher", "word 4-gram overlap with the real reply, smoothed, 0–100"),
    ("rouge1", "ROUGE-1", "higher", "word overlap F1 with the real reply, 0–100"),
    ("rouge2", "ROUGE-2", "higher", "word-pair overlap F1 with the real reply, 0–100"),
    ("rougeL", "ROUGE-L", "higher", "longest-common-subsequence F1, 0–100"),
    (
        "distinct1",
        "Distinct-1 多样性",
        "person",
        "share of different words over all replies",
    ),
    (
        "distinct2",
        "Distinct-2 多样性",
        "person",
        "share of different word pairs over all replies",
    ),
    (
        "language_match",
        "Language match 语言一致",
        "higher",
        "share of replies mainly in the person's script (Chinese characters vs Latin letters)",
    ),
    (
        "style_distance",
        "Style distance 风格距离",
        "lower",
        "distance of the reply style fingerprint to the person's, 0–1",
    ),
    (
        "pii_replies",
        "PII replies 隐私泄露",
        "lower",
        "privacy-probe replies that contain personal data",
    ),
]


@dataclass
class System:
    """One thing to evaluate: a run, a checkpoint of a run, or an untuned base."""

    label: str
    kind: str  # "run", "checkpoint" or "base"
    info: RunInfo


def collect_systems(run_dirs: list[str], base_model: str | None) -> list[System]:
    """The runs as given, then the base (the first run's unless named; "none" for no base)."""
    systems: list[System] = []
    for d in run_dirs:
        info = read_run(d)
        label = os.path.normpath(d)
        if any(s.label == label for s in systems):
            raise TwinError(f"{d}: listed twice")
        kind = "checkpoint" if info.folder and RunFolder.of_checkpoint(info.folder) else "run"
        systems.append(System(label, kind, info))
    if base_model is None and not systems:
        raise TwinError("nothing to evaluate: give at least one RUN_DIR")
    if base_model != "none":
        first = systems[0].info if systems else None
        spec = base_model or first.base_spec  # type: ignore[union-attr]
        info = base_info(spec, first.system_prompt if first else None)
        if first is not None:
            info.generation = replace(first.generation)  # prompted and sampled like the runs
        systems.append(System(f"base: {info.base().display}", "base", info))
    return systems


def pick_samples(dev: list[list[dict]], n: int, seed: int) -> list[dict]:
    """n (history, real reply) pairs from dev conversations; the same seed picks the same ones."""
    candidates = []
    for c, messages in enumerate(dev):
        for i, m in enumerate(messages):
            if (
                i > 0
                and m["role"] == "assistant"
                and m.get("weight", 1) != 0
                and messages[i - 1]["role"] == "user"
                and m["content"].strip()
            ):
                candidates.append((c, i))
    if not candidates:
        raise TwinError("dev.jsonl has no reply of yours to compare with")
    chosen = random.Random(seed).sample(candidates, min(n, len(candidates)))
    out = []
    for c, i in chosen:
        history = [m for m in dev[c][:i] if m["role"] in ("user", "assistant")]
        out.append(
            {
                "conversation": c,
                "turn": i,
                "history": history,
                "reference": dev[c][i]["content"],
            }
        )
    return out


def _seed(seed: int, kind: int, i: int) -> int:
    """A per-sample seed: each reply is reproducible on its own, whatever ran before it."""
    return (seed * 1_000_003 + kind * 100_003 + i) % 2**31


def _load(system: System, device: str):
    from twin.runs import load_for_inference

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return load_for_inference(system.info, device)
    except TwinError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise TwinError(f"{system.label}: could not load the model ({e})") from e


def dev_loss(model, tokenizer, info: RunInfo, dev: list[list[dict]], max_len: int, device: str):
    """Dev loss exactly as training measures it: same rendering, mask and loss code."""
    from twin.train.data import encode
    from twin.train.distributed import Dist
    from twin.train.loop import evaluate

    examples = encode(dev, info.chat_format, tokenizer, max_len)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    loss = evaluate(model, examples, 4, pad, Dist(device=device), None)
    model.eval()  # evaluate() leaves the model in training mode, as the training loop wants
    if loss is None:
        return {"dev_loss": None, "dev_ppl": None, "dev_tokens": 0}
    return {
        "dev_loss": round(loss, 5),
        "dev_ppl": round(math.exp(min(loss, 50)), 3),
        "dev_tokens": sum(e.trained for e in examples),
    }


def settings_for(system: System, overrides: dict):
    """The generation settings a system is evaluated with: its own, with the command's overrides."""
    return system.info.generation.updated(**overrides)


def _prompts(samples: list[dict], seed: int, probe: bool) -> tuple[list[list[dict]], list[int]]:
    """Every conversation to answer (the samples, then the privacy probe) and its reply's seed."""
    histories = [s["history"] for s in samples]
    seeds = [_seed(seed, 0, i) for i in range(len(samples))]
    if probe:
        histories += [[{"role": "user", "content": prompt}] for _, _, prompt in PROBES]
        seeds += [_seed(seed, 1, j) for j in range(len(PROBES))]
    return histories, seeds


def evaluate_system(
    system: System,
    dev: list[list[dict]],
    samples: list[dict],
    seed: int,
    max_len: int,
    overrides: dict,
    probe: bool = True,
    device: str = "cpu",
    show_progress: bool = False,
    batch_size: int = 8,
) -> dict:
    """Dev loss, replies to the samples and to the privacy probe, for one system."""
    from twin.eval.batch import batch_replies
    from twin.generate import Generator

    t0 = time.perf_counter()
    if show_progress:
        say(
            f"  loading {system.info.base().display}" + (" + adapter" if system.info.folder else "")
        )
    model, tokenizer = _load(system, device)
    t1 = time.perf_counter()
    result: dict = {
        "label": system.label,
        "kind": system.kind,
        "path": str(system.info.folder) if system.info.folder else None,
        "base": system.info.base_spec,
        "method": system.info.method,
    }
    if show_progress:
        say(f"  dev loss on {len(dev)} held-out conversations")
    result.update(dev_loss(model, tokenizer, system.info, dev, max_len, device))
    t2 = time.perf_counter()
    gen = Generator(system.info, device=device, model=model, tokenizer=tokenizer)
    settings = settings_for(system, overrides)
    result["settings"] = settings.to_dict()
    histories, seeds = _prompts(samples, seed, probe)
    with Progress(len(histories), f"  {system.label}", "reply", enabled=show_progress) as bar:
        try:
            replies = batch_replies(gen, histories, settings, seeds, batch_size, bar.update)
        except TwinError as e:
            raise TwinError(f"{system.label}: {e}") from e
    t3 = time.perf_counter()
    result["replies"] = replies[: len(samples)]
    if probe:
        result["privacy"] = probe_summary(replies[len(samples) :])
        result["pii_replies"] = result["privacy"]["pii_replies"]
    result["seconds"] = {
        "load": round(t1 - t0, 2),
        "dev_loss": round(t2 - t1, 2),
        "generate": round(t3 - t2, 2),
    }
    del gen, model, tokenizer
    gc.collect()
    return result


def base_cache_key(
    system: System,
    dev: list[list[dict]],
    samples: list[dict],
    seed: int,
    max_len: int,
    overrides: dict,
    probe: bool,
    device: str,
    batch_size: int,
) -> str:
    """What an untuned base's result depends on (see twin.eval.cache)."""
    from twin.eval import cache

    histories, seeds = _prompts(samples, seed, probe)
    info = system.info
    return cache.key_of(
        {
            "base": cache.base_identity(info.base()),
            "chat_format": info.chat_format.to_dict(),
            "system_prompt": info.system_prompt,
            "settings": settings_for(system, overrides).__dict__,
            "dev": hashlib.sha256(
                json.dumps(dev, ensure_ascii=False, sort_keys=True).encode("utf-8")
            ).hexdigest(),
            "histories": histories,
            "seeds": seeds,
            "probe": probe,
            "max_len": max_len,
            "device": device,
            "batch_size": batch_size,
        }
    )


def score(systems: list[dict], samples: list[dict]) -> dict:
    """Reply metrics of every system against the person's real replies; the person's own profile."""
    references = [s["reference"] for s in samples]
    person_fp = M.fingerprint(references)
    person = {
        "distinct1": round(M.distinct(references, 1), 4),
        "distinct2": round(M.distinct(references, 2), 4),
        "fingerprint": person_fp.to_dict(),
    }
    for r in systems:
        r.update(M.overlap_scores(r["replies"], references))
        r["distinct1"] = round(M.distinct(r["replies"], 1), 4)
        r["distinct2"] = round(M.distinct(r["replies"], 2), 4)
        r["language_match"] = round(M.language_match(r["replies"], references), 4)
        fp = M.fingerprint(r["replies"])
        r["fingerprint"] = fp.to_dict()
        r["style"] = M.fingerprint_distance(fp, person_fp)
        r["style_distance"] = r["style"]["distance"]
    return person


def best_of(systems: list[dict], person: dict) -> dict[str, list[str]]:
    """For each metric, the label(s) of the best system (ties all count)."""
    best = {}
    for key, _, better, _ in METRICS:
        values = [(r["label"], r.get(key)) for r in systems if r.get(key) is not None]
        if not values:
            continue
        if better == "person":
            target = person[key]
            values = [(label, -abs(v - target)) for label, v in values]
        elif better == "lower":
            values = [(label, -v) for label, v in values]
        top = max(v for _, v in values)
        winners = [label for label, v in values if math.isclose(v, top, abs_tol=1e-12)]
        if len(winners) < len(values) or len(values) == 1:  # a tie of all says nothing
            best[key] = winners
    return best


def run_eval(
    run_dirs: list[str],
    dataset_dir: str,
    out_dir: str,
    samples: int = 20,
    base_model: str | None = None,
    seed: int = 0,
    loss_samples: int = 200,
    temperature: float | None = None,
    max_new_tokens: int | None = None,
    probe: bool = True,
    progress: bool | None = None,
    batch_size: int = 8,
    use_cache: bool = True,
) -> dict:
    """Evaluate every system, write eval.json and eval.html into out_dir, return the results.

    `progress`: None shows it (a bar on a terminal, plain lines elsewhere), False hides it.
    `use_cache`: reuse an untuned base's result from an identical earlier eval (twin.eval.cache).
    """
    from twin.atomic import atomic_write
    from twin.eval.report import redacted, render_html
    from twin.train.data import read_dataset
    from twin.train.folder import check_dataset_folder

    check_dataset_folder(dataset_dir)  # before the models' descriptions load
    systems = collect_systems(run_dirs, base_model)
    _, dev, dataset_config = read_dataset(dataset_dir)
    if not dev:
        raise TwinError(
            f"{Path(dataset_dir) / 'dev.jsonl'}: missing or empty; eval needs held-out "
            "conversations (twin build writes them)"
        )
    picked = pick_samples(dev, samples, seed)
    loss_dev = dev[:loss_samples] if loss_samples else dev
    first_run = next((s.info for s in systems if s.kind != "base"), None)
    max_len = int((first_run.train if first_run else {}).get("max_len") or 1024)
    overrides = {}
    if temperature is not None:
        overrides["temperature"] = temperature
    if max_new_tokens is not None:
        overrides["max_new_tokens"] = max_new_tokens
    show = progress is not False
    if show:
        say(f"reading {len(systems)} model description(s) and {dataset_dir}")
    device = _device()
    _quiet_transformers()
    results = []
    for system in systems:
        say(f"evaluating {system.label}")
        args = (loss_dev, picked, seed, max_len, overrides, probe, device)
        results.append(_evaluate_or_reuse(system, args, show, batch_size, use_cache))
    person = score(results, picked)
    report = {
        "twin_eval": 1,
        "created": datetime.now().isoformat(timespec="seconds"),
        "dataset": str(Path(dataset_dir).resolve()),
        "seed": seed,
        "sample_count": len(picked),
        "dev_conversations": len(dev),
        "loss_samples": len(loss_dev),
        "max_len": max_len,
        "metrics": [
            {"key": k, "label": label, "better": better, "description": desc}
            for k, label, better, desc in METRICS
            if probe or k != "pii_replies"
        ],
        "person": person,
        "systems": [{k: v for k, v in r.items() if k != "replies"} for r in results],
        "best": best_of(results, person),
        "samples": [
            {
                "context": s["history"][:-1],
                "prompt": s["history"][-1]["content"],
                "reference": s["reference"],
                "replies": {r["label"]: r["replies"][i] for r in results},
            }
            for i, s in enumerate(picked)
        ],
    }
    report = redacted(report, dataset_config)  # what is written passes the build's redaction
    out = Path(out_dir)
    with atomic_write(out / "eval.json") as f:
        json.dump(report, f, ensure_ascii=False, indent=2)
    with atomic_write(out / "eval.html") as f:
        f.write(render_html(report))
    return report


def _evaluate_or_reuse(
    system: System, args: tuple, show: bool, batch_size: int, use_cache: bool
) -> dict:
    """evaluate_system, except for an untuned base already evaluated on exactly these inputs."""
    from twin.eval import cache

    key = None
    if use_cache and system.kind == "base":
        key = base_cache_key(system, *args, batch_size)
        cached = cache.load(key)
        if cached is not None:
            if show:
                say(
                    "  reused from an earlier eval with the same base, dataset, prompts and "
                    "settings (--no-cache to redo it)"
                )
            return {**cached, "cached": True}
    result = evaluate_system(system, *args, show_progress=show, batch_size=batch_size)
    if key is not None:
        cache.save(key, result)
    return result


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _quiet_transformers() -> None:
    """Our own progress bar is enough; transformers' weight-loading bars would interleave."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
