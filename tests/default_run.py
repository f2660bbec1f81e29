"""A run on the embedded default model (SmolLM2-135M) without training, for slow tests.

The adapter's B matrices get random values instead of PEFT's zeros, so the adapter changes every
projection noticeably: an export that drops or misplaces part of it (a missing Q/K permutation,
a wrong scale) changes the replies, which a few minutes of real training might not show.
"""

from __future__ import annotations

from pathlib import Path


def make_default_run(folder: Path, seed: int = 0, std: float = 0.02) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from twin.chat_format import choose_format
    from twin.generate import Settings
    from twin.models import load_model, load_tokenizer, resolve_base
    from twin.runs import write_run_info

    ref = resolve_base("default")
    tokenizer = load_tokenizer(ref)
    model = load_model(ref)
    fmt = choose_format(tokenizer, model.config)
    peft_model = get_peft_model(
        model,
        LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * std)
    folder.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_run_info(
        folder,
        {
            "twin_run": 1,
            "base": ref.to_dict(),
            "chat_format": fmt.to_dict(),
            "system_prompt": "You are Alice. Reply briefly, in a casual tone.",
            "name": "Alice",
            "generation": Settings().to_dict(),
            "train": {"base": "default", "method": "lora", "rank": 8, "alpha": 16},
            "result": {"note": "random adapter for tests"},
        },
    )
    return folder


PROMPTS = [
    "hey, what are you up to?",
    "Tell me about your weekend.",
    "What is the capital of France?",
    "Can you recommend a book?",
    "How do I make tea?",
]
