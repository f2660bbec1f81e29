"""Read chat exports (WeChat, QQ, Telegram, WhatsApp, …) into the one message schema."""

__all__ = ["IngestResult", "ingest", "summary", "write_jsonl"]


def __getattr__(name: str):  # noqa: ANN202
    # The pipeline (numpy, pyarrow) loads on first use, so that the CLI can parse its options
    # and start the report process before paying for those imports.
    if name in __all__:
        from twin.ingest import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'twin.ingest' has no attribute {name!r}")
