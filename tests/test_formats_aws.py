"""AWS load balancers' access logs, column by column: Application Load Balancer and Classic Load Balancer."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tests.conftest import parsed_row
from transforms.config import log_format
from transforms.parse import parse_lines

UTC = dt.timezone.utc
ARN = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/app-web/73e2d6bc24d8a067"
CERT = "arn:aws:acm:eu-central-1:123456789012:certificate/3f9c2a1b-8e41-4d07-b2c4-7e907d10e5f2"
CIPHER = "ECDHE-RSA-AES128-GCM-SHA256"
FIELDS = ("client", "ts", "method", "target", "path", "query", "protocol", "vhost", "server_port", "status",
          "upstream_status", "request_bytes", "bytes", "duration_ms", "upstream_ms", "user_agent", "referrer",
          "tls_cipher", "tls_protocol")  # fmt: skip


def alb(kind: str, time: str, client: str, target: str, times: str, statuses: str, sizes: str, request: str,
        agent: str, tls: str = "- -", rest: str = "") -> str:  # fmt: skip
    """An ALB line with AWS's documented fields, from `type` to `conn_trace_id`."""
    return (
        f'{kind} {time} app/app-web/50dc6c495c0c9188 {client} {target} {times} {statuses} {sizes} "{request}" '
        f'"{agent}" {tls} {ARN} "Root=1-6743c8a0-36d228ad5d99923122bbe354" "app.example.com" "{CERT}" 0 {time} '
        f'"forward" "-" "-" "{target}" "200" "-" "-"{rest}'
    )


@pytest.mark.parametrize(
    "line, expected",
    [
        (alb("h2", "2026-11-24T10:00:00.186641Z", "2001:db8:4a1f:7c::3e1:51234", "10.0.1.17:8080",
             "0.001 0.012 0.000", "200 200", "34 366",
             "GET https://app.example.com:443/api/v1/timesheets?week=2026-W48 HTTP/2.0",
             "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", f"{CIPHER} TLSv1.2",
             " TID_1a2b3c4d"),
         ("2001:db8:4a1f:7c::3e1", dt.datetime(2026, 11, 24, 10, 0, 0, 186000, tzinfo=UTC), "GET",
          "https://app.example.com:443/api/v1/timesheets?week=2026-W48", "/api/v1/timesheets", "week=2026-W48",
          "HTTP/2.0", "app.example.com", 443, 200, 200, 34, 366, 13.0, 12.0,
          "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", None, CIPHER, "TLSv1.2")),
        (alb("https", "2026-11-24T10:00:01.000000Z", "192.0.2.44:2817", "-", "-1 -1 -1", "400 -", "172 370",
             "GET https://app.example.com:443/a b HTTP/1.1", "Mozilla/5.0 \\x22Contoso-Proxy/2.1\\x22"),
         ("192.0.2.44", dt.datetime(2026, 11, 24, 10, 0, 1, tzinfo=UTC), "GET", "https://app.example.com:443/a b",
          "/a b", None, "HTTP/1.1", "app.example.com", 443, 400, None, 172, 370, None, None,
          'Mozilla/5.0 "Contoso-Proxy/2.1"', None, None, None)),
        (alb("http", "2026-11-24T23:59:59.999999Z", "[2001:db8::5]:443", "10.0.1.17:8080", "0.000 0.002 0.001",
             "302 302", "120 280", "POST http://[::ffff:a9fe:a9fe]:80/login?next=%2Fapp HTTP/1.1", "-"),
         ("2001:db8::5", dt.datetime(2026, 11, 24, 23, 59, 59, 999000, tzinfo=UTC), "POST",
          "http://[::ffff:a9fe:a9fe]:80/login?next=%2Fapp", "/login", "next=%2Fapp", "HTTP/1.1", "[::ffff:a9fe:a9fe]",
          80, 302, 302, 120, 280, 3.0, 2.0, None, None, None, None)),
        (alb("https", "2026-11-24T10:00:03.000000Z", "198.51.100.7:60001", "-", "-1 -1 -1", "400 -", "5 0",
             "- - - ", "-"),
         ("198.51.100.7", dt.datetime(2026, 11, 24, 10, 0, 3, tzinfo=UTC), None, None, None, None, None, None, None,
          400, None, 5, 0, None, None, None, None, None, None)),
    ],
    ids=["h2-ipv6-with-port", "space-in-request-quote-in-agent-no-target", "bracketed-ipv6-url-host", "no-request"],
)  # fmt: skip
def test_application_load_balancer(line: str, expected: tuple) -> None:
    row = parsed_row("aws_alb", line)
    assert tuple(row[name] for name in FIELDS) == expected


@pytest.mark.parametrize(
    "line, expected",
    [
        ('2026-11-24T10:00:00.945958Z app-web 192.0.2.10:2817 10.0.1.17:8080 0.000 0.002 0.001 200 200 0 29 '
         '"GET http://app.example.com:80/healthz HTTP/1.1" "curl/8.5.0" - -',
         ("192.0.2.10", dt.datetime(2026, 11, 24, 10, 0, 0, 945000, tzinfo=UTC), "GET",
          "http://app.example.com:80/healthz", "/healthz", None, "HTTP/1.1", "app.example.com", 80, 200, 200, 0, 29,
          3.0, 2.0, "curl/8.5.0", None, None, None)),
        ('2026-11-24T10:00:01.100000Z app-web [2001:db8::5]:54321 10.0.1.17:8080 0.001 0.020 0.000 404 404 310 1260 '
         '"GET https://app.example.com:443/api/v1/users/jan%40example.com HTTP/1.1" '
         f'"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)" {CIPHER} TLSv1.2',
         ("2001:db8::5", dt.datetime(2026, 11, 24, 10, 0, 1, 100000, tzinfo=UTC), "GET",
          "https://app.example.com:443/api/v1/users/jan%40example.com", "/api/v1/users/jan%40example.com", None,
          "HTTP/1.1", "app.example.com", 443, 404, 404, 310, 1260, 21.0, 20.0,
          "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)", None, CIPHER, "TLSv1.2")),
        ('2026-11-24T10:00:02.000000Z app-web 203.0.113.9:49152 10.0.1.17:8080 0.001 0.002 0.001 - - 82 305 '
         '"- - - " "-" - -',
         ("203.0.113.9", dt.datetime(2026, 11, 24, 10, 0, 2, tzinfo=UTC), None, None, None, None, None, None, None,
          None, None, 82, 305, 4.0, 2.0, None, None, None, None)),
        ('2026-11-24T10:00:03.000000Z app-web 198.51.100.20:40000 - -1 -1 -1 503 - 120 0 '
         '"GET https://app.example.com:443/a?b=\\x22c\\x22 HTTP/1.1" "okhttp/4.12.0" - -',
         ("198.51.100.20", dt.datetime(2026, 11, 24, 10, 0, 3, tzinfo=UTC), "GET",
          'https://app.example.com:443/a?b="c"', "/a", 'b="c"', "HTTP/1.1", "app.example.com", 443, 503, None, 120, 0,
          None, None, "okhttp/4.12.0", None, None, None)),
    ],
    ids=["http", "https-bracketed-ipv6", "tcp-listener", "no-backend-escaped-quote"],
)  # fmt: skip
def test_classic_load_balancer(line: str, expected: tuple) -> None:
    row = parsed_row("aws_elb_classic", line)
    assert tuple(row[name] for name in FIELDS) == expected


@pytest.mark.parametrize(
    "fmt, line, reason",
    [
        ("aws_alb", alb("h2", "2026-02-30T10:00:00.000000Z", "192.0.2.1:1", "-", "0.0 0.0 0.0", "200 200", "1 1",
                        "GET https://a.example:443/ HTTP/2.0", "-"), "bad_timestamp"),
        ("aws_alb", alb("h2", "2026-11-24T10:00:00.000000Z", "192.0.2.1:1", "-", "0.0 0.0 0.0", "200 200", "1 x",
                        "GET https://a.example:443/ HTTP/2.0", "-"), "format_mismatch"),
        ("aws_alb", alb("h2", "2026-11-24T10:00:00.000000Z", "192.0.2.1:1", "-", "0.0 0.0 0.0", "20000 200", "1 1",
                        "GET https://a.example:443/ HTTP/2.0", "-"), "format_mismatch"),
        ("aws_alb", '192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"', "format_mismatch"),
        ("aws_elb_classic", '2026-11-24T10:00:00.000000Z app-web 192.0.2.1:1 - 0.0 0.0 0.0 200 200 1 1 "GET / HTTP/1.1"',
         "format_mismatch"),
        ("aws_elb_classic", '2026-11-24T10:00:00.000000Z app-web 192.0.2.1:1 - 0.0 0.0 0.0 200 200 1 1 "GET / '
         'HTTP/1.1" "a"b" - -', "format_mismatch"),
    ],
    ids=["no-such-day", "bytes-not-a-number", "status-too-large", "apache-line", "elb-cut-off", "bare-quote-in-agent"],
)  # fmt: skip
def test_quarantined(fmt: str, line: str, reason: str) -> None:
    parsed = parse_lines(pa.array([line]), log_format(fmt), 65536)
    assert (len(parsed.rows), parsed.reasons.to_pylist()) == (0, [reason])


def test_escaped_and_plain_lines_keep_their_order() -> None:
    """Lines with escapes take the captures path; the rows come back in line order all the same."""
    plain = alb("h2", "2026-11-24T10:00:00.000000Z", "192.0.2.1:1", "-", "0.0 0.0 0.0", "200 200", "1 1",
                "GET https://a.example:443/p HTTP/2.0", "plain")  # fmt: skip
    escaped = plain.replace('"plain"', '"caf\\xc3\\xa9"').replace("192.0.2.1:1", "192.0.2.2:2")
    parsed = parse_lines(pa.array([escaped, plain, "junk", escaped]), log_format("aws_alb"), 65536)
    assert parsed.rows.tolist() == [0, 1, 3]
    assert parsed.fields["user_agent"].to_pylist() == ["café", "plain", "café"]
    assert parsed.fields["client"].to_pylist() == ["192.0.2.2", "192.0.2.1", "192.0.2.2"]
