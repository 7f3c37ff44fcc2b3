"""Parsing the Common Log Format family: one row per edge case, fast and slow path alike."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import parsed_row
from transforms.config import log_format
from transforms.parse import REASONS, clf, parse_lines
from transforms.parse.common import split_request
from transforms.parse.escapes import unescape
from transforms.slicing import line_positions

UTC = dt.timezone.utc
COMBINED = '203.0.113.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "http://example.com/" "Mozilla/4.08"'


def parse_one(line: str, fmt: str = "combined") -> dict:
    return parsed_row(fmt, line)


@pytest.mark.parametrize(
    "line, fmt, expected",
    [
        (COMBINED, "combined", {
            "client": "203.0.113.7", "auth_user": "frank", "ts": dt.datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC),
            "method": "GET", "target": "/a.gif?x=1", "path": "/a.gif", "query": "x=1", "protocol": "HTTP/1.0",
            "status": 200, "bytes": 2326, "referrer": "http://example.com/", "user_agent": "Mozilla/4.08"}),
        ('198.51.100.4 - - [01/Jan/2026:00:00:00 +0000] "POST /login HTTP/1.1" 401 - "-" "-"', "combined", {
            "auth_user": None, "bytes": 0, "referrer": None, "user_agent": None, "query": None, "status": 401}),
        ('2001:db8::1 - - [24/Nov/2026:23:30:00 +0130] "GET / HTTP/2.0" 200 5 "-" "curl/8.5.0"', "combined", {
            "client": "2001:db8::1", "ts": dt.datetime(2026, 11, 24, 22, 0, 0, tzinfo=UTC), "protocol": "HTTP/2.0"}),
        ('::ffff:192.0.2.7 - - [24/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 1 "-" "-"', "combined", {
            "client": "::ffff:192.0.2.7"}),
        ('host-1.example.net - - [24/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 1 "-" "-"', "combined", {
            "client": "host-1.example.net"}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "-" 408 - "-" "-"', "combined", {
            "request": "-", "method": None, "target": None, "path": None, "protocol": None, "status": 408}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "\\x16\\x03\\x01\\x02" 400 226 "-" "-"', "combined", {
            "method": None, "status": 400}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET /q?a=\\"b\\" HTTP/1.1" 200 1 "-" "A \\"quoted\\" agent"',
         "combined", {"query": 'a="b"', "user_agent": 'A "quoted" agent'}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "caf\\xc3\\xa9 \\\\ bot"',
         "combined", {"user_agent": "café \\ bot"}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET /a b HTTP/1.1" 400 1 "-" "-"', "combined", {
            "method": "GET", "target": "/a b", "protocol": "HTTP/1.1"}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET /legacy" 200 1 "-" "-"', "combined", {
            "method": "GET", "target": "/legacy", "protocol": None}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "Googlebot/2.1 (+http://www.goo',
         "combined", {"user_agent": "Googlebot/2.1 (+http://www.goo"}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET /c?x=1 HTTP/1.1" 304 -', "common", {
            "path": "/c", "query": "x=1", "bytes": 0, "referrer": None}),
        ('www.example.com:443 192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
         "vhost_combined", {"vhost": "www.example.com", "server_port": 443, "client": "192.0.2.1"}),
        ('[2001:db8::5]:8443 2001:db8::9 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
         "vhost_combined", {"vhost": "[2001:db8::5]", "server_port": 8443, "client": "2001:db8::9"}),
        (COMBINED + "\r", "combined", {"user_agent": "Mozilla/4.08"}),
        ('192.0.2.1 - - [29/Feb/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"', "combined", {
            "ts": dt.datetime(2024, 2, 29, 10, tzinfo=UTC)}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 999999999999999999 "-" "-"',
         "combined", {"bytes": 999_999_999_999_999_999}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12345678901234567890 "-" "-"',
         "combined", {"bytes": None, "status": 200}),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET /\\" HTTP/1.1" 200 12345678901234567890 "-" "-"',
         "combined", {"bytes": None, "target": '/"'}),
    ],
    ids=["combined", "dashes", "ipv6-and-offset", "mapped", "hostname", "no-request", "tls-bytes",
         "escaped-quotes", "hex-escapes", "space-in-target", "http09", "unterminated-user-agent", "common",
         "vhost", "vhost-ipv6", "crlf", "leap-day", "bytes-18-digits", "bytes-past-int64",
         "bytes-past-int64-escaped"],
)  # fmt: skip
def test_parses(line: str, fmt: str, expected: dict) -> None:
    row = parse_one(line, fmt)
    assert {k: row[k] for k in expected} == expected


@pytest.mark.parametrize(
    "line, reason",
    [
        ("", "empty_line"),
        ("192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\x00b\"", "binary_data"),
        ("\ufffd\ufffd\x7fELF", "binary_data"),
        ("\ufffd\ufffdPK", "invalid_utf8"),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200', "format_mismatch"),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1', "format_mismatch"),
        ('192.0.2.1 - - [32/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"', "bad_timestamp"),
        ('192.0.2.1 - - [29/Feb/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"', "bad_timestamp"),
        ('192.0.2.1 - - [24/Nov/2026:25:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"', "bad_timestamp"),
        ('192.0.2.1 - - [yesterday] "GET / HTTP/1.1" 200 1 "-" "-"', "bad_timestamp"),
        ('192.0.2.1 - - [01/Jan/0001:00:00:00 +1400] "GET / HTTP/1.1" 200 1 "-" "-"', "bad_timestamp"),
        ('192.0.2.1 - - [31/Dec/9999:23:59:59 -0100] "GET / HTTP/1.1" 200 1 "-" "-"', "bad_timestamp"),
        ('192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "' + "A" * 70000 + '"',
         "line_too_long"),
        ("<html><body>not a log</body></html>", "format_mismatch"),
    ],
    ids=["empty", "nul-byte", "binary", "invalid-utf8", "missing-bytes", "missing-referrer-and-agent",
         "day-32", "feb-29-not-leap", "hour-25", "words-for-time", "utc-before-year-1", "utc-after-year-9999",
         "one-mb-ish-line", "html"],
)  # fmt: skip
def test_quarantines(line: str, reason: str) -> None:
    parsed = parse_lines(pa.array([line]), "combined", 65536)
    assert len(parsed.rows) == 0
    assert parsed.reasons.to_pylist() == [reason]
    assert reason in REASONS


def test_damaged_tail_is_quarantined_even_if_it_parses() -> None:
    parsed = parse_lines(pa.array([COMBINED, COMBINED]), "combined", 65536, damaged_tail=True)
    assert parsed.rows.tolist() == [0]
    assert parsed.quarantined.tolist() == [1]
    assert parsed.reasons.to_pylist() == ["truncated_input"]


def test_every_line_is_a_row_or_quarantined_in_order() -> None:
    lines = [COMBINED, "junk", COMBINED.replace("frank", "-"), "", COMBINED]
    parsed = parse_lines(pa.array(lines), "combined", 65536)
    assert parsed.rows.tolist() == [0, 2, 4]
    assert parsed.quarantined.tolist() == [1, 3]
    assert parsed.fields["auth_user"].to_pylist() == ["frank", None, "frank"]


def test_fast_and_slow_paths_agree() -> None:
    """The same line parsed by position and, made to hold an escape, by the Python path."""
    escaped = COMBINED.replace("Mozilla/4.08", "Mozilla/4.08 \\\\")
    fast, slow = parse_one(COMBINED), parse_one(escaped)
    slow["user_agent"] = slow["user_agent"].replace(" \\", "")
    slow.pop("request"), fast.pop("request")
    assert fast == slow


@pytest.mark.parametrize(
    "request_line, expected",
    [
        ("GET /a?b=1 HTTP/1.1", ("GET", "/a?b=1", "/a", "b=1", "HTTP/1.1")),
        ("GET /a? HTTP/1.1", ("GET", "/a?", "/a", "", "HTTP/1.1")),
        ("OPTIONS * HTTP/1.1", ("OPTIONS", "*", "*", None, "HTTP/1.1")),
        ("-", (None, None, None, None, None)),
        ("GET", (None, None, None, None, None)),
        ("1234 /x HTTP/1.1", (None, None, None, None, None)),
    ],
    ids=["query", "empty-query", "asterisk", "dash", "method-only", "numeric-method"],
)
def test_split_request(request_line: str, expected: tuple) -> None:
    split = split_request(pa.array([request_line]))
    assert tuple(split[name][0].as_py() for name in ("method", "target", "path", "query", "protocol")) == expected


@pytest.mark.parametrize(
    "escaped, plain",
    [('a \\"b\\"', 'a "b"'), ("c:\\\\dir", "c:\\dir"), ("\\xff", "\ufffd"), ("tab\\there", "tab\there")],
    ids=["quote", "backslash", "invalid-byte", "tab"],
)
def test_unescape(escaped: str, plain: str) -> None:
    assert unescape(escaped) == plain


@pytest.mark.parametrize(
    "status, status_class, is_error, is_server_error",
    [(101, "1xx", False, False), (200, "2xx", False, False), (304, "3xx", False, False), (404, "4xx", True, False),
     (401, "4xx", True, False), (503, "5xx", True, True)],
    ids=["switching", "ok", "not-modified", "not-found", "unauthorised", "unavailable"],
)  # fmt: skip
def test_status_signals_in_every_request_row(
    status: int, status_class: str, is_error: bool, is_server_error: bool
) -> None:
    from transforms.parse import request_table

    parsed = parse_lines(pa.array([COMBINED.replace(" 200 ", f" {status} ")]), "combined", 65536)
    row = request_table(parsed, "a.log", 1, "run").to_pylist()[0]
    assert (row["status_class"], row["is_error"], row["is_server_error"]) == (status_class, is_error, is_server_error)


def test_escaped_lines_check_their_time_digit_by_digit_too() -> None:
    """A line with escapes takes the other path; a 31st of February is still no time there."""
    line = '192.0.2.1 - - [31/Feb/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "A \\"q\\" agent"'
    parsed = parse_lines(pa.array([line, line.replace("31/Feb", "28/Feb")]), "combined", 65536)
    assert parsed.rows.tolist() == [1]
    assert parsed.reasons.to_pylist() == ["bad_timestamp"]
    assert parsed.fields["ts"].to_pylist() == [dt.datetime(2026, 2, 28, 10, tzinfo=UTC)]


def test_runs_of_equal_times_each_keep_their_own_time_and_validity() -> None:
    """Times are read once per run of equal texts: runs, single lines and bad times between them stay apart."""
    times = ["24/Nov/2026:10:00:00 +0000"] * 3 + ["24/Nov/2026:10:00:01 +0000", "31/Feb/2026:10:00:01 +0000"] * 2
    times += ["24/Nov/2026:10:00:01 +0100"] * 2 + ["24/Nov/2026:10:00:00 +0000"]
    lines = [COMBINED.replace("10/Oct/2000:13:55:36 -0700", t) for t in times]
    parsed = parse_lines(pa.array(lines), "combined", 65536)
    assert parsed.rows.tolist() == [0, 1, 2, 3, 5, 7, 8, 9]
    assert parsed.reasons.to_pylist() == ["bad_timestamp"] * 2
    expected = [dt.datetime.strptime(times[row], "%d/%b/%Y:%H:%M:%S %z") for row in parsed.rows]
    assert parsed.fields["ts"].to_pylist() == expected


def test_integers_of_every_length_read_together() -> None:
    """Short and long numbers in one call (they are read in separate passes) keep their own values."""
    import numpy as np

    from transforms.parse.common import decimals
    from transforms.slicing import line_positions

    texts = ["0", "7", "123456789", "1234567890", "999999999999999999", "1234567890123456789", "-1", "-", "",
             "12a", "-12345678901", "00042", "+5", "4 2"]  # fmt: skip
    at = line_positions(pa.array(texts))
    value, valid = decimals(at.raw, at.starts, at.ends, fraction=False)
    expected = {0: 0, 1: 7, 2: 123456789, 3: 1234567890, 4: 999999999999999999, 6: -1, 10: -12345678901, 11: 42}
    assert np.flatnonzero(valid).tolist() == sorted(expected)
    assert value[valid].tolist() == [expected[i] for i in sorted(expected)]
    assert value.dtype == np.int64


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789/:- +a\u00e9", max_size=20), min_size=1, max_size=30))
def test_integers_read_as_python_reads_them(texts: list[str]) -> None:
    """Every field is an integer where Python's int() of its digits says so (1 to 18 digits), with that value."""
    import numpy as np

    from transforms.parse.common import INT64_DIGITS, decimals
    from transforms.slicing import line_positions

    at = line_positions(pa.array(texts))
    value, valid = decimals(at.raw, at.starts, at.ends, fraction=False)
    for text, number, ok in zip(texts, value.tolist(), valid.tolist(), strict=True):
        digits = text[1:] if text.startswith("-") and len(text) > 1 else text
        expected = digits.isascii() and digits.isdigit() and 1 <= len(digits) <= INT64_DIGITS
        assert ok == expected, text
        if ok:
            assert number == int(text), text
    assert value.dtype == np.int64


@pytest.mark.parametrize(
    "texts, present",
    [
        (["GET", "POST", "GET", "OPTIONS", "PROPFIND", "", "HEAD"], None),
        (["HTTP/1.1", "HTTP/2.0", "HTTP/1.1", "x"], [True, True, False, True]),
        (["GET", "A-METHOD-OF-12"], None),  # longer than 8 bytes: cut as strings
        (["d\u00e9j\u00e0", "d\u00e9j\u00e0", "\u00e9"], None),
        (["HTTP/1.", "HTTP/1.\x00", "a\x00b"], None),  # a NUL byte: cut as strings
    ],
    ids=["methods", "protocols, one absent", "a long one", "non-ASCII", "NUL bytes"],
)
def test_short_strings_are_the_slices_dictionary_encoded(texts: list[str], present: list[bool] | None) -> None:
    import numpy as np

    from transforms.slicing import short_strings, slices

    at = line_positions(pa.array(texts))
    mask = None if present is None else np.array(present)
    short = short_strings(at.buffer, at.raw, at.starts, at.ends, mask)
    assert pa.types.is_dictionary(short.type)
    assert short.to_pylist() == slices(at.buffer, at.raw, at.starts, at.ends, mask).to_pylist()
    assert sorted(short.dictionary.to_pylist()) == sorted(set(short.to_pylist()) - {None})


@pytest.mark.parametrize("shift", range(8))
def test_fields_cut_at_every_alignment(shift: int) -> None:
    """String fields cut out of a buffer are its bytes, whatever the buffer's and the fields' alignment."""
    import numpy as np

    from transforms.slicing import PADDING, slices

    rng = np.random.default_rng(shift)
    storage = np.zeros(4096 + 8 + PADDING, dtype=np.uint8)
    raw = storage[shift : shift + 4096 + PADDING]
    raw[:4096] = rng.integers(32, 127, 4096)
    starts = np.sort(rng.integers(0, 4096 - 40, 500))
    ends = starts + rng.integers(0, 40, len(starts))
    texts = slices(pa.py_buffer(raw), raw, starts, ends).to_pylist()
    assert texts == [raw[s:e].tobytes().decode() for s, e in zip(starts, ends, strict=True)]


# Text of spaces, tabs, quotes, brackets, digits, letters, dashes, a backslash or a control
# byte now and then, non-ASCII.
_PIECES = st.sampled_from([" ", "  ", "\t", '"', "[", "]", "-", "/", ":", "+", "0", "7", "42", "a", "Z", "\\",
                           "\r", "\x0c", "é", "GET /a?b=1 HTTP/1.1", "203.0.113.7", "10/Oct/2000:13:55:36 -0700"])  # fmt: skip
_TEXT = st.lists(_PIECES, max_size=6).map("".join)


@st.composite
def clf_like_lines(draw) -> str:
    """A line of one of the CLF formats, whole or with a byte or two put in, taken out or changed."""
    fmt = draw(st.sampled_from(sorted(clf.FULL_PATTERNS)))
    parts = [draw(st.sampled_from(["203.0.113.7", "2001:db8::1", "h.example"])), "-",
             draw(st.sampled_from(["-", "frank", "fr\u00e9d"])), draw(st.sampled_from(
                 ["[10/Oct/2000:13:55:36 -0700]", "[31/Feb/2026:00:00:00 +0000]", "[01/jan/1999:23:59:59 +1400]"])),
             draw(st.sampled_from(['"GET /a?b=1 HTTP/1.1"', '"-"', '""', '"POST /x\ty HTTP/1.0"', '"GET /\u00e9"'])),
             draw(st.sampled_from(["200", "404", "503"])), draw(st.sampled_from(["2326", "-", "0", "1" * 25]))]  # fmt: skip
    if fmt == "vhost_combined":
        parts.insert(0, "h.example:443")
    if fmt != "common":
        parts += [draw(st.sampled_from(['"-"', '"http://e.org/"', '""'])),
                  draw(st.sampled_from(['"Mozilla/5.0 (X11)"', '"curl/8"', '"cut off']))]  # fmt: skip
    if fmt == "combined_xff":
        parts[-1] = parts[-1] if parts[-1].endswith('"') else parts[-1] + '"'
        parts.append(draw(st.sampled_from(['"203.0.113.9, 198.51.100.2"', '"-"'])))
    line = " ".join(parts)
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(line)))
        piece = draw(st.sampled_from([" ", '"', "\t", "[", "]", "-", "0", "a", "\u00e9", "\\", "\r", "\x00", ""]))
        line = line[:at] + piece + line[at + draw(st.integers(0, 1)) :]
    return line + draw(st.sampled_from(["", "\n", "\r\n"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(clf_like_lines(), _TEXT), min_size=1, max_size=40))
def test_positional_shape_checks_agree_with_the_full_patterns(texts: list[str]) -> None:
    lines = pa.array(texts, pa.string())
    at = line_positions(lines)
    for fmt in clf.FULL_PATTERNS:
        expected = pc.match_substring_regex(lines, clf.FULL_PATTERNS[fmt]).to_numpy(zero_copy_only=False)
        assert clf.full_matches(lines, at, fmt).tolist() == expected.tolist(), fmt


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(clf_like_lines(), _TEXT), min_size=1, max_size=40))
def test_fields_cut_by_position_are_the_captures_fields(texts: list[str]) -> None:
    """Lines without escapes that have a format's shape: cut by position, every field is what RE2 captures."""
    import numpy as np

    from transforms.slicing import find_bytes, lines_holding

    lines = pa.array(texts, pa.string())
    at = line_positions(lines)
    for fmt in clf.FULL_PATTERNS:
        rows = np.flatnonzero(clf.full_matches(lines, at, fmt) & ~lines_holding(at, find_bytes(at, ord("\\"))))
        if len(rows):
            cut, captured = clf._cut_fields(at, rows, fmt), clf._parse_escaped(lines.take(pa.array(rows)), fmt)
            for name in captured:
                assert cut[name].to_pylist() == captured[name].to_pylist(), (fmt, name)


def test_fields_that_are_mostly_dashes_keep_their_few_values_in_place() -> None:
    users = ["-"] * 7 + ["frank", "-", "fr\u00e9d"]
    referrers = ["-"] * 9 + ["http://e.org/"]
    lines = [COMBINED.replace("frank", user).replace("http://example.com/", referrer)
             for user, referrer in zip(users, referrers, strict=True)]  # fmt: skip
    parsed = parse_lines(pa.array(lines), log_format("combined"), 65536)
    assert parsed.fields["auth_user"].to_pylist() == [None if u == "-" else u for u in users]
    assert parsed.fields["referrer"].to_pylist() == [None if r == "-" else r for r in referrers]


def test_a_quote_in_a_field_before_the_time_is_cut_as_the_pattern_reads_it() -> None:
    line = '203.0.113.7 - "frank [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 5 "-" "ua"\n'
    parsed = parse_lines(pa.array([line]), log_format("combined"), 65536)
    assert len(parsed.rows) == 1
    assert (parsed.fields["auth_user"][0].as_py(), parsed.fields["path"][0].as_py()) == ('"frank', "/a")


def test_the_first_and_last_utc_seconds_a_partition_can_hold_are_times() -> None:
    lines = pa.array(['192.0.2.1 - - [01/Jan/0001:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
                      '192.0.2.1 - - [31/Dec/9999:23:59:59 +0000] "GET / HTTP/1.1" 200 1 "-" "-"'])  # fmt: skip
    parsed = parse_lines(lines, "combined", 65536)
    assert [t.year for t in parsed.fields["ts"].to_pylist()] == [1, 9999]
