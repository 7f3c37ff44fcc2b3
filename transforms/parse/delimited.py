"""Formats of separated fields, some of them quoted: AWS load balancers and W3C extended logs.

    https 2026-11-24T10:00:00.186641Z app/web/50dc6c495c0c9188 2001:db8::7:51234 10.0.0.1:80 0.000 0.012 0.000
      200 200 34 366 "GET https://app.example.com:443/a?b=1 HTTP/1.1" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 ...

(one line, folded here) is a `Layout`: a list of fields, each a token up to the next
separator or a double-quoted value, and what each one fills. In a line without a
backslash the separators and quotes are the delimiters, so the layout is walked once
for the whole chunk with numpy: each step cuts a field by position and checks the
shape (a quote where a quoted field opens, a separator after each field, a number
where one belongs), and numbers and times are read digit by digit where they lie. No
regex runs over the long lines; the few that fail are matched against the layout's
loose pattern only to tell a bad time from a foreign line. AWS writes a quote inside a
quoted value as `\x22`, so its quotes stay delimiters; such escapes are decoded in the
values that hold them, once per distinct value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.dictionaries import plain
from transforms.parse.clf import cut_request
from transforms.parse.common import TYPES, decimals, digits, iso_times, w3c_times
from transforms.parse.logformat import typed_fields
from transforms.slicing import Positions, find_bytes, slices

_QUOTE = ord('"')
_QUOTED_VALUE = r'(?:[^"\\]|\\.)*'


@dataclass(frozen=True)
class Field:
    """One field of a layout: what it fills (None: matched and dropped), how it is read, what it looks like."""

    name: str | None
    kind: str = "text"  # see logformat.typed_fields
    pattern: str | None = None  # RE2 of the value; None: any token (or any quoted text)
    quoted: bool = False
    strict: bool = False  # a time: a line whose only fault is here has a bad timestamp, not a foreign shape


@dataclass(frozen=True)
class Layout:
    name: str
    columns: tuple[Field, ...]
    separator: str = " "
    more: bool = False  # later fields may follow, unread (AWS adds fields at the end of its logs)
    escapes: bool = False  # quoted values may hold `\xHH` escapes (AWS), and tokens no quote
    finish: Callable[[dict[str, pa.Array]], dict[str, pa.Array]] | None = field(default=None, compare=False)

    @property
    def fields(self) -> set[str]:
        """The common fields a line of this layout fills."""
        return {f.name for f in self.columns if f.name and not f.name.startswith("_")}

    @cached_property
    def loose_pattern(self) -> str:
        """The shape with any value in the strict fields: matching only this is a bad value (a bad time)."""
        return self._pattern(loose=True)

    def _pattern(self, loose: bool) -> str:
        token = f'[^{re.escape(self.separator)}"]+' if self.escapes else f"[^{re.escape(self.separator)}]+"
        parts = []
        for f in self.columns:
            value = f.pattern if f.pattern and not (loose and f.strict) else (_QUOTED_VALUE if f.quoted else token)
            parts.append(f'"(?:{value})"' if f.quoted else f"(?:{value})")
        more = f"(?:{re.escape(self.separator)}.*)?" if self.more else ""
        return "^" + re.escape(self.separator).join(parts) + more + r"\r?\n?$"


def matches(lines: pa.Array, layout: Layout) -> pa.Array:
    """Every line may be one: the shape is checked by position while the fields are cut (see `parse`)."""
    return pa.array(np.ones(len(lines), dtype=bool))


def loosely_shaped(lines: pa.Array, layout: Layout) -> np.ndarray:
    return pc.match_substring_regex(lines, layout.loose_pattern).to_numpy(zero_copy_only=False)


def parse(at: Positions, rows: np.ndarray, layout: Layout) -> dict[str, pa.Array]:
    """Fields of the given rows of a chunk; `ts` is null in every row that is no line of the layout.

    The layout is walked over every row at once: a token ends at the next separator, a
    quoted value at the next quote (tokens hold no quote where there are quoted fields).
    Each step checks the line's shape as a full pattern would: a quote where a quoted
    field opens, a separator after each field, numbers that are numbers, the line's end
    after the last field. A row that fails gets a null `ts`, and so is quarantined.
    """
    raw = at.raw
    starts, ends = at.starts[rows], at.ends[rows]
    separator = ord(layout.separator)
    quoted = sum(f.quoted for f in layout.columns)
    # Past every line, as many as the walk can step: lookups past a line's last delimiter land
    # there (and fail the line) without a bounds check at every step.
    beyond = np.full(len(layout.columns) + 2 * quoted + 2, len(raw))
    separators = np.concatenate([find_bytes(at, separator), beyond])
    quotes = np.concatenate([find_bytes(at, _QUOTE) if quoted else [], beyond]).astype(np.int64)
    next_separator = np.searchsorted(separators, starts)
    next_quote = np.searchsorted(quotes, starts)
    cursor, ok = starts, np.ones(len(rows), dtype=bool)
    raw_fields: dict[str, tuple[pa.Array, str]] = {}
    for index, f in enumerate(layout.columns):
        spaces_inside = None
        if f.quoted:
            opening = quotes[next_quote]
            ok &= opening == cursor
            begin, end = np.minimum(opening + 1, ends), np.minimum(quotes[next_quote + 1], ends)
            after = end + 1
            next_quote = next_quote + 2
            first_inside = separators[next_separator]  # the first separator after the opening quote
            next_separator = np.searchsorted(separators, after)
            spaces_inside = (first_inside, separators[np.maximum(next_separator - 1, 0)])
        else:
            begin = cursor
            end = np.minimum(separators[next_separator], ends)
            ok &= end > begin
            if quoted:
                ok &= quotes[next_quote] >= end
            after = end
        if index < len(layout.columns) - 1:  # a separator follows (`after` is at most one past the line's end)
            ok &= (after < ends) & (raw[after] == separator)
        elif layout.more:
            ok &= (after == ends) | ((after < ends) & (raw[after] == separator))
        else:
            ok &= after == ends
        cursor, next_separator = after + 1, next_separator + 1
        if f.name or f.pattern is not None:
            end = np.maximum(end, begin)  # rows that fail may have them crossed
            fits = _read(raw_fields, f, at, begin, end, separators, spaces_inside)
            if fits is not None:
                ok &= fits
    if "_date" in raw_fields:  # W3C: the time from its date and time columns, in UTC
        (date_begin, date_end), (time_begin, time_end) = raw_fields.pop("_date")[0], raw_fields.pop("_time")[0]
        ms, valid = w3c_times(raw, date_begin, date_end, time_begin, time_end)
        raw_fields["ts"] = (pa.array(ms, pa.int64(), mask=~valid).cast(TYPES["ts"]), "typed")
    fields = _typed(raw_fields, layout, len(rows))
    return fields | {"ts": pc.if_else(pa.array(ok), fields["ts"], None)}


def _read(raw_fields: dict, f: Field, at: Positions, begin: np.ndarray, end: np.ndarray, separators: np.ndarray,
          spaces_inside: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray | None:  # fmt: skip
    """Put the field's values among `raw_fields`; whether each row's value fits the field (None: not checked here).

    `spaces_inside`: a quoted value's first and last separator inside it (or around it, if none is).
    """
    data, raw = at.buffer, at.raw
    if f.name and f.kind in _NUMBERS_BY_POSITION:
        values, valid = _numbers(raw, begin, end, f.kind, TYPES.get(f.name))
        raw_fields[f.name] = (values, "typed")
        return valid | ((end - begin == 1) & (raw[begin] == ord("-")))  # `-`: no value
    if f.kind in ("w3c_date", "w3c_time"):  # read with each other once the walk is done
        raw_fields[f.name] = ((begin, end), f.kind)
        return None
    if f.name and f.kind == "iso_time":  # a bad time makes a null `ts`: the line is quarantined for it
        ms, valid = iso_times(raw, begin, end)
        raw_fields[f.name] = (pa.array(ms, pa.int64(), mask=~valid).cast(TYPES["ts"]), "typed")
        return None
    if f.kind == "address_port":
        begin, end = _without_port(raw, begin, end)
    checked = f.pattern is not None and not f.strict
    text = slices(data, raw, begin, end) if f.name or checked else None
    if f.name:
        raw_fields[f.name] = (text, "plain" if f.kind == "address_port" else f.kind)
    if f.name == "request" and f.quoted:  # split by position too: a capturing regex costs microseconds a line
        request = cut_request(at, separators, begin - 1, end, with_path=False, spaces_inside=spaces_inside)
        raw_fields |= {name: (plain(values), f.kind) for name, values in request.items()}  # text kernels follow
    if checked:
        return pc.match_substring_regex(text, f"^(?:{f.pattern})$").to_numpy(zero_copy_only=False)
    return None


_PORT_DIGITS = 5


def _without_port(raw: np.ndarray, begin: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the address of `192.0.2.7:51234`, `[2001:db8::7]:443` or `2001:db8::7:443` (AWS) lies.

    The port is the digits after the last colon; a value without them is taken whole.
    """
    last = len(raw) - 1
    colon = np.full(len(begin), -1)
    digits = np.ones(len(begin), dtype=bool)  # every byte after the colon seen so far is a digit
    for back in range(1, _PORT_DIGITS + 2):
        at = end - back
        byte = raw[np.clip(at, 0, last)]
        found = (colon < 0) & digits & (at > begin) & (byte == ord(":")) & (back > 1)
        colon = np.where(found, at, colon)
        digits &= (byte >= ord("0")) & (byte <= ord("9"))
    has_port = colon > 0
    bracketed = has_port & (raw[np.clip(begin, 0, last)] == ord("[")) & (raw[np.clip(colon - 1, 0, last)] == ord("]"))
    return np.where(has_port, begin + bracketed, begin), np.where(has_port, colon - bracketed, end)


# Numbers read digit by digit where they lie, never cut out as text first: the factor to milliseconds
# for durations, None for integers.
_NUMBERS_BY_POSITION = {"int": None, "duration_s": 1000.0, "duration_ms": 1.0}


def _numbers(raw: np.ndarray, begin: np.ndarray, end: np.ndarray, kind: str, to: pa.DataType | None
             ) -> tuple[pa.Array, np.ndarray]:  # fmt: skip
    """(values, valid?): integers, or durations in milliseconds; null for `-` and, for durations, -1 (not measured).

    An integer must fit the field's type; a status (int16) is three digits.
    """
    factor = _NUMBERS_BY_POSITION[kind]
    if factor is None and to == pa.int16():
        value, valid = digits(raw, begin, 3)
        valid &= end - begin == 3
        return pa.array(value, pa.int64(), mask=~valid), valid
    if factor is None:
        value, valid = decimals(raw, begin, end, fraction=False)
        valid &= np.abs(value) < 2.0 ** ((to or pa.int64()).bit_width - 1)
        return pa.array(np.where(valid, value, 0).astype(np.int64), pa.int64(), mask=~valid), valid
    value, valid = decimals(raw, begin, end)
    return pa.array(value * factor, pa.float64(), mask=~valid | (value < 0)), valid


def _typed(raw_fields: dict[str, tuple[pa.Array, str]], layout: Layout, n: int) -> dict[str, pa.Array]:
    fields = typed_fields(raw_fields, n)
    return layout.finish(fields) if layout.finish else fields
