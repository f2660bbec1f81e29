"""Privacy redaction: personal data becomes a typed placeholder, the message stays.

Dropping every message with a long number (what one competitor does) also drops laughs like
"23333", dates and prices; here each pattern is specific (checksums for ID and card numbers), and
text that no pattern could match is passed over by one cheap pre-check.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Order matters: specific patterns first (a mobile number with its country code is not a card).
_URL_TAIL = r"[^\s<>\"'，。！？、）》]"
# A bare domain counts as a URL only with a path or query after it (`example.com/reset?code=9`):
# that is where tokens and names sit; `example.com` alone, `e.g.` or `file.txt` stay.
_BARE_URL = (
    r"(?<![\w@.\-])(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    rf"(?::\d{{2,5}})?[/?]{_URL_TAIL}*"
)
_URL = rf"(?:https?://|www\.){_URL_TAIL}+|{_BARE_URL}"
# Unicode letters on both sides: `用户@例子.公司` is an address as much as `a@b.com`. A local
# part is Latin (accents too) or all other letters, so `邮箱是abc@qq.com` keeps its `邮箱是`.
# (Each local part starts where its run of characters starts: trying every position inside a
# long run of Chinese text made the search quadratic.)
_EMAIL = r"(?:(?<![A-Za-z0-9._%+\-\u00c0-\u024f])[A-Za-z0-9._%+\-\u00c0-\u024f]+|(?<![^\W\d_A-Za-z])[^\W\d_A-Za-z]+)@[\w\-]+(?:\.[\w\-]+)*\.(?:[A-Za-z]{2,}|[^\W\d_A-Za-z]{2,})"
# IPv6 candidates (2 to 8 colon-separated groups, an IPv4 tail allowed); `_sub` keeps only
# what the ipaddress module accepts, so `10:30:00` and `std::vector` stay.
_IPV6 = (
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})"
    r"(?![\w:]|\.\d)"
)
_ID_CN = r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
_CARD = r"(?<![\d\-+])(?:\d[ \-]?){12,18}\d(?![\d\-])"
_IP = r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
_PHONE_CN = r"(?<!\d)(?:(?:\+|00)86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}(?!\d)"
_PHONE_INTL = r"(?<![A-Za-z0-9_+])(?<!\d[ \-.])(?:\+|00)[1-9]\d{0,2}[ \-.]?(?:\(\d{1,4}\)[ \-.]?)?\d{1,4}(?:[ \-.]?\d{2,4}){2,4}(?!\d)"
_PHONE_NANP = r"(?<!\d)(?:\(\d{3}\)\s?|\d{3}[\-.])\d{3}[\-.]\d{4}(?!\d)"
_WECHAT = r"(?:wxid_[A-Za-z0-9_\-]{4,}|(?:微信号?|weixin|wechat|vx|VX|v信|WX|wx)\s*(?:号|id|ID)?\s*[:：是为]?\s*[A-Za-z][A-Za-z0-9_\-]{5,19})"
_QQ = r"(?:(?:[Qq]{2}|扣扣|企鹅|[Qq](?=号))\s*(?:号|号码)?\s*[:：是为]?\s*[1-9]\d{4,10}(?!\d))"

PATTERNS: list[tuple[str, re.Pattern]] = [
    ("URL", re.compile(_URL)),
    ("EMAIL", re.compile(_EMAIL)),
    ("WECHAT_ID", re.compile(_WECHAT)),
    ("QQ", re.compile(_QQ)),
    ("ID_CN", re.compile(_ID_CN)),
    ("PHONE", re.compile(f"{_PHONE_CN}|{_PHONE_INTL}|{_PHONE_NANP}")),
    ("BANK_CARD", re.compile(_CARD)),
    ("IP", re.compile(_IP)),
    ("IP", re.compile(_IPV6)),  # after IPv4, so that a ::ffff:1.2.3.4 tail is caught either way
]
TYPES = list(dict.fromkeys(name for name, _ in PATTERNS))
# What a text must hold for a pattern to match at all (checked on the folded text): a cheap
# `in` test spares the regex scan of most texts that reach the exact check.
_NEEDS = {"EMAIL": re.compile("@"), "URL": re.compile(r"[/?]|www\.")}
_IPV6_NEEDS = re.compile(":")

# Anything a pattern above can match contains one of these; most chat lines contain none.
# (Also run by Arrow's RE2 over whole columns, so keep it RE2-compatible: no look-arounds.)
_MAYBE_SOURCE = (
    r"\d[\d \-.]{5,}\d|@|://|www\.|wxid|微信|[vVwW][xX]|v信|weixin|wechat|[Qq]{2}|\(\d{3}\)"
    r"|扣扣|企鹅|[Qq]号|\.[A-Za-z]{2,24}[/?]|\.[A-Za-z]{2,24}:\d|::|(?:[0-9A-Fa-f]{1,4}:){3}"
)
_MAYBE = re.compile(_MAYBE_SOURCE, re.I)
# RE2's \d is ASCII only, Python's any decimal digit: the column pre-check must not miss what
# the patterns above match (e.g. a number typed partly in full-width digits). Full-width Latin
# letters and ＠ send a text to the exact check too, which reads it folded (see _FOLD).
_MAYBE_RE2 = _MAYBE_SOURCE.replace(r"\d", r"\p{Nd}") + r"|[\x{FF20}-\x{FF3A}\x{FF41}-\x{FF5A}]"

# Full-width digits, letters and the signs inside numbers and addresses (１３９…, ＠, ｗｘ) read
# as ASCII when matching: one character for one, so a match's position in the folded text is
# its position in the original. Full-width punctuation that ends a URL (，？！) stays.
_FOLD = {
    c: c - 0xFEE0
    for c in [*range(0xFF10, 0xFF1B), *range(0xFF20, 0xFF3B), *range(0xFF41, 0xFF5B)]
    + [0xFF0B, 0xFF0D, 0xFF0E, 0xFF3F]
} | {0x3000: 0x20}
_WIDE = re.compile("[" + "".join(map(chr, _FOLD)) + "]")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_cn_id(number: str) -> bool:
    """GB 11643 check digit of an 18-character Chinese resident ID."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)  # any decimal digit: the patterns' \d also matches full-width ones
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


class Redactor:
    """Replaces personal data with `<TYPE>` placeholders and counts what it replaced."""

    def __init__(
        self,
        types: Iterable[str] | None = None,
        allow: Iterable[str] = (),
        block: Iterable[str] = (),
        block_mode: str = "replace",
    ) -> None:
        wanted = set(TYPES if types is None else types)
        unknown = wanted - set(TYPES)
        if unknown:
            raise ValueError(
                f"unknown redaction types {sorted(unknown)}; known: {', '.join(TYPES)}"
            )
        if block_mode not in ("replace", "drop"):
            raise ValueError("block_mode must be 'replace' or 'drop'")
        self.patterns = [(name, p) for name, p in PATTERNS if name in wanted]
        # (pattern, what a text must hold for it, replacement function), made once
        self._steps = [
            (p, _IPV6_NEEDS if p.pattern == _IPV6 else _NEEDS.get(name), self._sub(name))
            for name, p in self.patterns
        ]
        self.allow = [a for a in allow if a]
        self.block = [b for b in block if b]
        self.block_mode = block_mode
        self._block_re = (
            re.compile(
                "|".join(re.escape(b) for b in sorted(self.block, key=len, reverse=True)), re.I
            )
            if self.block
            else None
        )
        self.counts: Counter = Counter()

    def _sub(self, name: str):
        def replace(m: re.Match) -> str:
            found = m.group(0)
            if any(found in a for a in self.allow):  # part of an allowed string
                return found
            if name == "ID_CN" and not valid_cn_id(found):
                return found
            if name == "IP" and ":" in found and not _ipv6(found):
                return found
            if name == "BANK_CARD":
                digits = re.sub(r"[ \-]", "", found)
                if (
                    not (13 <= len(digits) <= 19 and luhn_ok(digits))
                    or _looks_like_date_run(digits)
                    or _looks_like_laugh(digits)
                ):
                    return found
            self.counts[name] += 1
            return f"<{name}>"

        return replace

    def redact(self, text: str) -> str:
        """The text with personal data replaced (and blocked words, in replace mode)."""
        if (
            self._block_re is not None
            and self.block_mode == "replace"
            and self._block_re.search(text)
        ):
            text, n = self._block_re.subn("<BLOCKED>", text)
            self.counts["BLOCKED"] += n
        same = _WIDE.search(text) is None
        folded = text if same else text.translate(_FOLD)
        if not _MAYBE.search(folded):
            return text
        for pattern, needs, replace in self._steps:
            if needs is not None and needs.search(folded) is None:
                continue
            if same:
                folded = text = pattern.sub(replace, text)
            else:
                folded, text = _sub_aligned(pattern, replace, folded, text)
        return text

    def redact_array(self, texts: pa.Array) -> pa.Array:
        """`redact` over a column: one RE2 pass finds the few texts that may need it."""
        pattern = _MAYBE_RE2
        if self.block and self.block_mode == "replace":
            pattern += "|" + "|".join(re.escape(b) for b in self.block)
        maybe = pc.match_substring_regex(texts, pattern, ignore_case=True)
        rows = np.flatnonzero(maybe.to_numpy(zero_copy_only=False))
        if not len(rows):
            return texts
        fixed = [self.redact(t) for t in texts.take(pa.array(rows)).to_pylist()]
        mask = np.zeros(len(texts), dtype=bool)
        mask[rows] = True
        return pc.replace_with_mask(texts, pa.array(mask), pa.array(fixed, pa.string()))

    def blocked(self, text: str) -> bool:
        """True when the text holds a blocked word and blocked samples are dropped."""
        return (
            self.block_mode == "drop"
            and self._block_re is not None
            and self._block_re.search(text) is not None
        )


def _sub_aligned(pattern: re.Pattern, replace, folded: str, text: str) -> tuple[str, str]:  # noqa: ANN001
    """Match in the folded text, replace in both: the original keeps its full-width
    characters wherever nothing was found."""
    out_folded, out_text, at = [], [], 0
    for m in pattern.finditer(folded):
        new = replace(m)
        if new == m.group(0):
            continue
        out_folded += [folded[at : m.start()], new]
        out_text += [text[at : m.start()], new]
        at = m.end()
    if not at:
        return folded, text
    return "".join(out_folded) + folded[at:], "".join(out_text) + text[at:]


def _ipv6(found: str) -> bool:
    """A real IPv6 address of three groups or more, or with a long hex group (`fe80::1`; not
    `a::b`, `1::2` or `::1`)."""
    try:
        ipaddress.IPv6Address(found)
    except ValueError:
        return False
    groups = [g for g in found.split(":") if g]
    return len(groups) >= 3 or any(len(g) >= 3 and not g.isdigit() for g in groups)


def _looks_like_laugh(digits: str) -> bool:
    """'2333333333333333' (a long laugh) or '8888888888888888' passes Luhn by chance."""
    return len(set(digits)) == 1 or set(digits) <= {"2", "3"}


def _looks_like_date_run(digits: str) -> bool:
    """'2023120120231202' style runs are two dates, not a card."""
    return len(digits) == 16 and digits[:2] in ("19", "20") and digits[8:10] in ("19", "20")
