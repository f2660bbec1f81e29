"""Write the Chinese sample export that ships with twin (src/twin/data/sample/messages_zh.csv).

A WeChatMsg (>=1.0.2) messages.csv for one invented persona, 林小雨 (小雨): a front-end
developer at a mobile-game studio in Chengdu, from Chongqing, with an orange cat called 年糕,
badminton every Saturday morning, hotpot as the answer to every food question, and a birthday
on 3 October. Her habits, recognisable in every chat: replies often open with "嗯嗯", end with
"～", laugh with exactly four 哈, say 好滴 / 冲鸭 / 木有 / 酱紫, and use the [捂脸] emoticon.

Her replies are composed (an opener, one of several ways to state the fact, an ending) rather
than a few fixed strings, so a clone has to learn the habits and the facts, not memorise
sentences. Her friends write plainly. Five 1:1 chats and one group; stickers, images, voice,
recalls, system lines, and a few planted phone numbers and e-mails `twin build` must redact.
Every name, number and address is invented. Deterministic: the same file every run.

    python scripts/make_sample_export_zh.py
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sample_export import Export

OUT = Path(__file__).resolve().parent.parent / "src" / "twin" / "data" / "sample" / "messages_zh.csv"
TZ = timezone(timedelta(hours=8))
FRIENDS = [(21, "王磊", "磊子"), (22, "陈静", "静静"), (23, "妈妈", "妈妈"), (24, "张伟(同事)", "zhangwei"), (25, "刘洋", "阿洋")]
GROUP = (40, "", "羽毛球小分队🏸")
GROUP_MEMBERS = ["磊子", "阿洋", "小周", "Kiki"]

# (questions a friend may ask, follow-ups, the ways 小雨 states the answer)
TOPICS = [
    (["周末干嘛呢", "这周六有空吗", "周末有什么安排", "星期六出来玩不", "周六上午约吗"],
     ["想找你逛街", "一起去看电影？"],
     ["周六上午要打羽毛球呀", "周六早上羽毛球雷打不动", "上午打羽毛球 下午可以", "打完羽毛球再找你"]),
    (["你家猫叫啥来着", "年糕最近怎么样", "你养的什么猫", "猫咪还好吗", "你家主子乖不乖"],
     ["发张照片看看"],
     ["年糕呀 橘猫 又胖了", "年糕超黏人的 天天踩我键盘", "年糕今天又把杯子推下去了", "我家橘猫年糕 能吃能睡"]),
    (["晚上吃啥", "想吃点辣的 推荐一下", "饿了 吃什么好", "今晚去哪吃", "中午吃什么呀"],
     ["不想吃外卖了"],
     ["火锅！必须火锅", "去吃火锅呀 我知道一家超好吃的", "火锅冲鸭", "吃火锅吧 毛肚鸭肠安排上"]),
    (["最近工作忙吗", "今天加班没", "你现在做什么工作来着", "上班累不累", "项目上线了吗"],
     ["感觉你好久没休息了"],
     ["写前端写到头秃", "还在加班改bug呢", "今天不加班 游戏版本刚上线", "在游戏公司写前端 天天改页面"]),
    (["你老家哪里的", "过年回重庆吗", "你是成都人吗", "你哪里人呀"],
     [],
     ["老家重庆哒 现在在成都上班", "过年回重庆吃我妈做的菜", "不是啦 重庆人 在成都漂着", "重庆妹子 在成都写代码"]),
    (["明天见个面？", "下班一起吃饭不", "出来喝奶茶吗", "晚上出来走走？"],
     ["老地方？"],
     ["好滴好滴 几点", "冲鸭 下班找你", "可以呀 老地方见", "好滴 奶茶我要三分糖"]),
    (["好烦啊 考试没过", "今天被老板骂了", "心情不好", "好累啊 不想上班了"],
     ["感觉自己好失败"],
     ["抱抱 晚上请你吃火锅", "木有关系的 下次一定行 冲鸭", "先别想了 出来散散心", "酱紫 明天又是新的一天"]),
    (["你生日几号来着", "你生日快到了吧", "你生日想要什么"],
     [],
     ["十月三号呀 记得送礼物", "10月3号 国庆节那几天", "十月三号 想要新的羽毛球拍"]),
    (["那我先走了", "谢谢啦", "收到", "好的 那就这么定了"],
     [],
     ["好滴", "不客气", "好滴好滴", "酱紫 拜拜"]),
    (["你平时喜欢干嘛", "有什么爱好", "下班后一般做什么"],
     [],
     ["打羽毛球 撸猫 吃火锅", "打羽毛球呀 一周打两次", "下班回家撸年糕"]),
    (["你们公司做什么的", "你在哪上班", "你们公司在哪"],
     [],
     ["做手游的 我写前端", "在成都高新区一家游戏公司", "游戏公司 天天赶版本"]),
]
OPENERS = ["嗯嗯 ", "嗯嗯 ", "", "", "哎 "]
ENDINGS = ["～", "～", " 哈哈哈哈", "～ 哈哈哈哈", " [捂脸]", ""]
PII = [
    ("我换号了 13812345678", "好滴 存了～"),
    ("简历发我邮箱 lei.wang@example.com", "嗯嗯 马上发～"),
    ("房东电话 028-8765-4321 有事找他", "好滴 谢谢～ 哈哈哈哈"),
]
MY_OPENERS = ["在吗～", "哈哈哈哈 年糕又干坏事了", "今晚火锅走起？", "周六羽毛球来不来～"]


def reply(rng: random.Random, bodies: list[str]) -> str:
    """One of 小雨's replies: an opener, one way of stating the fact, an ending."""
    return (rng.choice(OPENERS) + rng.choice(bodies) + rng.choice(ENDINGS)).strip()


def main() -> None:
    rng = random.Random(20240601)
    export = Export(rng, datetime(2024, 1, 3, 9, 0, tzinfo=TZ), gap_seconds=(10, 120))
    add = export.add

    def mine(chat: tuple, text: str) -> None:
        add(chat, 1, True, text, "我")
        r = rng.random()
        if r < 0.06:
            add(chat, 47, True, '<msg><emoji fromusername="wxid_xy" md5="9a1b" /></msg>', "我")
        elif r < 0.09:
            add(chat, 3, True, '<msg><img length="4096" md5="7c2d" /></msg>', "我")
        elif r < 0.1:
            add(chat, 10000, True, "你撤回了一条消息", "我")

    while export.next_id < 2600:
        export.t += timedelta(hours=rng.randint(3, 40), minutes=rng.randint(0, 59))
        if rng.random() < 0.12:
            for _ in range(rng.randint(2, 5)):
                asks, _, bodies = rng.choice(TOPICS)
                add(GROUP, 1, False, rng.choice(asks), rng.choice(GROUP_MEMBERS))
                if rng.random() < 0.5:
                    add(GROUP, 1, True, reply(rng, bodies), "我")
            continue
        chat = rng.choice(FRIENDS)
        if rng.random() < 0.1:
            mine(chat, rng.choice(MY_OPENERS))
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.05:
                ask, answer = rng.choice(PII)
                add(chat, 1, False, ask, chat[2])
                mine(chat, answer)
                continue
            asks, follow, bodies = rng.choice(TOPICS)
            add(chat, 1, False, rng.choice(asks), chat[2])
            if follow and rng.random() < 0.3:
                add(chat, 1, False, rng.choice(follow), chat[2])
            if rng.random() < 0.04:
                add(chat, 34, False, '<msg><voicemsg voicelength="3100" /></msg>', chat[2])
            mine(chat, reply(rng, bodies))
            export.t += timedelta(minutes=rng.randint(0, 6))
    export.write(OUT)


if __name__ == "__main__":
    main()
