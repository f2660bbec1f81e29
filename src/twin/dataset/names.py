"""Names through the same redaction as message text: senders, chats and file names.

WhatsApp writes an unsaved contact's phone number as the sender's name, WeChat and PyWxDump an
account id (wxid_…, 12345iru2zsmo22), Telegram and Discord numeric ids. Such a name reaches
group samples ("Name: text"), the report and stats.json as surely as a message does, so every
name passes the build's Redactor. A name that is nothing but personal data or an account id
becomes a stable neutral label (`Member 2`, `Chat 3`): redacting it to `<PHONE>` would make
every such person the same speaker.
"""

from __future__ import annotations

import re
from collections import Counter

from twin.accounts import is_account_id
from twin.dataset.redact import Redactor

_PLACEHOLDER = re.compile(r"<[A-Z_]{2,12}>")
# In a file path (PyWxDump: export/<id>/<id>_0_5000.csv), the random kind of id as one token.
_ID_IN_PATH = re.compile(r"(?<![A-Za-z0-9])\d[a-z0-9]*[a-z][a-z0-9]*(?![A-Za-z0-9])")


def only_personal_data(name: str, redacted: str) -> bool:
    """Nothing a person is called is left once the personal data is taken out."""
    rest = _PLACEHOLDER.sub("", redacted) if redacted != name else name
    return redacted != name and not any(ch.isalpha() for ch in rest)


class NameRedactor:
    """Safe display names for one build: the same name always gets the same result.

    Every replacement is counted twice: by type in the Redactor's counts (like message text),
    and per kind of name in `replaced`, which stats.json reports as names_redacted.
    """

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.replaced: Counter = Counter()
        self._seen: dict[tuple[str, str], str] = {}
        self._numbers: Counter = Counter()

    def __call__(self, name: str, kind: str = "sender") -> str:
        """The name as it may be written: redacted, or `Member N` / `Chat N`."""
        key = (kind, name)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = self._safe(name, kind)
        return found

    def _safe(self, name: str, kind: str) -> str:
        before = sum(self.redactor.counts.values())
        redacted = self.redactor.redact(name) if name else name
        if kind != "file" and is_account_id(name):
            if redacted == name:  # not a pattern type (or that type is off): counted here
                self.redactor.counts["ACCOUNT_ID"] += 1
            return self._label(kind)
        if kind == "file":
            redacted = _ID_IN_PATH.sub(self._path_id, redacted)
        elif only_personal_data(name, redacted):
            return self._label(kind)
        if sum(self.redactor.counts.values()) != before:
            self.replaced[kind] += 1
        return redacted

    def _path_id(self, m: re.Match) -> str:
        if not is_account_id(m.group(0)):
            return m.group(0)
        self.redactor.counts["ACCOUNT_ID"] += 1
        return "<ACCOUNT_ID>"

    def _label(self, kind: str) -> str:
        self.replaced[kind] += 1
        self._numbers[kind] += 1
        return f"{'Chat' if kind == 'chat' else 'Member'} {self._numbers[kind]}"

    def many(self, names: list[str], kind: str = "sender") -> list[str]:
        return [self(n, kind) for n in names]

    def usable_as_persona(self, name: str) -> bool:
        """May this name go into the system prompt? Not an account id, and nothing redacted
        (checked on a scratch Redactor: the persona's name is not written anywhere else)."""
        if not name or is_account_id(name):
            return False
        probe = Redactor(
            [t for t, _ in self.redactor.patterns],
            self.redactor.allow,
            self.redactor.block,
            self.redactor.block_mode,
        )
        return probe.redact(name) == name and not probe.blocked(name)
