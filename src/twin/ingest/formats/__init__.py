"""The importers, one module per export format, tried in this order when detecting.

Each module implements twin.ingest.importer.Importer (NAME, LABEL, ME, sniff, parse, and
optionally read_table); each is checked against it when first imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from twin.ingest.importer import Importer, check

# Specific formats before generic ones: the neutral format accepts almost any table.
ORDER = (
    "wechatmsg_csv",
    "wechat2025_csv",
    "pywxdump_csv",
    "chatlog_csv",
    "chatlog_json",
    "qq_txt",
    "qq_json",
    "qce_txt",
    "telegram_json",
    "discord_json",
    "messenger_json",
    "line_txt",
    "whatsapp_txt",
    "wechatmsg_txt",
    "neutral",
)


def all_formats() -> list[Importer]:
    return list(each_format())


def each_format() -> Iterator[Importer]:
    """The importers in detection order, each imported when reached (detection usually stops
    at the first few)."""
    for name in ORDER:
        yield check(importlib.import_module(f"twin.ingest.formats.{name}"))


def by_name(name: str) -> Importer | None:
    for module in each_format():
        if name == module.NAME:
            return module
    return None


def names() -> list[str]:
    """The --format values, without importing the importers (the CLI lists them in its help)."""
    return [name.replace("_", "-") for name in ORDER]
