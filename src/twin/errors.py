"""User-facing errors.

Every error a person can cause (a bad file, a wrong flag) is a TwinError: the CLI prints its
message without a traceback and exits non-zero. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class TwinError(Exception):
    """An error caused by input or configuration, with a message meant for the user."""

    exit_code = 1


class InputError(TwinError):
    """A problem at a known place in an input file."""

    def __init__(self, file: str, where: str | None, problem: str, expected: str | None = None):
        self.file = file
        self.where = where
        self.problem = problem
        self.expected = expected
        place = f"{file}, {where}" if where else file
        message = f"{place}: {problem}"
        if expected:
            message += f"; expected {expected}"
        super().__init__(message)


class UnknownMeError(TwinError):
    """The exports do not say which sender is the user: `senders` lists (name, messages) to pick
    from, for pages and scripts that ask instead of printing the list."""

    def __init__(self, message: str, senders: list[tuple[str, int]]):
        super().__init__(message)
        self.senders = senders
