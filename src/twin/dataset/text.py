"""Text helpers for building samples: placeholders, what counts as a real reply, token estimates."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PLACEHOLDERS = {
    "en": {
        "image": "[image]",
        "voice": "[voice message]",
        "video": "[video]",
        "sticker": "[sticker]",
        "link": "[link]",
        "file": "[file]",
        "location": "[location]",
        "call": "[call]",
        "other": "[message]",
        "forwarded": "[forwarded]",
    },
    "zh": {
        "image": "[图片]",
        "voice": "[语音]",
        "video": "[视频]",
        "sticker": "[表情]",
        "link": "[链接]",
        "file": "[文件]",
        "location": "[位置]",
        "call": "[通话]",
        "other": "[消息]",
        "forwarded": "[转发]",
    },
}

# [图片], [微笑] (WeChat emoticon codes), <PHONE> (redaction) and similar tokens carry no words.
TOKENS = re.compile(r"\[[^\[\]\s]{1,12}\]|<[A-Z_]{2,12}>|\s+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def visible_length(text: str) -> int:
    """Characters a person typed: placeholders, emoticon codes and whitespace not counted."""
    return len(TOKENS.sub("", text))


# Python's \s (every character str.isspace() accepts, such as the ideographic space U+3000 of
# Chinese text), spelled out for RE2, whose own \s is ASCII only.
SPACE_CLASS_RE2 = r"\t\n\x{b}\x{c}\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
_TOKENS_RE2 = rf"\[[^\[\]{SPACE_CLASS_RE2}]{{1,12}}\]|<[A-Z_]{{2,12}}>|[{SPACE_CLASS_RE2}]+"


def reply_measures(texts: pa.Array, mine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`visible_length` of the texts where `mine` is set, and whether they hold a letter or
    digit once placeholders are taken out (0 and False elsewhere: only replies are judged), in
    one pass over their text. A reply of only placeholders, emoji or symbols has no words."""
    rows = np.flatnonzero(mine)
    core = pc.replace_substring_regex(texts.take(pa.array(rows)), _TOKENS_RE2, "")
    lengths = np.zeros(len(texts), dtype=np.int64)
    words = np.zeros(len(texts), dtype=bool)
    lengths[rows] = pc.utf8_length(core).to_numpy(zero_copy_only=False)
    words[rows] = pc.match_substring_regex(core, r"[\p{L}\p{N}]").to_numpy(zero_copy_only=False)
    return lengths, words


def estimate_tokens_array(texts: pa.Array) -> np.ndarray:
    """`estimate_tokens` over a column."""
    return pc.binary_length(texts).to_numpy(zero_copy_only=False) // 3 + 1


def estimate_tokens(text: str) -> int:
    """A fast, slightly generous token estimate: ~1 token per CJK character, ~4 bytes per token else."""
    return len(text.encode("utf-8")) // 3 + 1


def script_of(texts: list[str]) -> str:
    """'zh' when at least a third of the letters are CJK, else 'en'."""
    cjk = letters = 0
    for t in texts:
        cjk += len(_CJK.findall(t))
        letters += sum(1 for ch in t if ch.isalpha())
    return "zh" if letters and cjk / letters >= 1 / 3 else "en"


DEFAULT_PROMPTS = {
    "en": "You are {name}, chatting with a friend. Reply the way {name} does: same language, length, tone and habits.",
    "zh": "你是{name}，正在和朋友聊天。像{name}平时那样回复：一样的语言、长短、语气和习惯。",
}
NAMELESS_PROMPTS = {
    "en": "You are chatting with a friend. Reply in your usual words, length, tone and habits.",
    "zh": "你正在和朋友聊天。用你平时的说话方式、长短、语气和习惯回复。",
}
