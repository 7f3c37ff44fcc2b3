"""The exception type whose message users see as one line, and the redaction every message passes."""

from __future__ import annotations

import re


class LogshroudError(Exception):
    """A problem the user can fix: its message says what and where, and never holds
    a client address, an e-mail address or key material."""


_REDACTIONS = (
    (re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"), "[address]"),
    (re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]{0,15}(?![\w:])"), "[address]"),
    (re.compile(r"\b[0-9A-Fa-f]{32,}\b"), "[hex]"),  # key material or tokens
)


def redact(text: str) -> str:
    """Text safe to print: addresses, e-mail addresses and long hex strings replaced.

    A message from a library (Beam, boto3, pyarrow) can quote data it choked on;
    whatever logshroud prints about an error it did not raise itself passes here.
    """
    for pattern, placeholder in _REDACTIONS:
        text = pattern.sub(placeholder, text)
    return text
