"""List the base models worth using for a clone: the embedded ones (no download) and hub models
by size, with their languages, the GPU memory LoRA and QLoRA need, and the training time per
1,000 samples on this machine's CPU (measured for bases trained here, estimated from FLOPs for
the others) and on a T4, the free Kaggle/Colab GPU.

Any ALIAS in the first column works as --base (`twin train ds -o run --base qwen2.5-1.5b`).
--download ALIAS fetches a hub model into twin's models folder (progress bar; an interrupted
download resumes). Without hub access, bring a folder downloaded elsewhere: --base path/to/it.
--measure times a few LoRA steps of each embedded base here (minutes).
"""

from __future__ import annotations

import argparse
import json
import sys

from twin.progress import duration


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--download", metavar="ALIAS", help="download a hub model from the table")
    p.add_argument(
        "--measure",
        action="store_true",
        help="measure the embedded bases' training speed on this CPU (a few minutes)",
    )
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")


def table(rows: list, times: dict[str, tuple[float, bool]]) -> str:
    from twin.catalog import BATCH, SEQ, TOKENS_PER_SAMPLE

    head = (
        "ALIAS",
        "MODEL",
        "FROM",
        "SIZE",
        "LANGUAGES",
        "LoRA",
        "QLoRA",
        "CPU/1k",
        "T4/1k",
        "LICENCE",
    )
    lines = [head]
    for e in rows:
        cpu, measured = times[e.alias]
        size = f"{e.params_b * 1000:.0f}M" if e.params_b < 1 else f"{e.params_b:.1f}B"
        lines.append(
            (
                e.alias,
                e.name,
                "embedded" if e.source == "embedded" else "hub",
                size,
                e.languages,
                f"{e.lora_memory_gb():.1f} GB",
                f"{e.qlora_memory_gb():.1f} GB",
                duration(cpu) + ("" if measured else " est."),
                duration(e.t4_seconds_per_1000()) + " est.",
                e.license,
            )
        )
    widths = [max(len(str(r[i])) for r in lines) for i in range(len(head))]
    text = "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines
    )
    return text + (
        f"\n\nLoRA/QLoRA: GPU memory to train (16-bit / 4-bit weights, batch {BATCH}×{SEQ} tokens)."
        f"\nCPU/1k, T4/1k: time to train on 1,000 samples of ~{TOKENS_PER_SAMPLE} tokens; est. = estimated"
        "\nfrom FLOPs (twin models --measure, or any twin train here, measures a base on this CPU)."
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from twin import catalog
    from twin.errors import TwinError

    if args.download:
        entry = catalog.find(args.download)
        if entry is None:
            raise TwinError(f"--download {args.download}: not in the table (see `twin models`)")
        if entry.source == "embedded":
            print(f"{entry.alias} is embedded: nothing to download (use --base {entry.alias})")
            return 0
        from twin import hub

        folder = hub.download(entry.spec)
        print(
            f"downloaded {entry.name} to {folder}\n  use it: twin train DATASET --base {entry.alias}"
        )
        return 0
    if args.measure:
        _measure([e for e in catalog.entries() if e.source == "embedded"])
    rows = catalog.entries()
    if args.json:
        print(json.dumps([e.to_dict() for e in rows], ensure_ascii=False, indent=2))
        return 0
    from twin.speed import cpu_name, cpu_times

    print(f"Bases for a clone (CPU here: {cpu_name()}; T4: 16 GB, fp16)\n")
    print(table(rows, cpu_times(rows)))
    return 0


def _measure(entries) -> None:
    """A few LoRA steps on each embedded base, the speed after the first (warm-up) step
    recorded for this CPU (twin.speed)."""
    import tempfile
    from pathlib import Path

    from twin.speed import record
    from twin.train.config import TrainConfig
    from twin.train.loop import train

    for e in entries:
        print(f"measuring {e.name} (a few LoRA steps) …", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            data = _sample_dataset(Path(tmp) / "data")
            cfg = TrainConfig(
                base=e.spec, max_steps=4, batch=4, accum=1, max_len=256, eval_every=10**6
            )
            train(str(data), str(Path(tmp) / "run"), cfg, progress=False)
            lines = (Path(tmp) / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
            steps = [json.loads(x) for x in lines if x.strip()][1:]
            seconds = sum(m["step_s"] for m in steps)
            if seconds > 0:
                rate = sum(m["tokens"] for m in steps) / seconds
                record(e.spec, rate, "twin models --measure")
                print(f"  {e.alias}: {rate:.1f} tokens/s", file=sys.stderr)


def _sample_dataset(folder):
    """32 short mixed Chinese/English chats, the size of real chat samples."""
    import random

    rng = random.Random(0)
    asks = ["周末干嘛呢", "晚上吃什么", "are you free tonight?", "最近忙不忙", "how was work"]
    replies = [
        "打羽毛球呀 哈哈",
        "火锅走起～",
        "yeah sure, after 7",
        "还行吧 有点累",
        "busy but ok",
    ]
    folder.mkdir(parents=True)
    with open(folder / "train.jsonl", "w", encoding="utf-8") as f:
        for _ in range(32):
            messages = [{"role": "system", "content": "You are Lin."}]
            for _ in range(rng.randint(1, 4)):
                messages += [
                    {"role": "user", "content": rng.choice(asks)},
                    {"role": "assistant", "content": " ".join(rng.choices(replies, k=2))},
                ]
            f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    return folder
