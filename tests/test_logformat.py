"""Custom formats in the web server's own words: Apache LogFormat and nginx log_format, line by line."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from pipelines import ingest
from tests.conftest import Workspace
from tests.conftest import parsed_row as parse_one
from transforms.config import log_format
from transforms.parse import parse_lines

UTC = dt.timezone.utc
APACHE_TIMED = {"apache": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D'}
APACHE_VHOST = {"apache": '%v:%p %a %l %u %t "%m %U%q %H" %>s %O "%{X-Forwarded-For}i"'}
NGINX_XFF = {
    "nginx": '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" "$http_x_forwarded_for" $request_time'
}
NGINX_ISO = {
    "nginx": '$time_iso8601 $remote_addr "$request_method $request_uri $server_protocol" $status $bytes_sent $host'
}


@pytest.mark.parametrize(
    "spec, line, expected",
    [
        (APACHE_TIMED, '203.0.113.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.1" 200 2326 "-" "Mozilla/5.0" 1534',
         {"client": "203.0.113.7", "auth_user": "frank", "ts": dt.datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC),
          "method": "GET", "path": "/a", "query": "b=1", "protocol": "HTTP/1.1", "status": 200, "bytes": 2326,
          "referrer": None, "user_agent": "Mozilla/5.0", "duration_ms": 1.534}),
        (APACHE_TIMED, '2001:db8::7 - - [24/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 404 - "https://e.org/" "A \\"quoted\\" agent" 20',
         {"client": "2001:db8::7", "bytes": 0, "user_agent": 'A "quoted" agent', "referrer": "https://e.org/"}),
        (APACHE_TIMED, '198.51.100.9 - - [24/Nov/2026:10:00:00 +0000] "GET /a b HTTP/1.1" 400 12 "-" "-" 5',
         {"method": "GET", "target": "/a b", "protocol": "HTTP/1.1", "user_agent": None}),
        (APACHE_VHOST, 'www.example.com:443 192.0.2.4 - - [24/Nov/2026:10:00:00 +0100] "POST /login?next=%2F HTTP/2.0" 302 512 "198.51.100.1, 192.0.2.4"',
         {"vhost": "www.example.com", "server_port": 443, "client": "192.0.2.4", "method": "POST", "path": "/login",
          "query": "next=%2F", "target": "/login?next=%2F", "xff": "198.51.100.1, 192.0.2.4",
          "ts": dt.datetime(2026, 11, 24, 9, 0, tzinfo=UTC)}),
        (APACHE_VHOST, 'app.example.com:80 2001:db8::1 - - [24/Nov/2026:10:00:00 +0000] "GET /health HTTP/1.1" 200 2 "-"',
         {"client": "2001:db8::1", "query": None, "target": "/health", "xff": None}),
        (APACHE_VHOST, 'app.example.com:80 192.0.2.5 - jan [24/Nov/2026:10:00:00 +0000] "GET /a? HTTP/1.1" 200 2 "-"',
         {"auth_user": "jan", "path": "/a", "target": "/a?"}),
        (NGINX_XFF, '192.0.2.10 - - [24/Nov/2026:10:00:00 +0000] "GET /api/v1/items?page=2 HTTP/1.1" 200 612 "-" "curl/8.5.0" "-" 0.012',
         {"client": "192.0.2.10", "xff": None, "duration_ms": 12.0, "user_agent": "curl/8.5.0", "query": "page=2"}),
        (NGINX_XFF, '10.0.0.5 - - [24/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0 (X11)" "203.0.113.50, 10.0.0.5" 1.5',
         {"xff": "203.0.113.50, 10.0.0.5", "duration_ms": 1500.0, "user_agent": "Mozilla/5.0 (X11)"}),
        (NGINX_XFF, '2001:db8:1::2 - bob [24/Nov/2026:10:00:02 +0000] "\\x16\\x03\\x01" 400 0 "-" "-" "-" 0.000',
         {"client": "2001:db8:1::2", "auth_user": "bob", "method": None, "target": None, "status": 400}),
        (NGINX_ISO, '2026-11-24T11:00:00+01:00 192.0.2.77 "GET /a?x=1 HTTP/1.1" 200 99 www.example.com',
         {"ts": dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC), "method": "GET", "target": "/a?x=1", "path": "/a",
          "query": "x=1", "vhost": "www.example.com", "bytes": 99}),
        (NGINX_ISO, '2026-11-24T10:00:00Z 2001:db8::9 "HEAD / HTTP/2.0" 204 0 api.example.com',
         {"ts": dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC), "method": "HEAD", "protocol": "HTTP/2.0"}),
        (NGINX_ISO, '2026-11-24T10:00:00-05:00 198.51.100.3 "GET /b HTTP/1.0" 500 10 www.example.com',
         {"ts": dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC), "status": 500, "query": None}),
        (NGINX_ISO, '2026-11-24T10:00:00Z 198.51.100.3 "GET /b HTTP/1.0" 200 123456789012345678901234 www.example.com',
         {"status": 200, "path": "/b", "bytes": None}),
    ],
    ids=["apache-D", "apache-quote-in-agent", "apache-space-in-request", "apache-vhost-xff", "apache-ipv6",
         "apache-empty-query", "nginx-empty-xff", "nginx-xff-chain", "nginx-tls-bytes", "nginx-iso-offset",
         "nginx-iso-z", "nginx-iso-negative", "nginx-size-past-int64"],
)  # fmt: skip
def test_custom_formats(spec: dict, line: str, expected: dict) -> None:
    row = parse_one(spec, line)
    assert {k: row[k] for k in expected} == expected


@pytest.mark.parametrize(
    "spec, line, reason",
    [
        (APACHE_TIMED, '203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "-"', "format_mismatch"),
        (APACHE_TIMED, '203.0.113.7 - - [31/Feb/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "-" 5', "bad_timestamp"),
        (NGINX_ISO, '2026-11-24T10:00:00 192.0.2.1 "GET / HTTP/1.1" 200 1 h', "format_mismatch"),
        (NGINX_ISO, "", "empty_line"),
    ],
    ids=["missing-duration", "no-such-date", "iso-without-offset", "empty"],
)  # fmt: skip
def test_custom_formats_quarantine(spec: dict, line: str, reason: str) -> None:
    parsed = parse_lines(pa.array([line]), log_format(spec), 65536)
    assert parsed.reasons.to_pylist() == [reason]


def test_ingest_with_an_nginx_format_keeps_xff_in_the_restricted_zone_only(tmp_path) -> None:
    ws = Workspace(tmp_path, input={"format": NGINX_XFF})
    line = (
        '10.0.0.5 - - [24/Nov/2026:10:00:01 +0000] "GET /a HTTP/1.1" 200 1 "-" "curl/8" "203.0.113.50, 10.0.0.5" 0.25'
    )
    log = ws.log("access.log", [line, "junk"])
    manifest = ingest.run(ws.config, [str(log)], dt.datetime(2026, 11, 25, tzinfo=UTC))
    assert (manifest["totals"]["rows"], manifest["totals"]["quarantined"]) == (1, 1)
    import duckdb

    anonymised = duckdb.sql(f"SELECT * FROM read_parquet('{ws.zone('anonymised')}/requests/*/*.parquet')").fetchall()
    restricted = duckdb.sql(
        f"SELECT xff, duration_ms FROM read_parquet('{ws.zone('restricted')}/requests/*/*.parquet')"
    )
    assert restricted.fetchall() == [("203.0.113.50, 10.0.0.5", 250.0)]
    assert "203.0.113.50" not in str(anonymised)


COMBINED_XFF_LINE = '10.0.0.5 - - [24/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8" "203.0.113.50"'


def test_combined_xff_preset() -> None:
    row = parse_one("combined_xff", COMBINED_XFF_LINE)
    assert (row["client"], row["xff"], row["user_agent"]) == ("10.0.0.5", "203.0.113.50", "curl/8")


@pytest.mark.parametrize(
    "lines, chosen",
    [
        ([COMBINED_XFF_LINE] * 3, "combined_xff"),
        (['www.example.com:443 192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"'] * 3,
         "vhost_combined"),
        (['192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"'] * 2 + ["junk"], "combined"),
        (['192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1'] * 3, "common"),
    ],
    ids=["combined-xff", "vhost", "combined-despite-junk", "common"],
)  # fmt: skip
def test_auto_chooses_the_format_most_lines_match(lines: list[str], chosen: str) -> None:
    from transforms.parse import AUTO_CANDIDATES, detect_format

    name, _ = detect_format(pa.array(lines), {n: log_format(n) for n in AUTO_CANDIDATES})
    assert name == chosen


def test_shared_sample_as_auto(tmp_path, sample_log) -> None:
    ws = Workspace(tmp_path, input={"format": "auto"})
    manifest = ingest.run(ws.config, [str(sample_log)], dt.datetime(2015, 5, 21, tzinfo=UTC))
    assert manifest["format"].startswith("auto: combined")
    assert (manifest["totals"]["rows"], manifest["totals"]["quarantined"]) == (10_000, 0)


def test_nginx_msec_is_seconds_with_milliseconds() -> None:
    row = parse_one({"nginx": '$msec $remote_addr "$request" $status'}, '1764064800.250 192.0.2.1 "GET / HTTP/1.1" 200')
    assert row["ts"] == dt.datetime(2025, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)
