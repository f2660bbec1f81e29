"""Rendering conversations with their training mask: exactly the person's reply tokens are trained.

Uses the tiny byte-level BPE tokenizer of tests/tiny.py (ChatML special tokens, no downloads).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import trained_runs
from transformers import AutoTokenizer

from twin.chat_format import CHATML, ChatFormat, choose_format, render_with_mask, show_mask
from twin.errors import TwinError

CONVERSATION = [
    {"role": "system", "content": "You are Bob."},
    {"role": "user", "content": "hello there"},
    {"role": "assistant", "content": "lol sounds good"},
    {"role": "user", "content": "how are you"},
    {"role": "assistant", "content": "i am fine thanks", "weight": 0},
    {"role": "user", "content": "晚上 吃 什么"},
    {"role": "assistant", "content": "哈哈哈 可以"},
]


@pytest.fixture(scope="module")
def tok(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def test_template_mask_trains_replies_and_end_marker_only(tok):
    fmt = choose_format(tok)
    assert fmt.kind == "template" and fmt.stop == ["<|im_end|>"]
    ids, mask = render_with_mask(fmt, tok, CONVERSATION)
    assert len(ids) == len(mask)
    assert tok.decode(ids) == fmt.render(tok, CONVERSATION, add_generation_prompt=False)
    # only the replies with their end-of-turn marker: not the newline after it, not the
    # weight-0 reply, never system or user text
    assert trained_runs(tok, ids, mask) == ["lol sounds good<|im_end|>", "哈哈哈 可以<|im_end|>"]
    # the trained tokens are exactly the tokens of those texts
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    expected = (
        tok("lol sounds good", add_special_tokens=False)["input_ids"]
        + [im_end]
        + tok("哈哈哈 可以", add_special_tokens=False)["input_ids"]
        + [im_end]
    )
    assert [i for i, m in zip(ids, mask, strict=True) if m] == expected


def test_every_reply_trained_without_weights(tok):
    fmt = choose_format(tok)
    plain = [{k: v for k, v in m.items() if k != "weight"} for m in CONVERSATION]
    ids, mask = render_with_mask(fmt, tok, plain)
    assert trained_runs(tok, ids, mask) == [
        "lol sounds good<|im_end|>",
        "i am fine thanks<|im_end|>",
        "哈哈哈 可以<|im_end|>",
    ]


def test_conversation_without_trained_reply_has_empty_mask(tok):
    fmt = choose_format(tok)
    ids, mask = render_with_mask(fmt, tok, CONVERSATION[:2])
    assert ids and not any(mask)


def test_chatml_fallback_for_tokenizer_without_template(tmp_path):
    from tiny import make_tokenizer

    tok = make_tokenizer(tmp_path, chat_template=None)
    assert not tok.chat_template
    fmt = choose_format(tok)
    assert fmt == ChatFormat("template", CHATML, ["<|im_end|>"])
    text = fmt.render(tok, CONVERSATION[:3], add_generation_prompt=False)
    assert text == (
        "<|im_start|>system\nYou are Bob.<|im_end|>\n"
        "<|im_start|>user\nhello there<|im_end|>\n"
        "<|im_start|>assistant\nlol sounds good<|im_end|>\n"
    )
    prompt = fmt.render(tok, CONVERSATION[:2], add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n")
    ids, mask = render_with_mask(fmt, tok, CONVERSATION[:3])
    assert trained_runs(tok, ids, mask) == ["lol sounds good<|im_end|>"]


def test_chatglm_format_and_mask(tok):
    glm_config = SimpleNamespace(model_type="chatglm")
    fmt = choose_format(tok, glm_config)
    assert fmt.kind == "chatglm"
    text = fmt.render(tok, CONVERSATION, add_generation_prompt=False)
    assert text == (
        "You are Bob.\n\n"
        "[Round 1]\n\n问：hello there\n\n答：lol sounds good\n\n"
        "[Round 2]\n\n问：how are you\n\n答：i am fine thanks\n\n"
        "[Round 3]\n\n问：晚上 吃 什么\n\n答：哈哈哈 可以"
    )
    # a prompt for the next reply ends with 答： as ChatGLM2's build_prompt does
    prompt = fmt.render(tok, CONVERSATION[1:4], add_generation_prompt=True)
    assert prompt == (
        "[Round 1]\n\n问：hello there\n\n答：lol sounds good\n\n[Round 2]\n\n问：how are you\n\n答："
    )
    ids, mask = render_with_mask(fmt, tok, CONVERSATION)
    # ChatGLM ends a reply with EOS (appended as a token): trained on the last reply, which is
    # the one a conversation ends on; the blank line between rounds is not trained
    assert ids[-1] == tok.eos_token_id and mask[-1] == 1
    assert trained_runs(tok, ids, mask) == ["lol sounds good", "哈哈哈 可以" + tok.eos_token]


def test_truncation_drops_oldest_pairs_first(tok):
    fmt = choose_format(tok)
    system, pairs = CONVERSATION[:1], CONVERSATION[1:]
    last_pair = system + pairs[4:]
    two_pairs = system + pairs[2:]
    full_ids, _ = render_with_mask(fmt, tok, CONVERSATION)
    one_ids, one_mask = render_with_mask(fmt, tok, last_pair)
    two_ids, two_mask = render_with_mask(fmt, tok, two_pairs)
    assert len(one_ids) < len(two_ids) < len(full_ids)

    assert render_with_mask(fmt, tok, CONVERSATION, len(full_ids)) == render_with_mask(
        fmt, tok, CONVERSATION
    )
    # one token short of everything: the oldest pair goes, the system prompt stays
    assert render_with_mask(fmt, tok, CONVERSATION, len(full_ids) - 1) == (two_ids, two_mask)
    assert render_with_mask(fmt, tok, CONVERSATION, len(two_ids) - 1) == (one_ids, one_mask)
    # a single pair too long for max_len is cut from the left, keeping the reply
    ids, mask = render_with_mask(fmt, tok, CONVERSATION, 16)
    assert (ids, mask) == (one_ids[-16:], one_mask[-16:])
    assert trained_runs(tok, ids, mask) == ["哈哈哈 可以<|im_end|>"]


def test_template_that_is_not_a_growing_prefix_is_refused(tok):
    # renders only the last message: earlier replies cannot be located in the full text
    fmt = ChatFormat("template", "{{ messages[-1]['content'] }}", [])
    with pytest.raises(TwinError, match="growing prefix"):
        render_with_mask(fmt, tok, CONVERSATION)


def test_show_mask_marks_trained_tokens(tok):
    fmt = choose_format(tok)
    ids, mask = render_with_mask(fmt, tok, CONVERSATION)
    plain = show_mask(tok, ids, mask, color=False)
    assert plain == fmt.render(tok, CONVERSATION, add_generation_prompt=False).replace(
        "lol sounds good<|im_end|>", "[[lol sounds good<|im_end|>]]"
    ).replace("哈哈哈 可以<|im_end|>", "[[哈哈哈 可以<|im_end|>]]")
    coloured = show_mask(tok, ids, mask, color=True)
    assert coloured.count("\x1b[42m") == 2 and coloured.count("\x1b[0m") == 2
    assert "\x1b[42m哈哈哈 可以<|im_end|>\x1b[0m" in coloured
    assert "\ufffd" not in plain  # multi-byte characters are decoded whole


def char_tokenizer(texts: list[str]):
    """A Python (slow) tokenizer, one token per character: like ChatGLM's, it has no offsets."""
    from transformers import PreTrainedTokenizer

    vocab = {"<pad>": 0, "</s>": 1} | {c: i + 2 for i, c in enumerate(sorted(set("".join(texts))))}
    inverse = {i: c for c, i in vocab.items()}

    class Chars(PreTrainedTokenizer):
        @property
        def vocab_size(self):
            return len(vocab)

        def get_vocab(self):
            return dict(vocab)

        def _tokenize(self, text, **kw):
            return list(text)

        def _convert_token_to_id(self, token):
            return vocab[token]

        def _convert_id_to_token(self, index):
            return inverse[index]

        def convert_tokens_to_string(self, tokens):
            return "".join(tokens)

    return Chars(pad_token="<pad>", eos_token="</s>")


def test_python_tokenizer_without_offsets_chatglm():
    fmt = ChatFormat("chatglm")
    text = fmt.render(None, CONVERSATION, add_generation_prompt=False)
    tok = char_tokenizer([text])
    assert not tok.is_fast
    # why the fallback exists: no offsets (transformers 5 leaves them out, 4 raised)
    assert "offset_mapping" not in tok(text, return_offsets_mapping=True)
    ids, mask = render_with_mask(fmt, tok, CONVERSATION)
    assert ids[:-1] == tok(text, add_special_tokens=False)["input_ids"]
    assert ids[-1] == tok.eos_token_id and mask[-1] == 1
    assert trained_runs(tok, ids, mask) == ["lol sounds good", "哈哈哈 可以</s>"]
