"""Chinese end to end on a tiny multilingual model: Gemma's own turn format for a base without a
chat template (never ChatML text), masks exactly on the person's Chinese replies, training and
chat through the CLI, and the eval metrics on Chinese replies."""

from __future__ import annotations

import json

import pytest
from conftest import trained_runs

from twin.chat_format import GEMMA, PLAIN, choose_format, family_format, render_with_mask
from twin.eval import metrics as M

SYSTEM = "你是小雨，正在和朋友聊天。"
REPLIES = ["嗯嗯 打羽毛球呀～", "年糕 又胖了 哈哈哈哈", "火锅！必须火锅～"]


def _conversation(first_speaker: str = "user") -> list[dict]:
    msgs = [{"role": "system", "content": SYSTEM}]
    if first_speaker == "assistant":
        msgs.append({"role": "assistant", "content": "在吗～"})
    for q, a in zip(["周末干嘛呢", "你家猫怎么样", "晚上吃啥"], REPLIES, strict=True):
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return msgs


@pytest.fixture(scope="module")
def gemma(tmp_path_factory):
    from tiny import make_gemma_model

    return make_gemma_model(tmp_path_factory.mktemp("tiny_gemma"))


@pytest.fixture(scope="module")
def zh_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zh_dataset")
    rows = [{"messages": _conversation("assistant" if i % 3 == 0 else "user")} for i in range(24)]
    for name, part in (("train.jsonl", rows[:20]), ("dev.jsonl", rows[20:])):
        (folder / name).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8"
        )
    (folder / "config.json").write_text(
        json.dumps({"system_prompt": SYSTEM, "name": "小雨"}, ensure_ascii=False), encoding="utf-8"
    )
    return folder


@pytest.mark.parametrize("first", ["user", "assistant"])
def test_gemma_turn_tokens_and_masks_on_chinese(gemma, first):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gemma)
    assert tok.chat_template is None  # as the embedded Gemma GGUF
    fmt = choose_format(tok)
    assert fmt.template == GEMMA and fmt.stop == ["<end_of_turn>"]
    msgs = _conversation(first)
    ids, mask = render_with_mask(fmt, tok, msgs)
    start, end = tok.convert_tokens_to_ids(["<start_of_turn>", "<end_of_turn>"])
    assert ids[0] == tok.bos_token_id
    # every turn marker is one special token, never spelled out; no other family's markers
    assert ids.count(start) == ids.count(end) == len(msgs) - 1 + (first == "assistant")
    text = tok.decode(ids)
    assert "<|im_start|>" not in text and "im_start" not in text
    assert "<start_of_turn>model\n" in text and "<start_of_turn>assistant" not in text
    assert text.count(SYSTEM) == 1
    # the trained tokens are exactly each reply followed by its end-of-turn token
    expected = (["在吗～"] if first == "assistant" else []) + REPLIES
    assert trained_runs(tok, ids, mask) == [r + "<end_of_turn>" for r in expected]


def test_a_vocabulary_without_turn_tokens_gets_plain_turns_not_chatml(tmp_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(
        ["你好 世界 hello"] * 10,
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<unk>", "</s>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", eos_token="</s>")
    fmt = family_format(tok)
    assert fmt.template == PLAIN and fmt.stop == ["</s>"]
    ids, mask = render_with_mask(fmt, tok, _conversation())
    assert "im_start" not in tok.decode(ids)
    assert tok.decode([i for i, m in zip(ids, mask, strict=True) if m]).endswith(
        "火锅！必须火锅～</s>"
    )


def test_train_and_chat_a_tiny_multilingual_model_on_chinese(twin, gemma, zh_dataset, tmp_path):
    run = tmp_path / "run"
    r = twin(
        "train", zh_dataset, "-o", run, "--base", gemma, "--max-steps", "6", "--batch", "4",
        "--accum", "1", "--lr", "5e-3",
    )  # fmt: skip
    assert r.code == 0, r.err
    info = json.loads((run / "twin_run.json").read_text(encoding="utf-8"))
    assert info["chat_format"]["template"] == GEMMA
    assert info["chat_format"]["stop"] == ["<end_of_turn>"]
    assert info["system_prompt"] == SYSTEM
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    r = twin("train", zh_dataset, "--base", gemma, "--show-mask")
    assert r.code == 0 and "[[嗯嗯 打羽毛球呀～<end_of_turn>]]" in r.out
    r = twin("chat", run, "--prompt", "周末干嘛呢", "--max-new-tokens", "4", "--seed", "1")
    assert r.code == 0, r.err
    r = twin("chat", "--base", "auto", run, "--prompt", "你好", "--max-new-tokens", "3")
    assert r.code == 0, r.err
    assert "base: auto" in r.err and "trained on" in r.err


@pytest.mark.slow
def test_auto_picks_the_embedded_multilingual_base_for_chinese(twin, zh_dataset):
    """The real embedded Gemma 3 270M (installed by `make setup`): sha256-checked, its
    tokenizer from the GGUF, its own turn format."""
    r = twin("train", zh_dataset, "--show-mask")
    assert r.code == 0, r.err
    assert "base: auto → gemma3-270m" in r.err and "Chinese" in r.err
    assert "<start_of_turn>model\n[[嗯嗯 打羽毛球呀～<end_of_turn>]]" in r.out


def test_eval_metrics_on_chinese_replies():
    person = ["嗯嗯 打羽毛球呀～", "年糕又胖了 哈哈哈哈", "火锅！必须火锅～", "好滴"]
    clone = ["嗯嗯 周六打羽毛球～", "年糕超黏人 哈哈哈哈", "火锅冲鸭～", "好滴好滴"]
    english = ["I like badminton.", "My cat is fat.", "Hotpot!", "OK."]
    assert M.language_match(clone, person) == 1.0
    assert M.language_match(english, person) == 0.0
    assert M.language_match(["ok 好的", "😂"], person) == 0.5  # letterless replies do not match
    assert any(len(w) > 1 for w in M.words("打羽毛球呀"))  # jieba words, not characters
    s_clone = M.overlap_scores(clone, person)
    s_en = M.overlap_scores(english, person)
    assert s_clone["rouge1"] > 30 and s_en["rouge1"] == 0 and s_clone["bleu4"] > s_en["bleu4"]
    fp = M.fingerprint(person)
    assert fp.habits["tilde"] == 0.5 and fp.habits["laugh"] == 0.25
    near = M.fingerprint_distance(M.fingerprint(clone), fp)["distance"]
    far = M.fingerprint_distance(M.fingerprint(english), fp)["distance"]
    assert near < far
