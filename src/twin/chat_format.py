"""How a conversation becomes the text a model reads, and which tokens are trained on.

Training, chat, eval and serving all render through one ChatFormat saved in the run, so the
model is always prompted the way it was trained. The kinds, in the order they are chosen:
- ChatGLM2/3's `[Round N]\\n\\n问：…\\n\\n答：…` format (the tutorial's model);
- the tokenizer's own chat template (Qwen, Llama, SmolLM, …);
- a base model without a template (a pretrained base such as Gemma 3 270M) gets its own family's
  turn format, recognised by the family's turn tokens in its vocabulary: Gemma's
  `<start_of_turn>role\\n…<end_of_turn>\\n`, ChatML's `<|im_start|>…<|im_end|>` (Qwen bases),
  Llama 3's header tokens. Each marker is then one special token, never spelled-out text;
- a vocabulary with none of these: plain `User:`/`Assistant:` lines, the reply ended by the
  end-of-sequence token (another family's markers would be meaningless text to it).

`render_with_mask` returns token ids and a mask that is 1 exactly on the person's own reply
tokens (and the end-of-turn marker after them, so the model learns to stop).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from twin.errors import TwinError

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


# Gemma's own turn format (no system role: the system prompt opens the first user turn, or is a
# user turn of its own when the person speaks first).
GEMMA = (
    "{{ bos_token if bos_token else '' }}"
    "{% set ns = namespace(system='', first=true) %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] %}"
    "{% else %}"
    "{% if ns.first and ns.system and message['role'] != 'user' %}"
    "{{ '<start_of_turn>user\\n' + ns.system + '<end_of_turn>\\n' }}{% endif %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "{% set prefix = ns.system + '\\n\\n' if ns.first and ns.system and role == 'user' else '' %}"
    "{{ '<start_of_turn>' + role + '\\n' + prefix + message['content'] + '<end_of_turn>\\n' }}"
    "{% set ns.first = false %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "{% if ns.first and ns.system %}{{ '<start_of_turn>user\\n' + ns.system + '<end_of_turn>\\n' }}{% endif %}"
    "{{ '<start_of_turn>model\\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token if bos_token else '' }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
PLAIN = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}"
    "{% elif message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n' }}"
    "{% else %}{{ 'Assistant: ' + message['content'] + eos_token + '\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}"
)
# Family formats for template-less tokenizers: (turn tokens that must all be in the vocabulary,
# template, stop markers).
FAMILIES = [
    (("<start_of_turn>", "<end_of_turn>"), GEMMA, ["<end_of_turn>"]),
    (("<|im_start|>", "<|im_end|>"), CHATML, ["<|im_end|>"]),
    (("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"), LLAMA3, ["<|eot_id|>"]),
]


@dataclass
class ChatFormat:
    kind: str  # "template" or "chatglm"
    template: str | None = None  # Jinja chat template, for kind "template"
    stop: list[str] = field(default_factory=list)  # text that ends a reply (besides EOS)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ChatFormat:
        return cls(kind=d["kind"], template=d.get("template"), stop=list(d.get("stop", [])))

    def render(self, tokenizer, messages: list[dict], add_generation_prompt: bool) -> str:
        if self.kind == "chatglm":
            return _render_chatglm(messages, add_generation_prompt)
        msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
        return tokenizer.apply_chat_template(
            msgs,
            chat_template=self.template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )


def choose_format(tokenizer, config=None) -> ChatFormat:
    """ChatGLM's format for ChatGLM; the tokenizer's own template; else its family's turn format
    (see the module docstring)."""
    from twin.models import is_chatglm

    if config is not None and is_chatglm(config):
        return ChatFormat("chatglm", None, [])
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # several named templates: take the default
        template = template.get("default") or next(iter(template.values()))
    if template:
        stop = [
            t for t in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>") if t in template
        ]
        return ChatFormat("template", template, stop)
    return family_format(tokenizer)


def _single_token(tokenizer, text: str) -> bool:
    """Whether `text` is one token of the vocabulary (a special token, not spelled out)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return len(ids) == 1 and ids[0] != getattr(tokenizer, "unk_token_id", None)


def family_format(tokenizer) -> ChatFormat:
    """The turn format of the tokenizer's model family, found from its turn tokens."""
    for markers, template, stop in FAMILIES:
        if all(_single_token(tokenizer, m) for m in markers):
            return ChatFormat("template", template, list(stop))
    if getattr(tokenizer, "eos_token", None) is None:
        raise TwinError(
            "the base model has no chat template, no known turn tokens and no end-of-sequence "
            "token, so a reply's end cannot be marked; use a chat model or one with a template"
        )
    return ChatFormat("template", PLAIN, [tokenizer.eos_token])


def _render_chatglm(messages: list[dict], add_generation_prompt: bool) -> str:
    """ChatGLM2's build_prompt; a system prompt, which ChatGLM2 has no slot for, goes first."""
    text = ""
    turns = [m for m in messages if m["role"] != "system"]
    system = [m["content"] for m in messages if m["role"] == "system"]
    if system:
        text += system[0] + "\n\n"
    round_no = 0
    for m in turns:
        if m["role"] == "user":
            round_no += 1
            text += f"[Round {round_no}]\n\n问：{m['content']}\n\n答："
        else:
            text += f"{m['content']}\n\n"
    if not add_generation_prompt and text.endswith("答："):
        text = text[: -len("答：")]
    if not add_generation_prompt and turns and turns[-1]["role"] == "assistant":
        text = text[
            : -len("\n\n")
        ]  # a final reply ends with EOS (added when tokenizing), as in ChatGLM's own training
    return text


def _spans(fmt: ChatFormat, tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The full text and the character spans of trained replies."""
    full = fmt.render(tokenizer, messages, add_generation_prompt=False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or m.get("weight", 1) == 0:
            continue
        before = fmt.render(tokenizer, messages[:i], add_generation_prompt=True)
        through = fmt.render(tokenizer, messages[: i + 1], add_generation_prompt=False)
        if not (through.startswith(before) and full.startswith(through)):
            raise TwinError(
                "the chat template does not render a conversation as a growing prefix, so the "
                "reply tokens cannot be located; pass a base whose template does (or none: ChatML)"
            )
        spans.append(
            (len(before), len(before) + _reply_end(fmt, tokenizer, through[len(before) :]))
        )
    return full, spans


def _reply_end(fmt: ChatFormat, tokenizer, reply: str) -> int:
    """Length of the trained part of a rendered reply: up to its end-of-turn marker.

    What a template writes after the marker (ChatML's newline, ChatGLM's blank line between
    rounds) is formatting, not something the model should learn to say.
    """
    markers = [s for s in [*fmt.stop, getattr(tokenizer, "eos_token", None)] if s and s in reply]
    if markers:
        return max(reply.rfind(s) + len(s) for s in markers)
    return len(reply.rstrip("\n"))


def render_with_mask(
    fmt: ChatFormat, tokenizer, messages: list[dict], max_len: int | None = None
) -> tuple[list[int], list[int]]:
    """Token ids of the conversation and a mask that is 1 on trained reply tokens.

    A conversation longer than `max_len` loses its oldest user/assistant pairs first (the
    system prompt stays), and is cut from the left only if one pair alone is too long.
    """
    while True:
        text, spans = _spans(fmt, tokenizer, messages)
        ids, mask = _encode(tokenizer, text, spans)
        if fmt.kind == "chatglm" and tokenizer.eos_token_id is not None:
            # ChatGLM ends a reply with EOS, not text: trained when the sample ends on a reply
            ids.append(tokenizer.eos_token_id)
            mask.append(1 if spans and spans[-1][1] == len(text) else 0)
        if max_len is None or len(ids) <= max_len:
            return ids, mask
        body = [m for m in messages if m["role"] != "system"]
        if len(body) <= 2:
            return ids[-max_len:], mask[-max_len:]
        system = [m for m in messages if m["role"] == "system"]
        messages = system + body[2:]


def _encode(tokenizer, text: str, spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Token ids of `text` and the mask of tokens inside `spans`.

    Fast tokenizers give character offsets. Python ones (ChatGLM's and other remote-code
    tokenizers) do not: there the text is encoded piece by piece, cut at the span edges, as
    ChatGLM's own fine-tuning script encodes prompt and reply separately.
    """
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return list(enc["input_ids"]), _mask(enc["offset_mapping"], spans)
    cuts = sorted({0, len(text), *(x for span in spans for x in span)})
    ids: list[int] = []
    mask: list[int] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = tokenizer(text[a:b], add_special_tokens=False)["input_ids"] if b > a else []
        inside = any(start <= a and b <= end for start, end in spans)
        ids += piece
        mask += [1 if inside else 0] * len(piece)
    return ids, mask


def _mask(offsets, spans: list[tuple[int, int]]) -> list[int]:
    mask = []
    j = 0
    for start, end in offsets:
        while j < len(spans) and spans[j][1] <= start:
            j += 1
        inside = j < len(spans) and start >= spans[j][0] and end <= spans[j][1] and end > start
        mask.append(1 if inside else 0)
    return mask


def show_mask(tokenizer, ids: list[int], mask: list[int], color: bool = True) -> str:
    """The tokenization with trained tokens highlighted (green) or, without colour, in [[…]]."""
    out = []
    # Runs of tokens are decoded together: one Chinese character is often several byte tokens.
    start = 0
    for end in range(1, len(ids) + 1):
        if end < len(ids) and mask[end] == mask[start]:
            continue
        piece = tokenizer.decode(ids[start:end])
        if mask[start]:
            out.append(f"\x1b[42m{piece}\x1b[0m" if color else f"[[{piece}]]")
        else:
            out.append(piece)
        start = end
    return "".join(out)
