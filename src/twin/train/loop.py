"""The training loop: setup, train, save, in that order.

One flat loop rather than a framework trainer, because the parts that matter here are small and
tested on their own: loss only on the person's tokens, normalised by the count of trained tokens
across gradient accumulation (and processes); length-grouped, dynamically padded batches;
bf16 autocast on CPUs that have it; checkpoints that resume exactly.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from twin.chat_format import choose_format
from twin.errors import TwinError
from twin.models import (
    BaseRef,
    cuda_has_native_bf16,
    load_config,
    load_model,
    load_tokenizer,
    resolve_base,
)
from twin.progress import Progress, say
from twin.runs import RunFolder
from twin.train import checkpoint as ckpt
from twin.train import head
from twin.train.config import TrainConfig
from twin.train.data import IGNORE, Example, batch_order, collate, encode, read_dataset
from twin.train.distributed import Dist, setup


def choose_precision(cfg: TrainConfig, device: str) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32."""
    if cfg.precision == "fp32":
        return None
    if device.startswith("cuda"):
        native = cuda_has_native_bf16(device)
        if cfg.precision == "bf16":
            if not native:
                print(
                    "warning: bf16 on a GPU below compute capability 8.0 is emulated and slow; "
                    "--precision fp16 (or auto) is faster there",
                    file=sys.stderr,
                )
            return torch.bfloat16
        if cfg.precision == "auto" and native:
            return torch.bfloat16
        return torch.float16  # T4 / V100, the free Kaggle and Colab cards, have no native bf16
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
    """Sum of token losses over trained tokens, the output layer run on exactly those
    (twin.train.head)."""
    result = head.loss_sum(model, batch, device, dtype)
    return result.loss, result.tokens


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
    """Train an adapter; returns the run's result summary (also in twin_run.json).

    `progress`: None shows it (a bar on a terminal, a plain line every few seconds elsewhere),
    False shows nothing.
    """
    d = setup()
    try:
        return _train(dataset_dir, RunFolder(out_dir), cfg, resume, progress, d)
    finally:
        d.close()


@dataclass
class TrainState:
    """Where training stands; saved in every checkpoint (trainer_state.json) and resumed from."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0  # optimizer steps already taken in this epoch
    best_dev_loss: float | None = None
    best_step: int | None = None
    bad_evals: int = 0  # evaluations in a row without a new best (early stopping counts them)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Trainer:
    """What setup builds once and every step uses."""

    cfg: TrainConfig
    d: Dist
    run: RunFolder
    model: torch.nn.Module  # the PEFT model (saved, evaluated)
    net: torch.nn.Module  # what the forward pass goes through: the model, or DDP around it
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler | None  # fp16 only
    dtype: torch.dtype | None  # autocast dtype, None for fp32
    base: BaseRef
    tokenizer: object
    train_ex: list[Example]
    dev_ex: list[Example]
    pad_id: int
    total_steps: int
    eval_every: int
    save_every: int
    info: dict = field(default_factory=dict)  # twin_run.json without its "result"


@dataclass
class Throughput:
    """Tokens read and seconds spent in forward/backward/update (evaluation and saving excluded)."""

    tokens: int = 0
    seconds: float = 0.0


def _train(
    dataset_dir: str, run: RunFolder, cfg: TrainConfig, resume: bool, progress: bool | None, d: Dist
) -> dict:
    """The recipe: set up, then one optimizer step at a time (evaluating and saving when due),
    then finish the run folder."""
    started = time.perf_counter()
    resume = _check_folder(run, resume, d)
    t = _setup(dataset_dir, run, cfg, d)
    state = _start(t, resume)
    # A bar on a terminal, else a plain line every few seconds (a log or `| tee` shows those).
    show = d.main and progress is not False
    bar = Progress(t.total_steps, "train", "step", initial=state.step, enabled=show)
    speed = Throughput()
    ending = None  # "early stopping" or "interrupted"
    with _Stop() as stop:
        while state.step < t.total_steps and ending is None:
            groups = _epoch_groups(t, state.epoch)
            while state.batch_in_epoch < len(groups) and state.step < t.total_steps:
                record = _train_step(t, groups[state.batch_in_epoch], state, speed)
                bar.update(
                    1, loss=f"{record['loss']:.3f}", tokens_s=f"{record['tokens_per_s'] or 0:.0f}"
                )
                ending = _after_step(t, state, record, stop.requested)
                if ending:
                    break
            if state.batch_in_epoch >= len(groups):
                state.epoch += 1
                state.batch_in_epoch = 0
    bar.close()
    return _finish(t, state, ending, time.perf_counter() - started, dataset_dir)


def _check_folder(run: RunFolder, resume: bool, d: Dist) -> bool:
    """Whether to resume: refuses a folder that is not a run, or a run that --resume should continue.

    A run killed before its first checkpoint left nothing to resume; it is started over (with or
    without --resume) instead of being refused both ways.
    """
    if run.path.exists() and not run.path.is_dir():
        raise TwinError(f"{run.path}: is a file, not a folder; choose another -o")
    if not run.is_empty() and run.never_checkpointed():
        d.barrier()  # every process has looked at the folder before the main one clears it
        if d.main:
            print(
                f"{run.path}: no checkpoint was saved before it stopped; starting over",
                file=sys.stderr,
            )
            run.clear_unfinished()
        return False
    if not resume and not run.is_empty():
        if run.latest_pointer.is_file():
            raise TwinError(
                f"{run.path}: holds a run already; pass --resume to continue it, or choose another -o"
            )
        if not run.run_file.is_file():
            raise TwinError(f"{run.path}: exists and is not a twin run folder; choose another -o")
    d.barrier()  # every process has looked at the folder before the first one writes to it
    return resume


def _setup(dataset_dir: str, run: RunFolder, cfg: TrainConfig, d: Dist) -> Trainer:
    """Tokenizer, examples, the PEFT model (DDP-wrapped across processes), optimizer, schedule."""
    if cfg.method == "qlora" and not d.device.startswith("cuda"):
        raise TwinError(
            "qlora needs a CUDA GPU (4-bit weights through bitsandbytes); on a CPU use --method lora"
        )
    torch.manual_seed(cfg.seed)
    ref = resolve_base(_base_spec(cfg.base, dataset_dir, d))
    if d.main:
        say(f"loading {ref.display} and tokenizing {dataset_dir}")
    tokenizer = load_tokenizer(ref)
    fmt = choose_format(tokenizer, load_config(ref))
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
    # Optimizer steps per epoch, counted as the loop cuts them (a last short group counts).
    per_process = (len(batch_order(train_ex, cfg.batch, cfg.seed, 0, False)) // d.world) or 1
    per_epoch = math.ceil(per_process / cfg.accum)
    total_steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(total_steps, int(cfg.warmup_ratio * total_steps))
    )
    eval_every = cfg.eval_every or max(1, total_steps // 10)
    info = {
        "twin_run": 1,
        "base": ref.to_dict(),
        "chat_format": fmt.to_dict(),
        "system_prompt": ds_config.get("system_prompt"),
        "name": ds_config.get("name"),
        "generation": cfg.generation.to_dict(),
        "train": cfg.to_dict(),
        "dataset": {
            "path": str(Path(dataset_dir).resolve()),
            "train_samples": len(train_ex),
            "dev_samples": len(dev_ex),
        },
    }
    return Trainer(
        cfg=cfg,
        d=d,
        run=run,
        model=model,
        net=net,
        params=params,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=torch.amp.GradScaler("cuda") if dtype == torch.float16 else None,
        dtype=dtype,
        base=ref,
        tokenizer=tokenizer,
        train_ex=train_ex,
        dev_ex=dev_ex,
        pad_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        total_steps=total_steps,
        eval_every=eval_every,
        save_every=cfg.save_every or eval_every,
        info=info,
    )


def _start(t: Trainer, resume: bool) -> TrainState:
    """A fresh run folder, or the state of the checkpoint being resumed (weights restored)."""
    run, d = t.run, t.d
    state = TrainState()
    if resume:
        last = run.latest_checkpoint()
        if last is None:
            raise TwinError(
                f"{run.path}: no checkpoint to resume from (checkpoints/latest is missing)"
            )
        _check_same(run.read_train_config(), t.cfg)
        state = TrainState(**ckpt.load_checkpoint(last, t.model, t.optimizer, t.scheduler))
        if d.main:
            run.truncate_metrics(state.step)
            print(f"resuming {run.path} from {last.name}", file=sys.stderr)
    elif d.main:
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_train_config(t.cfg.to_dict())
        run.start_metrics()
    d.barrier()
    if d.main:
        cfg, trainable = t.cfg, sum(p.numel() for p in t.params)
        print(
            f"training {cfg.method} on {t.base.display}: {len(t.train_ex)} samples "
            f"({len(t.dev_ex)} dev), {t.total_steps} steps of {cfg.batch}×{cfg.accum}×{d.world}, "
            f"{trainable:,} trainable parameters, "
            f"precision {t.dtype or torch.float32}".replace("torch.", ""),
            file=sys.stderr,
        )
    return state


def _epoch_groups(t: Trainer, epoch: int) -> list[list[list[int]]]:
    """This process's share of the epoch's batches, cut into groups of `accum` (one step each)."""
    cfg, d = t.cfg, t.d
    batches = batch_order(t.train_ex, cfg.batch, cfg.seed, epoch, cfg.group_by_length)
    if len(batches) < d.world:
        raise TwinError(
            f"{len(batches)} batches cannot feed {d.world} processes; use a smaller --batch or fewer processes"
        )
    mine = batches[d.rank :: d.world][: (len(batches) // d.world) or 1]
    return [mine[i : i + cfg.accum] for i in range(0, len(mine), cfg.accum)]


def _train_step(
    t: Trainer, group_batches: list[list[int]], state: TrainState, speed: Throughput
) -> dict:
    """One optimizer step over a group of micro-batches; returns its metrics record.

    The loss is summed over trained tokens and divided by the count of trained tokens in the
    whole group on every process, so accumulation and processes do not change the gradient.
    Gradients are only synchronised across processes on the group's last micro-batch.
    """
    d = t.d
    step_start = time.perf_counter()
    group = [collate([t.train_ex[j] for j in b], t.pad_id) for b in group_batches]
    local_tokens = sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in group)
    (global_tokens,) = d.sum(local_tokens)
    loss_total = 0.0
    read = 0
    for k, batch in enumerate(group):
        sync = k == len(group) - 1 or not d.active
        with nullcontext() if sync else t.net.no_sync():
            loss_sum, _ = _loss_sum(t.net, batch, d.device, t.dtype)
            loss = loss_sum * d.world / max(1.0, global_tokens)
            (t.scaler.scale(loss) if t.scaler else loss).backward()
        loss_total += loss_sum.item()
        read += int(batch["attention_mask"].sum())
    _update(t)
    step_seconds = time.perf_counter() - step_start
    speed.seconds += step_seconds
    speed.tokens += read
    state.step += 1
    state.batch_in_epoch += 1
    (loss_all,) = d.sum(loss_total)
    train_loss = loss_all / max(1.0, global_tokens)
    all_tokens, step_tokens = d.sum(speed.tokens, read)
    return {
        "step": state.step,
        "epoch": state.epoch,
        "loss": round(train_loss, 5),
        "lr": t.scheduler.get_last_lr()[0],
        "trained_tokens": int(global_tokens),
        "tokens": int(step_tokens),  # non-padding tokens read in this step
        "step_s": round(step_seconds, 4),
        "tokens_per_s": round(all_tokens / speed.seconds, 1) if speed.seconds > 0 else None,
    }


def _update(t: Trainer) -> None:
    """Clip, step the optimizer (through the fp16 GradScaler when there is one) and the schedule."""
    if t.scaler:
        t.scaler.unscale_(t.optimizer)
    torch.nn.utils.clip_grad_norm_(t.params, t.cfg.max_grad_norm)
    if t.scaler:
        t.scaler.step(t.optimizer)
        t.scaler.update()
    else:
        t.optimizer.step()
    t.scheduler.step()
    t.optimizer.zero_grad(set_to_none=True)


def _after_step(t: Trainer, state: TrainState, record: dict, stop_requested: bool) -> str | None:
    """Evaluate and keep the best when due, log the step, checkpoint when due.

    Returns why training ends here ("early stopping", "interrupted"), or None to go on.
    """
    d = t.d
    last_step = state.step == t.total_steps
    stopped_early = False
    if state.step % t.eval_every == 0 or last_step:
        stopped_early = _evaluate_and_keep_best(t, state, record)
    if d.main:
        t.run.append_metrics(record)
    interrupted = _agree(stop_requested, d)
    if state.step % t.save_every == 0 or last_step or stopped_early or interrupted:
        if d.main:
            ckpt.save_checkpoint(
                t.run,
                state.step,
                t.model,
                t.optimizer,
                t.scheduler,
                state.to_dict(),
                t.cfg.keep_checkpoints,
            )
        d.barrier()
    if interrupted:
        return "interrupted"
    return "early stopping" if stopped_early else None


def _evaluate_and_keep_best(t: Trainer, state: TrainState, record: dict) -> bool:
    """Dev loss into the record; a new best is saved to best/. True: stop early."""
    dev_loss = evaluate(t.model, t.dev_ex, t.cfg.batch, t.pad_id, t.d, t.dtype)
    if dev_loss is None:
        return False
    record["dev_loss"] = round(dev_loss, 5)
    record["dev_ppl"] = round(math.exp(min(dev_loss, 50)), 3)
    if state.best_dev_loss is None or dev_loss < state.best_dev_loss:
        state.best_dev_loss, state.best_step, state.bad_evals = dev_loss, state.step, 0
        if t.d.main:
            ckpt.save_best(t.model, t.run)
        return False
    state.bad_evals += 1
    return bool(t.cfg.early_stopping and state.bad_evals >= t.cfg.early_stopping)


def _finish(
    t: Trainer, state: TrainState, ending: str | None, seconds: float, dataset_dir: str
) -> dict:
    """The result summary; the main process writes the adapter, loss plot and twin_run.json."""
    d = t.d
    result = {
        "steps": state.step,
        "total_steps": t.total_steps,
        "best_step": state.best_step,
        "best_dev_loss": state.best_dev_loss,
        "stopped": ending or "done",
        "seconds": round(seconds, 1),
    }
    if d.active:  # every process must end with the same weights; recorded so it can be checked
        result["rank_digests"] = d.gather(ckpt.weights_digest(ckpt.adapter_weights(t.model)))
        if len(set(result["rank_digests"])) > 1 and d.main:
            print("warning: the processes ended with different weights", file=sys.stderr)
    if d.main:
        _write_run(t, result, state)
        if ending == "interrupted":
            print(
                f"stopped at step {state.step}; continue with: twin train {dataset_dir} -o {t.run.path} --resume",
                file=sys.stderr,
            )
    d.barrier()
    return result


def _base_spec(spec: str, dataset_dir: str, d: Dist) -> str:
    """The base to train: `auto` is chosen from the dataset's replies, and says why in one line
    (plus a stronger hub base and its command when this machine could train one)."""
    if spec != "auto":
        return spec
    from twin.base_choice import choose

    choice = choose(dataset_dir)
    if d.main:
        print(choice.line(), file=sys.stderr)
        if choice.recommendation:
            print(f"  tip: {choice.recommendation}", file=sys.stderr)
    return choice.spec


def _agree(flag: bool, d: Dist) -> bool:
    """Stop on every process if any process was asked to."""
    (n,) = d.sum(1.0 if flag else 0.0)
    return n > 0


def _write_run(t: Trainer, result: dict, state: TrainState) -> None:
    """The run folder's root holds the adapter to use: the best by dev loss, else the last."""
    import shutil

    from twin.train.plot import plot_losses

    run = t.run
    if (run.best / "adapter_model.safetensors").is_file():
        for name in ("adapter_model.safetensors", "adapter_config.json"):
            shutil.copyfile(run.best / name, run.path / name)
        result["adapter"] = f"best (step {state.best_step}, dev loss {state.best_dev_loss:.4f})"
    else:
        ckpt.save_adapter(t.model, run.path)
        result["adapter"] = f"last (step {state.step})"
    t.tokenizer.save_pretrained(run.path)
    metrics = run.read_metrics()
    if metrics:
        plot_losses(metrics, run.loss_plot)
        result["final_train_loss"] = metrics[-1]["loss"]
        result["first_train_loss"] = metrics[0]["loss"]
    run.write_info({**t.info, "result": result})


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
