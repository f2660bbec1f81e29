"""Every word the studio shows, in English and Chinese (chosen from the browser, with a switch)."""

from __future__ import annotations

LANGS = ("en", "zh")

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("# twin studio", "# twin 工作室"),
    "intro": (
        "From your chat export to a clone your friends can talk to, in six steps. Everything stays "
        "on this computer, in the project folder shown below (the same files the `twin` commands write).",
        "六步，从聊天记录导出文件到一个朋友们可以聊天的分身。所有数据都留在这台电脑上，保存在下面的项目文件夹里"
        "（和 `twin` 命令写出的文件完全相同）。",
    ),
    "lang": ("Language", "语言"),
    "project": ("Project folder", "项目文件夹"),
    # 1
    "step1": ("1 · Your messages", "1 · 你的聊天记录"),
    "step1_help": (
        "Upload your export files or a zip (WeChat/留痕 CSV, QQ, Telegram, WhatsApp, …), or type the "
        "path of a folder on this computer. The format of each file is detected.",
        "上传导出的文件或 zip（微信/留痕 CSV、QQ、Telegram、WhatsApp 等），或者填写这台电脑上某个文件夹的路径。"
        "每个文件的格式会自动识别。",
    ),
    "upload": ("Export files or a zip", "导出文件或 zip"),
    "folder": ("…or a folder on this computer", "……或这台电脑上的文件夹"),
    "read": ("Read my messages", "读取聊天记录"),
    "files_table": ("What was read", "读取结果"),
    "pick_me": ("Which sender are you?", "哪一个发送者是你？"),
    "pick_me_help": (
        "This export does not mark your own messages. Pick yourself from the senders below "
        "(with their message counts) and read again.",
        "这个导出文件没有标出哪些消息是你发的。请从下面的发送者（附消息数）中选出你自己，然后再读取一次。",
    ),
    "use_me": ("This is me — read again", "这是我，重新读取"),
    "ingest_ok": (
        "Read {messages} messages from {files} file(s), {mine} of them yours.",
        "从 {files} 个文件读取了 {messages} 条消息，其中 {mine} 条是你发的。",
    ),
    # 2
    "step2": ("2 · Your dataset", "2 · 你的数据集"),
    "step2_help": (
        "Your messages become conversations in which your own words are the replies to learn. "
        "Phone numbers, e-mails, ids and addresses are replaced before anything is trained.",
        "聊天记录会被整理成对话，你自己说的话就是要学习的回复。手机号、邮箱、账号和地址在训练前都会被替换掉。",
    ),
    "name": ("Your name (for the clone's introduction)", "你的名字（分身的自我介绍用）"),
    "session_gap": ("Minutes of silence that start a new conversation", "间隔多少分钟算一段新对话"),
    "groups": ("Include group chats", "包括群聊"),
    "min_reply": ("Shortest reply to learn (characters)", "学习的最短回复（字数）"),
    "block": ("Words to block (comma-separated)", "屏蔽的词（用逗号分隔）"),
    "build": ("Build the dataset", "生成数据集"),
    "build_ok": (
        "{samples} conversations ({train} to train on, {dev} held out) from {input} messages; "
        "{used} messages used.",
        "从 {input} 条消息得到 {samples} 段对话（{train} 段用于训练，{dev} 段留作检验），用到了 {used} 条消息。",
    ),
    "dropped": ("Left out, and why", "未使用的消息及原因"),
    "redacted": ("Personal data replaced", "已替换的个人信息"),
    "charts": ("Charts", "图表"),
    "samples": (
        "Sample conversations (highlighted: your replies, the part the clone learns)",
        "对话示例（高亮部分：你的回复，也就是分身要学习的内容）",
    ),
    # 3
    "step3": ("3 · Your clone", "3 · 你的分身"),
    "step3_help": (
        "Training runs in the background: you can close or reload this page, it goes on. "
        "Stop saves a checkpoint; Resume continues from it.",
        "训练在后台进行：关闭或刷新页面都不会中断。“停止”会保存检查点，“继续”会从检查点接着训练。",
    ),
    "base": ("Base model", "基础模型"),
    "base_other": (
        "…or another base (Hugging Face id or a folder)",
        "……或其他基础模型（Hugging Face 名称或文件夹）",
    ),
    "method": ("Method", "方法"),
    "epochs": ("Passes over your conversations (epochs)", "训练轮数（epochs）"),
    "steps": ("…or a fixed number of steps (0: use epochs)", "……或固定步数（0 表示按轮数）"),
    "start": ("Start training", "开始训练"),
    "stop": ("Stop", "停止"),
    "resume": ("Resume", "继续"),
    "loss": ("Training loss", "训练损失"),
    "state_none": ("No training yet.", "还没有开始训练。"),
    "state_running": (
        "Training {run}: step {step} of {total}",
        "正在训练 {run}：第 {step} / {total} 步",
    ),
    "state_done": (
        "{run} is trained ({step} steps). Talk to it in step 4.",
        "{run} 训练完成（{step} 步）。去第 4 步和它聊天吧。",
    ),
    "state_stopped": (
        "{run} stopped at step {step}. Resume to continue.",
        "{run} 停在第 {step} 步。点“继续”接着训练。",
    ),
    "state_failed": ("{run} failed.", "{run} 训练失败。"),
    "state_lost": (
        "{run} ended without a word (the studio may have been restarted).",
        "{run} 已结束，但没有留下结果（工作室可能被重启过）。",
    ),
    "speed_done": ("last loss {loss} · {tps} tokens/s", "最后的损失 {loss} · 每秒 {tps} 个 token"),
    "reason": ("reason", "原因"),
    "messages": ("messages", "消息数"),
    "speed": (
        "loss {loss} · {tps} tokens/s · about {eta} left",
        "损失 {loss} · 每秒 {tps} 个 token · 预计还需 {eta}",
    ),
    # 4
    "step4": ("4 · Talk to it", "4 · 和它聊天"),
    "run": ("Clone", "分身"),
    "compare": ("Side by side with", "对照"),
    "compare_none": ("nothing", "不对照"),
    "compare_base": ("the untuned base", "未训练的基础模型"),
    "temperature": ("Temperature (higher: more surprising)", "温度（越高越随机）"),
    "message": ("Your message", "你的消息"),
    "send": ("Send", "发送"),
    "clear": ("Clear", "清空"),
    "refresh": ("Refresh the list", "刷新列表"),
    # 5
    "step5": ("5 · How much it sounds like you", "5 · 它有多像你"),
    "step5_help": (
        "Replies to held-out conversations, by your clone and by the untuned base, scored against "
        "what you really wrote.",
        "用留作检验的对话测一测：分身和未训练的基础模型分别回复，再和你真实的回复对比打分。",
    ),
    "eval_samples": ("Conversations to try", "测试的对话数"),
    "evaluate": ("Evaluate", "开始评测"),
    "eval_table": ("Scores", "得分"),
    "eval_samples_table": ("Side by side", "逐条对比"),
    # 6
    "step6": ("6 · Share it", "6 · 分享"),
    "step6_help": (
        "Start the chat page for your friends. On your network (0.0.0.0) or a public link, a key "
        "is required: give it to your friends with the link.",
        "为朋友们启动聊天页面。在局域网（0.0.0.0）或公开链接上分享时必须设置密钥，把密钥和链接一起发给朋友。",
    ),
    "host": ("Who can reach it", "谁可以访问"),
    "port": ("Port", "端口"),
    "key": ("Key for your friends", "给朋友的密钥"),
    "share": ("Start sharing", "开始分享"),
    "unshare": ("Stop sharing", "停止分享"),
    "sharing": ("Sharing {run} at {url}", "正在分享 {run}：{url}"),
    "export_kind": ("Download", "下载"),
    "export": ("Prepare the download", "准备下载文件"),
    "notebook": ("Kaggle notebook bundle (free GPU)", "Kaggle 笔记本打包（免费 GPU）"),
    "download": ("Download", "下载"),
    # common
    "working": ("Working…", "处理中……"),
    "error": ("Error", "出错了"),
    "no_runs": (
        "No trained clone yet: train one in step 3.",
        "还没有训练好的分身：请在第 3 步训练。",
    ),
}


def t(lang: str, key: str, **values) -> str:
    en, zh = TEXTS[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text


def pick_lang(accept_language: str | None, query: str | None = None) -> str:
    """`?lang=zh` wins; otherwise the browser's first preference between English and Chinese."""
    if query in LANGS:
        return query
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"
