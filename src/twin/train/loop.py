"""The training loop: setup, train, save, in that order.

One flat loop rather than a framework trainer, because the parts that matter here are small and
tested on their own: loss only on the person's tokens, normalised by the count of trained tokens
across gradient accumulation (and processes); length-grouped, dynamically padded batches;
bf16 autocast on CPUs that have it; checkpoints that resume exactly.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from twin.chat_format import choose_format
from twin.errors import TwinError
from twin.models import load_config, load_model, load_tokenizer, resolve_base
from twin.runs import Generation, write_run_info
from twin.train import checkpoint as ckpt
from twin.train.config import TrainConfig
from twin.train.data import IGNORE, Example, batch_order, collate, encode, read_dataset
from twin.train.distributed import Dist, setup


def choose_precision(cfg: TrainConfig, device: str) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32."""
    if cfg.precision == "fp32":
        return None
    if device.startswith("cuda"):
        if cfg.precision == "bf16" or (cfg.precision == "auto" and torch.cuda.is_bf16_supported()):
            return torch.bfloat16
        return torch.float16  # T4 / V100, the free Kaggle cards, have no bf16
    if cfg.precision == "fp16":
        raise TwinError("fp16 needs a GPU; on a CPU use bf16 or fp32")
    if cfg.precision == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if cpu_has_native_bf16() else None


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes in bf16 natively (AVX512-BF16 or AMX).

    oneDNN also "supports" bf16 on plain AVX-512 by emulation, and there bf16 autocast is ~3×
    slower than fp32 (measured on the 2-core Xeon this project is developed on), so a mere
    `mkldnn._is_mkldnn_bf16_supported()` is not a reason to use it.
    """
    caps = getattr(torch.cpu, "get_capabilities", None)
    if caps is not None:
        c = caps()
        return bool(c.get("avx512_bf16") or c.get("amx_bf16"))
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())


def wrap_peft(model, cfg: TrainConfig):
    from peft import (
        LoraConfig,
        PrefixTuningConfig,
        TaskType,
        get_peft_model,
        prepare_model_for_kbit_training,
    )

    if cfg.method == "ptuning":
        peft_config = PrefixTuningConfig(
            task_type=TaskType.CAUSAL_LM, num_virtual_tokens=cfg.pre_seq_len
        )
    else:
        if cfg.method == "qlora":
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=cfg.gradient_checkpointing
            )
        target = (
            cfg.target_modules
            if cfg.target_modules == "all-linear"
            else [m.strip() for m in cfg.target_modules.split(",")]
        )
        peft_config = LoraConfig(
            task_type=TaskType.CAUSAL_LM,
            r=cfg.rank,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=target,
        )
    return get_peft_model(model, peft_config)


def _schedule(total: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _loss_sum(
    model, batch: dict, device: str, dtype: torch.dtype | None
) -> tuple[torch.Tensor, int]:
    """Sum of token losses over trained positions, computing logits only where needed."""
    labels = batch["labels"]
    target = labels[:, 1:]
    keep = (
        (target != IGNORE).any(dim=0).nonzero().squeeze(1)
    )  # positions whose next token is trained
    n = int((target != IGNORE).sum())
    ctx = (
        torch.autocast(device_type=device.split(":")[0], dtype=dtype)
        if dtype is not None
        else nullcontext()
    )
    with ctx:
        out = model(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
            logits_to_keep=keep.to(device),
        )
    logits = out.logits.float()
    picked = target[:, keep].to(device)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)),
        picked.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    return loss, n


@torch.no_grad()
def evaluate(
    model, examples: list[Example], batch: int, pad_id: int, d: Dist, dtype
) -> float | None:
    """Mean loss per trained token over the dev examples (shared out over processes)."""
    if not examples:
        return None
    model.eval()
    mine = examples[d.rank :: d.world]
    mine = sorted(mine, key=lambda e: len(e.ids))
    total = tokens = 0.0
    for i in range(0, len(mine), batch):
        loss, n = _loss_sum(model, collate(mine[i : i + batch], pad_id), d.device, dtype)
        total += float(loss)
        tokens += n
    total, tokens = d.sum(total, tokens)
    model.train()
    return total / tokens if tokens else None


class _Stop:
    """Ctrl-C asks the loop to save a checkpoint at the end of the step and stop."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread
            self._old = None
        return self

    def _handle(self, *_):
        if self.requested:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\nstopping after this step (checkpoint will be saved; Ctrl-C again to abort)",
            file=sys.stderr,
        )

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def train(
    dataset_dir: str,
    out_dir: str,
    cfg: TrainConfig,
    resume: bool = False,
    progress: bool | None = None,
) -> dict:
    """Train an adapter; returns the run's result summary (also in twin_run.json)."""
    d = setup()
    try:
        return _train(dataset_dir, Path(out_dir), cfg, resume, progress, d)
    finally:
        d.close()


def _train(
    dataset_dir: str, out: Path, cfg: TrainConfig, resume: bool, progress: bool | None, d: Dist
) -> dict:
    started = time.perf_counter()
    if out.exists() and not resume and any(out.iterdir()):
        if (out / "checkpoints" / "latest").is_file():
            raise TwinError(
                f"{out}: holds a run already; pass --resume to continue it, or choose another -o"
            )
        if not (out / "twin_run.json").is_file():
            raise TwinError(f"{out}: exists and is not a twin run folder; choose another -o")
    d.barrier()  # every process has looked at the folder before the first one writes to it
    if cfg.method == "qlora" and not d.device.startswith("cuda"):
        raise TwinError(
            "qlora needs a CUDA GPU (4-bit weights through bitsandbytes); on a CPU use --method lora"
        )
    torch.manual_seed(cfg.seed)

    # --- setup
    ref = resolve_base(cfg.base)
    tokenizer = load_tokenizer(ref)
    base_config = load_config(ref)
    fmt = choose_format(tokenizer, base_config)
    train_convs, dev_convs, ds_config = read_dataset(dataset_dir)
    train_ex = encode(train_convs, fmt, tokenizer, cfg.max_len)
    dev_ex = encode(dev_convs[: cfg.eval_samples], fmt, tokenizer, cfg.max_len)
    if not train_ex:
        raise TwinError(
            f"{dataset_dir}: no training sample has a reply left to train on at max_len {cfg.max_len}"
        )
    dtype = choose_precision(cfg, d.device)
    model = load_model(ref, device=d.device, quantize_4bit=cfg.method == "qlora")
    model.config.use_cache = False
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model = wrap_peft(model, cfg)
    model.train()
    net = model
    if d.active:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[d.local_rank] if d.device.startswith("cuda") else None
        )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    # Optimizer steps per epoch, counted as the loop below cuts them (a last short group counts).
    per_process = (len(batch_order(train_ex, cfg.batch, cfg.seed, 0, False)) // d.world) or 1
    per_epoch = math.ceil(per_process / cfg.accum)
    total_steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(total_steps, int(cfg.warmup_ratio * total_steps))
    )
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    eval_every = cfg.eval_every or max(1, total_steps // 10)
    save_every = cfg.save_every or eval_every
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    state = {
        "step": 0,
        "epoch": 0,
        "batch_in_epoch": 0,
        "best_dev_loss": None,
        "best_step": None,
        "bad_evals": 0,
    }
    checkpoints = out / "checkpoints"
    metrics_path = out / "metrics.jsonl"
    if resume:
        last = ckpt.latest_checkpoint(checkpoints)
        if last is None:
            raise TwinError(f"{out}: no checkpoint to resume from (checkpoints/latest is missing)")
        saved = json.loads((out / "twin_train_config.json").read_text(encoding="utf-8"))
        _check_same(saved, cfg)
        state = ckpt.load_checkpoint(last, model, optimizer, scheduler)
        if d.main:
            _truncate_metrics(metrics_path, state["step"])
            print(f"resuming {out} from {last.name}", file=sys.stderr)
    elif d.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "twin_train_config.json").write_text(
            json.dumps(cfg.to_dict(), indent=2), encoding="utf-8"
        )
        metrics_path.write_text("", encoding="utf-8")
    d.barrier()

    info = {
        "twin_run": 1,
        "base": ref.to_dict(),
        "chat_format": fmt.to_dict(),
        "system_prompt": ds_config.get("system_prompt"),
        "name": ds_config.get("name"),
        "generation": Generation(cfg.temperature, cfg.top_p, cfg.max_new_tokens).to_dict(),
        "train": cfg.to_dict(),
        "dataset": {
            "path": str(Path(dataset_dir).resolve()),
            "train_samples": len(train_ex),
            "dev_samples": len(dev_ex),
        },
    }
    if d.main:
        trainable = sum(p.numel() for p in params)
        print(
            f"training {cfg.method} on {ref.display}: {len(train_ex)} samples ({len(dev_ex)} dev), "
            f"{total_steps} steps of {cfg.batch}×{cfg.accum}×{d.world}, {trainable:,} trainable parameters, "
            f"precision {dtype or torch.float32}".replace("torch.", ""),
            file=sys.stderr,
        )

    # --- train
    show = d.main and (progress if progress is not None else sys.stderr.isatty())
    bar = tqdm(
        total=total_steps, initial=state["step"], desc="train", unit="step", disable=not show
    )
    tokens_seen = 0
    train_seconds = 0.0  # time in forward/backward/update only: evaluation and saving excluded
    stopped_early = interrupted = False
    with _Stop() as stop:
        while state["step"] < total_steps and not (stopped_early or interrupted):
            batches = batch_order(
                train_ex, cfg.batch, cfg.seed, state["epoch"], cfg.group_by_length
            )
            mine = batches[d.rank :: d.world][: (len(batches) // d.world) or 1]
            groups = [mine[i : i + cfg.accum] for i in range(0, len(mine), cfg.accum)]
            if len(batches) < d.world:
                raise TwinError(
                    f"{len(batches)} batches cannot feed {d.world} processes; use a smaller --batch or fewer processes"
                )
            while state["batch_in_epoch"] < len(groups) and state["step"] < total_steps:
                step_start = time.perf_counter()
                step_tokens = tokens_seen
                group = [
                    collate([train_ex[j] for j in b], pad_id)
                    for b in groups[state["batch_in_epoch"]]
                ]
                local_tokens = sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in group)
                (global_tokens,) = d.sum(local_tokens)
                loss_total = 0.0
                for k, batch in enumerate(group):
                    sync = k == len(group) - 1 or not d.active
                    ctx = nullcontext() if sync else net.no_sync()
                    with ctx:
                        loss_sum, _ = _loss_sum(net, batch, d.device, dtype)
                        loss = loss_sum * d.world / max(1.0, global_tokens)
                        (scaler.scale(loss) if scaler else loss).backward()
                    loss_total += loss_sum.item()
                    tokens_seen += int(batch["attention_mask"].sum())
                if scaler:
                    scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                if scaler:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step_seconds = time.perf_counter() - step_start
                train_seconds += step_seconds
                state["step"] += 1
                state["batch_in_epoch"] += 1
                (loss_all,) = d.sum(loss_total)
                train_loss = loss_all / max(1.0, global_tokens)
                all_tokens, step_tokens = d.sum(tokens_seen, tokens_seen - step_tokens)
                record = {
                    "step": state["step"],
                    "epoch": state["epoch"],
                    "loss": round(train_loss, 5),
                    "lr": scheduler.get_last_lr()[0],
                    "trained_tokens": int(global_tokens),
                    "tokens": int(step_tokens),  # non-padding tokens read in this step
                    "step_s": round(step_seconds, 4),
                    "tokens_per_s": round(all_tokens / train_seconds, 1)
                    if train_seconds > 0
                    else None,
                }
                bar.set_postfix(
                    loss=f"{train_loss:.3f}", tok_s=f"{record['tokens_per_s'] or 0:.0f}"
                )
                bar.update(1)
                last_step = state["step"] == total_steps
                if state["step"] % eval_every == 0 or last_step:
                    dev_loss = evaluate(model, dev_ex, cfg.batch, pad_id, d, dtype)
                    if dev_loss is not None:
                        record["dev_loss"] = round(dev_loss, 5)
                        record["dev_ppl"] = round(math.exp(min(dev_loss, 50)), 3)
                        best = state["best_dev_loss"]
                        if best is None or dev_loss < best:
                            state["best_dev_loss"], state["best_step"], state["bad_evals"] = (
                                dev_loss,
                                state["step"],
                                0,
                            )
                            if d.main:
                                _save_best(model, out)
                        else:
                            state["bad_evals"] += 1
                            if cfg.early_stopping and state["bad_evals"] >= cfg.early_stopping:
                                stopped_early = True
                if d.main:
                    with open(metrics_path, "a", encoding="utf-8") as f:
                        f.write(json.dumps(record) + "\n")
                interrupted = _agree(stop.requested, d)
                if state["step"] % save_every == 0 or last_step or stopped_early or interrupted:
                    if d.main:
                        ckpt.save_checkpoint(
                            checkpoints,
                            state["step"],
                            model,
                            optimizer,
                            scheduler,
                            state,
                            cfg.keep_checkpoints,
                        )
                    d.barrier()
                if stopped_early or interrupted:
                    break
            if state["batch_in_epoch"] >= len(groups):
                state["epoch"] += 1
                state["batch_in_epoch"] = 0
    bar.close()

    # --- save
    seconds = time.perf_counter() - started
    result = {
        "steps": state["step"],
        "total_steps": total_steps,
        "best_step": state["best_step"],
        "best_dev_loss": state["best_dev_loss"],
        "stopped": "interrupted"
        if interrupted
        else ("early stopping" if stopped_early else "done"),
        "seconds": round(seconds, 1),
    }
    if d.active:  # every process must end with the same weights; recorded so it can be checked
        result["rank_digests"] = d.gather(ckpt.weights_digest(ckpt.adapter_weights(model)))
        if len(set(result["rank_digests"])) > 1 and d.main:
            print("warning: the processes ended with different weights", file=sys.stderr)
    if d.main:
        _finish(out, model, tokenizer, info, result, state)
        if interrupted:
            print(
                f"stopped at step {state['step']}; continue with: twin train {dataset_dir} -o {out} --resume",
                file=sys.stderr,
            )
    d.barrier()
    return result


def _agree(flag: bool, d: Dist) -> bool:
    """Stop on every process if any process was asked to."""
    (n,) = d.sum(1.0 if flag else 0.0)
    return n > 0


def _truncate_metrics(path: Path, step: int) -> None:
    """Forget metrics logged after the checkpoint being resumed: those steps run again."""
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    keep = [line for line in lines if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")


def _save_best(model, out: Path) -> None:
    best = out / "best"
    tmp = out / ".best.tmp"
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    ckpt.save_adapter(model, tmp)
    shutil.rmtree(best, ignore_errors=True)
    tmp.rename(best)


def _finish(out: Path, model, tokenizer, info: dict, result: dict, state: dict) -> None:
    """The run folder's root holds the adapter to use: the best by dev loss, else the last."""
    import shutil

    from twin.train.plot import plot_losses

    if (out / "best" / "adapter_model.safetensors").is_file():
        for name in ("adapter_model.safetensors", "adapter_config.json"):
            shutil.copyfile(out / "best" / name, out / name)
        result["adapter"] = (
            f"best (step {state['best_step']}, dev loss {state['best_dev_loss']:.4f})"
        )
    else:
        ckpt.save_adapter(model, out)
        result["adapter"] = f"last (step {state['step']})"
    tokenizer.save_pretrained(out)
    metrics = [
        json.loads(line)
        for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if metrics:
        plot_losses(metrics, out / "loss.png")
        result["final_train_loss"] = metrics[-1]["loss"]
        result["first_train_loss"] = metrics[0]["loss"]
    write_run_info(out, {**info, "result": result})


def _check_same(saved: dict, cfg: TrainConfig) -> None:
    """--resume must continue the same training, not a different one."""
    fixed = (
        "base",
        "method",
        "rank",
        "alpha",
        "pre_seq_len",
        "target_modules",
        "batch",
        "accum",
        "seed",
        "max_len",
    )
    changed = [k for k in fixed if saved.get(k) != getattr(cfg, k)]
    if changed:
        diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {getattr(cfg, k)!r}" for k in changed)
        raise TwinError(
            f"--resume with different settings ({diffs}); use the original ones or a new -o"
        )
