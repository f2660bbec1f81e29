"""What a file that is not a chat export is, from its first bytes.

People drop screenshots, PDFs, the encrypted WeChat/QQ databases or a Word file on `twin build`.
Reading those as text ends in "undecodable bytes", which says nothing useful; their magic
numbers say what they are, so the error can name it: "not a chat export (a PNG image)".
"""

from __future__ import annotations

from pathlib import PurePath

_OFFICE = {".docx": "a Word document", ".xlsx": "an Excel workbook", ".pptx": "a PowerPoint file"}

# (prefix, what it is), checked in order
_PREFIXES: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document (.doc/.xls)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"#!SILK", "a WeChat voice message (SILK audio)"),
    (b"\x02#!SILK", "a WeChat voice message (SILK audio)"),
    (b"OggS", "an Ogg audio file"),
    (b"ID3", "an MP3 audio file"),
    (b"\x7fELF", "a program (ELF)"),
]

SQLITE_HINT = (
    "WeChat's and QQ's own databases are encrypted: export the chats with WeChatMsg/留痕, "
    "PyWxDump or QQChatExporter and give twin that export"
)


def binary_kind(head: bytes, name: str = "") -> str | None:
    """What the file is ("a PNG image"), or None when it may be text (a chat export)."""
    for prefix, kind in _PREFIXES:
        if head.startswith(prefix):
            return kind
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        suffix = PurePath(name).suffix.lower()
        return _OFFICE.get(suffix, "a ZIP archive with no chat export in it")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "a HEIC image"
        if brand.startswith(b"M4A"):
            return "an M4A audio file"
        return "a video (MP4/MOV)"
    if head.startswith(b"RIFF") and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return {b"WEBP": "a WebP image", b"WAVE": "a WAV audio file"}.get(
            head[8:12], "an AVI video"
        )
    if head.startswith(b"MZ") and b"\x00" in head[:64]:
        return "a Windows program"
    return None
