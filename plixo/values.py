"""What a reader of messy values reports: the automatic change it made, or why it refused the value.

Shared by the amount parser (core) and the CSV importer's readers, so a fix or a problem looks the same
whichever of them found it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class UnusableValueError(ValueError):
    """A value that cannot be used, with a code for machines and a message and suggestion for people."""

    def __init__(self, code: str, message: str, suggestion: str = ""):
        # All three go to args so the exception survives pickling into a background job and back.
        super().__init__(code, message, suggestion)
        self.code = code
        self.message = message
        self.suggestion = suggestion

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Fix:
    """An automatic change made to a value, shown to the user so nothing changes silently."""

    code: str
    original: str
    fixed: str


def quoted(raw: str) -> str:
    """The value quoted for a message, cut short so a runaway cell cannot flood the report."""
    return f'"{raw}"' if len(raw) <= 40 else f'"{raw[:37]}…"'


# Characters that change how text around them is displayed without being seen: the bidirectional controls (an
# invoice number with U+202E reverses the amount printed after it) and the zero-width ones. Nothing a finance team
# types or exports needs them in an identifier, a name or a subject.
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def without_invisible(text: str) -> str:
    """The text without bidirectional controls and zero-width characters."""
    return INVISIBLE.sub("", text)


def header_safe(text: str) -> str:
    """Text for one line of an e-mail header (a subject): no invisible characters, control characters as spaces."""
    return " ".join(CONTROL.sub(" ", without_invisible(text)).split())


def typed_name(text: str) -> str:
    """A name a person typed (a workspace, a segment, a cadence): one line, single spaces, nothing invisible."""
    return " ".join(without_invisible(text).split())
