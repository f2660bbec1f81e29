"""Privacy redaction: personal data becomes a typed placeholder, everything else survives.

Checksums are computed here independently of twin (GB 11643 for IDs, Luhn for cards), so the
tests do not take the code's word for what is valid.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import read_jsonl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from twin.dataset.redact import TYPES, Redactor


def cn_id(first17: str) -> str:
    """A Chinese resident ID with its check character (GB 11643-1999)."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def luhn_complete(prefix: str) -> str:
    """prefix + the Luhn check digit."""
    for check in "0123456789":
        digits = [int(d) for d in prefix + check][::-1]
        total = sum(
            d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits)
        )
        if total % 10 == 0:
            return prefix + check
    raise AssertionError


VALID_ID = cn_id("11010519491231002")
assert VALID_ID == "11010519491231002X"  # the textbook example
INVALID_ID = VALID_ID[:-1] + ("1" if VALID_ID[-1] != "1" else "2")
CARD16 = luhn_complete("622202020000123")
CARD19 = luhn_complete("621700000012345678")
BAD_CARD = CARD16[:-1] + str((int(CARD16[-1]) + 1) % 10)


def redact(text: str, **kw) -> str:
    return Redactor(**kw).redact(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Chinese mobile numbers, with and without country code, spaces, dashes
        ("我的手机13812345678", "我的手机<PHONE>"),
        ("号码13812345678谢谢", "号码<PHONE>谢谢"),
        ("call 138 1234 5678 ok", "call <PHONE> ok"),
        ("138-1234-5678", "<PHONE>"),
        ("+8613812345678", "<PHONE>"),
        ("+86 138 1234 5678", "<PHONE>"),
        ("0086 138-1234-5678", "<PHONE>"),
        ("电话+86-13812345678", "电话<PHONE>"),
        # international and US numbers
        ("call +44 20 7946 0958 now", "call <PHONE> now"),
        ("+44 7911 123456", "<PHONE>"),
        ("电话+44 20 7946 0958", "电话<PHONE>"),
        ("电话：+44 20 7946 0958", "电话：<PHONE>"),
        ("(415) 555-2671", "<PHONE>"),
        ("ring (415) 555-2671 or 415-555-2671", "ring <PHONE> or <PHONE>"),
        # e-mail, URLs, IPv4
        ("mail a.b@example.co.uk ok", "mail <EMAIL> ok"),
        ("我的邮箱是abc@qq.com", "我的邮箱是<EMAIL>"),
        ("see https://example.com/a?b=1 ok", "see <URL> ok"),
        ("看这个www.baidu.com/s?wd=1，好玩", "看这个<URL>，好玩"),
        ("server 192.168.1.10 is down", "server <IP> is down"),
        # Chinese ID numbers with a valid check character, bank cards passing Luhn
        (f"身份证 {VALID_ID}", "身份证 <ID_CN>"),
        (f"身份证{VALID_ID.lower()}号", "身份证<ID_CN>号"),
        (f"卡号 {CARD16}", "卡号 <BANK_CARD>"),
        (f"卡号{CARD19}", "卡号<BANK_CARD>"),
        (f"卡号 {CARD16[:4]} {CARD16[4:8]} {CARD16[8:12]} {CARD16[12:]}", "卡号 <BANK_CARD>"),
        ("test 4111-1111-1111-1111", "test <BANK_CARD>"),
        # WeChat and QQ ids
        ("wxid_abc123def", "<WECHAT_ID>"),
        ("加我 wxid_k2j3h4g5", "加我 <WECHAT_ID>"),
        ("微信号: zhang_san88", "<WECHAT_ID>"),
        ("我微信是abc_def1", "我<WECHAT_ID>"),
        ("加我vx：Zhang-San", "加我<WECHAT_ID>"),
        ("QQ: 12345678", "<QQ>"),
        ("qq号是 123456789", "<QQ>"),
        ("我QQ12345678", "我<QQ>"),
        # what the audit found passing through (issue 17 item 9)
        ("电话１３９１２３４５６７８谢谢", "电话<PHONE>谢谢"),  # full-width digits
        ("ｍｅ ｉｓ ａ＠ｂ．ｃｏｍ，好", "ｍｅ ｉｓ <EMAIL>，好"),  # the rest stays full-width
        ("host 2001:db8:85a3::8a2e:370:7334 down", "host <IP> down"),
        ("fe80::1ff:fe23:4567:890a", "<IP>"),
        ("1080:0:0:0:8:800:200c:417a ok", "<IP> ok"),
        ("发邮件到 用户@例子.公司", "发邮件到 <EMAIL>"),
        ("mail josé@correo.es", "mail <EMAIL>"),
        ("click example.com/reset?code=9 now", "click <URL> now"),
        ("打开 shop.example.cn?id=42，快", "打开 <URL>，快"),
        ("我扣扣123456789", "我<QQ>"),
        ("企鹅号：123456789", "<QQ>"),
        ("加我企鹅 123456789", "加我<QQ>"),
        ("Q号 12345678", "<QQ>"),
        ("QQ号码为1234567", "<QQ>"),
    ],
)
def test_personal_data_becomes_a_typed_placeholder(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "23333",
        "哈哈哈2333333",
        "2333333333333333",  # a 16-digit laugh passes Luhn
        "23333333333333333333",
        "8888888888888888",  # 发发发…, also passes Luhn
        "0000 0000 0000 0000",
        "2023-12-01",
        "20231201",
        "2023.12.01",
        "2023年12月1日 10:00",
        "10:00",
        "10:00:00",
        "2023-12-01 10:00:00",
        "20231201-20231231",
        "12345678 元",
        "¥1,234,567.00",
        "价格 99999 块",
        "订单号 20231201123456",
        "room 1203, floor 12",
        "123456",
        "第1234567章",
        INVALID_ID,
        f"身份证 {INVALID_ID}",
        BAD_CARD,
        "ip 999.1.1.1",
        "QQ群 很好玩",
        "wechat me later",
        "email me @ work",
        "小明 说 hi",
        # near misses of the IPv6, bare-URL and QQ patterns
        "meet at 10:30:00",
        "std::vector<int> v;",
        "a::b",
        "see example.com today",
        "e.g. file.txt, i.e. a.m./p.m.",
        "Q3 2023 results",
        "企鹅很可爱",
        "ＯＫ，好的！",
        "",
    ],
)
def test_ordinary_text_survives(text):
    assert redact(text) == text


def test_invalid_id_is_not_taken_for_a_card():
    assert INVALID_ID != VALID_ID
    r = Redactor()
    assert r.redact(INVALID_ID) == INVALID_ID
    assert r.counts == {}


def test_counts_per_type():
    r = Redactor()
    r.redact("13812345678 and 13912345678, a@b.com")
    r.redact(f"{VALID_ID} https://x.org")
    assert r.counts == {"PHONE": 2, "EMAIL": 1, "ID_CN": 1, "URL": 1}


def test_types_can_be_chosen():
    r = Redactor(types=["EMAIL"])
    assert r.redact("a@b.com 13812345678") == "<EMAIL> 13812345678"
    with pytest.raises(ValueError, match="SSN"):
        Redactor(types=["SSN"])


def test_allow_list_keeps_a_value():
    r = Redactor(allow=["10086@example.com", "13800138000"])
    assert (
        r.redact("write to 10086@example.com or x@y.com") == "write to 10086@example.com or <EMAIL>"
    )
    assert r.redact("call 13800138000 or 13812345678") == "call 13800138000 or <PHONE>"
    assert r.counts == {"EMAIL": 1, "PHONE": 1}


def test_block_list_replace_and_drop():
    r = Redactor(block=["Project Falcon", "张三"])
    assert r.redact("about project falcon and 张三!") == "about <BLOCKED> and <BLOCKED>!"
    assert r.counts == {"BLOCKED": 2}
    assert not r.blocked("about project falcon")  # replace mode never drops

    d = Redactor(block=["Project Falcon"], block_mode="drop")
    assert d.redact("about Project Falcon") == "about Project Falcon"  # left for the sample drop
    assert d.blocked("about PROJECT FALCON")
    assert not d.blocked("about falcons")
    assert d.counts == {}


# --- through `twin build` -------------------------------------------------------------------

T0 = datetime(2023, 12, 1, 10, 0, 0)


def _msg(minute: int, text: str, me: bool) -> dict:
    return {
        "time": (T0 + timedelta(minutes=minute)).isoformat(),
        "chat": "alice",
        "sender": "Bob" if me else "Alice",
        "me": me,
        "text": text,
    }


def _build(twin, tmp_path: Path, messages: list[dict], toml: str = "") -> tuple[dict, list, str]:
    """Build into tmp_path/ds; returns stats.json, the train samples' turns, and the summary."""
    src = tmp_path / "messages.jsonl"
    src.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages), "utf-8")
    config = tmp_path / "twin.toml"
    config.write_text("[build]\ndev_fraction = 0.0\nmin_dev_samples = 0\n" + toml, "utf-8")
    out = tmp_path / "ds"
    r = twin("build", src, "-o", out, "--config", config, "--no-report")
    assert r.code == 0, r.err
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    turns = [[m["content"] for m in s["messages"][1:]] for s in read_jsonl(out / "train.jsonl")]
    return stats, turns, r.out


def test_build_redacts_both_sides_and_counts_in_stats(twin, tmp_path):
    stats, turns, out = _build(
        twin,
        tmp_path,
        [
            _msg(0, "我的电话 +86 138 1234 5678，邮箱 a@b.com", False),
            _msg(1, "好的，我的是13912345678，哈哈哈2333333", True),
            _msg(2, f"卡号 {CARD16} 明天 10:00 见", False),
            _msg(3, "收到 2023-12-01 转 12345678 元", True),
        ],
    )
    assert turns == [
        [
            "我的电话 <PHONE>，邮箱 <EMAIL>",
            "好的，我的是<PHONE>，哈哈哈2333333",
            "卡号 <BANK_CARD> 明天 10:00 见",
            "收到 2023-12-01 转 12345678 元",
        ]
    ]
    assert stats["redactions"] == {"PHONE": 2, "EMAIL": 1, "BANK_CARD": 1}
    assert "<PHONE> 2" in out


def test_build_redact_types_from_twin_toml(twin, tmp_path):
    stats, turns, _ = _build(
        twin,
        tmp_path,
        [_msg(0, "mail a@b.com", False), _msg(1, "call 13812345678", True)],
        'redact = ["PHONE"]\n',
    )
    assert turns == [["mail a@b.com", "call <PHONE>"]]
    assert stats["redactions"] == {"PHONE": 1}


def test_build_allow_and_block_lists(twin, tmp_path):
    messages = [
        _msg(0, "客服电话 10086 还是 13800138000？", False),
        _msg(1, "打 13800138000，别告诉张三", True),
        _msg(100, "张三来了吗", False),
        _msg(101, "来了来了", True),
        _msg(200, "晚饭吃什么", False),
        _msg(201, "火锅吧 13912345678", True),
    ]
    lists = 'allow = ["13800138000"]\nblock = ["张三"]\n'
    stats, turns, _ = _build(twin, tmp_path, messages, lists)
    assert turns == [
        ["客服电话 10086 还是 13800138000？", "打 13800138000，别告诉<BLOCKED>"],
        ["<BLOCKED>来了吗", "来了来了"],
        ["晚饭吃什么", "火锅吧 <PHONE>"],
    ]
    assert stats["redactions"] == {"BLOCKED": 2, "PHONE": 1}

    stats, turns, _ = _build(twin, tmp_path, messages, lists + 'block_mode = "drop"\n')
    assert turns == [["晚饭吃什么", "火锅吧 <PHONE>"]]
    assert stats["redactions"] == {"PHONE": 1}
    assert stats["messages"]["dropped"] == {"sample with a blocked word (block_mode = drop)": 4}


# --- redact_array is redact on each element -------------------------------------------------

_pieces = st.sampled_from(
    [
        "13812345678",
        "+86 138 1234 5678",
        "+44 20 7946 0958",
        "(415) 555-2671",
        "a.b@example.com",
        VALID_ID,
        INVALID_ID,
        CARD16,
        BAD_CARD,
        "2333333333333333",
        "https://x.org/p?q=1",
        "www.example.com",
        "10.0.0.1",
        "wxid_abcdef12",
        "微信号: zhang_san88",
        "QQ: 12345678",
        "扣扣 12345678",
        "fe80::1ff:fe23:4567:890a",
        "example.com/a?b=9",
        "用户@例子.公司",
        "ａ＠ｂ．ｃｏｍ",
        "2023-12-01",
        "10:00",
        "哈哈",
        "Falcon",
        "falcon",
        "ＦＡＬＣＯＮ",
        "１３８１２３４５６７８",
        "13８1２34５67８",
        "٣٤٥",
        " ",
        "\n",
        "-",
        ".",
    ]
)
_text = st.one_of(
    st.lists(st.one_of(_pieces, st.text(max_size=6)), max_size=6).map("".join),
    st.text(alphabet="0123456789１２３ -.+()@:wxidqQ微信号", max_size=30),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(_text, max_size=12),
    allow=st.sampled_from([[], ["13812345678"]]),
    block=st.sampled_from([[], ["falcon"], ["a.b", "(x)"], ["微信"]]),
    mode=st.sampled_from(["replace", "drop"]),
)
# a number typed partly in full-width digits: Python's \d matches it, RE2's \d did not
@example(texts=["13８1２34５67８"], allow=[], block=[], mode="replace")
def test_redact_array_equals_redact_on_each_element(texts, allow, block, mode):
    one = Redactor(allow=allow, block=block, block_mode=mode)
    many = Redactor(allow=allow, block=block, block_mode=mode)
    expected = [one.redact(t) for t in texts]
    got = many.redact_array(pa.array(texts, pa.string())).to_pylist()
    assert got == expected
    assert many.counts == one.counts


def test_redact_array_on_a_chunked_slice():
    texts = pa.array(["a", "13812345678", "b", "x@y.com", "c"], pa.string()).slice(1, 3)
    r = Redactor()
    assert r.redact_array(texts).to_pylist() == ["<PHONE>", "b", "<EMAIL>"]


def test_every_type_has_a_test():
    covered = {"URL", "EMAIL", "WECHAT_ID", "QQ", "ID_CN", "PHONE", "BANK_CARD", "IP"}
    assert set(TYPES) == covered
