"""Read chat exports (WeChat, QQ, Telegram, WhatsApp, …) into the one message schema."""

from twin.ingest.pipeline import IngestResult, ingest, summary, write_jsonl

__all__ = ["IngestResult", "ingest", "summary", "write_jsonl"]
