"""Every text the chat page shows, in English and Chinese.

Kept in one table so both languages always have the same keys (a test checks it) and a page never
mixes languages. `{name}`, `{n}` and `{limit}` are filled in where they appear.
"""

from __future__ import annotations

LANGS = ("en", "zh")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "{name}'s twin",
        "title_unnamed": "Chat twin",
        "description": (
            "Chat with an AI that learned to talk like {name} from their messages. "
            "It is an imitation, not the real person: it can be wrong or make things up."
        ),
        "description_unnamed": (
            "Chat with an AI that learned to talk like someone from their messages. "
            "It is an imitation, not the real person: it can be wrong or make things up."
        ),
        "placeholder": "Type a message…",
        "submit": "Send",
        "stop": "Stop",
        "examples_label": "Try one of these",
        "too_long": "That message is too long ({n} characters; the limit is {limit}). Please send a shorter one.",
        "empty": "Please type a message first.",
        "failed": "Sorry, something went wrong while writing a reply. Please try again in a moment.",
        "busy": "Too many people are chatting right now. Please try again in a minute.",
        "too_much_history": (
            "This conversation is too long to continue ({n} messages, {chars} characters; "
            "the limits are {limit} and {limit_chars}). Please clear the chat and start again."
        ),
        "login_title": "This twin is private",
        "login_prompt": "Type the key the owner gave you. You only need to do this once.",
        "login_wrong": "That key is not right. Please try again.",
        "login_button": "Open",
    },
    "zh": {
        "title": "{name} 的数字分身",
        "title_unnamed": "聊天分身",
        "description": (
            "和一个从 {name} 的聊天记录里学会说话方式的 AI 聊天。"
            "它只是模仿，不是本人：可能会说错，也可能会编造内容。"
        ),
        "description_unnamed": (
            "和一个从聊天记录里学会某人说话方式的 AI 聊天。"
            "它只是模仿，不是本人：可能会说错，也可能会编造内容。"
        ),
        "placeholder": "输入消息…",
        "submit": "发送",
        "stop": "停止",
        "examples_label": "试试这些",
        "too_long": "这条消息太长了（{n} 个字符，上限是 {limit}）。请发短一点的消息。",
        "empty": "请先输入消息。",
        "failed": "抱歉，生成回复时出了点问题，请稍后再试。",
        "busy": "现在聊天的人太多了，请过一分钟再试。",
        "too_much_history": (
            "这段对话太长了，无法继续（{n} 条消息，{chars} 个字符；上限是 {limit} 条和 "
            "{limit_chars} 个字符）。请清空聊天后重新开始。"
        ),
        "login_title": "这个分身是私密的",
        "login_prompt": "请输入主人给你的密钥。只需要输入一次。",
        "login_wrong": "密钥不对，请再试一次。",
        "login_button": "进入",
    },
}

# Clickable examples when neither the run nor a flag gives any: everyday openers, never taken from
# the training data (those are someone's private messages and the page may be public).
DEFAULT_EXAMPLES: dict[str, list[str]] = {
    "en": ["Hey, how have you been?", "What are you up to this weekend?", "Any plans tonight?"],
    "zh": ["在干嘛呢？", "周末有什么安排？", "最近怎么样？"],
}


def text(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang`, with `values` filled in."""
    return TEXTS[lang][key].format(**values) if values else TEXTS[lang][key]
