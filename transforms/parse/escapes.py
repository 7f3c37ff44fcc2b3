"""Apache's and nginx's escapes in log fields (`\\"`, `\\\\`, `\\xHH`), decoded."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

# What Apache's ap_escape_logitem and nginx's escaping write, and the byte each stands for.
_ESCAPE = re.compile(rb'\\(x[0-9A-Fa-f]{2}|["\\bnrtv])')
_SIMPLE = {b'"': b'"', b"\\": b"\\", b"b": b"\b", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def unescape(text: str) -> str:
    r"""`Mozilla \"x\" caf\xc3\xa9` -> `Mozilla "x" café`; bytes that are no UTF-8 become U+FFFD."""

    def byte(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        return bytes([int(code[1:], 16)]) if code[:1] == b"x" else _SIMPLE[code]

    return _ESCAPE.sub(byte, text.encode("utf-8", "surrogateescape")).decode("utf-8", "replace")


def unescaped(values: pa.Array) -> pa.Array:
    """Apache/nginx escapes decoded in the values that hold a backslash, once per distinct such value."""
    holding = pc.fill_null(pc.match_substring(values, "\\"), False)
    if not pc.any(holding).as_py():
        return values
    encoded = pc.dictionary_encode(values.filter(holding))  # the few escaped values only
    decoded = pa.array([unescape(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return pc.replace_with_mask(values, holding, decoded.take(encoded.indices))
