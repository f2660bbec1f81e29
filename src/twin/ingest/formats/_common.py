"""Small helpers shared by the importers."""

from __future__ import annotations

import html
import math
import re
from datetime import datetime, timedelta, timezone

from twin.messages import epoch_of, iso_time, with_offset

_TAG = re.compile(r"<[^>]+>")
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)
_ATTR_CACHE: dict[str, re.Pattern] = {}
_EPOCH = datetime(1970, 1, 1)
_OFFSET_SUFFIX: dict[int, str] = {}


def strip_markup(text: str) -> str:
    """Text of a system line that may hold CDATA sections or <a> tags."""
    if "<" not in text:
        return text
    text = _CDATA.sub(r"\1", text)
    return html.unescape(_TAG.sub("", text)).strip()


def xml_attr(xml: str, name: str) -> str | None:
    """An attribute's value from exporter XML, without a full XML parse (the XML is often cut)."""
    pattern = _ATTR_CACHE.get(name)
    if pattern is None:
        pattern = _ATTR_CACHE[name] = re.compile(rf'\b{name}\s*=\s*"([^"]*)"')
    m = pattern.search(xml)
    return html.unescape(m.group(1)) if m else None


def offset_suffix(quarters: int) -> str:
    s = _OFFSET_SUFFIX.get(quarters)
    if s is None:
        s = iso_time(datetime(2000, 1, 1, tzinfo=timezone(timedelta(seconds=quarters * 900))))[19:]
        _OFFSET_SUFFIX[quarters] = s
    return s


def local_and_unix(local_text: str, unix: float) -> tuple[str, float] | None:
    """ISO time with offset from an exporter's wall-time string and its Unix timestamp.

    Fast path for millions of rows: the wall time string is reused as it is.
    """
    try:
        local = datetime.fromisoformat(local_text)
    except ValueError:
        return None
    if local.tzinfo is not None:
        return iso_time(local), epoch_of(local)
    try:
        if not math.isfinite(unix):  # the caller reports the row
            return None
    except OverflowError:  # an integer beyond any float
        return None
    quarters = round(((local - _EPOCH).total_seconds() - unix) / 900)
    if abs(quarters) > 56:
        try:
            dt = with_offset(local, unix)
        except ValueError:  # the Unix time is out of range: the caller reports the row
            return None
        return iso_time(dt), unix
    text = local_text.replace(" ", "T", 1) if len(local_text) == 19 else iso_time(local)
    return text + offset_suffix(quarters), unix


def unix_time(unix: float) -> tuple[str, float] | None:
    """ISO time in this machine's zone; None for a time out of range (the caller reports the row)."""
    from twin.messages import local_from_unix

    try:
        return iso_time(local_from_unix(unix)), unix
    except ValueError:
        return None


def naive_time(dt: datetime) -> tuple[str, float]:
    return iso_time(dt), epoch_of(dt)
