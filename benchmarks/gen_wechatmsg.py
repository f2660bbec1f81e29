"""Generate a large, realistic WeChatMsg messages.csv for benchmarks.

Rows are chronological across chats (interleaved, as WeChatMsg writes the MSG table), with the
kind mix of a real export, multi-line and quoted texts, and some personal data for redaction.
Layouts (docs/formats.md): `1.0` (>=1.0.2: 12 names, 12 fields, BOM), `0.2.6` (9 names, 10
fields: the unnamed MsgSvrID; no chat or sender names), and `0.2.6-edited`, the same file with
the `_` column name the tutorial has people add by hand so that pandas can read it.

    python benchmarks/gen_wechatmsg.py -n 1000000 -o benchmarks/data/messages_1m.csv
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

HEADER = [
    "localId",
    "TalkerId",
    "Type",
    "SubType",
    "IsSender",
    "CreateTime",
    "Status",
    "StrContent",
    "StrTime",
    "Remark",
    "NickName",
    "Sender",
]

WORDS_ZH = [
    "今天",
    "晚上",
    "吃什么",
    "火锅",
    "好的",
    "哈哈哈",
    "我觉得",
    "可以",
    "明天",
    "见面",
    "下班",
    "了吗",
    "周末",
    "爬山",
    "电影",
    "太累了",
    "加班",
    "老板",
    "开会",
    "哈哈",
    "真的假的",
    "好吧",
    "在吗",
    "到了",
]
WORDS_EN = [
    "ok",
    "lol",
    "see you",
    "tonight",
    "sounds good",
    "what's up",
    "really",
    "haha",
    "nice",
    "on my way",
    "tomorrow",
    "coffee?",
    "sure",
    "no way",
    "let me check",
    "thanks",
]
PII = [
    "13812345678",
    "alice@example.com",
    "https://example.org/x?id=3",
    "192.168.1.20",
    "6222020200112233445",
    "微信号 wxid_ab12cd34ef",
]
TZ = timezone(timedelta(hours=8))


def _text(rng: random.Random) -> str:
    words = WORDS_ZH if rng.random() < 0.7 else WORDS_EN
    sep = "" if words is WORDS_ZH else " "
    text = sep.join(rng.choice(words) for _ in range(rng.randint(1, 8)))
    r = rng.random()
    if r < 0.01:
        text += " " + rng.choice(PII)
    elif r < 0.03:
        text += "\n" + sep.join(rng.choice(words) for _ in range(3))
    elif r < 0.05:
        text += ', "quoted", 23333'
    return text


LAYOUTS = ("1.0", "0.2.6", "0.2.6-edited")


def generate(n: int, out: Path, seed: int = 0, chats: int = 200, layout: str = "1.0") -> None:
    rng = random.Random(seed)
    chat_info = []
    for i in range(chats):
        group = i % 10 == 0
        members = [f"成员{i}_{j}" for j in range(rng.randint(3, 12))] if group else [f"friend{i}"]
        chat_info.append(
            (100 + i, "" if group else f"备注{i}", f"群{i}" if group else f"Nick{i}", members)
        )
    weights = [1 / (k + 1) for k in range(chats)]
    t = int(datetime(2021, 1, 1, tzinfo=TZ).timestamp())
    out.parent.mkdir(parents=True, exist_ok=True)
    new = layout == "1.0"
    with open(out, "w", encoding="utf-8-sig" if new else "utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER if new else HEADER[:9] + (["_"] if layout == "0.2.6-edited" else []))
        for local_id in range(1, n + 1):
            talker, remark, nick, members = rng.choices(chat_info, weights)[0]
            t += rng.randint(1, 120)
            me = rng.random() < 0.4
            sender = "我" if me else rng.choice(members)
            r = rng.random()
            sub = 0
            if r < 0.76:
                type_, content = 1, _text(rng)
            elif r < 0.84:
                type_, content = 3, '<msg><img length="1024" md5="ab" /></msg>'
            elif r < 0.92:
                type_, content = 47, '<msg><emoji fromusername="wxid_a" md5="0f3c" /></msg>'
            elif r < 0.95:
                type_, content = 34, '<msg><voicemsg voicelength="2380" /></msg>'
            elif r < 0.97:
                type_, sub, content = 49, rng.choice([5, 6, 57]), ""
            elif r < 0.99:
                type_, content = 10000, "你撤回了一条消息" if me else f'"{sender}" 撤回了一条消息'
            else:
                type_, content = 43, '<msg><videomsg length="10" /></msg>'
            local = datetime.fromtimestamp(t, TZ).strftime("%Y-%m-%d %H:%M:%S")
            row = [local_id, talker, type_, sub, int(me), t, "", content, local]
            if new:
                w.writerow([*row, remark, nick, sender])
            else:
                w.writerow([*row, 5_400_000_000_000_000_000 + local_id])  # MsgSvrID


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=1_000_000)
    p.add_argument("-o", "--output", default="benchmarks/data/messages_1m.csv")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layout", choices=LAYOUTS, default="1.0")
    args = p.parse_args()
    generate(args.n, Path(args.output), args.seed, layout=args.layout)
    print(f"wrote {args.n} messages ({args.layout} layout) to {args.output}")


if __name__ == "__main__":
    main()
