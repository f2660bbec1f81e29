"""The column helpers the build rests on, against plain-Python versions of the same thing."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given
from hypothesis import strategies as st

from twin.dataset.columns import range_sums, ranges, window_hashes
from twin.dataset.split import dev_mask
from twin.dataset.text import SPACE_CLASS_RE2, TOKENS, reply_measures, visible_length
from twin.dataset.writers import json_strings

# Text as exports hold it: any character Arrow can store (no lone surrogates), escapes included.
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)


@given(st.lists(texts, max_size=20))
def test_json_strings_match_json_dumps(values):
    got = json_strings(pa.array(values, pa.string())).to_pylist()
    assert got == [json.dumps(v, ensure_ascii=False) for v in values]


@given(st.lists(st.integers(0, 5), max_size=12), st.integers(0, 3))
def test_ranges_and_range_sums(lengths, gap):
    start, stop, at = [], [], 0
    for n in lengths:
        at += gap
        start.append(at)
        at += n
        stop.append(at)
    start, stop = np.array(start, dtype=np.int64), np.array(stop, dtype=np.int64)
    expected = [i for a, b in zip(start, stop, strict=True) for i in range(a, b)]
    assert ranges(start, stop).tolist() == expected
    values = np.arange(at + 1) ** 2
    sums = [int(values[a:b].sum()) for a, b in zip(start, stop, strict=True)]
    assert range_sums(values, start, stop).tolist() == sums


def test_window_hashes_tell_sequences_apart():
    codes = np.array([1, 2, 1, 2, 2, 1, 1, 1, 2, 0])
    start = np.array([0, 2, 4, 6, 7, 9])
    stop = np.array([2, 4, 6, 7, 9, 10])
    # windows: (1, 2) (1, 2) (2, 1) (1,) (1, 2) (0,)
    h = window_hashes(codes, start, stop).tolist()
    assert h[0] == h[1] == h[4]
    assert len({h[0], h[2], h[3], h[5]}) == 4  # order, length and value all count


def test_dev_mask_takes_whole_conversations_in_a_seeded_order():
    chat = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    time = np.array([5.0, 5.0, 9.0, 5.0, 5.0, 1.0, 1.0, 1.0, 1.0, 7.0])
    keys = ["a", "b", "c", "d"]  # conversations: (a,5) (a,9) (b,5) (c,1) (d,7)
    for seed in range(20):
        mask, taken = dev_mask(keys, chat, time, dev_fraction=0.1, min_dev=1, seed=seed)
        assert taken == 1  # a fifth of 5 conversations
        conversations = {(c, t) for c, t, m in zip(chat, time, mask, strict=True) if m}
        assert len(conversations) == 1
        whole = {(c, t) for c, t in zip(chat, time, strict=True)} & conversations
        assert sum(mask) == sum(1 for c, t in zip(chat, time, strict=True) if (c, t) in whole)
        again, _ = dev_mask(keys, chat, time, dev_fraction=0.1, min_dev=1, seed=seed)
        assert (mask == again).all()
    picks = {
        tuple(dev_mask(keys, chat, time, dev_fraction=0.1, min_dev=1, seed=s)[0]) for s in range(20)
    }
    assert len(picks) > 1  # the seed changes which conversation goes to dev


# Pieces, so that placeholders, emoticon codes and whitespace runs come up often.
_REPLY = st.lists(
    st.lists(
        st.sampled_from(
            list("ab 1\n\t\u3000\xa0\x85\u2028[]<>_Z图片😀,.!?") + ["[图片]", "<PHONE>", "[微笑]"]
        )
    ).map("".join),
    max_size=30,
)


def has_words(text: str) -> bool:
    """The reference for reply_measures' second column: a letter or digit is left once the
    placeholders, emoticon codes and spaces are taken out."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in TOKENS.sub("", text))


@given(_REPLY, st.randoms(use_true_random=False))
def test_reply_measures_match_the_per_text_functions(texts, rng):
    mine = np.array([rng.random() < 0.6 for _ in texts], dtype=bool)
    lengths, words = reply_measures(pa.array(texts, pa.string()), mine)
    for text, m, n, w in zip(texts, mine, lengths.tolist(), words.tolist(), strict=True):
        assert (n, w) == ((visible_length(text), has_words(text)) if m else (0, False))


def test_the_re2_space_class_is_pythons_whitespace():
    every = [chr(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000]
    matched = pc.match_substring_regex(pa.array(every), f"^[{SPACE_CLASS_RE2}]$")
    assert [c for c, m in zip(every, matched.to_pylist(), strict=True) if m] == [
        c for c in every if c.isspace()
    ]
