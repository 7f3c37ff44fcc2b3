"""The Common Log Format family: Apache/nginx `common`, `combined`, `vhost_combined` and `combined_xff`.

    203.0.113.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "http://e.org/" "Mozilla/4.08"

becomes one row: client `203.0.113.7`, auth_user `frank`, ts `2000-10-10 20:55:36Z`,
method `GET`, target `/a.gif?x=1`, path `/a.gif`, query `x=1`, protocol `HTTP/1.0`,
status 200, bytes 2326, referrer `http://e.org/`, user_agent `Mozilla/4.08`.
`combined_xff` is combined with a quoted X-Forwarded-For field at the end
(`"%{X-Forwarded-For}i"` in Apache's words, `"$http_x_forwarded_for"` in nginx's).

Vectorised in two paths. In a line without a backslash every double quote and
every space before the time is a delimiter: whether the line has the format's full
pattern is read off those positions (`full_matches`, which gives RE2's answer), and
the fields are cut out by position with numpy over the chunk's one byte buffer, the
time read digit by digit; no Python runs per line. Lines with escapes (`\\"`, `\\\\`,
`\\xHH` as Apache and nginx write them), rare in practice, take the slow path: RE2
checks and captures them, and Python unescapes their distinct values.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import sliding_window_view

from transforms.dictionaries import concatenated, encoded, spread
from transforms.parse.common import (
    INT64_DIGITS,
    METHOD,
    TYPES,
    all_digits,
    clf_times,
    dash_to_null,
    decimals,
    empty_fields,
    split_request,
    split_target,
    text_times,
)
from transforms.parse.escapes import unescaped
from transforms.slicing import Positions, find_bytes, lines_holding, short_strings, slices, unwritten_bytes

_QUOTED = r'"(?:[^"\\]|\\.)*"'
# The last field may lack its closing quote: some servers and log shippers cut long
# user agents at a length limit, and the rest of such a line is still a good record.
_LAST_QUOTED = _QUOTED + "?"
_TIME = r"\[[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}\]"
_ANY_TIME = r"\[[^\]]*\]"
_TAIL = r"[0-9]{3} (?:[0-9]+|-)"


_LINE_END = r"\r?\n?$"


def _patterns(time: str) -> dict[str, str]:
    head = rf"\S+ \S+ \S+ {time}"
    return {
        "common": rf"^{head} {_QUOTED} {_TAIL}{_LINE_END}",
        "combined": rf"^{head} {_QUOTED} {_TAIL} {_QUOTED} {_LAST_QUOTED}{_LINE_END}",
        "combined_xff": rf"^{head} {_QUOTED} {_TAIL} {_QUOTED} {_QUOTED} {_QUOTED}{_LINE_END}",
        "vhost_combined": rf"^\S+ {head} {_QUOTED} {_TAIL} {_QUOTED} {_LAST_QUOTED}{_LINE_END}",
    }


FULL_PATTERNS = _patterns(_TIME)
# The same shape with anything in the brackets: a line that matches this but not the
# full pattern is quarantined for its timestamp rather than as a foreign format.
LOOSE_PATTERNS = _patterns(_ANY_TIME)

_Q = r'"(?P<{}>(?:[^"\\]|\\.)*)"'
_CAPTURE_HEAD = r"(?P<client>\S+) \S+ (?P<auth_user>\S+) \[(?P<time>[^\]]*)\]"
_CAPTURE_TAIL = r"(?P<status>[0-9]{3}) (?P<bytes>[0-9]+|-)"
_CAPTURE_REST = rf" {_Q.format('referrer')} {_Q.format('user_agent')}?"
_CAPTURE = {
    "common": re.compile(rf"^{_CAPTURE_HEAD} {_Q.format('request')} {_CAPTURE_TAIL}$"),
    "combined": re.compile(rf"^{_CAPTURE_HEAD} {_Q.format('request')} {_CAPTURE_TAIL}{_CAPTURE_REST}$"),
    "combined_xff": re.compile(
        rf"^{_CAPTURE_HEAD} {_Q.format('request')} {_CAPTURE_TAIL}{_CAPTURE_REST} {_Q.format('xff')}$"
    ),
    "vhost_combined": re.compile(
        rf"^(?P<vhost>\S+) {_CAPTURE_HEAD} {_Q.format('request')} {_CAPTURE_TAIL}{_CAPTURE_REST}$"
    ),
}

_QUOTE, _SPACE, _BACKSLASH, _DASH = ord('"'), ord(" "), ord("\\"), ord("-")


def matches(lines: pa.Array, fmt: str) -> pa.Array:
    return pc.match_substring_regex(lines, FULL_PATTERNS[fmt])


# The 30 bytes from a time's `[` to the request's opening quote: a set of allowed bytes each.
_DIGITS, _LETTERS = b"0123456789", bytes(range(65, 91)) + bytes(range(97, 123))
_TIME_SHAPE = [b"[", _DIGITS, _DIGITS, b"/", _LETTERS, _LETTERS, _LETTERS, b"/", *[_DIGITS] * 4, b":",
               _DIGITS, _DIGITS, b":", _DIGITS, _DIGITS, b":", _DIGITS, _DIGITS, b" ", b"+-", *[_DIGITS] * 4,
               b"]", b" ", b'"']  # fmt: skip
_TIME_DIGITS = [i for i, allowed in enumerate(_TIME_SHAPE) if allowed == _DIGITS]
_TIME_LETTERS = [i for i, allowed in enumerate(_TIME_SHAPE) if allowed == _LETTERS]
_TIME_SIGN = _TIME_SHAPE.index(b"+-")
_TIME_FIXED = [i for i, allowed in enumerate(_TIME_SHAPE) if len(allowed) == 1]
_TIME_FIXED_BYTES = np.array([_TIME_SHAPE[i][0] for i in _TIME_FIXED], dtype=np.uint8)
# A response size longer than this is checked by RE2 (the pattern allows any number of digits).
_SIZE_BYTES = 20
_TAB = ord("\t")


def full_matches(lines: pa.Array, at: Positions, fmt: str) -> np.ndarray:
    """Per line: does it match `FULL_PATTERNS[fmt]`? What RE2 says, read off positions where that is exact.

    In a line without a backslash or a control byte the pattern can match one way only:
    the fields before the time hold no space, so the first spaces end them, and the quoted
    fields hold no quote, so each quote after the time's ends or starts one. Checking those
    positions is a few numpy comparisons per line, where RE2 runs over every byte. Lines
    with a backslash or a control byte but tab, and the odd line the positions cannot
    settle, are matched with RE2.
    """
    n = len(lines)
    # A backslash, or a control byte (whitespace to RE2 but no delimiter here; such lines are
    # quarantined anyway), and the pattern is left to RE2.
    escaped = lines_holding(at, find_bytes(at, _BACKSLASH)) | lines_holding(at, unwritten_bytes(at))
    plain = np.flatnonzero(~escaped)
    result = np.zeros(n, dtype=bool)
    shaped, settled = _shaped(at, plain, fmt)
    result[plain] = shaped
    unsettled = np.concatenate([np.flatnonzero(escaped), plain[~settled]])
    if len(unsettled):
        checked = pc.match_substring_regex(lines.take(pa.array(unsettled)), FULL_PATTERNS[fmt])
        result[unsettled] = checked.to_numpy(zero_copy_only=False)
    return result


def _are_digits(values: np.ndarray) -> np.ndarray:
    return values - np.uint8(48) <= 9  # below "0" wraps past 9


def _time_shaped(rows: np.ndarray) -> np.ndarray:
    """Per row of the 30 bytes from `[` to the request's quote: `[10/Oct/2000:13:55:36 -0700] "` in shape?"""
    ok = _are_digits(rows[:, _TIME_DIGITS]).all(axis=1)
    ok &= ((rows[:, _TIME_LETTERS] | np.uint8(32)) - np.uint8(97) <= 25).all(axis=1)  # a-z, either case
    ok &= (rows[:, _TIME_FIXED] == _TIME_FIXED_BYTES).all(axis=1)
    return ok & ((rows[:, _TIME_SIGN] == ord("+")) | (rows[:, _TIME_SIGN] == ord("-")))


def _shaped(at: Positions, rows: np.ndarray, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """(matches the full pattern, settled by positions) for lines without backslashes."""
    raw, starts, ends = at.raw, at.starts[rows], at.ends[rows]
    spaces, quotes = find_bytes(at, _SPACE), find_bytes(at, _QUOTE)
    ok = np.ones(len(rows), dtype=bool)
    if len(rows) == 0 or len(spaces) == 0 or len(quotes) == 0:
        return ~ok, ok
    # `\S+ ` fields up to the time (one more in vhost_combined): each non-empty, ended by a space.
    first_space = np.searchsorted(spaces, starts)
    end_of_field = starts - 1
    for k in range(4 if fmt == "vhost_combined" else 3):
        ok &= first_space + k < len(spaces)
        space = spaces[np.minimum(first_space + k, len(spaces) - 1)]
        ok &= space > end_of_field + 1
        end_of_field = space
    bracket = end_of_field + 1
    opening = bracket + len(_TIME_SHAPE) - 1  # the request's opening quote
    ok &= opening < ends
    tabs = find_bytes(at, _TAB)  # whitespace too: no `\S` field may hold one
    if len(tabs):
        line = np.searchsorted(starts, tabs, side="right") - 1
        inside = (line >= 0) & (tabs < bracket[np.maximum(line, 0)])
        ok[line[inside]] = False
    window = np.minimum(bracket, len(raw) - len(_TIME_SHAPE))  # raw holds the padding past any line
    ok &= _time_shaped(sliding_window_view(raw, len(_TIME_SHAPE))[window])
    # The quoted fields: where each quote from the opening one lies, and how many the line holds.
    k0 = np.searchsorted(quotes, opening)
    count = np.searchsorted(quotes, ends) - k0

    def quote(k: int) -> np.ndarray:
        return quotes[np.minimum(k0 + k, len(quotes) - 1)]

    ok &= (count >= 2) & (quote(0) == opening)
    q1 = quote(1)
    ok &= (raw[q1 + 1] == _SPACE) & (raw[q1 + 5] == _SPACE)
    ok &= all_digits(raw, q1 + 2, 3)  # the status
    if fmt == "common":
        size_end = ends
        ok &= count == 2
    else:
        q2, q3 = quote(2), quote(3)
        size_end = q2 - 1
        ok &= (count >= 5) & (raw[size_end] == _SPACE) & (raw[q3 + 1] == _SPACE) & (quote(4) == q3 + 2)
        if fmt == "combined_xff":
            q5 = quote(5)
            ok &= (count == 8) & (raw[q5 + 1] == _SPACE) & (quote(6) == q5 + 2) & (quote(7) == ends - 1)
        else:  # the user agent's closing quote may be missing
            ok &= (count == 5) | ((count == 6) & (quote(5) == ends - 1))
    size_start = q1 + 6
    width = size_end - size_start
    settled = ~ok | (width <= _SIZE_BYTES)
    ok &= width > 0
    size_ok = (width == 1) & (raw[size_start] == _DASH)
    ok &= size_ok | all_digits(raw, size_start, np.where(ok & settled, width, 1))
    return ok & settled, settled


def parse(lines: pa.Array, at: Positions, rows: np.ndarray, fmt: str) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """(the rows in the order of the fields, the fields) of the given rows of a chunk, all of
    which match `FULL_PATTERNS[fmt]`.

    Rows whose lines hold escapes (a few) come after the others: putting them back in
    line order would copy every field. `ts` is null where the time is no real time.
    """
    if len(rows) == 0:
        return rows, empty_fields()
    escaped = lines_holding(at, find_bytes(at, _BACKSLASH))[rows]
    if not escaped.any():
        return rows, _cut_fields(at, rows, fmt)
    plain, rare = rows[~escaped], rows[escaped]
    fast = _cut_fields(at, plain, fmt)
    slow = _parse_escaped(lines.take(pa.array(rare)), fmt)
    return np.concatenate([plain, rare]), {name: concatenated([fast[name], slow[name]]) for name in fast}


def _cut_fields(at: Positions, rows: np.ndarray, fmt: str) -> dict[str, pa.Array]:
    """Cut fields at quote and space positions: right for every line without escapes."""
    data, raw = at.buffer, at.raw
    starts, ends = at.starts[rows], at.ends[rows]
    quotes = find_bytes(at, _QUOTE)
    spaces = find_bytes(at, _SPACE)

    def quote(k: int) -> np.ndarray:
        return quotes[np.minimum(first_quote + k, len(quotes) - 1)]

    def space(k: int) -> np.ndarray:
        return spaces[np.minimum(first_space + k, len(spaces) - 1)]

    first_space = np.searchsorted(spaces, starts)
    head = 1 if fmt == "vhost_combined" else 0  # spaces before the client
    client_start = space(head - 1) + 1 if head else starts
    bracket = space(head + 2) + 1
    time_at = bracket + 1
    # The request's quote, from the time on: a field before the time may hold a quote of its own.
    first_quote = np.searchsorted(quotes, bracket + len(_TIME_SHAPE) - 1)
    q0, q1 = quote(0), quote(1)
    ts, valid_time = clf_times(raw, time_at)

    n = len(rows)
    fields = {
        "client": slices(data, raw, client_start, space(head)),
        "auth_user": _text_or_dash(data, raw, space(head + 1) + 1, space(head + 2)),
        "request": slices(data, raw, q0 + 1, q1),
        "status": pa.array(_three_digits(raw, q1 + 2), pa.int16()),
        "ts": pc.if_else(pa.array(valid_time), pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")), None),
    }
    if fmt == "common":
        bytes_end = ends
        fields["referrer"] = fields["user_agent"] = pa.nulls(n, pa.string())
    else:
        bytes_end = quote(2) - 1
        quote_count = np.searchsorted(quotes, ends) - first_quote
        ua_end = np.where(quote_count >= 6, quote(5), ends)
        fields["referrer"] = _text_or_dash(data, raw, quote(2) + 1, quote(3))
        fields["user_agent"] = _text_or_dash(data, raw, quote(4) + 1, ua_end)
    if fmt == "combined_xff":
        fields["xff"] = _text_or_dash(data, raw, quote(6) + 1, quote(7))
    fields["bytes"] = _byte_counts(raw, q1 + 6, bytes_end)
    fields["vhost"] = slices(data, raw, starts, space(0)) if head else pa.nulls(n, pa.string())
    # Spaces before the request: the head fields', the time's own and the one after it; so
    # the request's first space is the next one (past its quote if it holds none).
    request_spaces = space(head + 5), spaces[np.maximum(np.searchsorted(spaces, q1) - 1, 0)]
    fields.update(cut_request(at, spaces, q0, q1, spaces_inside=request_spaces))
    return _finish(fields, dashes_are_null=True)


def _text_or_dash(data: pa.Buffer, raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """Fields cut as `slices` cuts them, null where a field is `-` (how access logs write "no value").

    Where most are `-` (the user of nearly every line), only the others are cut, and put in place.
    """
    present = ~((ends - starts == 1) & (raw[starts] == _DASH))
    cut = np.flatnonzero(present)
    if len(cut) * 2 >= len(present):
        return slices(data, raw, starts, ends, present=present)
    place = np.zeros(len(present), dtype=np.int64)
    place[cut] = np.arange(len(cut))
    return slices(data, raw, starts[cut], ends[cut]).take(pa.array(place, mask=~present))


def _byte_counts(raw: np.ndarray, begin: np.ndarray, end: np.ndarray) -> pa.Array:
    """Response sizes read off the digits: `-` (nothing sent) is 0, a number too long for int64 null."""
    value, valid = decimals(raw, begin, end, fraction=False)
    dash = (end - begin == 1) & (raw[begin] == _DASH)
    valid |= dash
    return pa.array(np.where(valid & ~dash, value, 0).astype(np.int64), TYPES["bytes"], mask=~valid)


def _three_digits(raw: np.ndarray, at: np.ndarray) -> np.ndarray:
    return (raw[at].astype(np.int16) - 48) * 100 + (raw[at + 1].astype(np.int16) - 48) * 10 + raw[at + 2] - 48


def cut_request(at: Positions, spaces: np.ndarray, q0: np.ndarray, q1: np.ndarray, with_path: bool = True,
                spaces_inside: tuple[np.ndarray, np.ndarray] | None = None) -> dict:  # fmt: skip
    """Method, target, path, query and protocol of the request lines between quotes `q0` and `q1`, by position.

    As `split_request` finds them, for lines without escapes. Without path: method,
    target and protocol only (load balancers write targets as URLs, cut otherwise).
    `spaces_inside` is the first space after `q0` and the last before `q1`, where the
    caller knows them already. The columns come dictionary-encoded: the method is checked,
    and path and query are cut, once per distinct value.
    """
    data, raw = at.buffer, at.raw
    last = max(len(spaces) - 1, 0)
    if spaces_inside is not None:
        first_space, last_space = spaces_inside
    else:
        first_space = spaces[np.minimum(np.searchsorted(spaces, q0 + 1), last)] if len(spaces) else q1
        last_space = spaces[np.maximum(np.searchsorted(spaces, q1) - 1, 0)] if len(spaces) else q1
    has_space = (first_space > q0) & (first_space < q1)
    method = short_strings(data, raw, q0 + 1, first_space)
    protocol_start = last_space + 1
    has_protocol = has_space & (last_space > first_space) & _starts_with(raw, protocol_start, b"HTTP/")
    target_end = np.where(has_protocol, last_space, q1)
    well_formed = has_space & (target_end > first_space + 1)
    known = pc.match_substring_regex(method.dictionary, METHOD).to_numpy(zero_copy_only=False)
    well_formed &= known[method.indices.to_numpy(zero_copy_only=False)]
    target_start = first_space + 1
    request = {
        "method": pa.DictionaryArray.from_arrays(
            pc.if_else(pa.array(well_formed), method.indices, None), method.dictionary
        ),
        "target": encoded(slices(data, raw, target_start, target_end, well_formed)),
        "protocol": short_strings(data, raw, protocol_start, q1, well_formed & has_protocol),
    }
    if not with_path:
        return request
    return request | path_and_query(request["target"])


def path_and_query(target: pa.DictionaryArray) -> dict[str, pa.Array]:
    """Path and query of each target: cut at its first `?` (no `?`, no query), once per distinct target."""
    return {name: spread(values, target.indices) for name, values in split_target(target.dictionary).items()}


def _starts_with(raw: np.ndarray, at: np.ndarray, prefix: bytes) -> np.ndarray:
    ok = np.ones(len(at), dtype=bool)
    for i, byte in enumerate(prefix):
        ok &= raw[np.minimum(at + i, len(raw) - 1)] == byte
    return ok


def _parse_escaped(lines: pa.Array, fmt: str) -> dict[str, pa.Array]:
    """The path for lines with escapes: RE2 captures for all of them at once, Python only to unescape."""
    captured = pc.extract_regex(pc.utf8_rtrim(lines, "\r\n"), _CAPTURE[fmt].pattern)
    fields = {name: captured.field(name) for name in (f.name for f in captured.type)}
    for name in ("auth_user", "request", "referrer", "user_agent", "xff"):
        if name in fields:
            fields[name] = unescaped(fields[name])
    n = len(lines)
    fields["ts"] = text_times(fields.pop("time"), "clf")
    fields["status"] = pc.cast(fields["status"], TYPES["status"])
    for name in ("referrer", "user_agent", "vhost"):
        fields.setdefault(name, pa.nulls(n, pa.string()))
    fields.update(split_request(fields["request"]))
    return _finish(fields)


def _finish(fields: dict[str, pa.Array], dashes_are_null: bool = False) -> dict[str, pa.Array]:
    """`-` to null (unless it is already), bytes to integers, `host:port` of vhost_combined split."""
    n = len(fields["client"])
    out = dict(fields)
    if not dashes_are_null:
        for name in ("auth_user", "referrer", "user_agent", "xff"):
            if name in fields:
                out[name] = dash_to_null(fields[name])
    if not pa.types.is_integer(fields["bytes"].type):  # as text, from lines with escapes
        size = fields["bytes"]
        fits = pc.less_equal(pc.utf8_length(size), INT64_DIGITS)
        size = pc.if_else(pc.equal(size, "-"), "0", pc.if_else(fits, size, pa.scalar(None, pa.string())))
        out["bytes"] = pc.cast(size, TYPES["bytes"])
    out["server_port"] = pa.nulls(n, TYPES["server_port"])
    vhost = fields["vhost"]
    if vhost.null_count < n:
        host_port = pc.split_pattern(vhost, ":", max_splits=1, reverse=True)
        port = pc.list_element(pc.list_slice(host_port, 0, 2, return_fixed_size_list=True), 1)
        numeric = pc.fill_null(pc.match_substring_regex(port, r"^[0-9]{1,5}$"), False)
        out["vhost"] = pc.if_else(numeric, pc.list_element(host_port, 0), vhost)
        out["server_port"] = pc.cast(pc.if_else(numeric, port, None), TYPES["server_port"])
    return out
