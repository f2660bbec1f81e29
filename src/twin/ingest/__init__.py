"""Read chat exports (WeChat, QQ, Telegram, WhatsApp, …) into the one message schema.

`twin.ingest.pipeline` reads them (ingest, summary, write_jsonl); this package imports nothing,
so that the CLI parses its options (twin.ingest.command) without loading numpy and pyarrow.
"""
