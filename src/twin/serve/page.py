"""The chat page: a Gradio ChatInterface that streams the twin's reply.

What the tutorial's app.py did (title, description, examples, theme) plus what a page shared with
friends needs: a queue so a small CPU answers one person at a time while others see their place,
a cap on message length, and a kind sentence in the chat — never a stack trace — when generation
fails. The reason goes to the server's log, without the conversation (it is private).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from twin.generate import Generator
from twin.serve.config import MAX_MESSAGES, PageConfig
from twin.serve.texts import text

log = logging.getLogger("twin.serve")


def message_text(content) -> str:
    """The text of a chat message in any of Gradio's shapes (str, part dict, list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "") if content.get("type", "text") == "text" else ""
    if isinstance(content, (list, tuple)):
        return "".join(message_text(c) for c in content)
    return ""


def chat_function(gen: Generator, cfg: PageConfig):
    """The generator Gradio calls with (message, history); yields the growing reply."""

    def respond(message: str, history: list[dict]) -> Iterator[str]:
        msg = (message or "").strip()
        if not msg:
            yield text(cfg.lang, "empty")
            return
        if len(msg) > cfg.max_input_chars:
            yield text(cfg.lang, "too_long", n=len(msg), limit=cfg.max_input_chars)
            return
        turns = [
            {"role": m["role"], "content": message_text(m.get("content"))}
            for m in history
            if m.get("role") in ("user", "assistant")
        ]
        turns.append({"role": "user", "content": msg})
        chars = sum(len(t["content"]) for t in turns)
        if len(turns) > MAX_MESSAGES or chars > cfg.max_total_chars:
            yield text(
                cfg.lang,
                "too_much_history",
                n=len(turns),
                chars=chars,
                limit=MAX_MESSAGES,
                limit_chars=cfg.max_total_chars,
            )
            return
        reply = ""
        try:
            for piece in gen.stream(turns):
                reply += piece
                yield reply
        except Exception as e:  # shown to the visitor as a sentence, logged for the owner
            first_line = next(iter(str(e).splitlines()), "")
            log.error("generation failed: %s: %s", type(e).__name__, first_line[:200])
            failed = text(cfg.lang, "failed")
            yield f"{reply}\n\n{failed}" if reply.strip() else failed
            return
        if not reply.strip():
            yield "…"

    return respond


def build_page(gen: Generator, cfg: PageConfig):
    """The page as a gr.Blocks, with its queue set up; the theme is applied when it is served."""
    import gradio as gr

    t = cfg.lang
    chatbot = gr.Chatbot(
        label=cfg.title,
        show_label=False,
        placeholder=f"**{cfg.title}**",
        height="70vh",
        elem_id="twin-chatbot",
    )
    textbox = gr.Textbox(
        placeholder=text(t, "placeholder"),
        show_label=False,
        max_length=cfg.max_input_chars,
        lines=1,
        max_lines=6,
        elem_id="twin-input",
        submit_btn=text(t, "submit"),
        stop_btn=text(t, "stop"),
    )
    demo = gr.ChatInterface(
        chat_function(gen, cfg),
        chatbot=chatbot,
        textbox=textbox,
        title=cfg.title,
        description=cfg.description,
        examples=cfg.examples or None,
        examples_label=text(t, "examples_label"),
        run_examples_on_click=True,
        cache_examples=False,
        concurrency_limit=cfg.concurrency,
        analytics_enabled=False,
        api_name="chat",
        fill_height=True,
    )
    demo.queue(max_size=cfg.queue_size, default_concurrency_limit=cfg.concurrency)
    return demo
