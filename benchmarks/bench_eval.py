"""Benchmark `twin eval` (a run and the untuned base, as `twin demo` evaluates them), in one run:
- baseline: one reply at a time through `Generator.reply` (the chat path, which eval used before
  batching) and the base evaluated again (no cache);
- twin, cold: replies in batches of 8 that stop at the end-of-turn token, the base evaluated and
  its result cached (the first eval of a dataset);
- twin, warm: the same eval again, the base's result read from the cache (every later eval of
  another run or checkpoint on the same dataset and settings).
Each is the time of the whole eval (model loads, dev loss, replies, report): wall time, and the
CPU time of this process (all its threads), which other work on a shared machine changes less.
The dataset is
the sample export twin ships, built on the spot; the run is the default model with random LoRA
weights (speed does not depend on what the adapter learned). The seed is new each time, so the
cold eval never finds an entry from an earlier benchmark.

    python benchmarks/bench_eval.py [--samples 8] [--max-new-tokens 32] [--loss-samples 200]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from bench_decode import random_default_run
from common import machine, save


def one_at_a_time(gen, histories, settings, seeds, batch_size=1, on_done=None) -> list[str]:
    """How eval replied before batching: `Generator.reply` per prompt, each with its own seed.

    Not `batch_replies` at batch 1: its per-row sampler and padding cost more than the plain
    path when there is nothing to share, so it would flatter the batched figures.
    """
    replies = []
    for history, seed in zip(histories, seeds, strict=True):
        replies.append(gen.reply(history, settings.updated(seed=seed)))
        if on_done is not None:
            on_done(1)
    return replies


def timed_eval(run: Path, dataset: Path, out: Path, args, seed: int, **kw) -> tuple[dict, dict]:
    """({wall_s, cpu_s}, the eval's report)."""
    from twin.eval.evaluate import run_eval

    start, cpu = time.perf_counter(), time.process_time()
    report = run_eval(
        [str(run)],
        str(dataset),
        str(out),
        samples=args.samples,
        seed=seed,
        max_new_tokens=args.max_new_tokens,
        loss_samples=args.loss_samples,
        **kw,
    )
    took = {
        "wall_s": round(time.perf_counter() - start, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
    }
    print(f"  took {took['wall_s']} s ({took['cpu_s']} s CPU)", file=sys.stderr)
    return took, report


def main() -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=8, help="dev prompts (default 8, as the demo)")
    p.add_argument("--max-new-tokens", type=int, default=32, help="default 32, as the demo")
    p.add_argument(
        "--loss-samples", type=int, default=200, help="dev conversations for dev loss (as eval)"
    )
    args = p.parse_args()

    from twin.cli import main as twin
    from twin.demo.command import sample_export
    from twin.quiet import quiet_libraries

    quiet_libraries()
    load_before = round(os.getloadavg()[0], 2)
    seed = random.SystemRandom().randrange(10**6)
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        work = Path(tmp)
        assert twin(["build", str(sample_export()), "--name", "Mia", "-o", str(work / "ds")]) == 0
        run = random_default_run(work / "run")
        # warm-up: the model files in the page cache and the GGUF conversion cached, for all three
        timed_eval(run, work / "ds", work / "warmup", args, seed + 1, base_model="none")
        print("\n# baseline: one reply at a time, the base again", file=sys.stderr)
        with mock.patch("twin.eval.batch.batch_replies", one_at_a_time):
            base_s, _ = timed_eval(run, work / "ds", work / "b", args, seed, use_cache=False)
        print("\n# twin, cold: batches, the base cached", file=sys.stderr)
        cold_s, cold = timed_eval(run, work / "ds", work / "c", args, seed)
        print("\n# twin, warm: the base read from the cache", file=sys.stderr)
        warm_s, warm = timed_eval(run, work / "ds", work / "w", args, seed)
    assert warm["systems"][-1].get("cached") and not cold["systems"][-1].get("cached")
    speedup = {
        f"{k}_{kind}": round(base_s[kind] / t[kind], 2)
        for k, t in (("cold", cold_s), ("base_cached", warm_s))
        for kind in ("wall_s", "cpu_s")
    }
    result = {
        "benchmark": "eval",
        "machine": machine(),
        "load_average_1m_before": load_before,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "samples": args.samples,
        "max_new_tokens": args.max_new_tokens,
        "loss_samples": args.loss_samples,
        "replies_per_system": len(cold["samples"]) + cold["systems"][0]["privacy"]["prompts"],
        "baseline_one_at_a_time_s": base_s,
        "twin_batched_cold_s": cold_s,
        "twin_batched_base_cached_s": warm_s,
        "speedup": speedup,
        "seconds_by_system": {s["label"]: s.get("seconds") for s in cold["systems"]},
    }
    # the summary benchmarks/run prints (CPU seconds: steadier than wall time on a busy machine)
    result["twin"] = (
        f"{cold_s['cpu_s']} s CPU ({cold_s['wall_s']} s wall); "
        f"{warm_s['cpu_s']} s CPU with the base cached"
    )
    result["baseline"] = (
        f"one reply at a time, base again: {base_s['cpu_s']} s CPU ({base_s['wall_s']} s wall)"
    )
    result["ratio"] = f"{speedup['cold_cpu_s']}x / {speedup['base_cached_cpu_s']}"
    path = save("eval", result)
    print(
        f"\ntwin eval, CPU seconds: {base_s['cpu_s']} one reply at a time -> {cold_s['cpu_s']} "
        f"batched ({speedup['cold_cpu_s']}x), {warm_s['cpu_s']} with the base cached "
        f"({speedup['base_cached_cpu_s']}x); wall {base_s['wall_s']} -> {cold_s['wall_s']} -> "
        f"{warm_s['wall_s']} s; saved {path}"
    )
    return result


if __name__ == "__main__":
    main()
