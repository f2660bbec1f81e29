"""How close a clone's replies are to the person's: overlap scores and a style fingerprint.

Words: text with Chinese characters is cut into words by jieba (as ChatGLM's P-tuning evaluation
does); other text is split into words and single punctuation marks/emoji (`lol, ok!` → `lol` `,`
`ok` `!`), so a trailing mark does not make a different word. Case is kept: it is style.

BLEU-4 (sentence level, one reference), for hypothesis h and reference r as word lists:
    m_n = Σ_g min(count_h(g), count_r(g)) over the n-grams g of h, t_n = max(1, #n-grams of h)
    p_n = m_n / t_n, or 1 / (2^k · t_n) when m_n = 0, k counting the orders so far with no
          match (Chen & Cherry's smoothing 3, NLTK's `method3`, as ChatGLM's evaluation uses)
    BP  = 1 if |h| > |r| else exp(1 − |r| / |h|)
    BLEU-4 = BP · exp(¼ Σ_{n=1..4} log p_n), and 0 when no word of h is in r.
ChatGLM's script scores BLEU on characters and ROUGE on jieba words; here both use words.
ROUGE-N: F1 of clipped n-gram overlap (precision over h's n-grams, recall over r's).
ROUGE-L: F1 of the longest common subsequence (LCS/|h| and LCS/|r|).
All three are 0 when h or r is empty. Reported as the mean over samples × 100.
Distinct-n: distinct n-grams / all n-grams over a set of replies (Li et al. 2016).
Language match: the share of replies written mainly in the script the person mostly writes in
(CJK and other non-Latin letters against Latin letters, per reply, as `--base auto` counts
them): a Chinese clone that answers in English, or in no letters at all, scores low.

Style fingerprint of a set of replies: the reply length distribution (visible characters, in
LENGTH_BINS), habits (the share of replies with an emoji, a question mark, a laugh, …), and
favourite phrases (word 1- and 2-gram counts). Distance between two fingerprints A and B:
    D = ( ½ Σ_i |lenA_i − lenB_i|          total variation of the length distributions
        + mean_h |habitA_h − habitB_h|      mean gap of habit shares
        + 1 − cos(ngramsA, ngramsB) ) / 3   cosine distance of the 1–2-gram count vectors
Each term is in [0, 1], so D is too: 0 for identical sets of replies, 1 for nothing in common.
"""

from __future__ import annotations

import logging
import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from twin.dataset.text import visible_length

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it announces loading its dictionary otherwise
    return jieba


def words(text: str) -> list[str]:
    """The words of a reply: jieba for text with Chinese characters, word/mark split otherwise."""
    if _HAN.search(text):
        return [w for w in _jieba().lcut(text) if w.strip()]
    return _WORD.findall(text)


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def bleu4(hypothesis: Sequence[str], reference: Sequence[str]) -> float:
    """Smoothed sentence BLEU-4 in [0, 1] (formula in the module docstring)."""
    if not hypothesis or not reference:
        return 0.0
    logs = []
    zeros = 0
    for n in range(1, 5):
        hyp = Counter(ngrams(hypothesis, n))
        ref = Counter(ngrams(reference, n))
        matched = sum(min(c, ref[g]) for g, c in hyp.items())
        total = max(1, sum(hyp.values()))
        if n == 1 and matched == 0:
            return 0.0
        if matched == 0:
            zeros += 1
            logs.append(math.log(1 / (2**zeros * total)))
        else:
            logs.append(math.log(matched / total))
    c, r = len(hypothesis), len(reference)
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return bp * math.exp(sum(logs) / 4)


def _f1(overlap: float, hyp_total: int, ref_total: int) -> float:
    if not overlap or not hyp_total or not ref_total:
        return 0.0
    p, r = overlap / hyp_total, overlap / ref_total
    return 2 * p * r / (p + r)


def rouge_n(hypothesis: Sequence[str], reference: Sequence[str], n: int) -> float:
    """ROUGE-N F1 in [0, 1]."""
    hyp = Counter(ngrams(hypothesis, n))
    ref = Counter(ngrams(reference, n))
    overlap = sum(min(c, ref[g]) for g, c in hyp.items())
    return _f1(overlap, sum(hyp.values()), sum(ref.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(hypothesis: Sequence[str], reference: Sequence[str]) -> float:
    """ROUGE-L F1 in [0, 1]."""
    return _f1(lcs_length(hypothesis, reference), len(hypothesis), len(reference))


def overlap_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean BLEU-4 and ROUGE-1/2/L over paired replies, × 100 (as ChatGLM reports them)."""
    if len(hypotheses) != len(references):
        raise ValueError("hypotheses and references must pair up")
    sums = {"bleu4": 0.0, "rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for h_text, r_text in zip(hypotheses, references, strict=True):
        h, r = words(h_text), words(r_text)
        sums["bleu4"] += bleu4(h, r)
        sums["rouge1"] += rouge_n(h, r, 1)
        sums["rouge2"] += rouge_n(h, r, 2)
        sums["rougeL"] += rouge_l(h, r)
    n = max(1, len(hypotheses))
    return {k: round(100 * v / n, 4) for k, v in sums.items()}


def distinct(replies: Sequence[str], n: int) -> float:
    """Distinct-n: share of the n-grams over all replies that are different (0 when none)."""
    grams = [g for text in replies for g in ngrams(words(text), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def language_match(replies: Sequence[str], person: Sequence[str]) -> float:
    """Share of `replies` mainly in the person's main script (module docstring), 0–1."""
    from twin.base_choice import count_scripts

    def non_latin(text: str) -> bool | None:
        s = count_scripts([text])
        return None if not s.total else s.cjk + s.other >= s.latin

    mine = [x for x in map(non_latin, person) if x is not None]
    if not mine or not replies:
        return 0.0
    main = sum(mine) * 2 >= len(mine)
    return sum(1 for r in replies if non_latin(r) == main) / len(replies)


# --- style fingerprint

LENGTH_BINS: list[tuple[str, int, float]] = [
    ("0", 0, 0),
    ("1-2", 1, 2),
    ("3-5", 3, 5),
    ("6-10", 6, 10),
    ("11-20", 11, 20),
    ("21-40", 21, 40),
    ("41-80", 41, 80),
    ("81+", 81, math.inf),
]

_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b50\u2b55\u3030\u303d\u3297\u3299]"
    r"|\[[^\[\]\s<>]{1,8}\]"  # WeChat/QQ emoticon codes such as [捂脸] or [Facepalm]
)
HABITS: dict[str, re.Pattern] = {
    "emoji": _EMOJI,
    "question": re.compile(r"[?？]"),
    "exclamation": re.compile(r"[!！]"),
    "repeated_marks": re.compile(r"[!！?？]{2,}|[.。]{3,}"),
    "ellipsis": re.compile(r"…|\.\.\.|。。"),
    "tilde": re.compile(r"[~～]"),
    "comma": re.compile(r"[,，]"),
    "laugh": re.compile(r"哈哈|嘿嘿|嘻嘻|hh|lol|haha|hehe|lmao|233|笑死|😂|🤣", re.I),
    "ends_with_mark": re.compile(r"[。.!！?？~～…]\s*$"),
    "latin_letters": re.compile(r"[A-Za-z]"),
}
HABIT_LABELS = {
    "emoji": "emoji 表情",
    "question": "? 问号",
    "exclamation": "! 感叹号",
    "repeated_marks": "!! ?? ... repeated 重复标点",
    "ellipsis": "… ellipsis 省略号",
    "tilde": "~ tilde 波浪号",
    "comma": ", comma 逗号",
    "laugh": "laugh 哈哈/lol",
    "ends_with_mark": "ends with a mark 句末标点",
    "latin_letters": "Latin letters 英文字母",
}


@dataclass
class Fingerprint:
    replies: int
    length_mean: float
    length_median: float
    length_bins: dict[str, float]  # share of replies per LENGTH_BINS label
    habits: dict[str, float]  # share of replies showing each habit
    emoji_per_reply: float
    phrases: list[tuple[str, int]]  # favourite 2–3-word phrases (seen at least twice)
    top_words: list[tuple[str, int]]
    grams: Counter = field(default_factory=Counter, repr=False)  # 1–2-gram counts, for distance

    def to_dict(self) -> dict:
        return {
            "replies": self.replies,
            "length_mean": round(self.length_mean, 2),
            "length_median": self.length_median,
            "length_bins": {k: round(v, 4) for k, v in self.length_bins.items()},
            "habits": {k: round(v, 4) for k, v in self.habits.items()},
            "emoji_per_reply": round(self.emoji_per_reply, 3),
            "phrases": [list(p) for p in self.phrases],
            "top_words": [list(p) for p in self.top_words],
        }


def _top(counter: Counter, k: int, at_least: int = 1) -> list[tuple[str, int]]:
    items = [(" ".join(g), c) for g, c in counter.items() if c >= at_least]
    items.sort(key=lambda kv: (-kv[1], kv[0]))  # ties broken by text: deterministic
    return items[:k]


def fingerprint(replies: Sequence[str], top: int = 10) -> Fingerprint:
    """The style fingerprint of a set of replies (see the module docstring)."""
    n = len(replies)
    lengths = [visible_length(t) for t in replies]
    bins = dict.fromkeys((label for label, _, _ in LENGTH_BINS), 0.0)
    for length in lengths:
        for label, lo, hi in LENGTH_BINS:
            if lo <= length <= hi:
                bins[label] += 1
                break
    habits = {name: sum(1 for t in replies if p.search(t)) for name, p in HABITS.items()}
    unigrams: Counter = Counter()
    phrases: Counter = Counter()
    for text in replies:
        w = words(text)
        unigrams.update(ngrams(w, 1))
        phrases.update(ngrams(w, 2))
        phrases.update(ngrams(w, 3))
    grams = Counter(unigrams)
    grams.update({g: c for g, c in phrases.items() if len(g) == 2})
    div = max(1, n)
    return Fingerprint(
        replies=n,
        length_mean=statistics.fmean(lengths) if lengths else 0.0,
        length_median=statistics.median(lengths) if lengths else 0,
        length_bins={k: v / div for k, v in bins.items()},
        habits={k: v / div for k, v in habits.items()},
        emoji_per_reply=sum(len(_EMOJI.findall(t)) for t in replies) / div,
        phrases=_top(phrases, top, at_least=2),
        top_words=_top(unigrams, top),
        grams=grams,
    )


def _cosine(a: Counter, b: Counter) -> float:
    if not a or not b:
        return 1.0 if not a and not b else 0.0
    dot = sum(c * b[g] for g, c in a.items() if g in b)
    na = math.sqrt(sum(c * c for c in a.values()))
    nb = math.sqrt(sum(c * c for c in b.values()))
    return dot / (na * nb)


def fingerprint_distance(a: Fingerprint, b: Fingerprint) -> dict[str, float]:
    """D and its three terms (formula in the module docstring); 0 means the same style."""
    length = 0.5 * sum(abs(a.length_bins[k] - b.length_bins[k]) for k in a.length_bins)
    habits = statistics.fmean(abs(a.habits[k] - b.habits[k]) for k in a.habits)
    phrases = 1.0 - _cosine(a.grams, b.grams)
    parts = {"length": length, "habits": habits, "phrases": phrases}
    parts = {k: round(min(1.0, max(0.0, v)), 6) for k, v in parts.items()}
    return {"distance": round(sum(parts.values()) / 3, 6), **parts}
