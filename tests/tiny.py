"""Tiny random models and datasets made on the spot: ML tests run in seconds, offline.

A byte-level BPE tokenizer is trained on a few sentences, a 2-layer Llama is built from a
config, and a dataset folder of short persona conversations is written as `twin build` would.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from twin.chat_format import CHATML

CORPUS = [
    "hello there how are you",
    "i am fine thanks",
    "what are you doing tonight",
    "lol sounds good",
    "see you tomorrow",
    "好的 晚上 吃 火锅",
    "哈哈哈 可以",
    "call me at <PHONE> ok",
]
QUESTIONS = [
    "hello there",
    "what are you doing tonight",
    "how are you",
    "see you tomorrow?",
    "晚上 吃 什么",
]
ANSWERS = ["lol sounds good", "i am fine thanks", "哈哈哈 可以", "see you tomorrow lol"]


def make_tokenizer(folder: Path, chat_template: str | None = CHATML):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<unk>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tk.train_from_iterator(CORPUS * 20, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        unk_token="<unk>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
    )
    if chat_template:
        tok.chat_template = chat_template
    tok.save_pretrained(folder)
    return tok


def make_model(folder: Path, chat_template: str | None = CHATML, seed: int = 0) -> Path:
    """A 2-layer Llama with a trained-on-the-spot tokenizer, saved as a model folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer(folder, chat_template)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def make_dataset(
    folder: Path, n_train: int = 40, n_dev: int = 8, seed: int = 0, system: str = "You are Bob."
) -> Path:
    """A dataset folder as `twin build` writes it: train.jsonl, dev.jsonl, config.json."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def sample() -> dict:
        messages = [{"role": "system", "content": system}]
        for _ in range(rng.randint(1, 3)):
            messages.append({"role": "user", "content": rng.choice(QUESTIONS)})
            messages.append({"role": "assistant", "content": rng.choice(ANSWERS)})
        return {"messages": messages}

    for name, n in (("train.jsonl", n_train), ("dev.jsonl", n_dev)):
        (folder / name).write_text(
            "".join(json.dumps(sample(), ensure_ascii=False) + "\n" for _ in range(n)),
            encoding="utf-8",
        )
    (folder / "config.json").write_text(
        json.dumps({"system_prompt": system, "name": "Bob"}), encoding="utf-8"
    )
    return folder


def make_run(folder: Path, base: Path, dataset: Path, steps: int = 8, method: str = "lora") -> Path:
    """Train a tiny run in-process (a few seconds)."""
    from twin.train.config import TrainConfig
    from twin.train.loop import train

    cfg = TrainConfig(
        base=str(base),
        method=method,
        max_steps=steps,
        batch=4,
        accum=1,
        lr=5e-3 if method == "lora" else 2e-2,
        eval_every=4,
    )
    train(str(dataset), str(folder), cfg, progress=False)
    return folder


ZH_CORPUS = [
    "你 周末 一般 干 什么",
    "打 羽毛球 呀 哈哈哈",
    "我 家 猫 叫 年糕",
    "在 成都 上班 呢 ～",
    "晚上 吃 火锅 吗",
    "好滴 好滴 ～",
    "hello 你好",
]


def make_gemma_tokenizer(folder: Path):
    """A Gemma-like tokenizer: byte-level BPE over Chinese text, Gemma's special tokens
    (<bos>, <eos>, <pad>, <start_of_turn>, <end_of_turn>) and no chat template, as the GGUF
    of the embedded multilingual base has none."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tk.train_from_iterator(ZH_CORPUS * 20, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        unk_token="<unk>",
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        additional_special_tokens=["<start_of_turn>", "<end_of_turn>"],
    )
    tok.save_pretrained(folder)
    return tok


def make_gemma_model(folder: Path, seed: int = 0, softcap: float | None = None) -> Path:
    """A 2-layer Gemma 3 text model (tied output layer, like Gemma 3 270M) without a chat
    template, saved as a model folder."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    folder.mkdir(parents=True, exist_ok=True)
    tok = make_gemma_tokenizer(folder)
    config = Gemma3TextConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=512,
        sliding_window=64,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        final_logit_softcapping=softcap,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    Gemma3ForCausalLM(config).save_pretrained(folder)
    return folder
