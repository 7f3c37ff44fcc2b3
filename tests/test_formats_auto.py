"""Every format together: `auto` tells them apart, generated logs parse whole, X-Forwarded-For chains anonymised."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipelines import ingest
from pipelines.generate import FORMATS, LogSpec, generate_lines, write_log
from tests.conftest import Workspace, parsed_row
from transforms.anonymise import chain_networks
from transforms.config import log_format
from transforms.parse import AUTO_CANDIDATES, detect_format, parse_lines
from transforms.read import read_chunks, split_lines

UTC = dt.timezone.utc
SPEC = LogSpec(lines=5000, seed=11, broken_share=0.004)
HEADER_LINES = {"cloudfront": 2, "w3c": 4}


def generated(fmt: str, **changes) -> pa.Array:
    return split_lines(b"".join(generate_lines(dataclasses.replace(SPEC, fmt=fmt, **changes))))


@pytest.mark.parametrize("fmt", FORMATS)
def test_auto_tells_every_format_from_the_others(fmt: str) -> None:
    sample = generated(fmt, lines=200, broken_share=0.0)
    name, matched = detect_format(sample, {n: log_format(n) for n in AUTO_CANDIDATES})
    assert (name, matched) == (fmt, 200)


@pytest.mark.parametrize("fmt", FORMATS)
def test_generated_logs_parse_whole_but_their_broken_lines(fmt: str) -> None:
    spec = dataclasses.replace(SPEC, fmt=fmt)
    parsed = parse_lines(generated(fmt), log_format(fmt), 65536)
    headers = HEADER_LINES.get(fmt, 0)
    assert (len(parsed.rows), len(parsed.quarantined), len(parsed.directives)) == (
        spec.lines - spec.broken_lines - headers,
        spec.broken_lines,
        headers,
    )
    assert set(parsed.reasons.to_pylist()) <= {"empty_line", "binary_data", "format_mismatch"}


def test_auto_names_what_it_chose(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, input={"format": "auto"})
    log = write_log(ws.root / "logs" / "E2ABCDEF.2026-11-24-09.gz", dataclasses.replace(SPEC, fmt="cloudfront"))
    manifest = ingest.run(ws.config, [log.path], dt.datetime(2026, 11, 25, tzinfo=UTC))
    assert manifest["format"].startswith("auto: cloudfront (")
    assert "format auto: cloudfront" in ingest.summary(manifest)
    assert manifest["totals"]["balanced"] and manifest["totals"]["directives"] == 2


@pytest.mark.parametrize(
    "line, expected",
    [
        ('10.0.0.5 - - [24/Nov/2026:10:00:01 +0000] "GET /a b HTTP/1.1" 200 12 "-" "curl/8.5.0" "-"',
         {"client": "10.0.0.5", "target": "/a b", "user_agent": "curl/8.5.0", "xff": None}),
        ('10.0.0.5 - - [24/Nov/2026:10:00:02 +0000] "GET / HTTP/1.1" 200 1 "-" "A \\"quoted\\" agent" '
         '"203.0.113.50, [2001:db8::1]:443"',
         {"user_agent": 'A "quoted" agent', "xff": "203.0.113.50, [2001:db8::1]:443"}),
        ('2001:db8::5 - jan [24/Nov/2026:10:00:03 +0100] "POST /login HTTP/2.0" 302 0 "https://app.example.com/" '
         '"Mozilla/5.0" "unknown, 198.51.100.7"',
         {"client": "2001:db8::5", "auth_user": "jan", "ts": dt.datetime(2026, 11, 24, 9, 0, 3, tzinfo=UTC),
          "referrer": "https://app.example.com/", "xff": "unknown, 198.51.100.7"}),
    ],
    ids=["empty-xff-space-in-target", "quote-in-agent-ipv6-port-in-chain", "unknown-hop"],
)  # fmt: skip
def test_combined_xff(line: str, expected: dict) -> None:
    row = parsed_row("combined_xff", line)
    assert {name: row[name] for name in expected} == expected


@pytest.mark.parametrize(
    "chain, networks",
    [
        ("203.0.113.50", ["203.0.113.0/24"]),
        ("203.0.113.50, 10.0.0.7", ["203.0.113.0/24", "10.0.0.0/24"]),
        ("[2001:db8:ab12::1]:443,198.51.100.7:8080", ["2001:db8:ab12::/48", "198.51.100.0/24"]),
        ("unknown, ::ffff:192.0.2.60", [None, "192.0.2.0/24"]),
        ("proxy.example.net, 192.0.2.1", [None, "192.0.2.0/24"]),
        ("", None),
        (None, None),
    ],
    ids=["one", "two", "ports", "unknown-and-mapped", "hostname", "empty", "none"],
)
def test_every_address_in_the_chain_is_anonymised_like_the_client(chain: str | None, networks: list | None) -> None:
    assert chain_networks(pa.array([chain], pa.string()), 24, 48).to_pylist() == [networks]


def test_the_chain_reaches_the_anonymised_zone_as_networks_only(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, input={"format": "combined_xff", "trusted_proxies": ["10.0.0.0/8"]})
    lines = [
        '10.0.0.5 - - [24/Nov/2026:10:00:01 +0000] "GET /a HTTP/1.1" 200 1 "-" "curl/8" '
        '"203.0.113.50, [2001:db8:ab12::1]:443, 10.0.0.7"',
        '192.0.2.9 - - [24/Nov/2026:10:00:02 +0000] "GET /b HTTP/1.1" 200 1 "-" "curl/8" "-"',
    ]
    ingest.run(ws.config, [str(ws.log("access.log", lines))], dt.datetime(2026, 11, 25, tzinfo=UTC))
    query = "SELECT path, {} FROM read_parquet('{}/requests/*/*.parquet') ORDER BY path"
    anonymised = duckdb.sql(query.format("client_net, xff_nets", ws.zone("anonymised"))).fetchall()
    assert anonymised == [
        ("/a", "2001:db8:ab12::/48", ["203.0.113.0/24", "2001:db8:ab12::/48", "10.0.0.0/24"]),
        ("/b", "192.0.2.0/24", None),
    ]
    restricted = duckdb.sql(query.format("client_ip, peer_ip, xff", ws.zone("restricted"))).fetchall()
    assert restricted[0] == ("/a", "2001:db8:ab12::1", "10.0.0.5", "203.0.113.50, [2001:db8:ab12::1]:443, 10.0.0.7")
    everything = str(
        duckdb.sql(f"SELECT * FROM read_parquet('{ws.zone('anonymised')}/requests/*/*.parquet')").fetchall()
    )
    assert not any(address in everything for address in ("203.0.113.50", "2001:db8:ab12::1", "10.0.0.5", "192.0.2.9"))


def test_load_balancer_clients_lose_their_port(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, input={"format": "aws_alb"})
    log = write_log(ws.root / "logs" / "alb.log.gz", dataclasses.replace(SPEC, fmt="aws_alb", lines=300))
    ingest.run(ws.config, [log.path], dt.datetime(2026, 11, 25, tzinfo=UTC))
    table = f"read_parquet('{ws.zone('anonymised')}/requests/*/*.parquet')"
    counts = duckdb.sql(f"SELECT count(*), count(client_net), count(tls_protocol), count(upstream_ms) FROM {table}")
    ((total, with_net, with_tls, with_upstream),) = counts.fetchall()
    assert total == with_net == with_tls == 300 - log.broken_lines and with_upstream > total * 0.9
    first = next(read_chunks(log.path, 1)).lines[0].as_py()
    assert first.startswith(("https ", "h2 ")) and first.split(" ")[3].rsplit(":", 1)[1].isdigit()
