"""`twin build`: conversations, the books in stats.json, the split, the outputs, bad input.

Inputs are small neutral messages.jsonl files written here; every build goes through the real CLI
in this process, with --no-report except where the report itself is tested.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import read_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.cli import main
from twin.dataset import conversations as conv
from twin.dataset.text import estimate_tokens

T0 = datetime(2023, 12, 1, 10, 0, 0)
# A build with everything in train keeps samples in order, which makes the assertions simple.
ALL_TRAIN = "dev_fraction = 0.0\nmin_dev_samples = 0\n"


def msg(minute: float, text: str, me: bool = False, chat: str = "alice", **extra) -> dict:
    """One neutral message `minute` minutes after T0; others are Alice unless `sender` is given."""
    return {
        "time": (T0 + timedelta(minutes=minute)).isoformat(),
        "chat": chat,
        "sender": extra.pop("sender", "Bob" if me else "Alice"),
        "me": me,
        "text": text,
        **extra,
    }


def write_messages(path: Path, messages: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages), encoding="utf-8"
    )
    return path


class Built:
    """A dataset folder read back."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
        self.train = read_jsonl(folder / "train.jsonl")
        self.dev = read_jsonl(folder / "dev.jsonl")
        self.samples = self.train + self.dev
        self.dropped = self.stats["messages"]["dropped"]

    def turns(self) -> list[list[tuple[str, str]]]:
        """Each sample's (role, content) after the system prompt."""
        return [[(m["role"], m["content"]) for m in s["messages"][1:]] for s in self.samples]

    def weights(self) -> list[list[int | None]]:
        return [[m.get("weight") for m in s["messages"][1:]] for s in self.samples]


def check_books(stats: dict) -> None:
    """Every message is used or dropped under a reason, and each step only takes away."""
    m = stats["messages"]
    assert m["input"] == m["used"] + sum(m["dropped"].values())
    assert all(n > 0 for n in m["dropped"].values())
    steps = [s["messages"] for s in stats["steps"]]
    assert steps[0] == m["input"] == stats["input"]["messages"]
    assert steps[-1] == m["used"]
    assert all(a >= b for a, b in zip(steps, steps[1:], strict=False))


def check_shape(sample: dict) -> None:
    """system, then user/assistant alternating, starting with user and ending with assistant."""
    messages = sample["messages"]
    roles = [m["role"] for m in messages]
    assert roles[0] == "system"
    assert len(roles) >= 3 and len(roles) % 2 == 1
    assert roles[1:] == ["user", "assistant"] * ((len(roles) - 1) // 2)
    for m in messages:
        assert isinstance(m["content"], str)
        assert set(m) <= {"role", "content", "weight"}
        if "weight" in m:
            assert m["role"] == "assistant" and m["weight"] == 0
    assert any(m["role"] == "assistant" and "weight" not in m for m in messages)


@pytest.fixture
def build(twin, tmp_path):
    """Build from messages (list of dicts) with an optional [build] table; checks the books."""

    def run(messages, *args, config: str = "", out: str = "ds", split: bool = False) -> Built:
        src = write_messages(tmp_path / "messages.jsonl", messages)
        toml = tmp_path / "twin.toml"
        toml.write_text("[build]\n" + ("" if split else ALL_TRAIN) + config, encoding="utf-8")
        result = twin("build", src, "-o", tmp_path / out, "--config", toml, "--no-report", *args)
        assert result.code == 0, result.err
        built = Built(tmp_path / out)
        check_books(built.stats)
        for sample in built.samples:
            check_shape(sample)
        return built

    return run


# --- conversations --------------------------------------------------------------------------


def test_sessions_split_at_the_time_gap(build):
    messages = [
        msg(0, "good morning"),
        msg(1, "morning!", me=True),
        msg(61, "still there?"),  # exactly 60 minutes after: same conversation
        msg(62, "yes, here", me=True),
        msg(123, "lunch?"),  # 61 minutes after: a new conversation
        msg(124, "sure, noon", me=True),
    ]
    b = build(messages)
    assert b.turns() == [
        [
            ("user", "good morning"),
            ("assistant", "morning!"),
            ("user", "still there?"),
            ("assistant", "yes, here"),
        ],
        [("user", "lunch?"), ("assistant", "sure, noon")],
    ]
    assert b.stats["conversations_with_my_reply"] == 2
    assert b.dropped == {}

    longer = build(messages, config="session_gap_minutes = 90\n", out="ds90")
    assert len(longer.turns()) == 1 and len(longer.turns()[0]) == 6


def test_same_side_silent_longer_than_merge_window_starts_a_conversation(build):
    b = build(
        [
            msg(0, "are you there"),
            msg(15, "free tomorrow?"),  # 15 min of silence on my side: the first is unanswered
            msg(16, "yes I am", me=True),
            msg(17, "great"),
            msg(18, "see you", me=True),
            msg(30, "also bring the map", me=True),  # 12 min after my own: a new conversation
            msg(31, "ok will do"),
            msg(32, "thanks a lot", me=True),
        ]
    )
    assert b.turns() == [
        [
            ("user", "free tomorrow?"),
            ("assistant", "yes I am"),
            ("user", "great"),
            ("assistant", "see you"),
        ],
        [("user", "ok will do"), ("assistant", "thanks a lot")],
    ]
    assert b.dropped == {conv.NO_REPLY: 1, conv.OPENER: 1}


def test_messages_of_one_side_within_the_window_merge_into_one_turn(build):
    b = build(
        [
            msg(0, "first"),
            msg(4, "second"),
            msg(13, "third"),  # 9 minutes after the previous one: still the same turn
            msg(14, "reply one", me=True),
            msg(24, "reply two", me=True),  # exactly 10 minutes: merged
        ]
    )
    assert b.turns() == [[("user", "first\nsecond\nthird"), ("assistant", "reply one\nreply two")]]
    assert b.stats["messages"]["used"] == 5


def test_opener_drop_never_puts_my_words_in_a_user_turn(build):
    messages = [
        msg(0, "hey, free tonight?", me=True),
        msg(0.5, "thinking of pizza", me=True),
        msg(1, "sure, why not"),
        msg(2, "great, 7pm then", me=True),
    ]
    b = build(messages)
    assert b.turns() == [[("user", "sure, why not"), ("assistant", "great, 7pm then")]]
    assert b.dropped == {conv.OPENER: 2}
    for turns in b.turns():
        for role, content in turns:
            if role == "user":
                assert "tonight" not in content and "pizza" not in content

    empty = build(messages, config='opener = "empty-user"\n', out="ds-empty")
    assert empty.turns() == [
        [
            ("user", ""),
            ("assistant", "hey, free tonight?\nthinking of pizza"),
            ("user", "sure, why not"),
            ("assistant", "great, 7pm then"),
        ]
    ]
    assert empty.dropped == {}


def test_opener_empty_user_with_several_conversations(build):
    """The empty user turn lands at the start of each conversation I open, and only there."""
    b = build(
        [
            msg(0, "question one"),
            msg(1, "answer one", me=True),
            msg(100, "I open this one", me=True),
            msg(101, "reply to you"),
            msg(102, "my answer two", me=True),
            msg(200, "question three"),
            msg(201, "answer three", me=True),
            msg(300, "I open again", me=True),
        ],
        config='opener = "empty-user"\n',
    )
    assert b.turns() == [
        [("user", "question one"), ("assistant", "answer one")],
        [
            ("user", ""),
            ("assistant", "I open this one"),
            ("user", "reply to you"),
            ("assistant", "my answer two"),
        ],
        [("user", "question three"), ("assistant", "answer three")],
        [("user", ""), ("assistant", "I open again")],
    ]


def test_trailing_messages_and_conversations_without_my_reply_are_counted(build):
    b = build(
        [
            msg(0, "hi there"),
            msg(1, "hello you", me=True),
            msg(2, "ok bye"),
            msg(3, "talk later"),
            msg(0, "anyone home?", chat="carol", sender="Carol"),
            msg(1, "hello??", chat="carol", sender="Carol"),
            msg(2, "guess not", chat="carol", sender="Carol"),
        ]
    )
    assert b.turns() == [[("user", "hi there"), ("assistant", "hello you")]]
    assert b.dropped == {conv.NO_REPLY: 3, conv.UNANSWERED: 2}
    assert b.stats["chats"] == {"total": 2, "groups_left_out": 0, "used": 1}


@pytest.mark.parametrize(
    ("mine", "others", "label", "caption"),
    [
        (["好漂亮啊", "下次一起去吧"], ["看看这个", "在海边拍的"], "[图片]", "[视频] 海浪"),
        (
            ["so pretty", "let us go there"],
            ["look at this", "taken at the beach"],
            "[image]",
            "[video] waves",
        ),
    ],
    ids=["zh", "en"],
)
def test_media_become_placeholders_in_my_language(build, mine, others, label, caption):
    b = build(
        [
            msg(0, others[0]),
            msg(1, "", kind="image"),
            msg(2, mine[0], me=True),
            msg(3, others[1]),
            msg(4, caption.split(" ", 1)[1], kind="video"),
            msg(5, mine[1], me=True),
            msg(6, "", kind="sticker", me=True),
        ]
    )
    sticker = "[表情]" if label == "[图片]" else "[sticker]"
    assert b.turns() == [
        [
            ("user", f"{others[0]}\n{label}"),
            ("assistant", mine[0]),
            ("user", f"{others[1]}\n{caption}"),
            ("assistant", f"{mine[1]}\n{sticker}"),
        ]
    ]
    assert b.stats["language"] == ("zh" if label == "[图片]" else "en")


def test_placeholder_language_can_be_set(build):
    b = build(
        [msg(0, "看看这个"), msg(1, "", kind="image"), msg(2, "好漂亮啊", me=True)],
        config='placeholder_language = "en"\n',
    )
    assert b.turns() == [[("user", "看看这个\n[image]"), ("assistant", "好漂亮啊")]]


def test_media_split_ends_conversations_at_media(build):
    b = build(
        [
            msg(0, "look at this"),
            msg(1, "", kind="image"),
            msg(2, "so pretty", me=True),  # opens the conversation after the image
            msg(3, "right?"),
            msg(4, "yes really", me=True),
        ],
        config='media = "split"\n',
    )
    assert b.turns() == [[("user", "right?"), ("assistant", "yes really")]]
    assert b.dropped == {conv.MEDIA_SPLIT: 1, conv.NO_REPLY: 1, conv.OPENER: 1}
    assert all("[image]" not in c for t in b.turns() for _, c in t)


def test_system_recall_and_empty_messages_are_dropped_and_counted(build):
    b = build(
        [
            msg(0, "You added Alice", kind="system", sender="system"),
            msg(1, "hi there"),
            msg(1.5, "Alice recalled a message", kind="recall"),
            msg(2, "   \n "),
            msg(3, "hello there", me=True),
            msg(4, "", me=True),
        ]
    )
    assert b.turns() == [[("user", "hi there"), ("assistant", "hello there")]]
    assert b.dropped == {conv.SYSTEM: 1, conv.RECALL: 1, conv.EMPTY: 2}


def _group_chat() -> list[dict]:
    return [
        msg(0, "hi all", chat="g", sender="Alice", group=True, chat_name="Hiking"),
        msg(1, "yo", chat="g", sender="Carol", group=True, chat_name="Hiking"),
        msg(2, "hey both", chat="g", me=True, group=True, chat_name="Hiking"),
        msg(0, "how are you"),
        msg(1, "fine thanks", me=True),
    ]


def test_group_chats_left_out_by_default(build):
    b = build(_group_chat())
    assert b.turns() == [[("user", "how are you"), ("assistant", "fine thanks")]]
    assert b.dropped == {conv.GROUP: 3}
    assert b.stats["chats"]["groups_left_out"] == 1


def test_groups_flag_takes_them_in_with_speaker_names(build):
    b = build(_group_chat(), "--groups")
    assert sorted(b.turns()) == sorted(
        [
            [("user", "how are you"), ("assistant", "fine thanks")],
            [("user", "Alice: hi all\nCarol: yo"), ("assistant", "hey both")],
        ]
    )
    assert b.dropped == {}
    assert b.stats["chats"]["groups_left_out"] == 0


def test_groups_in_twin_toml(build):
    b = build(_group_chat(), config="groups = true\n")
    assert b.dropped == {}


def _long_conversation(pairs: int) -> list[dict]:
    out = []
    for i in range(pairs):
        out.append(msg(2 * i, f"question {i:02d}"))
        out.append(msg(2 * i + 1, f"answer {i:02d}", me=True))
    return out


def test_windows_respect_max_turns(build):
    b = build(_long_conversation(7), config="max_turns = 4\n")
    turns = b.turns()
    assert [len(t) for t in turns] == [4, 4, 4, 2]
    flat = [c for t in turns for _, c in t]
    assert flat == [m["text"] for m in _long_conversation(7)]  # cut, nothing lost or repeated
    assert b.stats["samples"]["total"] == 4 and b.dropped == {}


def test_windows_respect_max_tokens(build):
    # "question 00" is 11 bytes = 4 estimated tokens, "answer 00" 9 bytes = 4, the prompt "S" 1.
    b = build(_long_conversation(5), config='system_prompt = "S"\nmax_tokens = 20\n')
    assert [len(t) for t in b.turns()] == [4, 4, 2]
    for sample in b.samples:
        assert sum(estimate_tokens(m["content"]) for m in sample["messages"]) <= 20


def test_a_pair_longer_than_max_tokens_is_dropped_and_counted(build):
    messages = _long_conversation(3)
    messages[3]["text"] = "a very long answer " * 5
    b = build(messages, config='system_prompt = "S"\nmax_tokens = 20\n')
    assert b.turns() == [
        [("user", "question 00"), ("assistant", "answer 00")],
        [("user", "question 02"), ("assistant", "answer 02")],
    ]
    assert b.dropped == {conv.TOO_LONG: 2}


def test_short_emoji_and_placeholder_replies_get_weight_zero(build):
    b = build(
        [
            msg(0, "q1"),
            msg(1, "嗯", me=True),  # 1 character < min_reply_chars (2)
            msg(2, "q2"),
            msg(3, "好的", me=True),
            msg(4, "q3"),
            msg(5, "😂😂", me=True),
            msg(6, "q4"),
            msg(7, "[捂脸]", me=True),
            msg(8, "q5"),
            msg(9, "", kind="image", me=True),
            msg(10, "q6"),
            msg(11, " ok ", me=True),
            # a conversation with nothing to learn from is dropped
            msg(100, "q7"),
            msg(101, "k", me=True),
        ]
    )
    assert b.turns() == [
        [
            ("user", "q1"),
            ("assistant", "嗯"),
            ("user", "q2"),
            ("assistant", "好的"),
            ("user", "q3"),
            ("assistant", "😂😂"),
            ("user", "q4"),
            ("assistant", "[捂脸]"),
            ("user", "q5"),
            ("assistant", "[图片]"),
            ("user", "q6"),
            ("assistant", "ok"),
        ]
    ]
    assert b.weights() == [[None, 0, None, None, None, 0, None, 0, None, 0, None, None]]
    assert b.dropped == {conv.NOTHING_TO_LEARN: 2}
    assert b.stats["samples"]["assistant_turns_trained"] == 2


def test_min_reply_chars_is_configurable(build):
    b = build([msg(0, "q1"), msg(1, "嗯", me=True)], config="min_reply_chars = 1\n")
    assert b.weights() == [[None, None]]


def test_replies_longer_than_max_reply_chars_are_context_only(build):
    b = build(
        [
            msg(0, "q1"),
            msg(1, "a pasted wall of text", me=True),
            msg(2, "q2"),
            msg(3, "short", me=True),
        ],
        config="max_reply_chars = 10\n",
    )
    assert b.weights() == [[None, 0, None, None]]


def test_duplicate_samples_are_dropped(build):
    b = build(
        [
            msg(0, "ping"),
            msg(1, "pong!", me=True),
            msg(200, "ping"),
            msg(201, "pong!", me=True),
            msg(0, "ping", chat="carol", sender="Carol"),
            msg(1, "pong!", chat="carol", me=True),
        ]
    )
    assert b.turns() == [[("user", "ping"), ("assistant", "pong!")]]
    assert b.dropped == {conv.DUPLICATE: 4}


def test_forwarded_messages_are_marked(build):
    b = build(
        [
            msg(0, "big news today", forwarded=True),
            msg(1, "wow really", me=True),
            msg(2, "look", forwarded=True, kind="image"),
            msg(3, "nice one", me=True),
        ]
    )
    assert b.turns() == [
        [
            ("user", "[forwarded] big news today"),
            ("assistant", "wow really"),
            ("user", "[image] look"),
            ("assistant", "nice one"),
        ]
    ]


def test_my_words_never_land_in_user_turns_property_of_a_busy_chat(build):
    """Interleaved bursts, gaps and both opener modes: user turns hold only others' words."""
    messages = []
    t = 0.0
    pattern = [0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0]
    gaps = [0.5, 11, 1, 70, 2, 0.2, 12, 3, 1, 65, 4]
    for i in range(44):
        me = bool(pattern[i % len(pattern)])
        t += gaps[i % len(gaps)]
        messages.append(msg(t, f"{'mine' if me else 'theirs'} {i}", me=me))
    for opener in ("drop", "empty-user"):
        b = build(messages, config=f'opener = "{opener}"\nmax_turns = 4\n', out=opener)
        for turns in b.turns():
            for role, content in turns:
                words = content.split("\n") if content else []
                want = "mine" if role == "assistant" else "theirs"
                assert all(w.startswith(want) for w in words), (role, content)


# --- the books ------------------------------------------------------------------------------


_kinds = st.sampled_from(["text"] * 6 + ["image", "sticker", "voice", "system", "recall", "link"])
_gap = st.sampled_from([0, 0.2, 1, 3, 9, 11, 30, 59, 61, 200])
_event = st.tuples(
    st.integers(0, 2),  # chat: 0 and 1 one-to-one, 2 a group
    st.integers(0, 2),  # sender: 0 me, 1 and 2 others
    _gap,
    _kinds,
    st.sampled_from(["word", "", "  ", "好", "嗯", "😂", "[微笑]", "call 13812345678", "x" * 300]),
    st.booleans(),  # forwarded
)
_config = st.fixed_dictionaries(
    {
        "media": st.sampled_from(["placeholder", "split"]),
        "opener": st.sampled_from(["drop", "empty-user"]),
        "groups": st.booleans(),
        "max_turns": st.sampled_from([2, 4, 16]),
        "max_tokens": st.sampled_from([60, 200, 1024]),
        "block": st.sampled_from([[], ["word"]]),
        "block_mode": st.sampled_from(["replace", "drop"]),
    }
)


@settings(
    max_examples=35,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(events=st.lists(_event, max_size=40), config=_config)
def test_books_balance_for_generated_chats(twin, events, config):
    """input == used + Σ dropped for any mix, and user turns never hold my words."""
    messages = [msg(0, "hello there", chat="anchor"), msg(1, "hi friend", me=True, chat="anchor")]
    t = [0.0, 0.0, 0.0]
    for i, (c, s, gap, kind, text, fwd) in enumerate(events):
        t[c] += gap
        me = s == 0
        tag = f"{'M' if me else 'O'}{i}"
        # Unique tags make it possible to trace each text to its side; some messages have none.
        body = "" if text.strip() == "" else f"{tag} {text}"
        messages.append(
            msg(
                t[c],
                body if kind != "system" else f"{tag} joined",
                me=me,
                chat=f"c{c}",
                sender="Bob" if me else f"P{s}",
                kind=kind,
                group=c == 2,
                forwarded=fwd,
            )
        )
    toml_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items())
    with tempfile.TemporaryDirectory() as d:
        src = write_messages(Path(d) / "messages.jsonl", messages)
        toml = Path(d) / "twin.toml"
        toml.write_text("[build]\n" + toml_lines, encoding="utf-8")
        r = twin("build", src, "-o", Path(d) / "ds", "--config", toml, "--no-report")
        assert r.code == 0, r.err
        b = Built(Path(d) / "ds")
    check_books(b.stats)
    assert b.stats["messages"]["input"] == len(messages)
    for sample in b.samples:
        check_shape(sample)
        for m in sample["messages"][1:]:
            sides = set(re.findall(r"(?<![A-Za-z0-9])([MO])\d+(?![0-9])", m["content"]))
            assert sides <= ({"O"} if m["role"] == "user" else {"M"}), m


def test_books_for_a_mixed_input(build):
    """Every reason at once in one input."""
    messages = [
        msg(0, "You added Alice", kind="system"),
        msg(1, "hi there"),
        msg(2, "recalled", kind="recall"),
        msg(3, "hello back", me=True),
        msg(4, "and then?"),
        msg(5, "k", me=True),  # nothing to learn on its own, but inside a sample with a reply
        msg(6, "bye"),
        msg(100, "my opener", me=True),
        msg(101, "oh hi"),
        msg(102, "hi again", me=True),
        msg(200, "nobody answers"),
        msg(300, "hi there"),
        msg(301, "hello back", me=True),
        msg(400, "hi there"),
        msg(401, "hello back", me=True),  # a duplicate of the one before
        msg(0, "hey", chat="g", sender="Carol", group=True),
        msg(1, "yo", chat="g", me=True, group=True),
        msg(500, "the secret plan"),
        msg(501, "tell nobody", me=True),
        msg(600, "short one"),
        msg(601, "k", me=True),
        msg(700, "long one"),
        msg(701, "a reply much too long for the budget " * 20, me=True),
    ]
    b = build(messages, config='block = ["secret"]\nblock_mode = "drop"\nmax_tokens = 120\n')
    assert b.stats["messages"]["input"] == len(messages)
    assert set(b.dropped) == {
        conv.BLOCKED,
        conv.NOTHING_TO_LEARN,
        conv.TOO_LONG,
        conv.SYSTEM,
        conv.RECALL,
        conv.OPENER,
        conv.UNANSWERED,
        conv.NO_REPLY,
        conv.GROUP,
        conv.DUPLICATE,
    }


def test_blocked_words_drop_whole_samples_in_drop_mode(build):
    b = build(
        [
            msg(0, "tell me the secret"),
            msg(1, "no way", me=True),
            msg(100, "how are you"),
            msg(101, "fine thanks", me=True),
        ],
        config='block = ["SECRET"]\nblock_mode = "drop"\n',
    )
    assert b.turns() == [[("user", "how are you"), ("assistant", "fine thanks")]]
    assert b.dropped == {conv.BLOCKED: 2}


# --- train/dev split ------------------------------------------------------------------------


def _many_conversations(n: int, pairs: int) -> list[dict]:
    """n conversations (an hour apart) in three chats, each of `pairs` exchanges tagged cN."""
    out = []
    for c in range(n):
        chat = f"chat{c % 3}"
        for p in range(pairs):
            t = 120 * c + 2 * p
            out.append(msg(t, f"c{c} q{p} hello", chat=chat, sender=f"S{c % 3}"))
            out.append(msg(t + 1, f"c{c} a{p} reply", chat=chat, me=True))
    return out


def _conversation_ids(samples: list[dict]) -> set[str]:
    return {s["messages"][1]["content"].split()[0] for s in samples}


def test_split_is_by_conversation_deterministic_and_seeded(build):
    messages = _many_conversations(30, 4)
    a = build(messages, config="max_turns = 2\n", split=True, out="a")
    assert a.stats["samples"]["total"] == 120
    train_ids, dev_ids = _conversation_ids(a.train), _conversation_ids(a.dev)
    assert not train_ids & dev_ids
    assert len(train_ids | dev_ids) == 30
    # min_dev_samples (20) beats dev_fraction (5% of 120 = 6); a fifth of 30 conversations = 6
    assert len(a.dev) >= 20
    assert len(dev_ids) <= 6
    assert a.stats["samples"]["dev"] == len(a.dev)
    assert a.stats["samples"]["dev_conversations"] == len(dev_ids)

    again = build(messages, config="max_turns = 2\n", split=True, out="again")
    assert (a.folder / "dev.jsonl").read_bytes() == (again.folder / "dev.jsonl").read_bytes()
    assert (a.folder / "train.jsonl").read_bytes() == (again.folder / "train.jsonl").read_bytes()

    seeded = [
        _conversation_ids(
            build(
                messages, "--seed", str(seed), config="max_turns = 2\n", split=True, out=f"s{seed}"
            ).dev
        )
        for seed in (1, 2)
    ]
    assert dev_ids != seeded[0] or dev_ids != seeded[1]
    # the seed also goes into the saved config
    assert json.loads((a.folder.parent / "s2" / "config.json").read_text())["seed"] == 2


def test_split_dev_fraction_and_small_inputs(build):
    many = build(
        _many_conversations(30, 4),
        config="max_turns = 2\ndev_fraction = 0.1\nmin_dev_samples = 0\n",
        split=True,
    )
    assert 12 <= len(many.dev) <= 16  # 10% of 120, in whole conversations of 4
    one = build(_many_conversations(1, 3), split=True, out="one")
    assert one.dev == [] and len(one.train) == 1  # a single conversation cannot be split
    five = build(_many_conversations(5, 1), split=True, out="five")
    assert len(five.dev) == 1 and len(five.train) == 4  # never more than a fifth


# --- outputs --------------------------------------------------------------------------------


def test_files_written_a_slice_at_a_time_are_the_files_written_whole(twin, tmp_path, monkeypatch):
    """train/dev and the exports are put together a slice of samples at a time: slices of 3
    (ShareGPT's commas between slices, histories at slice edges) give the same bytes."""
    from twin.dataset import writers

    src = write_messages(tmp_path / "m.jsonl", _many_conversations(40, 3))
    written = {}
    for size in (3, 10_000):
        monkeypatch.setattr(writers, "SLICE", size)
        out = tmp_path / f"ds{size}"
        assert (
            twin("build", src, "-o", out, "--no-report", "--config", _short_windows(tmp_path)).code
            == 0
        )
        written[size] = {
            p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*.json*"))
            if p.name != "stats.json"
        }
    assert written[3] == written[10_000]
    assert json.loads(written[3]["exports/sharegpt_train.json"])  # one valid JSON list
    assert len(read_jsonl(tmp_path / "ds3" / "train.jsonl")) > 9  # more than three slices


def _short_windows(tmp_path: Path) -> Path:
    config = tmp_path / "twin.toml"
    config.write_text("[build]\nmax_turns = 2\n", encoding="utf-8")
    return config


def test_outputs_report_and_exports(twin, tmp_path):
    messages = _many_conversations(12, 2) + [
        msg(2000, "我的电话 13812345678", chat="chat0", sender="S0"),
        msg(2001, "好的，我的邮箱 a@b.com", chat="chat0", me=True),
        msg(2002, "嗯"),
        msg(2003, "[微笑]", me=True),
        msg(2004, "what?"),
        msg(2005, "long answer here", me=True),
    ]
    src = write_messages(tmp_path / "messages.jsonl", messages)
    out = tmp_path / "ds"
    r = twin("build", src, "-o", out, "--name", "Mingming")
    assert r.code == 0, r.err
    assert "report: " in r.out
    b = Built(out)
    check_books(b.stats)
    assert b.train and b.dev
    for sample in b.samples:
        check_shape(sample)
        assert sample["messages"][0]["content"] == b.stats["system_prompt"]
    assert "Mingming" in b.stats["system_prompt"]

    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["system_prompt"] == b.stats["system_prompt"]
    assert config["name"] == "Mingming"
    assert config["session_gap_minutes"] == 60 and config["min_reply_chars"] == 2

    # the report and its charts
    html = (out / "report.html").read_text(encoding="utf-8")
    charts = sorted(set(re.findall(r'src="(charts/[^"]+\.png)"', html)))
    assert len(charts) >= 6
    for chart in charts:
        data = (out / chart).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert "&lt;PHONE&gt;" in html and "&lt;EMAIL&gt;" in html
    assert b.stats["redactions"] == {"PHONE": 1, "EMAIL": 1}

    # exports
    ex = out / "exports"
    trained = {
        split: sum(
            1
            for s in samples
            for m in s["messages"]
            if m["role"] == "assistant" and "weight" not in m
        )
        for split, samples in (("train", b.train), ("dev", b.dev))
    }
    for split in ("train", "dev"):
        tutorial = read_jsonl(ex / f"tutorial_{split}.json")
        assert tutorial and all(set(x) == {"content", "summary"} for x in tutorial)
        assert all(isinstance(x["content"], str) and x["summary"] for x in tutorial)
        assert len(tutorial) == trained[split]
        chatglm = read_jsonl(ex / f"chatglm_{split}.json")
        assert len(chatglm) == trained[split]
        for x in chatglm:
            assert set(x) == {"prompt", "response", "history"}
            assert all(isinstance(h, list) and len(h) == 2 for h in x["history"])
        sharegpt = json.loads((ex / f"sharegpt_{split}.json").read_text(encoding="utf-8"))
        samples = b.train if split == "train" else b.dev
        assert isinstance(sharegpt, list) and len(sharegpt) == len(samples)
        for conv_, sample in zip(sharegpt, samples, strict=True):
            assert conv_["system"] == b.stats["system_prompt"]
            froms = [t["from"] for t in conv_["conversations"]]
            assert froms == ["human", "gpt"] * (len(froms) // 2) and froms
            assert [t["value"] for t in conv_["conversations"]] == [
                m["content"] for m in sample["messages"][1:]
            ]
    # the ChatGLM history holds the earlier pairs of the same sample
    glm = read_jsonl(ex / "chatglm_train.json")
    assert any(x["history"] for x in glm)
    info = json.loads((ex / "dataset_info.json").read_text(encoding="utf-8"))
    assert set(info) == {"twin_train", "twin_dev"}
    for entry in info.values():
        assert entry["formatting"] == "sharegpt"
        assert (ex / entry["file_name"]).is_file()
        assert entry["columns"]["messages"] == "conversations"
    # nothing but the dataset in the parent folder (no temp folders left)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "messages.jsonl"]


def test_name_defaults_to_my_sender_name_and_prompt_is_configurable(build):
    b = build([msg(0, "hi there"), msg(1, "hello you", me=True, sender="Bobby")])
    assert b.stats["name"] == "Bobby" and "Bobby" in b.stats["system_prompt"]
    custom = build(
        [msg(0, "hi there"), msg(1, "hello you", me=True)],
        "--name",
        "小明",
        config='system_prompt = "I am {name}."\n',
        out="custom",
    )
    assert custom.stats["system_prompt"] == "I am 小明."
    assert custom.samples[0]["messages"][0] == {"role": "system", "content": "I am 小明."}
    saved = json.loads((custom.folder / "config.json").read_text(encoding="utf-8"))
    assert saved["system_prompt"] == "I am 小明." and saved["name"] == "小明"


def test_rebuilding_into_a_dataset_folder_replaces_it(build):
    first = build([msg(0, "hi there"), msg(1, "hello you", me=True)])
    second = build([msg(0, "what's up"), msg(1, "not much", me=True)])
    assert first.folder == second.folder
    assert second.turns() == [[("user", "what's up"), ("assistant", "not much")]]
    assert sorted(p.name for p in first.folder.parent.iterdir()) == [
        "ds",
        "messages.jsonl",
        "twin.toml",
    ]


# --- bad input ------------------------------------------------------------------------------


@pytest.fixture
def fails(twin, tmp_path):
    """Run build expecting a clean user error: exit 1, and nothing new in the parent folder."""

    def run(*args, out: Path | None = None) -> str:
        out = out or tmp_path / "ds"
        before = sorted(p.name for p in out.parent.iterdir())
        r = twin("build", *args, "-o", out, "--no-report")
        assert r.code == 1, r.out
        assert r.err.startswith("error: ") and "Traceback" not in r.err
        assert sorted(p.name for p in out.parent.iterdir()) == before
        return r.err

    return run


def test_empty_export_file(tmp_path, fails):
    empty = tmp_path / "export.csv"
    empty.write_text("")
    err = fails(empty)
    assert "empty" in err


def test_export_with_a_header_and_no_messages(tmp_path, fails):
    path = tmp_path / "messages.csv"
    path.write_text(
        "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\r\n"
    )
    err = fails(path)
    assert "no messages" in err and "messages.csv" in err


def test_export_with_no_messages_by_me(tmp_path, fails):
    path = tmp_path / "chat.csv"
    path.write_text(
        "time,chat,sender,text,me\n"
        "2023-12-01T10:00:00,a,Alice,hi,false\n"
        "2023-12-01T10:01:00,a,Bob,yo,false\n"
        "2023-12-01T10:02:00,a,Bob,yo again,0\n"
    )
    err = fails(path)
    assert "none of the messages is marked as yours" in err
    assert "Bob: 2 messages" in err and "Alice: 1 message\n" in err
    # the file marks every message as someone else's: --me cannot change that, and it says so
    assert "--me does not apply" in err and "set me to true" in err
    err = fails(path, "--me", "Bob")
    assert "Bob: 2 messages" in err and "--me does not apply" in err


def test_me_matching_nobody(tmp_path, fails):
    path = tmp_path / "chat.csv"
    path.write_text(
        "time,chat,sender,text\n"
        "2023-12-01T10:00:00,a,Alice,hi\n"
        "2023-12-01T10:01:00,a,Bob,yo\n"
        "2023-12-01T10:02:00,a,Bob,yo again\n"
    )
    err = fails(path, "--me", "Zed")
    assert "'Zed'" in err and "matches no sender" in err
    assert "Bob: 2 messages" in err and "Alice: 1 message\n" in err
    assert "--me" in err.splitlines()[-1]
    err = fails(path)  # no --me at all for a file that does not mark me
    assert "Bob: 2 messages" in err and "--me" in err


def test_failed_build_keeps_the_previous_dataset(build, tmp_path, fails):
    good = build([msg(0, "hi there"), msg(1, "hello you", me=True)])
    before = (good.folder / "train.jsonl").read_bytes()
    bad = write_messages(tmp_path / "bad.jsonl", [msg(0, "hi there"), msg(1, "yo")])
    fails(bad, out=good.folder)
    assert (good.folder / "train.jsonl").read_bytes() == before


def test_failed_build_with_the_report_on_leaves_nothing(tmp_path, capfd):
    """A build that fails with the report on removes its folder and prints one error, no
    traceback (the report was once drawn in a second process that printed its own)."""
    src = write_messages(tmp_path / "m.jsonl", [msg(0, "hi there"), msg(1, "k", me=True)])
    parent = tmp_path / "out"
    parent.mkdir()
    code = main(["build", str(src), "-o", str(parent / "ds")])
    err = capfd.readouterr().err  # file descriptors: the drawing process writes there too
    assert code == 1
    assert "no training samples" in err and "Traceback" not in err
    assert list(parent.iterdir()) == []


def test_failed_build_removes_the_folders_it_made_for_the_output(tmp_path, twin):
    src = write_messages(tmp_path / "m.jsonl", [msg(0, "hi there"), msg(1, "k", me=True)])
    r = twin("build", src, "-o", tmp_path / "new" / "deeper" / "ds", "--no-report")
    assert r.code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl"]


def test_no_samples_at_all_is_an_error(tmp_path, fails):
    path = write_messages(tmp_path / "m.jsonl", [msg(0, "hi there"), msg(1, "k", me=True)])
    err = fails(path)
    assert "no training samples" in err and conv.NOTHING_TO_LEARN in err


def test_existing_folder_that_is_not_a_dataset_is_refused(tmp_path, fails):
    src = write_messages(tmp_path / "m.jsonl", [msg(0, "hi there"), msg(1, "hello you", me=True)])
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8")
    err = fails(src, out=folder)
    assert "not a twin dataset folder" in err
    assert [p.name for p in folder.iterdir()] == ["holiday.jpg"]
    file = tmp_path / "file.txt"
    file.write_text("x")
    fails(src, out=file)
    assert file.read_text() == "x"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("colour = 1\n", "unknown key(s) in [build]: colour"),
        ('media = "drop"\n', "media must be 'placeholder' or 'split'"),
        ("session_gap_minutes = 0\n", "session_gap_minutes must be > 0"),
        ("merge_window_minutes = 90\n", "merge_window_minutes"),
        ("dev_fraction = 0.7\n", "dev_fraction"),
        ('redact = ["PHONE", "SSN"]\n', "unknown redact types ['SSN']"),
        ('max_turns = "ten"\n', "max_turns must be a whole number, not 'ten'"),
        ('session_gap_minutes = "60"\n', "session_gap_minutes must be a number"),
        ('groups = "yes"\n', "groups must be true or false"),
        ('redact = "PHONE"\n', "redact must be a list of strings"),
        ("max_tokens = 1e9\n", "max_tokens must be a whole number"),
        ("name = 5\n", "name must be a string"),
        ('block = ["a", 3]\n', "block must be a list of strings"),
        ("seed = 1.5\n", "seed must be a whole number"),
        ("max_turns = 1\n", "max_turns must be >= 2"),
        ("[build\n", "not valid TOML"),
        ('build = "x"\n', "[build] must be a table"),
    ],
)
def test_bad_twin_toml(tmp_path, fails, toml, expected):
    src = write_messages(tmp_path / "m.jsonl", [msg(0, "hi there"), msg(1, "hello you", me=True)])
    config = tmp_path / "twin.toml"
    config.write_text(toml if toml.startswith(("[", "build")) else "[build]\n" + toml)
    err = fails(src, "--config", config)
    assert expected in err
    assert err.count("\n") <= 2  # one clear line, not a traceback


def test_missing_config_file(tmp_path, fails):
    src = write_messages(tmp_path / "m.jsonl", [msg(0, "hi there"), msg(1, "hello you", me=True)])
    err = fails(src, "--config", tmp_path / "nope.toml")
    assert "config file not found" in err
