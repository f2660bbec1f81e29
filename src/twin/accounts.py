"""Is a sender's name an account id rather than what a person is called? One answer for ingest
(WeChat's per-contact files write wxids as senders; such a sender gets `sender_id`) and for build
(an id never reaches a sample, the report or the system prompt: see twin.dataset.names)."""

from __future__ import annotations

import re

# Account ids, not names: WeChat (wxid_…, gh_… official accounts, …@chatroom groups), numeric
# ids (QQ numbers, Telegram and Discord ids, with Telegram's user/channel prefix), and the
# random lowercase ids of older WeChat accounts that start with a digit (12345iru2zsmo22).
_ACCOUNT_ID = re.compile(
    r"wxid_[\w\-]+|gh_[0-9a-f]{6,}|[\w\-.]+@(?:im\.)?chatroom|[\w\-.]+@openim"
    r"|(?:user|channel|chat)?\d{5,}"
)
_RANDOM_ID = re.compile(r"\d[a-z0-9]*[a-z][a-z0-9]*")


def is_account_id(name: str) -> bool:
    """Is this name an account id rather than something a person is called?"""
    name = name.strip()
    if _ACCOUNT_ID.fullmatch(name) is not None:
        return True
    # `2pac`, `2023exports`: a word after a number is a nickname or a folder; the random ids
    # are long and mix digits into the letters (12345iru2zsmo22).
    return (
        _RANDOM_ID.fullmatch(name) is not None
        and len(name) >= 8
        and len(re.findall(r"\d+", name)) >= 2
    )
