"""JSON-lines logs: Caddy's, nginx's escape=json, and any mapping of dotted paths."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from pipelines import ingest
from tests.conftest import Workspace
from tests.conftest import parsed_row as row_of
from transforms.config import ConfigError, log_format, parse_config
from transforms.parse import parse_lines

UTC = dt.timezone.utc


def caddy(**overrides) -> str:
    entry = {
        "level": "info", "ts": 1764064800.25, "logger": "http.log.access", "msg": "handled request",
        "request": {"remote_ip": "192.0.2.1", "remote_port": "51234", "proto": "HTTP/2.0", "method": "GET",
                    "host": "app.example.com", "uri": "/api/v1/items?page=2",
                    "headers": {"User-Agent": ["curl/8.5.0"], "Referer": ["https://app.example.com/"]}},
        "user_id": "", "duration": 0.0021, "size": 612, "status": 200,
    }  # fmt: skip
    for path, value in overrides.items():
        target = entry
        *parents, last = path.split("__")
        for parent in parents:
            target = target[parent]
        target[last] = value
    return json.dumps(entry)


def nginx(**overrides) -> str:
    entry = {"time": "2026-11-24T11:00:00+01:00", "remote_addr": "2001:db8::7", "remote_user": "-",
             "request": "GET /a?x=1 HTTP/1.1", "status": "200", "body_bytes_sent": "99", "request_time": "0.012",
             "http_referer": "-", "http_user_agent": "Mozilla/5.0 \"quoted\"", "http_x_forwarded_for": "-",
             "host": "www.example.com"}  # fmt: skip
    return json.dumps(entry | overrides)


def parse_all(spec, lines: list[str]):
    return parse_lines(pa.array(lines), log_format(spec), 65536)


@pytest.mark.parametrize(
    "spec, line, expected",
    [
        ("caddy_json", caddy(), {
            "client": "192.0.2.1", "ts": dt.datetime(2025, 11, 25, 10, 0, 0, 250000, tzinfo=UTC), "method": "GET",
            "target": "/api/v1/items?page=2", "path": "/api/v1/items", "query": "page=2", "protocol": "HTTP/2.0",
            "vhost": "app.example.com", "status": 200, "bytes": 612, "duration_ms": 2.1, "user_agent": "curl/8.5.0",
            "referrer": "https://app.example.com/", "auth_user": ""}),
        ("caddy_json", caddy(request__remote_ip="2001:db8::9", request__headers={}), {
            "client": "2001:db8::9", "user_agent": None, "referrer": None, "xff": None}),
        ("caddy_json", caddy(request__headers={"X-Forwarded-For": ["203.0.113.5, 10.0.0.1"]}), {
            "xff": "203.0.113.5, 10.0.0.1"}),
        ("nginx_json", nginx(), {
            "client": "2001:db8::7", "ts": dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC), "auth_user": None,
            "method": "GET", "path": "/a", "query": "x=1", "status": 200, "bytes": 99, "duration_ms": 12.0,
            "referrer": None, "user_agent": 'Mozilla/5.0 "quoted"', "xff": None, "vhost": "www.example.com"}),
        ("nginx_json", nginx(request="\\x16\\x03\\x01", status="400"), {"method": None, "status": 400}),
        ("nginx_json", nginx(time="2026-11-24T10:00:00Z", remote_addr="198.51.100.3"), {
            "ts": dt.datetime(2026, 11, 24, 10, tzinfo=UTC), "client": "198.51.100.3"}),
        ({"json": {"client": "c", "ts": "t", "time_format": "epoch_ms", "status": "s", "path": "p"}},
         '{"c": "192.0.2.8", "t": 1764064800250, "s": 503, "p": "/x"}', {
            "client": "192.0.2.8", "ts": dt.datetime(2025, 11, 25, 10, 0, 0, 250000, tzinfo=UTC), "status": 503,
            "target": "/x", "method": None}),
        ("nginx_json", nginx(status="99999"), {"status": None, "bytes": 99, "path": "/a"}),
        ("caddy_json", caddy(status=70000), {"status": None, "bytes": 612}),
        ("nginx_json", nginx(body_bytes_sent="-"), {"bytes": 0, "status": 200}),
        ("nginx_json", nginx(body_bytes_sent="12kb"), {"bytes": None, "status": 200}),
        ({"json": {"client": "c", "ts": "t", "time_format": "epoch_ms", "status": "s", "bytes": "b"}},
         '{"c": "192.0.2.8", "t": 1764064800250, "s": 200}', {"bytes": None, "status": 200}),
    ],
    ids=["caddy", "caddy-ipv6-no-headers", "caddy-xff", "nginx", "nginx-tls-bytes", "nginx-iso-z", "custom-epoch-ms",
         "nginx-status-past-int16", "caddy-status-past-int16", "nginx-no-body", "nginx-size-no-number",
         "custom-no-size-logged"],
)  # fmt: skip
def test_json_formats(spec, line: str, expected: dict) -> None:
    row = row_of(spec, line)
    assert {k: row[k] for k in expected} == expected


def test_bad_lines_among_good_ones_are_quarantined_alone() -> None:
    lines = [caddy(), "not json", caddy(status=404), '{"broken": ', "", caddy(ts="yesterday"), caddy(status="500")]
    parsed = parse_all("caddy_json", lines)
    assert parsed.rows.tolist() == [0, 2, 6]
    assert parsed.fields["status"].to_pylist() == [200, 404, 500]  # a string status beside numbers is fine
    assert dict(zip(parsed.quarantined.tolist(), parsed.reasons.to_pylist(), strict=True)) == {
        1: "format_mismatch",
        3: "format_mismatch",
        4: "empty_line",
        5: "bad_timestamp",
    }


@pytest.mark.parametrize(
    "mapping, message",
    [({"ts": "t"}, "json format: client: a path to it is needed"),
     ({"client": "c", "ts": "t", "colour": "x"}, "json format: colour: unknown field"),
     ({"client": "c", "ts": "t", "time_format": "unix"}, "json format: time_format: expected one of"),
     ({"client": 3, "ts": "t"}, "json format: expected a mapping of field: dotted.path")],
    ids=["no-client", "unknown-field", "bad-time-format", "path-not-text"],
)  # fmt: skip
def test_json_format_errors(mapping: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"input": {"format": {"json": mapping}}}, "f.yaml")


def test_ingest_caddy_logs_behind_a_trusted_proxy(tmp_path) -> None:
    ws = Workspace(tmp_path, input={"format": "caddy_json", "trusted_proxies": ["10.0.0.0/8"]})
    lines = [caddy(request__remote_ip="10.0.0.1", request__headers={"X-Forwarded-For": ["203.0.113.5"]}), "junk"]
    manifest = ingest.run(ws.config, [str(ws.log("caddy.log", lines))], dt.datetime(2025, 11, 26, tzinfo=UTC))
    assert (manifest["totals"]["rows"], manifest["totals"]["quarantined"], manifest["format"]) == (1, 1, "caddy_json")
    import duckdb

    rows = duckdb.sql(f"SELECT client_ip, peer_ip FROM read_parquet('{ws.zone('restricted')}/requests/*/*.parquet')")
    assert rows.fetchall() == [("203.0.113.5", "10.0.0.1")]


@pytest.mark.parametrize(
    "time",
    ["2026-11-24T11:00:0", "2026-11-24T11:00:00+1", "2026-02-30T10:00:00Z", "24/Nov/2026:10:00:00 +0000", ""],
    ids=["cut-seconds", "cut-offset", "no-such-day", "clf-in-iso-field", "empty"],
)
def test_json_times_that_are_no_times_are_quarantined(time: str) -> None:
    parsed = parse_all("nginx_json", [nginx(time=time), nginx()])
    assert parsed.rows.tolist() == [1]
    assert parsed.reasons.to_pylist() == ["bad_timestamp"]
