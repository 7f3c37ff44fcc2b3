"""What every log format parses into: the same fields, the same types, and the request split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import sliding_window_view

from transforms.dictionaries import spread
from transforms.slicing import line_positions, unaligned_words

# Fields a format parser returns, and their types; a format without one returns nulls (see `complete`).
TYPES = {
    "client": pa.string(), "auth_user": pa.string(), "ts": pa.timestamp("ms", tz="UTC"), "request": pa.string(),
    "method": pa.string(), "target": pa.string(), "path": pa.string(), "query": pa.string(),
    "protocol": pa.string(), "status": pa.int16(), "bytes": pa.int64(), "referrer": pa.string(),
    "user_agent": pa.string(), "vhost": pa.string(), "server_port": pa.int32(), "duration_ms": pa.float64(),
    "xff": pa.string(), "upstream_ms": pa.float64(), "upstream_status": pa.int16(), "request_bytes": pa.int64(),
    "tls_protocol": pa.string(), "tls_cipher": pa.string(), "edge_result": pa.string(),
}  # fmt: skip
FIELDS = tuple(TYPES)

METHOD = r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"


def empty_fields() -> dict[str, pa.Array]:
    return {name: pa.array([], kind) for name, kind in TYPES.items()}


def complete(fields: dict[str, pa.Array], n: int) -> dict[str, pa.Array]:
    """Every field of `FIELDS`, in that order: what the format does not log is null."""
    return {name: fields[name] if name in fields else pa.nulls(n, kind) for name, kind in TYPES.items()}


def dash_to_null(values: pa.Array) -> pa.Array:
    """`-` is how access logs write "no value"."""
    return pc.if_else(pc.equal(values, "-"), None, values)


def split_request(request: pa.Array) -> dict[str, pa.Array]:
    """`GET /a?b=1 HTTP/1.1` -> method, target, path, query and protocol, for a whole column.

    The method is the first word, the protocol the last word if it is `HTTP/...`, the
    target what lies between (spaces and all). A request line without a method and a
    target (`-` for a timed-out connection, TLS bytes sent to a plain port) gives five
    nulls; the raw line stays in `request`, which only the restricted zone holds. Cut
    with splits, not a capturing regex, which costs microseconds a line.
    """
    head = _two(pc.split_pattern(request, " ", max_splits=1))
    method, rest = pc.list_element(head, 0), pc.list_element(head, 1)
    tail = _two(pc.split_pattern(rest, " ", max_splits=1, reverse=True))
    before, last = pc.list_element(tail, 0), pc.list_element(tail, 1)
    has_protocol = pc.and_(pc.fill_null(pc.starts_with(last, "HTTP/"), False), pc.not_equal(before, ""))
    target = pc.if_else(has_protocol, before, rest)
    valid = pc.and_(pc.fill_null(pc.match_substring_regex(method, METHOD), False), pc.not_equal(target, ""))
    target = pc.if_else(valid, target, None)
    return {
        "method": pc.if_else(valid, method, None),
        "target": target,
        "protocol": pc.if_else(pc.and_(valid, has_protocol), last, None),
        **split_target(target),
    }


def split_target(target: pa.Array) -> dict[str, pa.Array]:
    """`/a?b=1` -> path `/a`, query `b=1`; `/a?` -> query empty; `/a` -> query null."""
    parts = _two(pc.split_pattern(target, "?", max_splits=1))
    return {"path": pc.list_element(parts, 0), "query": pc.list_element(parts, 1)}


def _two(parts: pa.Array) -> pa.Array:
    """Lists of one or two parts as pairs, the missing second part null."""
    return pc.list_slice(parts, 0, 2, return_fixed_size_list=True)


def text_times(values: pa.Array, kind: str) -> pa.Array:
    """Times as text to UTC times, read digit by digit, so a 31st of February is no time (null), never March 3rd.

    Kinds: `clf` (`10/Oct/2000:13:55:36 -0700`, brackets allowed) and `iso` (ISO 8601 with a zone:
    `2026-11-24T11:00:00+01:00`, `+0100` or `Z`, seconds maybe with a fraction).
    """
    at = line_positions(values)
    if kind == "clf":
        last = len(at.raw) - 1
        bracket = at.raw[np.minimum(at.starts, last)] == ord("[")
        starts, lengths = at.starts + bracket, at.ends - at.starts - 2 * bracket
        ms, valid = clf_times(at.raw, starts)
        valid &= lengths == 26  # whole values only: a cut-off time must not borrow digits from the next value
    else:
        ms, valid = iso_times(at.raw, at.starts, at.ends)
    return pc.if_else(pa.array(valid), pa.array(ms, pa.int64()).cast(TYPES["ts"]), None)


def digits(raw: np.ndarray, at: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(value, all digits?) of the `width` ASCII digits starting at each position."""
    widths = np.full(len(at), width, dtype=np.int64)
    return _eight_digits(raw, at, widths) if 1 <= width <= 8 else _digit_runs(raw, at, widths)


INT64_DIGITS = 18  # digits any int64 holds
_POWERS_OF_TEN = 10 ** np.arange(INT64_DIGITS + 1, dtype=np.int64)


def decimals(raw: np.ndarray, begin: np.ndarray, end: np.ndarray, fraction: bool = True
             ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(value, valid?) of the numbers written in `raw[begin:end]`: `200`, `-1`, and with a fraction `0.012`.

    Anything else (`-` for no value, an empty field, more than `INT64_DIGITS` digits) is
    not valid. With a fraction, the bytes of all rows are read at once as a rows x
    widest-number grid; the value is the digits as one integer divided by a power of ten,
    as exact as parsing the text. Without `fraction`, only integers are valid, read digit
    by digit (see `_integers`), and the values are int64.
    """
    last = len(raw) - 1
    negative = (raw[np.minimum(begin, last)] == ord("-")) & (end - begin > 1)
    at = begin + negative
    length = end - at
    if not fraction:
        value, ok = _integers(raw, at, length)
        return np.where(negative, -value, value), ok
    width = max(int(np.clip(length.max(initial=0), 0, INT64_DIGITS + 1)), 1)
    windows = sliding_window_view(raw, width)  # each row's bytes: one gather, no index grid
    grid = windows[np.minimum(at, len(raw) - width)] - np.uint8(48)  # digits 0-9; any other byte wraps past 9
    digit = (grid <= 9) & (np.arange(width) < length[:, None])
    digits_after = np.cumsum(digit[:, ::-1], axis=1, dtype=np.int8)[:, ::-1] - digit  # a digit weighs 10 ** this
    mantissa = (np.where(digit, grid, 0) * _POWERS_OF_TEN[digits_after]).sum(axis=1)
    count = digit.sum(axis=1)
    ok = (length > 0) & (count > 0) & (count <= INT64_DIGITS)
    dot = (grid == np.uint8(ord(".") + 256 - 48)) & (np.arange(width) < length[:, None])  # "." wrapped as well
    ok &= (dot.sum(axis=1) <= 1) & (count + dot.sum(axis=1) == length)  # digits and one dot at most
    decimal_places = (digit & (np.cumsum(dot, axis=1) > 0)).sum(axis=1)
    value = mantissa / 10.0**decimal_places
    return np.where(negative, -value, value), ok


def _integers(raw: np.ndarray, at: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, valid?) of the unsigned integers of `length` digits at each position.

    Valid: 1 to `INT64_DIGITS` digits and nothing else. Up to eight digits (nearly all
    numbers in a log) are read as one 8-byte word each (`_eight_digits`); the few longer
    ones digit by digit, in a pass of their own.
    """
    value, ok = _eight_digits(raw, at, np.clip(length, 1, 8))
    ok &= (length >= 1) & (length <= 8)
    long = np.flatnonzero((length > 8) & (length <= INT64_DIGITS))
    if len(long):
        value[long], ok[long] = _digit_runs(raw, at[long], length[long])
    return value, ok


_ASCII_ZEROS = np.uint64(0x3030303030303030)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_PLUS_SIX = np.uint64(0x0606060606060606)
_ALL_DIGITS = np.uint64(0x3333333333333333)


def all_digits(raw: np.ndarray, at: np.ndarray, length: np.ndarray | int) -> np.ndarray:
    """Per position: are the `length` bytes there ASCII digits, and at least one?"""
    length = np.broadcast_to(np.asarray(length, dtype=np.int64), at.shape)
    ok = _digit_words(raw, at, np.clip(length, 1, 8))[1] & (length >= 1)
    long = np.flatnonzero(length > 8)  # a few, if any: digit by digit
    if len(long):
        ok[long] = _digit_runs(raw, at[long], length[long])[1]
    return ok


def _digit_words(raw: np.ndarray, at: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(word, all digits?) of the 1 to 8 bytes at each position: one little-endian word each,
    the bytes moved to its top and ASCII zeros put before them, as if 8 digits were written.

    A byte is a digit when its high nibble is 3, and still 3 after adding 6 (which carries
    `:` to `?` over). `raw` holds 8 bytes from each position.
    """
    words = unaligned_words(raw)[np.minimum(at, len(raw) - 8)]
    pad = (np.uint64(8) - length.astype(np.uint64)) * np.uint64(8)  # bits of zeros before the digits
    word = (words << pad) | (_ASCII_ZEROS & ((np.uint64(1) << pad) - np.uint64(1)))
    ok = ((word & _HIGH_NIBBLES) | (((word + _PLUS_SIX) & _HIGH_NIBBLES) >> np.uint64(4))) == _ALL_DIGITS
    return word, ok


def _eight_digits(raw: np.ndarray, at: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, all digits?) of the 1 to 8 bytes at each position, read as one word (see `_digit_words`).

    Pairs, fours and eights of digits are combined in three multiplies:
    `12345678` -> 12|34|56|78 -> 1234|5678 -> 12345678.
    """
    word, ok = _digit_words(raw, at, length)
    value = word - _ASCII_ZEROS
    value = (value * np.uint64(10) + (value >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    value = (value * np.uint64(100) + (value >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    value = (value * np.uint64(10000) + (value >> np.uint64(32))) & np.uint64(0x00000000FFFFFFFF)
    return value.astype(np.int64), ok


def _digit_runs(raw: np.ndarray, at: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, all digits?) of the `length` bytes at each position, one pass per digit of the longest."""
    value = np.zeros(len(at), dtype=np.int64)
    ok = np.ones(len(at), dtype=bool)
    for i in range(int(length.max(initial=0))):
        inside = i < length
        digit = raw[np.minimum(at + i, len(raw) - 1)].astype(np.int64) - 48
        ok &= ~inside | ((digit >= 0) & (digit <= 9))
        value = np.where(inside, value * 10 + digit, value)
    return value, ok


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_CODES = np.array([(ord(m[0]) << 16) | (ord(m[1]) << 8) | ord(m[2]) for m in _MONTHS], dtype=np.int64)
_MONTH_ORDER = np.argsort(_MONTH_CODES)
_SORTED_MONTH_CODES = _MONTH_CODES[_MONTH_ORDER]


def days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm), vectorised."""
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_CLF_TIME_WORDS = (0, 8, 16, 18)  # offsets of 8-byte words that cover the 26 bytes of a CLF time


def clf_times(raw: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(UTC epoch milliseconds, valid?) of `10/Oct/2000:13:55:36 -0700` starting at each position.

    A log's lines come in time order, a dozen or more to a second: each run of lines
    with the same time text is read once. (`raw` holds at least 26 bytes from each position.)
    """
    if len(at) < 2:
        return _clf_times(raw, at)
    words = unaligned_words(raw)
    changed = np.zeros(len(at), dtype=bool)
    changed[0] = True
    for offset in _CLF_TIME_WORDS:
        word = words[np.minimum(at + offset, len(words) - 1)]
        changed[1:] |= word[1:] != word[:-1]
    firsts = np.flatnonzero(changed)
    if len(firsts) > len(at) // 2:  # hardly any repeats: reading each directly is cheaper
        return _clf_times(raw, at)
    ms, valid = _clf_times(raw, at[firsts])
    run = np.cumsum(changed) - 1
    return ms[run], valid[run]


def _clf_times(raw: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    day, ok1 = digits(raw, at, 2)
    year, ok2 = digits(raw, at + 7, 4)
    code = (raw[at + 3].astype(np.int64) << 16) | (raw[at + 4].astype(np.int64) << 8) | raw[at + 5]
    found = np.minimum(np.searchsorted(_SORTED_MONTH_CODES, code), 11)
    month = np.where(_SORTED_MONTH_CODES[found] == code, _MONTH_ORDER[found] + 1, 0)
    separators = _bytes_at(raw, at, {2: "/", 6: "/", 11: ":", 14: ":", 17: ":", 20: " "})
    return _utc_ms(raw, year, month, day, ok1 & ok2 & separators, clock=at + 12, zone=at + 21)


_FRACTION_DIGITS = 9  # nanoseconds at most; milliseconds are kept


def iso_times(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(UTC epoch milliseconds, valid?) of `2026-11-24T11:00:00.186641+01:00` in `raw[starts:ends]`.

    The zone may be `+01:00`, `+0100` or `Z`; the fraction is optional.
    """
    last = len(raw) - 1
    year, ok1 = digits(raw, starts, 4)
    month, ok2 = digits(raw, starts + 5, 2)
    day, ok3 = digits(raw, starts + 8, 2)
    ok = ok1 & ok2 & ok3 & _bytes_at(raw, starts, {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"})
    utc = raw[np.clip(ends - 1, 0, last)] == ord("Z")
    colon = ~utc & (raw[np.clip(ends - 3, 0, last)] == ord(":"))  # +01:00 rather than +0100
    zone = ends - np.where(utc, 1, np.where(colon, 6, 5))
    fraction, fraction_ok = _fraction_ms(raw, starts + 19, zone - starts - 20)
    ms, valid = _utc_ms(raw, year, month, day, ok & fraction_ok, clock=starts + 11, zone=zone, zone_colon=colon,
                        utc=utc)  # fmt: skip
    return ms + fraction, valid


def w3c_times(raw: np.ndarray, date_starts: np.ndarray, date_ends: np.ndarray, time_starts: np.ndarray,
              time_ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(UTC epoch milliseconds, valid?) of W3C extended logs' `date` (`2026-11-24`) and `time` (`10:00:01`,
    a fraction allowed) fields, which are in UTC."""
    year, ok1 = digits(raw, date_starts, 4)
    month, ok2 = digits(raw, date_starts + 5, 2)
    day, ok3 = digits(raw, date_starts + 8, 2)
    ok = ok1 & ok2 & ok3 & _bytes_at(raw, date_starts, {4: "-", 7: "-"}) & (date_ends - date_starts == 10)
    ok &= _bytes_at(raw, time_starts, {2: ":", 5: ":"})
    fraction, fraction_ok = _fraction_ms(raw, time_starts + 8, time_ends - time_starts - 9)
    ms, valid = _utc_ms(raw, year, month, day, ok & fraction_ok, clock=time_starts, zone=None)
    return ms + fraction, valid


def _fraction_ms(raw: np.ndarray, dot: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(milliseconds, valid?) of a seconds' fraction (`.186641`) at `dot` with `count` digits; -1: none there."""
    last = len(raw) - 1
    ok = (count >= -1) & (count != 0) & (count <= _FRACTION_DIGITS)
    ok &= (count == -1) | (raw[np.clip(dot, 0, last)] == ord("."))
    ms = np.zeros(len(dot), dtype=np.int64)
    for i in range(_FRACTION_DIGITS):
        inside = i < count
        d = raw[np.clip(dot + 1 + i, 0, last)].astype(np.int64) - 48
        ok &= ~inside | ((d >= 0) & (d <= 9))
        if i < 3:
            ms += np.where(inside, d, 0) * 10 ** (2 - i)
    return ms, ok


def _bytes_at(raw: np.ndarray, at: np.ndarray, expected: dict[int, str]) -> np.ndarray:
    ok = np.ones(len(at), dtype=bool)
    for offset, char in expected.items():
        ok &= raw[at + offset] == ord(char)
    return ok


def _utc_ms(raw, year, month, day, ok, clock: np.ndarray, zone: np.ndarray | None, zone_colon=None, utc=None):
    """Milliseconds since 1970 UTC of a local date, `HH:MM:SS` at `clock` and `+HHMM` at `zone`.

    `zone_colon` marks zones written `+HH:MM`; `utc` marks rows whose zone is `Z` (no offset).
    """
    hour, ok_h = digits(raw, clock, 2)
    minute, ok_m = digits(raw, clock + 3, 2)
    second, ok_s = digits(raw, clock + 6, 2)
    ok = ok & ok_h & ok_m & ok_s & (hour < 24) & (minute < 60) & (second < 60)
    offset = np.zeros(len(clock), dtype=np.int64)
    if zone is not None:
        last = len(raw) - 1
        sign_byte = raw[np.clip(zone, 0, last)]
        zone_h, ok_zh = digits(raw, np.clip(zone + 1, 0, last - 2), 2)
        minutes_at = zone + 3 + (zone_colon if zone_colon is not None else 0)
        zone_m, ok_zm = digits(raw, np.clip(minutes_at, 0, last - 2), 2)
        good_zone = ((sign_byte == ord("+")) | (sign_byte == ord("-"))) & ok_zh & ok_zm & (zone_h < 24) & (zone_m < 60)
        offset = np.where(sign_byte == ord("-"), -1, 1) * (zone_h * 3600 + zone_m * 60)
        if utc is not None:
            good_zone |= utc
            offset = np.where(utc, 0, offset)
        ok &= good_zone
    month_days = np.array([31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month - 1, 0, 11)]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days) & ~((month == 2) & (day == 29) & ~leap)
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    ok &= (seconds >= _FIRST_SECOND) & (seconds < _END_SECOND)  # a UTC date Python (and so a partition) can hold
    return seconds * 1000, ok


# 0001-01-01 and 10000-01-01 UTC in seconds since 1970: a local time of year 1 or 9999 can fall outside.
_FIRST_SECOND = -62135596800
_END_SECOND = 253402300800


_ABSOLUTE = r"^[A-Za-z][A-Za-z0-9+.-]*://"


def split_url(target: pa.Array) -> dict[str, pa.Array]:
    """`https://app.example.com:443/a?b=1` -> path `/a`, query `b=1`, vhost `app.example.com`, server_port 443.

    Load balancers log the request target in absolute form; a target in origin form
    (`/a?b=1`) gives its path and query, and null host and port. Cut with splits, not
    a capturing regex: several times faster.
    """
    absolute = pc.fill_null(pc.match_substring_regex(target, _ABSOLUTE), False)
    parts = pc.list_slice(pc.split_pattern(target, "/", max_splits=3), 0, 4, return_fixed_size_list=True)
    tail = pc.list_element(parts, 3)
    rest = pc.if_else(pc.is_valid(tail), pc.binary_join_element_wise("", tail, "/"), "")  # "/" + tail
    authority = pc.if_else(absolute, pc.list_element(parts, 2), None)
    if pc.any(pc.match_substring(authority, "@")).as_py():
        authority = pc.replace_substring_regex(authority, r"^.*@", "")  # user:password@ dropped
    split = pc.list_slice(pc.split_pattern(authority, ":", max_splits=1, reverse=True), 0, 2,
                          return_fixed_size_list=True)  # fmt: skip
    port = pc.list_element(split, 1)
    numeric = pc.fill_null(pc.match_substring_regex(port, r"^[0-9]{1,5}$"), False)
    host = pc.if_else(numeric, pc.list_element(split, 0), authority)
    return {
        **split_target(pc.if_else(absolute, rest, target)),
        "vhost": pc.if_else(pc.equal(host, ""), None, host),
        "server_port": pc.cast(pc.if_else(numeric, port, None), TYPES["server_port"]),
    }


def status_classes(status: pa.Array) -> pa.Array:
    """200 -> '2xx', as a dictionary column (worked out once per distinct status)."""
    encoded = pc.dictionary_encode(status)
    hundreds = pc.cast(pc.divide(encoded.dictionary, pa.scalar(100, status.type)), pa.string())
    return spread(pc.binary_join_element_wise(hundreds, pa.scalar("xx"), ""), encoded.indices)
