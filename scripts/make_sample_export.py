"""Write the sample export that ships with twin (src/twin/data/sample/messages.csv).

A WeChatMsg (>=1.0.2) messages.csv for one invented persona, Mia: a climbing-gym barista in
Shanghai who writes in lowercase, laughs with "haha", calls people "dude", ends most messages
with " ~", says "sounds good!!" and sprinkles in a little Chinese (哈哈, 好的, 加油). Her friends
write in their own, plainer styles. Several 1:1 chats and one group; stickers, images, voice,
recalls, system lines, and a few planted phone numbers and e-mails that `twin build` must redact.
Every name, number and address is invented. Deterministic: the same file every run.

    python scripts/make_sample_export.py
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sample_export import Export

OUT = Path(__file__).resolve().parent.parent / "src" / "twin" / "data" / "sample" / "messages.csv"
TZ = timezone(timedelta(hours=8))

FRIENDS = [
    # (TalkerId, remark, nickname)
    (11, "Leo", "leo_k"),
    (12, "Priya", "priya.s"),
    (13, "阿杰", "Jay"),
    (14, "Sam (work)", "samwu"),
    (15, "Nina", "nina"),
]
GROUP = (30, "", "weekend climbers 🧗")
GROUP_MEMBERS = ["Leo", "Tom", "Yuki", "阿杰"]

# Topics: (friend opener, follow-ups the friend may add, Mia's replies)
TOPICS = [
    (["are you free tonight?", "what are you up to tonight", "doing anything later?"],
     ["thinking dinner", "maybe a movie?"],
     ["haha dude i'm at the gym till 8 ~", "yesss free after 7 ~ what's the plan", "omg yes, need to get out of the house ~"]),
    (["wanna climb this weekend?", "gym on saturday?", "bouldering sunday morning?"],
     ["the new routes are up", "i need to work on my overhangs"],
     ["sounds good!! saturday 10am? ~", "dude yes, my fingers are ready haha ~", "加油 we send the blue one this time ~"]),
    (["how was work", "long day?", "busy at the cafe today?"],
     ["you sounded tired earlier"],
     ["haha so busy, made like 200 lattes ~", "long day but the new beans are amazing ~", "omg a guy ordered a 7-shot latte dude ~"]),
    (["what should i get for dinner", "any food recs near jing'an?", "hungry. ideas?"],
     ["something spicy maybe"],
     ["dude get the hotpot on yuyuan rd, trust me ~", "noodles!! the lanzhou place is the best ~", "haha spicy = hotpot always ~"]),
    (["did you see the new coffee place?", "have you tried the oat flat white at seesaw?"],
     ["it's kinda pricey"],
     ["yesss their oat flat white is so good ~", "haha i'm a coffee snob, it's ok but ours is better ~"]),
    (["happy birthday!!", "生日快乐!!"],
     [],
     ["thank youuu dude!! ~", "haha 谢谢!! cake later? ~"]),
    (["can you send me the address", "where is the gym again?"],
     ["the new one"],
     ["it's on changle rd, next to the bakery ~", "haha i'll send a pin, it's near the metro ~"]),
    (["i'm so stressed about the exam", "ugh i failed my driving test"],
     ["feel like giving up"],
     ["dude you got this, 加油!! ~", "haha no way, coffee on me tomorrow ok? ~", "omg it's fine, try again next week ~"]),
    (["did you finish the book?", "what are you reading these days"],
     [],
     ["haha still on chapter 3, too many lattes ~", "reading about climbing in yosemite, so good ~"]),
    (["好的 明天见", "ok see you tomorrow"],
     [],
     ["好的 see ya ~", "haha see you dude ~"]),
]
PII_MESSAGES = [
    ("my new number is 13912345678 btw", "got it dude, saved ~"),
    ("send the photos to leo.k@example.com pls", "ok sending now ~"),
    ("the landlord is +86 138 0013 8000 if the heater breaks again", "haha thanks, hope it doesn't ~"),
    ("my email changed: priya.sharma@example.org", "noted!! ~"),
]
MIA_OPENERS = ["dudeee guess what ~", "haha i just saw a cat in the gym ~", "omg the new beans arrived ~", "anyone up for hotpot? ~"]


def main() -> None:
    rng = random.Random(20231201)
    export = Export(rng, datetime(2023, 3, 1, 9, 0, tzinfo=TZ), gap_seconds=(8, 150))
    add = export.add

    def friend_turn(chat: tuple, name: str, text: str) -> None:
        add(chat, 1, False, text, name)
        if rng.random() < 0.08:
            add(chat, 47, False, '<msg><emoji fromusername="wxid_f" md5="ab12" /></msg>', name)

    def mia_turn(chat: tuple, text: str) -> None:
        if rng.random() < 0.25 and " ~" in text:  # she often sends a thought in two bursts
            head, _, tail = text.partition(", ")
            if tail:
                add(chat, 1, True, head, "我")
                text = tail
        add(chat, 1, True, text, "我")
        r = rng.random()
        if r < 0.07:
            add(chat, 47, True, '<msg><emoji fromusername="wxid_mia" md5="cd34" /></msg>', "我")
        elif r < 0.1:
            add(chat, 3, True, '<msg><img length="2048" md5="ef56" /></msg>', "我")
        elif r < 0.115:
            add(chat, 10000, True, "你撤回了一条消息", "我")

    while export.next_id < 3200:
        export.t += timedelta(hours=rng.randint(2, 30), minutes=rng.randint(0, 59))
        if rng.random() < 0.18:  # the group chat
            for _ in range(rng.randint(2, 6)):
                member = rng.choice(GROUP_MEMBERS)
                opener, follow, replies = rng.choice(TOPICS)
                add(GROUP, 1, False, rng.choice(opener), member)
                if rng.random() < 0.6:
                    add(GROUP, 1, True, rng.choice(replies), "我")
            if rng.random() < 0.2:
                add(GROUP, 10000, False, '"Tom" 撤回了一条消息', "Tom")
            continue
        chat = rng.choice(FRIENDS)
        name = chat[2]
        if rng.random() < 0.1:
            mia_turn(chat, rng.choice(MIA_OPENERS))
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.06:
                ask, answer = rng.choice(PII_MESSAGES)
                friend_turn(chat, name, ask)
                mia_turn(chat, answer)
                continue
            opener, follow, replies = rng.choice(TOPICS)
            friend_turn(chat, name, rng.choice(opener))
            if follow and rng.random() < 0.4:
                friend_turn(chat, name, rng.choice(follow))
            if rng.random() < 0.05:
                add(chat, 34, False, '<msg><voicemsg voicelength="2380" /></msg>', name)
            mia_turn(chat, rng.choice(replies))
            export.t += timedelta(minutes=rng.randint(0, 8))
    export.write(OUT)


if __name__ == "__main__":
    main()
