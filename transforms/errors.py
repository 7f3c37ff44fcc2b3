"""The exception type whose message users see as one line, and the redaction every message passes."""

from __future__ import annotations

import ipaddress
import re


class LogshroudError(Exception):
    """A problem the user can fix: its message says what and where, and never holds
    a client address, an e-mail address or key material."""


_EMAIL = re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+")
_ADDRESSES = (
    re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"),
    re.compile(r"(?<![\w.:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]{0,15}(?![\w:])"),
)
_LONG_HEX = re.compile(r"\b[0-9A-Fa-f]{32,}\b")  # key material or tokens


def _address(match: re.Match[str]) -> str:
    try:
        address = ipaddress.ip_address(match.group(0))
    except ValueError:
        return match.group(0)  # a time, a version number: no address
    # Loopback and private addresses are this machine's or its network's (an endpoint,
    # a proxy), never a web client's on the internet: they stay, so errors stay useful.
    return match.group(0) if address.is_loopback or address.is_private else "[address]"


def redact(text: str) -> str:
    """Text safe to print: public addresses, e-mail addresses and long hex strings replaced.

    A message from a library (Beam, boto3, pyarrow) can quote data it choked on;
    whatever logshroud prints about an error passes here.
    """
    text = _EMAIL.sub("[email]", text)
    for pattern in _ADDRESSES:
        text = pattern.sub(_address, text)
    return _LONG_HEX.sub("[hex]", text)
