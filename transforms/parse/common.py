"""What every log format parses into: the same fields, the same types, and the request split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.slicing import line_positions

# Fields a format parser returns, in order; a format without one returns nulls.
FIELDS = (
    "client", "auth_user", "ts", "request", "method", "target", "path", "query",
    "protocol", "status", "bytes", "referrer", "user_agent", "vhost", "server_port",
)  # fmt: skip
TYPES = {"ts": pa.timestamp("ms", tz="UTC"), "status": pa.int16(), "bytes": pa.int64(), "server_port": pa.int32()}

METHOD = r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"


def empty_fields() -> dict[str, pa.Array]:
    return {name: pa.array([], TYPES.get(name, pa.string())) for name in FIELDS}


def dash_to_null(values: pa.Array) -> pa.Array:
    """`-` is how access logs write "no value"."""
    return pc.if_else(pc.equal(values, "-"), None, values)


# The method is the first word, the protocol the last word if it is `HTTP/...`, the
# target what lies between (spaces and all); anything else is no request line.
_REQUEST = r"^(?P<method>[A-Za-z][A-Za-z0-9_-]{0,31}) (?P<target>.+?)(?: (?P<protocol>HTTP/\S*))?$"
_TARGET = r"^(?P<path>[^?]*)(?:\?(?P<query>.*))?$"


def split_request(request: pa.Array) -> dict[str, pa.Array]:
    """`GET /a?b=1 HTTP/1.1` -> method, target, path, query and protocol, for a whole column.

    A request line without a method and a target (`-` for a timed-out connection,
    TLS bytes sent to a plain port) gives five nulls; the raw line stays in
    `request`, which only the restricted zone holds.
    """
    split = pc.extract_regex(request, _REQUEST)  # null where the line is no request line
    protocol = pc.struct_field(split, "protocol")
    target = pc.struct_field(split, "target")
    return {
        "method": pc.struct_field(split, "method"),
        "target": target,
        "protocol": pc.if_else(pc.equal(protocol, ""), None, protocol),
        **split_target(target),
    }


def split_target(target: pa.Array) -> dict[str, pa.Array]:
    """`/a?b=1` -> path `/a`, query `b=1`; `/a?` -> query empty; `/a` -> query null."""
    parts = pc.extract_regex(target, _TARGET)
    has_query = pc.fill_null(pc.match_substring(target, "?"), False)
    return {
        "path": pc.struct_field(parts, "path"),
        "query": pc.if_else(has_query, pc.struct_field(parts, "query"), None),
    }


def text_times(values: pa.Array, kind: str) -> pa.Array:
    """`10/Oct/2000:13:55:36 -0700` (kind `clf`, brackets allowed) or ISO 8601 text (kind `iso`) to UTC times.

    Read digit by digit, so a 31st of February is no time (null), never the 3rd of March.
    """
    at = line_positions(values)
    last = len(at.raw) - 1
    bracket = (kind == "clf") & (at.raw[np.minimum(at.starts, last)] == ord("["))
    starts, lengths = at.starts + bracket, at.ends - at.starts - 2 * bracket
    ms, valid = (clf_times if kind == "clf" else iso_times)(at.raw, starts)
    # Whole values only: a cut-off time must not borrow digits from the value after it.
    if kind == "clf":
        valid &= lengths == 26
    else:
        utc, colon = (
            at.raw[np.minimum(starts + 19, last)] == ord("Z"),
            at.raw[np.minimum(starts + 22, last)] == ord(":"),
        )
        valid &= lengths == np.where(utc, 20, np.where(colon, 25, 24))
    return pc.if_else(pa.array(valid), pa.array(ms, pa.int64()).cast(TYPES["ts"]), None)


def digits(raw: np.ndarray, at: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(value, all digits?) of the `width` ASCII digits starting at each position."""
    value = np.zeros(len(at), dtype=np.int64)
    ok = np.ones(len(at), dtype=bool)
    for i in range(width):
        d = raw[at + i].astype(np.int64) - 48
        ok &= (d >= 0) & (d <= 9)
        value = value * 10 + d
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


def clf_times(raw: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(UTC epoch milliseconds, valid?) of `10/Oct/2000:13:55:36 -0700` starting at each position."""
    day, ok1 = digits(raw, at, 2)
    year, ok2 = digits(raw, at + 7, 4)
    code = (raw[at + 3].astype(np.int64) << 16) | (raw[at + 4].astype(np.int64) << 8) | raw[at + 5]
    found = np.minimum(np.searchsorted(_SORTED_MONTH_CODES, code), 11)
    month = np.where(_SORTED_MONTH_CODES[found] == code, _MONTH_ORDER[found] + 1, 0)
    separators = _bytes_at(raw, at, {2: "/", 6: "/", 11: ":", 14: ":", 17: ":", 20: " "})
    return _utc_ms(raw, at, year, month, day, ok1 & ok2 & separators, clock_at=12, zone_at=21)


def iso_times(raw: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(UTC epoch milliseconds, valid?) of `2026-11-24T11:00:00+01:00` (or `+0100`, or `Z`) at each position."""
    year, ok1 = digits(raw, at, 4)
    month, ok2 = digits(raw, at + 5, 2)
    day, ok3 = digits(raw, at + 8, 2)
    separators = _bytes_at(raw, at, {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"})
    utc = raw[at + 19] == ord("Z")
    colon = raw[at + 22] == ord(":")  # +01:00 rather than +0100
    ms, valid = _utc_ms(raw, at, year, month, day, ok1 & ok2 & ok3 & separators, clock_at=11, zone_at=19,
                        zone_colon=colon)  # fmt: skip
    in_utc, utc_valid = _utc_ms(raw, at, year, month, day, ok1 & ok2 & ok3 & separators, clock_at=11, zone_at=None)
    return np.where(utc, in_utc, ms), np.where(utc, utc_valid, valid)


def _bytes_at(raw: np.ndarray, at: np.ndarray, expected: dict[int, str]) -> np.ndarray:
    ok = np.ones(len(at), dtype=bool)
    for offset, char in expected.items():
        ok &= raw[at + offset] == ord(char)
    return ok


def _utc_ms(raw, at, year, month, day, ok, clock_at: int, zone_at: int | None, zone_colon=None):
    """Milliseconds since 1970 UTC of a local date, `HH:MM:SS` at `clock_at` and `+HHMM` at `zone_at`."""
    hour, ok_h = digits(raw, at + clock_at, 2)
    minute, ok_m = digits(raw, at + clock_at + 3, 2)
    second, ok_s = digits(raw, at + clock_at + 6, 2)
    ok = ok & ok_h & ok_m & ok_s & (hour < 24) & (minute < 60) & (second < 60)
    offset = np.zeros(len(at), dtype=np.int64)
    if zone_at is not None:
        sign_byte = raw[at + zone_at]
        zone_h, ok_zh = digits(raw, at + zone_at + 1, 2)
        minutes_at = at + zone_at + 3 + (zone_colon if zone_colon is not None else 0)
        zone_m, ok_zm = digits(raw, minutes_at, 2)
        ok &= ((sign_byte == ord("+")) | (sign_byte == ord("-"))) & ok_zh & ok_zm & (zone_h < 24) & (zone_m < 60)
        offset = np.where(sign_byte == ord("-"), -1, 1) * (zone_h * 3600 + zone_m * 60)
    month_days = np.array([31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month - 1, 0, 11)]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days) & ~((month == 2) & (day == 29) & ~leap)
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    return seconds * 1000, ok


def status_classes(status: pa.Array) -> pa.Array:
    """200 -> '2xx'."""
    hundreds = pc.cast(pc.divide(status, pa.scalar(100, status.type)), pa.string())
    return pc.binary_join_element_wise(hundreds, pa.scalar("xx"), "")
