"""Benchmark reply speed of the default model: transformers against llama.cpp, in one run.

Time to first token and decode tokens/s of the same run on the same prompts (greedy, up to 64 new
tokens, torch's thread count unless said otherwise), through the engines `twin serve` offers:
- transformers: the baseline (`--engine transformers`, the default), LoRA merged, float32;
- llama.cpp, merged Q8_0 GGUF (`--engine llamacpp`, made once into the cache), with as many
  threads as torch and with llama-cpp-python's default (half the logical CPUs) when that differs;
- llama.cpp, the default model's own Q4_1 GGUF + a GGUF LoRA adapter (`export --gguf adapter`).
Medians over the prompts, after one warm-up reply per engine; the ratio is llama.cpp over
transformers.

    python benchmarks/bench_decode.py [--run RUN_DIR] [--max-new-tokens 64]

Without --run, a LoRA run on the default model is made on the spot with random adapter weights
(speed does not depend on what the adapter learned).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import machine, save

PROMPTS = [
    "hey, what are you up to tonight?",
    "Tell me about your weekend.",
    "Can you recommend a good book for a long train ride?",
    "How do I make a proper cup of tea?",
    "What do you think about learning to play the guitar as an adult?",
]


def random_default_run(folder: Path) -> Path:
    """A LoRA run on the default model with non-zero random adapter weights (no training)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from twin.chat_format import choose_format
    from twin.generate import Settings
    from twin.models import load_model, load_tokenizer, resolve_base
    from twin.runs import write_run_info

    ref = resolve_base("default")
    tokenizer, model = load_tokenizer(ref), load_model(ref)
    fmt = choose_format(tokenizer, model.config)
    torch.manual_seed(0)  # the same adapter every time, so the cached GGUF is reused
    peft_model = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    )
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.01)
    peft_model.save_pretrained(folder)
    write_run_info(
        folder,
        {
            "base": ref.to_dict(),
            "chat_format": fmt.to_dict(),
            "system_prompt": "You are Alice. Reply briefly, in a casual tone.",
            "name": "Alice",
            "generation": Settings().to_dict(),
            "train": {"method": "lora"},
        },
    )
    return folder


def time_replies(gen, settings, label: str) -> dict:
    """First-token latency and decode speed per prompt, after a warm-up reply."""
    gen.reply([{"role": "user", "content": "hello"}], settings)
    rows = []
    for prompt in PROMPTS:
        history = [{"role": "user", "content": prompt}]
        start = time.perf_counter()
        first = last = None
        text = ""
        for piece in gen.stream(history, settings):
            now = time.perf_counter()
            if first is None and piece.strip():
                first = now
            last = now
            text += piece
        tokens = len(gen.tokenizer(text, add_special_tokens=False)["input_ids"])
        if first is None or tokens < 2:
            continue
        rows.append(
            {
                "prompt_tokens": len(gen.prompt_ids(history, settings.max_new_tokens)),
                "new_tokens": tokens,
                "ttft_ms": (first - start) * 1000,
                "decode_tok_s": (tokens - 1) / max(last - first, 1e-9),
            }
        )
        print(
            f"  {label:<24} {rows[-1]['ttft_ms']:7.0f} ms  {rows[-1]['decode_tok_s']:6.1f} tok/s"
            f"  ({tokens} tokens)",
            file=sys.stderr,
        )
    return {
        "ttft_ms": round(statistics.median(r["ttft_ms"] for r in rows), 1),
        "decode_tok_s": round(statistics.median(r["decode_tok_s"] for r in rows), 1),
        "new_tokens": round(statistics.median(r["new_tokens"] for r in rows), 1),
        "prompt_tokens": round(statistics.median(r["prompt_tokens"] for r in rows), 1),
        "prompts": len(rows),
    }


def main() -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="a run on the default model (default: a random LoRA run)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    args = p.parse_args()

    import torch

    from twin.export.gguf import run_adapter_gguf
    from twin.generate import Generator, Settings
    from twin.runs import read_run
    from twin.serve.engine import LlamaCppGenerator, cached_run_gguf

    load_before = round(os.getloadavg()[0], 2)
    settings = Settings(temperature=0, max_new_tokens=args.max_new_tokens)
    threads = torch.get_num_threads()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run) if args.run else random_default_run(Path(tmp) / "run")
        info = read_run(run)
        if info.base_spec != "default":
            raise SystemExit(f"{run}: not a run on the default model ({info.base_spec})")

        start = time.perf_counter()
        gen = Generator(info)
        load = time.perf_counter() - start
        results["transformers"] = {**time_replies(gen, settings, "transformers"), "load_s": load}
        del gen

        merged = cached_run_gguf(info, progress=False)
        start = time.perf_counter()
        gen = LlamaCppGenerator(info, merged, threads=threads)
        load = time.perf_counter() - start
        results["llamacpp_merged_q8_0"] = {
            **time_replies(gen, settings, "llama.cpp merged Q8_0"),
            "load_s": load,
        }
        gen.close()

        default_threads = max(1, (os.cpu_count() or 1) // 2)  # llama-cpp-python's default
        if default_threads != threads:
            gen = LlamaCppGenerator(info, merged)  # what `twin serve --engine llamacpp` uses
            results[f"llamacpp_merged_q8_0_{default_threads}_thread"] = {
                **time_replies(gen, settings, f"llama.cpp Q8_0 {default_threads} thread"),
                "load_s": 0.0,
            }
            gen.close()

        base, adapter = run_adapter_gguf(info, Path(tmp) / "gguf")
        start = time.perf_counter()
        gen = LlamaCppGenerator(info, base, adapter, threads=threads)
        load = time.perf_counter() - start
        results["llamacpp_q4_1_base_lora"] = {
            **time_replies(gen, settings, "llama.cpp Q4_1 + LoRA"),
            "load_s": load,
        }
        gen.close()

    baseline = results["transformers"]
    for name, r in results.items():
        r["load_s"] = round(r["load_s"], 2)
        r["decode_ratio_vs_transformers"] = round(r["decode_tok_s"] / baseline["decode_tok_s"], 2)
        r["ttft_ratio_vs_transformers"] = round(r["ttft_ms"] / baseline["ttft_ms"], 2)
        results[name] = r
    result = {
        "benchmark": "decode",
        "model": "SmolLM2-135M-Instruct + LoRA r8 (default)",
        "machine": machine(),
        # other work on the machine slows llama.cpp's spinning threads most: check this
        "load_average_1m_before": load_before,
        "threads": threads,
        "max_new_tokens": args.max_new_tokens,
        "prompts": PROMPTS,
        "engines": results,
        "speedup_llamacpp_over_transformers": results["llamacpp_merged_q8_0"][
            "decode_ratio_vs_transformers"
        ],
    }
    fast = results["llamacpp_merged_q8_0"]
    # the summary benchmarks/run prints
    result["twin"] = (
        f"llama.cpp Q8_0 {fast['decode_tok_s']} tok/s, first token {fast['ttft_ms']:.0f} ms"
    )
    result["baseline"] = (
        f"transformers {baseline['decode_tok_s']} tok/s, first token {baseline['ttft_ms']:.0f} ms"
    )
    result["ratio"] = fast["decode_ratio_vs_transformers"]
    path = save("decode", result)
    print(f"\n{'engine':<26}{'first token':>12}{'decode':>12}{'ratio':>8}{'load':>8}")
    for name, r in results.items():
        print(
            f"{name:<26}{r['ttft_ms']:>9.0f} ms{r['decode_tok_s']:>8.1f} t/s"
            f"{r['decode_ratio_vs_transformers']:>7.2f}x{r['load_s']:>7.2f}s"
        )
    print(
        f"llama.cpp (merged Q8_0) decodes {result['speedup_llamacpp_over_transformers']:.1f}x "
        f"faster than transformers; saved {path}"
    )
    return result


if __name__ == "__main__":
    main()
