"""Where export files come from: a path given by the user, a folder walked, or a zip member.

WhatsApp iOS exports arrive as zips with media beside `_chat.txt`, and exporters write whole
folders of media next to the chat files, so walking skips media quietly but reports every other
file it could not place.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from twin.errors import InputError, TwinError

# A zip member larger than this, or expanding more than MAX_ZIP_RATIO times (past the first MiB),
# is refused before a byte is read: a 1 MB zip can hold a 1 GiB `_chat.txt` (a zip bomb), and
# chat text compresses about 5-10 times. No real export comes near either limit.
MAX_ZIP_MEMBER_BYTES = 2 << 30
MAX_ZIP_RATIO = 100
_RATIO_FREE_BYTES = 1 << 20

MEDIA_SUFFIXES = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".heic",
        ".bmp",
        ".tif",
        ".tiff",
        ".mp4",
        ".mov",
        ".avi",
        ".mkv",
        ".3gp",
        ".webm",
        ".opus",
        ".ogg",
        ".mp3",
        ".m4a",
        ".aac",
        ".amr",
        ".wav",
        ".silk",
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".vcf",
        ".dat",
        ".db",
        ".sqlite",
        ".ico",
        ".svg",
        ".css",
        ".js",
        ".woff",
        ".woff2",
        ".ttf",
        ".exe",
        ".dll",
        ".so",
        ".pyc",
    ]
)


@dataclass
class Source:
    """One file to read: on disk, or a member of a zip on disk."""

    display: str
    path: Path | None = None
    zip_path: Path | None = None
    member: str | None = None
    explicit: bool = False
    encoding: str | None = None
    encoding_verified: bool = False  # True once the whole file was checked (decode.sniff_encoding)
    _zip: zipfile.ZipFile | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return (
            PurePosixPath(self.member).name
            if self.member
            else (self.path.name if self.path else "")
        )

    @property
    def parent_name(self) -> str:
        if self.member:
            return PurePosixPath(self.member).parent.name
        return self.path.parent.name if self.path else ""

    def open_binary(self) -> BinaryIO:
        if self.member is not None:
            assert self._zip is not None
            return self._zip.open(self.member)
        assert self.path is not None
        return open(self.path, "rb")

    def size(self) -> int:
        if self.member is not None:
            assert self._zip is not None
            return self._zip.getinfo(self.member).file_size
        assert self.path is not None
        return self.path.stat().st_size

    def relative(self, rel: str) -> Source | None:
        """A file next to this one (exporters that split one chat across files need this)."""
        if self.member is not None:
            assert self._zip is not None
            # normpath: zip member names never hold "." or ".." parts
            target = posixpath.normpath(str(PurePosixPath(self.member).parent / rel))
            try:
                self._zip.getinfo(target)
            except KeyError:
                return None
            return Source(
                f"{self.zip_path}!/{target}", zip_path=self.zip_path, member=target, _zip=self._zip
            )
        assert self.path is not None
        p = Path(os.path.normpath(self.path.parent / rel))
        return Source(str(p), path=p) if p.is_file() else None

    def siblings_under(self, folder: str, suffix: str) -> list[Source]:
        """Files under `folder` (beside this file) ending with `suffix`, sorted by name."""
        if self.member is not None:
            assert self._zip is not None
            base = PurePosixPath(self.member).parent / folder
            names = sorted(
                n
                for n in self._zip.namelist()
                if PurePosixPath(n).parent == base and n.endswith(suffix)
            )
            return [
                Source(f"{self.zip_path}!/{n}", zip_path=self.zip_path, member=n, _zip=self._zip)
                for n in names
            ]
        assert self.path is not None
        d = self.path.parent / folder
        if not d.is_dir():
            return []
        return [
            Source(str(p), path=p)
            for p in sorted(d.iterdir())
            if p.name.endswith(suffix) and p.is_file()
        ]


@dataclass
class Walk:
    """The files found under the user's paths, and what was passed over."""

    sources: list[Source]
    media_skipped: int = 0
    # FIFOs, devices, sockets, broken or looping links: never opened (a FIFO blocks forever,
    # /dev/zero never ends)
    special_skipped: list[str] = field(default_factory=list)
    zips: list[zipfile.ZipFile] = field(default_factory=list)

    def close(self) -> None:
        for z in self.zips:
            z.close()


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("__MACOSX") or name == "Thumbs.db"


def walk(paths: list[str]) -> Walk:
    """Expand the user's paths into sources, in a stable order (sorted within folders)."""
    result = Walk(sources=[])
    for raw in paths:
        path = Path(raw)
        try:
            mode = path.stat().st_mode
        except OSError as e:
            if os.path.lexists(path):
                raise TwinError(f"{raw}: cannot be read ({e.strerror})") from None
            raise TwinError(f"{raw}: no such file or folder") from None
        if stat.S_ISDIR(mode):
            # os.walk does not follow links to folders, so a link loop cannot trap it
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not _hidden(d))
                for name in sorted(files):
                    if _hidden(name):
                        continue
                    file = Path(root) / name
                    if _regular(file):
                        _add_file(result, file, explicit=False)
                    else:
                        result.special_skipped.append(str(file))
        elif stat.S_ISREG(mode):
            _add_file(result, path, explicit=True)
        else:
            raise TwinError(
                f"{raw}: not a regular file (a pipe, device or socket); "
                "pass an export file, a folder or a zip"
            )
    return result


def _regular(path: Path) -> bool:
    """A regular file, through links; False for a FIFO, device, socket, or broken/looping link."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _check_member(path: Path, info: zipfile.ZipInfo) -> None:
    """Refuse a member too large, or compressed suspiciously well, to read (a zip bomb)."""
    size, packed = info.file_size, max(info.compress_size, 1)
    too_big = size > MAX_ZIP_MEMBER_BYTES
    if too_big or (size > _RATIO_FREE_BYTES and size > MAX_ZIP_RATIO * packed):
        raise InputError(
            f"{path}!/{info.filename}",
            None,
            f"the zip member expands to {size:,} bytes from {info.compress_size:,} "
            f"({size // packed:,}:1)",
            f"a member of at most {MAX_ZIP_MEMBER_BYTES:,} bytes compressed at most "
            f"{MAX_ZIP_RATIO}:1 (extract it yourself if it is a real export)",
        )


def _add_file(result: Walk, path: Path, explicit: bool) -> None:
    if zipfile.is_zipfile(path) and path.suffix.lower() not in (".docx", ".xlsx", ".pptx"):
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
            raise TwinError(f"{path}: not a readable zip file ({e})") from e
        result.zips.append(zf)
        before = len(result.sources)
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            member = info.filename
            if not member or info.is_dir() or any(_hidden(p) for p in PurePosixPath(member).parts):
                continue
            if PurePosixPath(member).suffix.lower() in MEDIA_SUFFIXES:
                result.media_skipped += 1
                continue
            _check_member(path, info)
            result.sources.append(
                Source(f"{path}!/{member}", zip_path=path, member=member, explicit=False, _zip=zf)
            )
        if explicit and len(result.sources) == before:
            raise TwinError(f"{path}: the zip holds no chat export file (only media or folders)")
        return
    if not explicit and path.suffix.lower() in MEDIA_SUFFIXES:
        result.media_skipped += 1
        return
    result.sources.append(Source(str(path), path=path, explicit=explicit))


def read_head(source: Source, n: int = 65536) -> bytes:
    with source.open_binary() as f:
        return f.read(n)


class CountingReader(io.RawIOBase):
    """A raw stream that reports how many bytes were read, for progress bars."""

    def __init__(self, raw: BinaryIO, on_read) -> None:
        self._raw = raw
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    # Importers may rewind (read the first line, then seek(0)); bytes read again count again.
    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._raw.seek(pos, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, b) -> int:
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        if n:
            self._on_read(n)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()
