"""Eval metrics against values computed by hand on fixed strings."""

from __future__ import annotations

import math

import pytest

from twin.eval import metrics as M
from twin.eval.evaluate import best_of
from twin.eval.privacy import PROBES, find_pii, probe_summary

HYP = ["the", "cat", "sat", "on", "the", "mat"]
REF = ["the", "cat", "is", "on", "the", "mat"]


def test_words_english_split_marks_and_keep_case():
    assert M.words("lol, sounds GOOD!") == ["lol", ",", "sounds", "GOOD", "!"]
    assert M.words("don't 😂") == ["don't", "😂"]


def test_words_chinese_with_jieba():
    assert M.words("我今天很开心") == ["我", "今天", "很", "开心"]
    assert M.words("我今天不开心") == ["我", "今天", "不", "开心"]
    assert M.words("好的 晚上 吃") == ["好", "的", "晚上", "吃"]  # spaces dropped


def test_bleu4_smoothed_by_hand():
    # p1 = 5/6, p2 = 3/5, p3 = 1/4, p4: no match among 3 four-grams -> 1 / (2 · 3); BP = 1
    assert M.bleu4(HYP, REF) == pytest.approx((5 / 6 * 3 / 5 * 1 / 4 * 1 / 6) ** 0.25)
    assert M.bleu4(REF, REF) == pytest.approx(1.0)


def test_bleu4_short_hypothesis_brevity_penalty_and_empty_orders():
    hyp = ["the", "cat"]
    # p1 = 1, p2 = 1, p3 and p4 have no n-grams: 1/(2·1) and 1/(4·1); BP = exp(1 - 6/2)
    expected = math.exp(1 - 6 / 2) * (1 * 1 * 0.5 * 0.25) ** 0.25
    assert M.bleu4(hyp, HYP) == pytest.approx(expected)


def test_bleu4_zero_cases():
    assert M.bleu4(["x", "y"], ["a", "b"]) == 0.0  # no word in common
    assert M.bleu4([], REF) == 0.0
    assert M.bleu4(HYP, []) == 0.0


def test_rouge_by_hand():
    assert M.rouge_n(HYP, REF, 1) == pytest.approx(5 / 6)
    assert M.rouge_n(HYP, REF, 2) == pytest.approx(3 / 5)
    assert M.rouge_l(HYP, REF) == pytest.approx(5 / 6)  # LCS: the cat on the mat
    # LCS("a b c d", "a c e") = 2: P = 2/4, R = 2/3, F1 = 4/7
    assert M.rouge_l(["a", "b", "c", "d"], ["a", "c", "e"]) == pytest.approx(4 / 7)
    # clipped counts: "a" is in the reference twice, so only 2 of 3 count: P = 2/3, R = 1
    assert M.rouge_n(["a", "a", "a"], ["a", "a"], 1) == pytest.approx(0.8)
    assert M.rouge_n([], REF, 1) == 0.0


def test_overlap_scores_chinese_pair():
    s = M.overlap_scores(["我今天很开心"], ["我今天不开心"])
    # words 我/今天/很/开心 vs 我/今天/不/开心
    assert s["rouge1"] == pytest.approx(75.0)
    assert s["rouge2"] == pytest.approx(100 / 3, abs=1e-3)
    assert s["rougeL"] == pytest.approx(75.0)  # LCS 我 今天 开心
    # p1 = 3/4, p2 = 1/3, p3 = 1/(2·2), p4 = 1/(4·1), BP = 1
    assert s["bleu4"] == pytest.approx(100 * (3 / 4 * 1 / 3 * 1 / 4 * 1 / 4) ** 0.25, abs=1e-3)


def test_overlap_scores_mean_over_samples():
    s = M.overlap_scores(["a b", "x"], ["a b", "y"])
    assert s["rouge1"] == pytest.approx(50.0)
    with pytest.raises(ValueError):
        M.overlap_scores(["a"], [])


def test_distinct():
    replies = ["a b a", "a b"]
    assert M.distinct(replies, 1) == pytest.approx(2 / 5)
    assert M.distinct(replies, 2) == pytest.approx(2 / 3)  # "a b", "b a", "a b"
    assert M.distinct([], 1) == 0.0


def test_fingerprint_features():
    fp = M.fingerprint(["哈哈哈 好的[捂脸]", "ok!!", "ok 😂", "what?"])
    assert fp.replies == 4
    assert fp.habits["emoji"] == pytest.approx(0.5)  # [捂脸] and 😂
    assert fp.habits["laugh"] == pytest.approx(0.5)  # 哈哈 and 😂
    assert fp.habits["repeated_marks"] == pytest.approx(0.25)
    assert fp.habits["question"] == pytest.approx(0.25)
    # visible characters: 5 (the emoticon code and the space do not count), 4, 3, 5
    assert fp.length_mean == pytest.approx(17 / 4)
    assert fp.length_bins["3-5"] == pytest.approx(1.0)
    assert sum(fp.length_bins.values()) == pytest.approx(1.0)
    assert dict(fp.top_words)["ok"] == 2
    d = fp.to_dict()
    assert set(d) >= {"length_mean", "length_bins", "habits", "phrases", "top_words"}


def test_fingerprint_phrases_need_two_uses():
    fp = M.fingerprint(["see you tomorrow", "see you later", "ok"])
    assert ("see you", 2) in fp.phrases
    assert all(c >= 2 for _, c in fp.phrases)


def test_fingerprint_distance_zero_for_identical_sets():
    replies = ["哈哈哈 可以", "lol sounds good!", "see you tomorrow 😂", "ok"]
    d = M.fingerprint_distance(M.fingerprint(replies), M.fingerprint(list(replies)))
    assert d == {"distance": 0.0, "length": 0.0, "habits": 0.0, "phrases": 0.0}


def test_fingerprint_distance_by_hand():
    a, b = M.fingerprint(["hello world"]), M.fingerprint(["好的"])
    d = M.fingerprint_distance(a, b)
    # lengths 10 vs 2: different bins (TV 1); habits differ only in Latin letters (1 of 10);
    # no word in common (cosine 0)
    assert d["length"] == pytest.approx(1.0)
    assert d["habits"] == pytest.approx(1 / len(M.HABITS))
    assert d["phrases"] == pytest.approx(1.0)
    assert d["distance"] == pytest.approx((1 + 1 / len(M.HABITS) + 1) / 3, abs=1e-6)


def test_privacy_probe_counts_planted_pii():
    replies = ["sure"] * len(PROBES)
    replies[0] = "call me at 13812345678"
    replies[1] = "it is <PHONE> lol"  # a placeholder is not a leak
    replies[2] = "see www.example.com"  # a URL alone is not personal data
    replies[3] = "我的邮箱 bob@example.com"
    s = probe_summary(replies)
    assert s["prompts"] == len(PROBES)
    assert s["pii_replies"] == 2
    assert s["by_type"] == {"EMAIL": 1, "PHONE": 1}
    assert s["placeholder_replies"] == 1
    assert "13812345678" not in str(s)  # stored redacted
    assert s["replies"][0]["reply"] == "call me at <PHONE>"
    assert {lang for lang, _, _ in PROBES} == {"en", "zh"}


def test_find_pii():
    assert find_pii("nothing here, 23333") == ([], "nothing here, 23333")
    assert find_pii("微信号 bob_2024x")[0] == ["WECHAT_ID"]


def test_best_of_directions_and_ties():
    systems = [
        {"label": "a", "dev_loss": 1.0, "bleu4": 5.0, "distinct1": 0.9, "pii_replies": 0},
        {"label": "b", "dev_loss": 2.0, "bleu4": 7.0, "distinct1": 0.5, "pii_replies": 0},
    ]
    best = best_of(systems, {"distinct1": 0.4, "distinct2": 0.5})
    assert best["dev_loss"] == ["a"]
    assert best["bleu4"] == ["b"]
    assert best["distinct1"] == ["b"]  # closest to the person's 0.4
    assert "pii_replies" not in best  # everyone tied: nobody marked
