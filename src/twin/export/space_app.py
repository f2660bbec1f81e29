"""A chat page for a twin: the app.py of a Hugging Face Space made by `twin export --to space`.

This file is copied as it is into the Space; twin itself never imports it. It needs only
gradio, transformers, peft and torch. Everything specific to the twin is read from the files next
to it: twin_run.json (chat format, system prompt, generation defaults, and the page's title,
description, examples, theme and texts under "serve"), adapter/ (the LoRA), and base/ (the base
model, when the Space cannot download it from the Hugging Face hub).
Run it locally with `python app.py`; on Spaces it starts by itself.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import gradio as gr
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

HERE = Path(__file__).resolve().parent
RUN = json.loads((HERE / "twin_run.json").read_text(encoding="utf-8"))
PAGE = RUN.get("serve", {})
TEXTS = PAGE.get("texts", {})
FORMAT = RUN["chat_format"]
SYSTEM = RUN.get("system_prompt")
GEN = RUN.get("generation", {})
MAX_INPUT = int(PAGE.get("max_input_chars", 2000))
# A longer conversation is refused, as `twin serve` refuses it: the model reads only the newest
# turns that fit, and trimming thousands of turns would tie up the Space's CPU.
MAX_MESSAGES = int(PAGE.get("max_messages", 256))
MAX_TOTAL = int(PAGE.get("max_total_chars", 20 * MAX_INPUT))
TIMEOUT = 120.0  # seconds without a new token before a reply is abandoned
log = logging.getLogger("twin-space")

BASE = str(HERE / "base") if (HERE / "base" / "config.json").is_file() else RUN["base"]["spec"]
# Only a run trained with --trust-remote-code (ChatGLM ships its model code with its weights);
# runs recorded before that flag existed: ChatGLM ones.
REMOTE_CODE = bool(RUN["base"].get("trust_remote_code", FORMAT["kind"] == "chatglm"))
tokenizer = AutoTokenizer.from_pretrained(BASE, trust_remote_code=REMOTE_CODE)
if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token
model = AutoModelForCausalLM.from_pretrained(
    BASE, dtype=torch.float32, trust_remote_code=REMOTE_CODE
)
model = PeftModel.from_pretrained(model, str(HERE / "adapter"))
if RUN.get("train", {}).get("method", "lora") in ("lora", "qlora"):
    model = model.merge_and_unload()  # same replies, faster
model.eval()
CONTEXT = min(
    getattr(model.config, "max_position_embeddings", None) or 2048,
    tokenizer.model_max_length if tokenizer.model_max_length < 10**6 else 10**6,
)
if RUN.get("train", {}).get("method") == "ptuning":
    CONTEXT -= int(RUN["train"].get("pre_seq_len") or 0)
STOPS = [s for s in FORMAT.get("stop", []) if s]
lock = threading.Lock()  # one reply at a time: a free CPU Space has two cores


def render(messages: list[dict]) -> str:
    """The prompt exactly as in training: the run's chat template, or ChatGLM's rounds."""
    if FORMAT["kind"] == "chatglm":
        text, n = "", 0
        for m in messages:
            if m["role"] == "system":
                text += m["content"] + "\n\n"
            elif m["role"] == "user":
                n += 1
                text += f"[Round {n}]\n\n问：{m['content']}\n\n答："
            else:
                text += f"{m['content']}\n\n"
        return text
    return tokenizer.apply_chat_template(
        messages, chat_template=FORMAT.get("template"), tokenize=False, add_generation_prompt=True
    )


def prompt_ids(turns: list[dict], max_new: int) -> list[int]:
    """Token ids of the prompt; the oldest turns go first when it is too long."""
    system = [{"role": "system", "content": SYSTEM}] if SYSTEM else []
    budget = max(16, CONTEXT - max_new)
    while True:
        ids = tokenizer(render(system + turns), add_special_tokens=False)["input_ids"]
        if len(ids) <= budget or len(turns) <= 1:
            return ids[-budget:]
        turns = turns[2:] if len(turns) > 2 else turns[-1:]


def end_ids() -> list[int]:
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for s in STOPS:
        tid = tokenizer.convert_tokens_to_ids(s)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    return sorted(ids)


def text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, (list, tuple)):
        return "".join(text_of(c) for c in content)
    return ""


def stream_reply(turns: list[dict]):
    max_new = int(GEN.get("max_new_tokens", 128))
    ids = prompt_ids(turns, max_new)
    streamer = TextIteratorStreamer(
        tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=TIMEOUT
    )
    temperature = float(GEN.get("temperature", 0.7))
    kwargs = dict(
        input_ids=torch.tensor([ids]),
        attention_mask=torch.ones((1, len(ids)), dtype=torch.long),
        max_new_tokens=max_new,
        repetition_penalty=float(GEN.get("repetition_penalty", 1.0)),
        eos_token_id=end_ids() or None,
        pad_token_id=tokenizer.pad_token_id,
        streamer=streamer,
    )
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=temperature, top_p=float(GEN.get("top_p", 0.9)))
    else:
        kwargs.update(do_sample=False)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            with torch.no_grad():
                model.generate(**kwargs)
        except BaseException as e:
            failure.append(e)
            streamer.end()

    with lock:
        threading.Thread(target=work, daemon=True).start()
        reply = ""
        for piece in streamer:
            reply += piece
            cut = min((reply.find(s) for s in STOPS if s in reply), default=-1)
            if cut >= 0:
                yield reply[:cut]
                return
            yield reply
    if failure:
        raise RuntimeError(f"generation failed: {failure[0]}")


def respond(message: str, history: list[dict]):
    message = (message or "").strip()
    if not message:
        yield TEXTS.get("empty", "Please type a message first.")
        return
    if len(message) > MAX_INPUT:
        yield TEXTS.get("too_long", "That message is too long.").format(
            n=len(message), limit=MAX_INPUT
        )
        return
    turns = [
        {"role": m["role"], "content": text_of(m.get("content"))}
        for m in history
        if m.get("role") in ("user", "assistant")
    ]
    turns.append({"role": "user", "content": message})
    chars = sum(len(t["content"]) for t in turns)
    if len(turns) > MAX_MESSAGES or chars > MAX_TOTAL:
        yield TEXTS.get("too_much_history", "This conversation is too long to continue.").format(
            n=len(turns), chars=chars, limit=MAX_MESSAGES, limit_chars=MAX_TOTAL
        )
        return
    reply = ""
    try:
        for reply in stream_reply(turns):
            yield reply
    except Exception as e:  # a sentence for the visitor; the reason for the owner's logs
        log.error("generation failed: %s", type(e).__name__)
        failed = TEXTS.get("failed", "Sorry, something went wrong. Please try again.")
        yield f"{reply}\n\n{failed}" if reply.strip() else failed
        return
    if not reply.strip():
        yield "…"


demo = gr.ChatInterface(
    respond,
    chatbot=gr.Chatbot(show_label=False, height="70vh", elem_id="twin-chatbot"),
    textbox=gr.Textbox(
        placeholder=TEXTS.get("placeholder", "Type a message…"),
        show_label=False,
        max_length=MAX_INPUT,
        elem_id="twin-input",
        submit_btn=TEXTS.get("submit", True),
        stop_btn=TEXTS.get("stop", True),
    ),
    title=PAGE.get("title", RUN.get("name") or "Chat twin"),
    description=PAGE.get("description"),
    examples=PAGE.get("examples") or None,
    cache_examples=False,
    concurrency_limit=int(PAGE.get("concurrency", 1)),
    analytics_enabled=False,
    api_name="chat",
    fill_height=True,
)
demo.queue(max_size=int(PAGE.get("queue_size", 64)))

if __name__ == "__main__":
    demo.launch(theme=PAGE.get("theme", "soft"), show_error=False, ssr_mode=False)
