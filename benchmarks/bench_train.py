"""Benchmark `twin train` against a naive trainer on an embedded base, in one run.

Both train the same LoRA (rank 8, every linear layer) on the same 64 persona conversations
(varied lengths, rendered and masked by twin, at most --max-len tokens) for the same number of
optimizer steps after one warm-up step:
- twin: its real trainer (`twin.train.loop.train`): batches of similar length padded to their
  own longest sample, logits only where a trained token is predicted, precision "auto";
- baseline, as the tutorial's ChatGLM script did: fp32, every sample padded to --max-len, the
  model's own loss over full logits.

The two run interleaved in one process (a baseline step after each twin step, the same samples
in the same steps, the same initial weights and learning-rate schedule): on a shared machine
the load changes from minute to minute, and interleaving puts both under the same load. As
both compute the same loss, their per-step losses must agree; the script reports the largest
difference.

Reported: non-padding tokens per second of each (and trained, i.e. loss-bearing, tokens per
second) and their ratio (target >= 2x), and the FLOP/s achieved against torch.matmul FLOP/s
measured in the same run.

With --union (run by benchmarks/run on the multilingual base, whose 262k-entry output layer is
most of a step), a third trainer runs interleaved too: twin's batches and precision, but the
output layer at the union over the batch of positions with a trained token (twin's previous
approach) instead of exactly the trained tokens. Reported: the share of output-layer rows that
were trained tokens for both (target >= 95% for twin) and twin's tokens/s over the union's
(target >= 1.3x).

FLOPs: 4 × N × T (+ 6 × N_lora × T), where N = parameters in matrix multiplies (every decoder
projection and the tied output head), T = tokens. Frozen weights cost 2NT forward and 2NT for
the input gradients in backward, and get no weight gradient; only LoRA weights do (6 per
parameter-token). The common 6NT rule for full fine-tuning would give 1.5× higher numbers.
Attention scores (< 6% at 256 tokens) are left out. "Useful" FLOP/s counts non-padding tokens;
"executed" counts every position computed, padding included.

    python benchmarks/bench_train.py [--steps 6] [--batch 4] [--accum 1] [--max-len 256]
                                     [--twin-precision auto|bf16|fp32]
                                     [--base default|gemma3-270m] [--union] [--name train]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from common import machine, save

from twin.speed import matmul_flops

NAMES = ["Alex", "Sam", "Mia", "Leo", "Zoe", "Max", "Ivy", "Ben"]
QUESTIONS = [
    "hey, you around?",
    "what are you up to tonight",
    "did you see the game yesterday?",
    "can you send me the notes from class",
    "are we still on for saturday",
    "how was the trip",
    "lol did you hear what happened at work today",
    "what should i get mum for her birthday, any ideas? she likes gardening and old movies",
    "ok so i finally finished the project, want to see it?",
    "you free for a call later",
]
WORDS = [
    "yeah",
    "sure",
    "maybe",
    "later",
    "honestly",
    "that",
    "sounds",
    "good",
    "lol",
    "no",
    "way",
    "i",
    "think",
    "so",
    "tomorrow",
    "tonight",
    "coffee",
    "pizza",
    "movie",
    "work",
    "class",
    "gym",
    "tired",
    "busy",
    "home",
    "train",
    "weekend",
    "send",
    "call",
    "text",
    "haha",
    "okay",
    "totally",
    "love",
    "that",
    "idea",
    "not",
    "really",
    "kind",
    "of",
    "wait",
    "what",
    "seriously",
    "let",
    "me",
    "check",
    "my",
    "calendar",
]


def make_dataset(folder: Path, n: int = 64, seed: int = 0) -> Path:
    """n persona conversations: 1-6 exchanges, replies of 2-40 words (a skewed mix, as in chats)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        name = NAMES[i % len(NAMES)]
        messages = [{"role": "system", "content": f"You are {name}. Reply like {name} texts."}]
        for _ in range(rng.choice([1, 1, 2, 2, 3, 4, 6])):
            messages.append({"role": "user", "content": rng.choice(QUESTIONS)})
            words = int(min(40, max(2, rng.expovariate(1 / 9))))
            messages.append({"role": "assistant", "content": " ".join(rng.choices(WORDS, k=words))})
        rows.append(json.dumps({"messages": messages}))
    (folder / "train.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def matmul_params(model) -> tuple[int, int]:
    """(parameters in the base's matrix multiplies, LoRA parameters)."""
    import torch

    lora = sum(p.numel() for p in model.parameters() if p.requires_grad)
    base = 0
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear) and "lora_" not in name:
            base += m.weight.numel()
    return base, lora


class Baseline:
    """fp32, every sample padded to max_len, the model's loss over full logits: the naive recipe."""

    def __init__(self, dataset: Path, args) -> None:
        import torch

        from twin.chat_format import choose_format
        from twin.models import load_model, load_tokenizer, resolve_base
        from twin.train.config import TrainConfig
        from twin.train.data import encode, read_dataset
        from twin.train.loop import _schedule, wrap_peft

        self.args = args
        self.cfg = TrainConfig(
            base=args.base, batch=args.batch, accum=args.accum, max_len=args.max_len
        )
        torch.manual_seed(self.cfg.seed)
        ref = resolve_base(args.base)
        self.tok = load_tokenizer(ref)
        train_convs, _, _ = read_dataset(str(dataset))
        self.examples = encode(train_convs, choose_format(self.tok, None), self.tok, args.max_len)
        self.model = wrap_peft(load_model(ref), self.cfg)
        self.model.train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=self.cfg.learning_rate)
        total = args.steps + 1  # twin's learning-rate schedule, so the updates are the same too
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _schedule(total, int(self.cfg.warmup_ratio * total))
        )
        self.steps: list[dict] = []
        self.groups = self._groups()

    def _groups(self):
        """The same samples in the same steps as twin's trainer (its batch order), so the two
        differ only in how they compute: the losses of each step must agree."""
        from twin.train.data import batch_order

        epoch = 0
        while True:
            batches = batch_order(self.examples, self.args.batch, self.cfg.seed, epoch, True)
            for i in range(0, len(batches), self.args.accum):
                yield [[self.examples[j] for j in b] for b in batches[i : i + self.args.accum]]
            epoch += 1

    def step(self) -> None:
        import torch

        from twin.train.data import IGNORE

        n = self.args.max_len
        group = next(self.groups)
        start = time.perf_counter()
        tokens = trained = 0
        total = 0.0
        for batch in group:
            ids = torch.full((len(batch), n), self.tok.pad_token_id, dtype=torch.long)
            labels = torch.full((len(batch), n), IGNORE, dtype=torch.long)
            mask = torch.zeros((len(batch), n), dtype=torch.long)
            for i, e in enumerate(batch):
                ids[i, : len(e.ids)] = torch.tensor(e.ids)
                labels[i, : len(e.ids)] = torch.tensor(e.labels)
                mask[i, : len(e.ids)] = 1
            loss = self.model(input_ids=ids, attention_mask=mask, labels=labels).loss
            (loss / len(group)).backward()
            tokens += int(mask.sum())
            trained += int((labels[:, 1:] != IGNORE).sum())
            total += float(loss.detach()) / len(group)
        self._update(start, tokens=tokens, trained_tokens=trained, loss=total)

    def _update(self, start: float, **record) -> None:
        """The optimizer step (as twin's: clipped, scheduled), then the step's record, timed
        from `start`."""
        import torch

        torch.nn.utils.clip_grad_norm_(self.params, self.cfg.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps.append({"step_s": time.perf_counter() - start, **record})


class UnionTwin(Baseline):
    """twin's batches (length-grouped, padded to their own longest) and precision, loss
    normalised per trained token as twin does, but the output layer at the union over the batch
    of positions with a trained token: twin's approach before train/head.py."""

    def __init__(self, dataset: Path, args, dtype) -> None:
        super().__init__(dataset, args)
        self.dtype = dtype

    def step(self) -> None:
        from twin.train.data import collate
        from twin.train.head import union_loss_sum

        group = next(self.groups)
        start = time.perf_counter()
        trained = sum(e.trained for b in group for e in b)
        tokens = rows = 0
        total = 0.0
        for batch in group:
            b = collate(batch, self.tok.pad_token_id)
            r = union_loss_sum(self.model, b, "cpu", self.dtype)
            (r.loss / max(1, trained)).backward()
            tokens += int(b["attention_mask"].sum())
            rows += r.head_rows
            total += float(r.loss.detach())
        loss = total / max(1, trained)
        self._update(start, tokens=tokens, trained_tokens=trained, head_rows=rows, loss=loss)


def run_both(dataset: Path, out: Path, args) -> tuple[dict, dict, tuple[int, int]]:
    """twin's own trainer, with one baseline step run after each of its steps.

    Interleaving puts both under the same conditions: on a shared 2-core machine, the load of
    other processes changes from minute to minute and would otherwise decide the ratio.
    twin's step times come from its metrics (forward, backward and update, nothing else).
    """
    import torch

    from twin.train import head, loop
    from twin.train.config import TrainConfig

    baseline = Baseline(dataset, args)
    precision = TrainConfig(precision=args.twin_precision)
    union = (
        UnionTwin(dataset, args, loop.choose_precision(precision, "cpu")) if args.union else None
    )
    real_agree, real_loss_sum = loop._agree, head.loss_sum
    rows: list[int] = [0]  # output-layer rows of twin's current step

    def counted_loss_sum(*a, **k):
        r = real_loss_sum(*a, **k)
        rows[-1] += r.head_rows
        return r

    def agree_then_baseline(flag, d):  # called once at the end of every twin step
        rows.append(0)
        baseline.step()
        if union is not None:
            union.step()
        return real_agree(flag, d)

    cfg = TrainConfig(
        base=args.base,
        method="lora",
        max_steps=args.steps + 1,
        batch=args.batch,
        accum=args.accum,
        max_len=args.max_len,
        precision=args.twin_precision,
        eval_every=10**6,
        save_every=10**6,
    )
    loop._agree, head.loss_sum = agree_then_baseline, counted_loss_sum
    try:
        loop.train(str(dataset), str(out), cfg, progress=False)
    finally:
        loop._agree, head.loss_sum = real_agree, real_loss_sum
    metrics = [
        json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line
    ]
    for m, r in zip(metrics, rows, strict=False):
        m["head_rows"] = r
    precision = "bf16 autocast" if loop.choose_precision(cfg, "cpu") == torch.bfloat16 else "fp32"
    twin = _summary(metrics[1:], precision)  # step 1 of each is the warm-up
    base = _summary(baseline.steps[1:], "fp32")
    # same samples, same initial weights: the per-step losses agree (to rounding, and exactly
    # only with accum 1: the naive recipe averages per micro-batch, twin per trained token)
    twin["loss_per_step"] = [m["loss"] for m in metrics]
    base["loss_per_step"] = [round(m["loss"], 5) for m in baseline.steps]
    base["padded_tokens"] = args.steps * args.accum * args.batch * args.max_len
    if union is not None:
        twin["union"] = _summary(union.steps[1:], twin["precision"])
        twin["union"]["loss_per_step"] = [round(m["loss"], 5) for m in union.steps]
    return twin, base, matmul_params(baseline.model)


def _summary(steps: list[dict], precision: str) -> dict:
    rows = sum(m.get("head_rows", 0) for m in steps)
    return {
        "seconds": sum(m["step_s"] for m in steps),
        "tokens": sum(m["tokens"] for m in steps),
        "trained_tokens": sum(m["trained_tokens"] for m in steps),
        "head_rows": rows,
        "step_seconds": [round(m["step_s"], 3) for m in steps],
        "precision": precision,
        "final_loss": round(steps[-1]["loss"], 4),
    }


def main() -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=6, help="timed optimizer steps (after 1 warm-up)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--accum", type=int, default=1)
    p.add_argument("--max-len", type=int, default=256)
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--base", default="default", help="embedded base: default or gemma3-270m")
    p.add_argument(
        "--union",
        action="store_true",
        help="also run twin's batches with the output layer at the union of trained positions",
    )
    p.add_argument("--name", default="train", help="results/NAME.json")
    p.add_argument(
        "--twin-precision",
        default="auto",
        choices=["auto", "bf16", "fp32"],
        help="twin's --precision (auto: bf16 only where the CPU has it natively)",
    )
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    load_before = os.getloadavg()
    peak = {
        "fp32": matmul_flops(1024, 10, torch.float32),
        "bf16": matmul_flops(1024, 10, torch.bfloat16),
    }
    with tempfile.TemporaryDirectory() as tmp:
        dataset = make_dataset(Path(tmp) / "dataset", args.samples)
        twin, base, (n, n_lora) = run_both(dataset, Path(tmp) / "run", args)
    peak_after = {
        "fp32": matmul_flops(1024, 10, torch.float32),
        "bf16": matmul_flops(1024, 10, torch.bfloat16),
    }
    peak = {k: max(peak[k], peak_after[k]) for k in peak}

    def flops(tokens: int) -> float:
        return (4 * n + 6 * n_lora) * tokens

    rows = {}
    for label, r in (("twin", twin), ("baseline", base)):
        rows[label] = {
            "precision": r["precision"],
            "seconds": round(r["seconds"], 2),
            "tokens": r["tokens"],
            "trained_tokens": r["trained_tokens"],
            "tokens_per_s": round(r["tokens"] / r["seconds"], 1),
            "trained_tokens_per_s": round(r["trained_tokens"] / r["seconds"], 1),
            "useful_gflops": round(flops(r["tokens"]) / r["seconds"] / 1e9, 2),
            "step_seconds": r["step_seconds"],
            "final_loss": r["final_loss"],
        }
    rows["baseline"]["executed_gflops"] = round(
        flops(base["padded_tokens"]) / base["seconds"] / 1e9, 2
    )
    loss_diff = max(
        abs(a - b) for a, b in zip(twin["loss_per_step"], base["loss_per_step"], strict=True)
    )
    ratio = rows["twin"]["tokens_per_s"] / rows["baseline"]["tokens_per_s"]
    trained_ratio = rows["twin"]["trained_tokens_per_s"] / rows["baseline"]["trained_tokens_per_s"]
    result = {
        "benchmark": "train",
        "model": f"{_model_name(args.base)}, LoRA r=8 all-linear",
        "setup": {
            "samples": args.samples,
            "timed_steps": args.steps,
            "batch": args.batch,
            "accum": args.accum,
            "max_len": args.max_len,
            "twin_precision": args.twin_precision,
            "torch_threads": torch.get_num_threads(),
        },
        "flops_formula": f"(4*N + 6*N_lora) * tokens; N = {n} matmul params, N_lora = {n_lora}",
        "matmul_gflops_1024": {k: round(v / 1e9, 1) for k, v in peak.items()},
        "twin_trainer": rows["twin"],
        "baseline_fp32_fixed_padding": rows["baseline"],
        "twin": f"{rows['twin']['tokens_per_s']} tok/s ({rows['twin']['precision']})",
        "baseline": f"{rows['baseline']['tokens_per_s']} tok/s (fp32, padded to {args.max_len})",
        "ratio": round(ratio, 2),
        "trained_tokens_ratio": round(trained_ratio, 2),
        "loss_per_step": {"twin": twin["loss_per_step"], "baseline": base["loss_per_step"]},
        "max_loss_difference": round(loss_diff, 5),
        "target": "ratio >= 2",
        "met": ratio >= 2,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "machine": machine(),
    }
    twin_share = twin["trained_tokens"] / max(1, twin["head_rows"])
    result["head_rows_trained_share"] = {
        "twin": round(twin_share, 4),
        "baseline": round(base["trained_tokens"] / max(1, base["padded_tokens"]), 4),
    }
    if "union" in twin:
        u = twin["union"]
        u_rate = u["tokens"] / u["seconds"]
        result["union_trainer"] = {
            "seconds": round(u["seconds"], 2),
            "tokens": u["tokens"],
            "tokens_per_s": round(u_rate, 1),
            "head_rows": u["head_rows"],
            "step_seconds": u["step_seconds"],
            "loss_per_step": u["loss_per_step"],
        }
        result["head_rows_trained_share"]["union"] = round(
            u["trained_tokens"] / max(1, u["head_rows"]), 4
        )
        result["ratio_over_union"] = round(rows["twin"]["tokens_per_s"] / u_rate, 2)
        result["target"] = "ratio >= 2; trained share of head rows >= 0.95; ratio over union >= 1.3"
        result["met"] = ratio >= 2 and twin_share >= 0.95 and result["ratio_over_union"] >= 1.3
    path = save(args.name, result)

    print()
    header = f"{'':28}{'twin':>14}{'baseline':>14}"
    print(header)
    print("-" * len(header))
    for key, label in [
        ("precision", "precision"),
        ("seconds", f"seconds ({args.steps} steps)"),
        ("tokens", "non-padding tokens"),
        ("tokens_per_s", "non-padding tokens/s"),
        ("trained_tokens_per_s", "trained tokens/s"),
        ("useful_gflops", "useful GFLOP/s"),
    ]:
        print(f"{label:28}{rows['twin'][key]!s:>14}{rows['baseline'][key]!s:>14}")
    print(f"{'executed GFLOP/s':28}{'':>14}{rows['baseline']['executed_gflops']!s:>14}")
    print(
        f"\nratio twin/baseline: {ratio:.2f}x non-padding tokens/s, {trained_ratio:.2f}x trained "
        f"tokens/s (target >= 2x: {'met' if ratio >= 2 else 'NOT met'})"
    )
    print(
        f"matmul 1024² in this run: {peak['fp32'] / 1e9:.1f} GFLOP/s fp32, "
        f"{peak['bf16'] / 1e9:.1f} GFLOP/s bf16; FLOPs = {result['flops_formula']}"
    )
    print(f"same samples per step; largest difference of the step losses: {loss_diff:.5f}")
    print(f"load average before/after: {load_before[0]:.1f}/{os.getloadavg()[0]:.1f}")
    shares = result["head_rows_trained_share"]
    print(
        "output-layer rows that were trained tokens: "
        + ", ".join(f"{k} {100 * v:.1f}%" for k, v in shares.items())
        + " (target for twin >= 95%)"
    )
    if "ratio_over_union" in result:
        print(
            f"twin over the union of trained positions: {result['ratio_over_union']:.2f}x "
            f"non-padding tokens/s ({result['union_trainer']['tokens_per_s']} tok/s; target >= 1.3x)"
        )
    print(f"saved {path}")
    return result


def _model_name(spec: str) -> str:
    from twin.catalog import find

    entry = find(spec)
    return f"{entry.name} (embedded {entry.alias})" if entry else spec


if __name__ == "__main__":
    main()
