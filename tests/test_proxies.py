"""The client behind proxies: right-most X-Forwarded-For address outside the trusted networks."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from pipelines import ingest
from tests.conftest import Workspace
from transforms.config import ConfigError, parse_config
from transforms.proxies import TrustedProxies, without_port

TRUSTED = ("10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.254/32")


@pytest.mark.parametrize(
    "peer, xff, client",
    [
        ("10.0.0.5", "203.0.113.50", "203.0.113.50"),
        ("10.0.0.5", "203.0.113.50, 10.0.0.7", "203.0.113.50"),
        ("10.0.0.5", "198.51.100.1, 203.0.113.50, 10.0.0.7", "203.0.113.50"),
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        ("10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.5", "-", "10.0.0.5"),
        ("10.0.0.5", "10.0.0.6, 10.0.0.7", "10.0.0.6"),
        ("2001:db8:ffff::1", "2001:db8:1::9", "2001:db8:1::9"),
        ("10.0.0.5", "[2001:db8:1::9]:51234", "2001:db8:1::9"),
        ("10.0.0.5", "203.0.113.50:8080, 192.0.2.254", "203.0.113.50"),
        ("::ffff:10.0.0.5", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.5", "unknown, 198.51.100.7", "198.51.100.7"),
        ("10.0.0.5", "garbage", "garbage"),
    ],
    ids=["one-hop", "two-proxies", "forged-left-ignored", "untrusted-peer", "no-header", "dash", "all-trusted",
         "ipv6", "bracketed-port", "port-and-trusted", "mapped-peer", "unknown-skipped", "junk-stops-the-walk"],
)  # fmt: skip
def test_client_behind_proxies(peer: str, xff: str | None, client: str) -> None:
    proxies = TrustedProxies(TRUSTED)
    assert proxies.client(peer, xff) == client
    assert proxies.clients(pa.array([peer, peer]), pa.array([xff, xff], pa.string())).to_pylist() == [client, client]


@pytest.mark.parametrize(
    "hop, bare",
    [("192.0.2.1:8080", "192.0.2.1"), ("[2001:db8::1]:443", "2001:db8::1"), ("[2001:db8::1]", "2001:db8::1"),
     ("2001:db8::1", "2001:db8::1"), ("192.0.2.1", "192.0.2.1")],
    ids=["v4-port", "v6-port", "v6-brackets", "v6-bare", "v4-bare"],
)  # fmt: skip
def test_without_port(hop: str, bare: str) -> None:
    assert without_port(hop) == bare


@pytest.mark.parametrize(
    "document, message",
    [
        ({"input": {"trusted_proxies": ["10.0.0.0/33"]}}, "input.trusted_proxies: not a network: '10.0.0.0/33'"),
        ({"input": {"trusted_proxies": ["10.0.0.0/8"]}}, "input.trusted_proxies: the format logs no X-Forwarded-For"),
    ],
    ids=["bad-network", "format-without-xff"],
)
def test_trusted_proxies_config_errors(document: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_config(document, "f.yaml")


def test_ingest_behind_a_load_balancer(tmp_path) -> None:
    nginx = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
             '"$http_user_agent" "$http_x_forwarded_for"')  # fmt: skip
    ws = Workspace(tmp_path, input={"format": {"nginx": nginx}, "trusted_proxies": ["10.0.0.0/8"]})
    line = '10.0.0.5 - - [24/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8" "203.0.113.50, 10.0.0.7"'
    ingest.run(ws.config, [str(ws.log("access.log", [line]))], dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc))
    import duckdb

    restricted = duckdb.sql(
        f"SELECT client_ip, peer_ip, xff FROM read_parquet('{ws.zone('restricted')}/requests/*/*.parquet')"
    )
    assert restricted.fetchall() == [("203.0.113.50", "10.0.0.5", "203.0.113.50, 10.0.0.7")]
    anonymised = duckdb.sql(f"SELECT * FROM read_parquet('{ws.zone('anonymised')}/requests/*/*.parquet')")
    assert anonymised.to_arrow_table()["client_net"].to_pylist() == ["203.0.113.0/24"]
    assert "10.0.0.5" not in str(anonymised.fetchall()) and "203.0.113.50" not in str(anonymised.fetchall())
