"""W3C extended logs (IIS and CloudFront): columns from `#Fields:`, directives counted apart, in every chunk and range."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipelines import ingest
from tests.conftest import Workspace, parsed_row
from transforms.config import log_format
from transforms.parse import parse_lines
from transforms.read import fields_in_force, first_lines, plan_ranges, read_chunks, scan_range
from transforms.storage import StoredFile

UTC = dt.timezone.utc
FIELDS = ("ts", "client", "auth_user", "method", "target", "path", "query", "protocol", "status", "bytes",
          "request_bytes", "duration_ms", "user_agent", "referrer", "vhost", "server_port", "xff", "edge_result",
          "tls_protocol")  # fmt: skip


def tabbed(*values: str) -> str:
    return "\t".join(values)


@pytest.mark.parametrize(
    "line, expected",
    [
        ("2026-11-24 10:00:01 10.0.1.17 GET /api/v1/me - 443 - 2001:db8::7 "
         "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36 https://app.example.com/app/dashboard 200 0 0 15",
         (dt.datetime(2026, 11, 24, 10, 0, 1, tzinfo=UTC), "2001:db8::7", None, "GET", "/api/v1/me", "/api/v1/me",
          None, None, 200, None, None, 15.0, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
          "https://app.example.com/app/dashboard", None, 443, None, None, None)),
        ('2026-11-24 23:59:59 10.0.1.17 POST /login next=%2Fapp%3Fweek%3D1 443 jan.jansen 192.0.2.44 '
         'python-requests/2.32.3+"Contoso+Proxy" - 302 0 0 120',
         (dt.datetime(2026, 11, 24, 23, 59, 59, tzinfo=UTC), "192.0.2.44", "jan.jansen", "POST",
          "/login?next=%2Fapp%3Fweek%3D1", "/login", "next=%2Fapp%3Fweek%3D1", None, 302, None, None, 120.0,
          'python-requests/2.32.3 "Contoso Proxy"', None, None, 443, None, None, None)),
        ("2026-02-28 00:00:00 10.0.1.17 GET /static/app.3f9c2a1b.js - 80 - ::ffff:192.0.2.7 - - 404 2 0 0",
         (dt.datetime(2026, 2, 28, 0, 0, tzinfo=UTC), "::ffff:192.0.2.7", None, "GET", "/static/app.3f9c2a1b.js",
          "/static/app.3f9c2a1b.js", None, None, 404, None, None, 0.0, None, None, None, 80, None, None, None)),
    ],
    ids=["plus-for-spaces", "quote-in-agent-user-query", "ipv4-mapped-dashes"],
)  # fmt: skip
def test_iis_default_fields(line: str, expected: tuple) -> None:
    row = parsed_row("w3c", line)
    assert tuple(row[name] for name in FIELDS) == expected


@pytest.mark.parametrize(
    "line, expected",
    [
        (tabbed("2026-11-24", "09:15:02", "AMS1-C1", "5380", "2001:db8:4a1f:7c::3e1", "GET",
                "d111111abcdef8.cloudfront.net", "/api/v1/timesheets", "200", "https://app.example.com/app/timesheets",
                "Mozilla/5.0%20(X11;%20Linux%20x86_64)%20Gecko/20100101%20Firefox/133.0", "week=2026-W48", "-", "Miss",
                "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==", "app.example.com", "https", "412", "0.012",
                "-", "TLSv1.3", "TLS_AES_128_GCM_SHA256", "Miss", "HTTP/2.0", "-", "-", "51234", "0.011", "Miss",
                "application/json", "5380", "-", "-"),
         (dt.datetime(2026, 11, 24, 9, 15, 2, tzinfo=UTC), "2001:db8:4a1f:7c::3e1", None, "GET",
          "/api/v1/timesheets?week=2026-W48", "/api/v1/timesheets", "week=2026-W48", "HTTP/2.0", 200, 5380, 412, 12.0,
          "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0", "https://app.example.com/app/timesheets",
          "app.example.com", None, None, "Miss", "TLSv1.3")),
        (tabbed("2026-11-24", "09:15:03", "FRA56-P1", "226", "192.0.2.1", "GET", "d111111abcdef8.cloudfront.net",
                "/search/caf%25C3%25A9", "403", "-", "Mozilla/5.0%20%22Contoso%22", "q=a%2520b", "-", "Error",
                "b2c47e90Xk7dQ==", "app.example.com", "https", "390", "0.001", "198.51.100.7,%20203.0.113.50",
                "TLSv1.3", "TLS_AES_128_GCM_SHA256", "Error", "HTTP/1.1", "-", "-", "40001", "0.001", "Error",
                "text/html", "226", "-", "-"),
         (dt.datetime(2026, 11, 24, 9, 15, 3, tzinfo=UTC), "192.0.2.1", None, "GET", "/search/caf%C3%A9?q=a%20b",
          "/search/caf%C3%A9", "q=a%20b", "HTTP/1.1", 403, 226, 390, 1.0, 'Mozilla/5.0 "Contoso"', None,
          "app.example.com", None, "198.51.100.7, 203.0.113.50", "Error", "TLSv1.3")),
        (tabbed("2026-11-25", "00:00:00", "LHR61-C2", "0", "198.51.100.9", "GET", "d111111abcdef8.cloudfront.net",
                "/static/app.3f9c2a1b.js", "304", "-", "-", "-", "-", "Hit", "Zm9vYmFyXk7dQ==", "app.example.com",
                "https", "350", "0.000", "-", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "Hit", "HTTP/1.1", "-", "-",
                "50000", "0.000", "Hit", "-", "-", "-", "-"),
         (dt.datetime(2026, 11, 25, tzinfo=UTC), "198.51.100.9", None, "GET", "/static/app.3f9c2a1b.js",
          "/static/app.3f9c2a1b.js", None, "HTTP/1.1", 304, 0, 350, 0.0, None, None, "app.example.com", None, None,
          "Hit", "TLSv1.2")),
    ],
    ids=["ipv6-encoded-agent", "double-encoded-and-forwarded", "cache-hit-dashes"],
)  # fmt: skip
def test_cloudfront_standard_fields(line: str, expected: tuple) -> None:
    row = parsed_row("cloudfront", line)
    assert tuple(row[name] for name in FIELDS) == expected


IIS_HEADER = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2026-11-24 00:00:00",
    "#Fields: date time cs-method cs-uri-stem c-ip sc-status",
]
IIS_RESTART = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Fields: time date c-ip cs-method cs-uri-stem sc-status sc-bytes X-Forwarded-For",
]


def test_fields_directives_set_the_columns_of_the_lines_after_them() -> None:
    lines = [
        *IIS_HEADER,
        "2026-11-24 10:00:00 GET /a 192.0.2.1 200",
        "2026-11-24 10:00:01 GET /b 192.0.2.2 404",
        *IIS_RESTART,  # IIS restarted with other columns, in another order
        "12:00:00 2026-11-24 2001:db8::1 GET /c 200 512 203.0.113.50,+10.0.0.5",
        "2026-11-24 12:00:01 GET /d 192.0.2.3 200",  # a line of the old columns: no longer read
        "# an editor's comment",
    ]
    parsed = parse_lines(pa.array(lines), log_format("w3c"), 65536)
    assert parsed.directives.tolist() == [0, 1, 2, 3, 6, 7]
    assert parsed.rows.tolist() == [4, 5, 8]
    assert parsed.fields["path"].to_pylist() == ["/a", "/b", "/c"]
    assert parsed.fields["client"].to_pylist() == ["192.0.2.1", "192.0.2.2", "2001:db8::1"]
    assert parsed.fields["bytes"].to_pylist() == [None, None, 512]
    assert parsed.fields["xff"].to_pylist() == [None, None, "203.0.113.50, 10.0.0.5"]
    assert parsed.fields["ts"].to_pylist()[2] == dt.datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert dict(zip(parsed.quarantined.tolist(), parsed.reasons.to_pylist(), strict=True)) == {
        9: "format_mismatch",
        10: "format_mismatch",
    }


def test_a_chunk_is_read_with_the_fields_in_force_where_it_starts() -> None:
    line = "12:00:00 2026-11-24 2001:db8::1 GET /c 200 512 -"
    fmt = log_format("w3c")
    assert len(parse_lines(pa.array([line]), fmt, 65536).rows) == 0  # under IIS's default columns: no line
    parsed = parse_lines(pa.array([line]), fmt, 65536, fields_in_force=IIS_RESTART[1])
    assert parsed.rows.tolist() == [0]
    assert parsed.fields["xff"].to_pylist() == [None]


@pytest.mark.parametrize(
    "fields, reason",
    [("#Fields: time c-ip cs-method", "format_mismatch"), ("#Fields: date time c-ip", "format_mismatch")],
    ids=["no-date", "fewer-columns-than-the-line"],
)
def test_lines_that_the_fields_cannot_read_are_quarantined(fields: str, reason: str) -> None:
    parsed = parse_lines(pa.array([fields, "2026-11-24 10:00:00 GET /a 192.0.2.1 200"]), log_format("w3c"), 65536)
    assert (parsed.directives.tolist(), parsed.reasons.to_pylist()) == ([0], [reason])


def test_a_day_that_does_not_exist_is_a_bad_timestamp() -> None:
    parsed = parse_lines(pa.array(["2026-02-29 10:00:00 GET /a 192.0.2.1 200"]), log_format("w3c"), 65536,
                         fields_in_force=IIS_HEADER[3])  # fmt: skip
    assert parsed.reasons.to_pylist() == ["bad_timestamp"]


def iis_log(requests: int) -> bytes:
    """An IIS log with a header, a restart with other columns a third of the way in, and CRLF line ends."""
    restart_at = requests // 3
    lines = list(IIS_HEADER)
    for i in range(requests):
        if i == restart_at:
            lines += IIS_RESTART
        if i < restart_at:
            lines.append(f"2026-11-24 10:{i // 60 % 60:02d}:{i % 60:02d} GET /p/{i} 192.0.2.{i % 250 + 1} 200")
        else:
            lines.append(f"10:{i // 60 % 60:02d}:{i % 60:02d} 2026-11-24 2001:db8::{i:x} GET /p/{i} 200 {i} -")
    return ("\r\n".join(lines) + "\r\n").encode()


def expected_directive_before_each_line(data: bytes) -> list[str | None]:
    in_force, before = None, []
    for line in data.decode().split("\r\n")[:-1]:
        before.append(in_force)
        if line.startswith("#Fields:"):
            in_force = line
    return before


@pytest.mark.parametrize("range_bytes", [7, 64, 301, 4096, 10**9])
def test_every_range_and_chunk_knows_the_fields_in_force(tmp_path: Path, range_bytes: int) -> None:
    data = iis_log(200)
    path = tmp_path / "u_ex261124.log"
    path.write_bytes(data)
    ranges = plan_ranges([StoredFile(str(path), len(data))], range_bytes)
    scans = {(r.path, r.index): scan_range(r) for r in ranges if r.end is not None}
    numbers = first_lines({key: scan.lines for key, scan in scans.items()})
    directives = fields_in_force({key: scan.fields_directive for key, scan in scans.items()})
    expected = expected_directive_before_each_line(data)
    seen, rows = 0, 0
    for rng in ranges:
        key = (rng.path, rng.index)
        for chunk in read_chunks(str(path), 5, rng, numbers.get(key, 1), directives.get(key)):
            if not len(chunk.lines):  # a range in which no line starts
                continue
            assert chunk.fields_directive == expected[chunk.first_line - 1], chunk
            parsed = parse_lines(chunk.lines, log_format("w3c"), 65536, fields_in_force=chunk.fields_directive)
            seen += len(chunk.lines)
            rows += len(parsed.rows)
            assert len(parsed.quarantined) == 0
    assert (seen, rows) == (206, 200)
    # A format without directives has its ranges only counted: the same line numbers, no directive.
    counted = {(r.path, r.index): scan_range(r, directives=False) for r in ranges if r.end is not None}
    assert {key: scan.lines for key, scan in counted.items()} == {key: scan.lines for key, scan in scans.items()}
    assert all(scan.fields_directive is None for scan in counted.values())


@pytest.mark.parametrize(("scan_bytes", "piece_bytes"), [(5, 3), (13, 16), (64, 7), (1000, 1 << 20)])
def test_scans_in_small_blocks_find_the_same_counts_and_directives(tmp_path: Path, monkeypatch, scan_bytes: int,
                                                                    piece_bytes: int) -> None:  # fmt: skip
    """Directives across the joint of two blocks, and bytes searched piece by piece, whatever the sizes."""
    data = iis_log(200)
    path = tmp_path / "u_ex261124.log"
    path.write_bytes(data)
    ranges = [r for r in plan_ranges([StoredFile(str(path), len(data))], 301) if r.end is not None]
    expected = {(r.path, r.index): scan_range(r) for r in ranges}
    monkeypatch.setattr("transforms.read._SCAN_BYTES", scan_bytes)
    monkeypatch.setattr("transforms.slicing.PIECE_BYTES", piece_bytes)
    assert {(r.path, r.index): scan_range(r) for r in ranges} == expected
    numbers = first_lines({key: scan.lines for key, scan in expected.items()})
    assert sum(scan.lines for scan in expected.values()) == len(data.split(b"\r\n")) - 1
    assert list(numbers.values())[-1] > 1


def test_ingest_counts_directives_and_balances(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, input={"format": "w3c", "range_bytes": 1000})
    log = ws.log("u_ex261124.log", iis_log(300))
    manifest = ingest.run(ws.config, [str(log)], dt.datetime(2026, 11, 25, tzinfo=UTC))
    entry = manifest["inputs"][0]
    assert (entry["lines_read"], entry["rows"], entry["quarantined"], entry["directives"]) == (306, 300, 0, 6)
    assert entry["balanced"] and manifest["totals"]["directives"] == 6
    assert "6 directive lines" in ingest.summary(manifest)
    restricted = f"read_parquet('{ws.zone('restricted')}/requests/*/*.parquet')"
    late = duckdb.sql(f"SELECT ts, client_ip, bytes FROM {restricted} WHERE path = '/p/299'").fetchall()
    assert late == [(dt.datetime(2026, 11, 24, 10, 4, 59, tzinfo=UTC), "2001:db8::12b", 299)]
