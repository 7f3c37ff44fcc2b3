"""Client anonymisation: networks, keyed tokens, status classes and the anonymised view, one row per case."""

from __future__ import annotations

import datetime as dt
import doctest
import hashlib
import hmac
import ipaddress
import random
import re

import numpy as np
import pyarrow as pa
import pytest

import transforms.addresses
import transforms.anonymise
from transforms.addresses import network_of
from transforms.anonymise import (
    anonymised_table,
    client_networks,
    client_tokens,
    truncate_prefix,
)
from transforms.parse.common import status_classes
from transforms.schema import ANONYMISED_REQUESTS, RESTRICTED_REQUESTS
from transforms.scrub import Scrubber

UTC = dt.timezone.utc
V4 = "203.0.113.77"
V6 = "2001:db8:ab12:cd34:5678:9abc:def0:1234"
DOCUMENTATION_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]


def secret_of(epoch: int) -> bytes:
    return hashlib.sha256(f"test secret of epoch {epoch}".encode()).digest()


def key_of(epoch: int) -> tuple[str, bytes]:
    """A key lookup as `Keyring.key_for_epoch` answers it, without a file."""
    return f"k-epoch{epoch}", secret_of(epoch)


class CountingLookup:
    """A key lookup that records every epoch it is asked for."""

    def __init__(self, destroyed: frozenset[int] = frozenset()):
        self.destroyed = destroyed
        self.calls: list[int] = []

    def __call__(self, epoch: int) -> tuple[str, bytes] | None:
        self.calls.append(epoch)
        return None if epoch in self.destroyed else key_of(epoch)


def tokens_of(clients: list[str | None], epochs: list[int], lookup=key_of) -> tuple[list, list]:
    tokens, key_ids = client_tokens(pa.array(clients, pa.string()), np.array(epochs, np.int64), lookup)
    return tokens.to_pylist(), key_ids.to_pylist()


# --- network_of / truncate_prefix -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "client, v4_bits, v6_bits, expected",
    [
        (V4, 0, 48, "0.0.0.0/0"),
        (V4, 8, 48, "203.0.0.0/8"),
        (V4, 16, 48, "203.0.0.0/16"),
        (V4, 24, 48, "203.0.113.0/24"),
        (V4, 31, 48, "203.0.113.76/31"),
        (V4, 32, 48, "203.0.113.77/32"),
        (V6, 24, 0, "::/0"),
        (V6, 24, 32, "2001:db8::/32"),
        (V6, 24, 48, "2001:db8:ab12::/48"),
        (V6, 24, 56, "2001:db8:ab12:cd00::/56"),
        (V6, 24, 64, "2001:db8:ab12:cd34::/64"),
        (V6, 24, 128, "2001:db8:ab12:cd34:5678:9abc:def0:1234/128"),
        ("2001:db8:0:1::", 24, 64, "2001:db8:0:1::/64"),
        ("2001:db8:0:0:1:0:0:1", 24, 128, "2001:db8::1:0:0:1/128"),
        ("2001:0DB8:AB12:0000:0000:0000:0000:0001", 24, 48, "2001:db8:ab12::/48"),
        ("::ffff:192.0.2.7", 24, 48, "192.0.2.0/24"),
        ("::ffff:c000:207", 24, 48, "192.0.2.0/24"),
        ("::FFFF:192.0.2.7", 24, 128, "192.0.2.0/24"),
        ("::ffff:192.0.2.7", 32, 48, "192.0.2.7/32"),
        ("[2001:db8::1]", 24, 48, "2001:db8::/48"),
        ("[192.0.2.7]", 24, 48, "192.0.2.0/24"),
        ("fe80::1%eth0", 24, 48, "fe80::/48"),
        ("[fe80::1%eth0]", 24, 64, "fe80::/64"),
        ("host-1.example.net", 24, 48, None),
        ("-", 24, 48, None),
        ("unknown", 24, 48, None),
        ("", 24, 48, None),
        ("192.0.2", 24, 48, None),
        ("192.0.2.256", 24, 48, None),
        ("192.0.2.7:8080", 24, 48, None),
        ("2001:db8::1::2", 24, 48, None),
        ("[2001:db8::1]:443", 24, 48, None),
    ],
    ids=[
        "v4 /0 is everything", "v4 /8", "v4 /16", "v4 /24", "v4 /31 keeps the last bit clear", "v4 /32 is the address",
        "v6 /0 is everything", "v6 /32", "v6 /48", "v6 /56 cuts inside a group", "v6 /64", "v6 /128 is the address",
        "v6 single zero group not compressed", "v6 first longest zero run compressed",
        "v6 upper case and leading zeros canonicalised",
        "v4-mapped shown as v4", "v4-mapped in hex shown as v4", "v4-mapped upper case", "v4-mapped uses v4 bits",
        "bracketed v6", "bracketed v4", "zone id dropped", "bracketed with zone id",
        "hostname", "dash", "unknown", "empty", "three octets", "octet past 255", "v4 with port", "two double colons",
        "bracketed v6 with port",
    ],
)  # fmt: skip
def test_network_of(client: str, v4_bits: int, v6_bits: int, expected: str | None) -> None:
    assert network_of(client, v4_bits, v6_bits) == expected
    assert truncate_prefix(pa.array([client, client]), v4_bits, v6_bits).to_pylist() == [expected, expected]


def documentation_addresses(version: int, count: int, seed: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Random addresses of the documentation ranges; IPv6 ones with many zero groups, so `::` lands everywhere."""
    rng = random.Random(seed)
    if version == 4:
        return [rng.choice(DOCUMENTATION_NETS)[rng.randrange(256)] for _ in range(count)]
    addresses = []
    for _ in range(count):
        groups = [0x2001, 0xDB8] + [rng.choice((0, 0, 1, 0xFF, rng.randrange(0x10000))) for _ in range(6)]
        addresses.append(ipaddress.IPv6Address(int.from_bytes(b"".join(g.to_bytes(2, "big") for g in groups), "big")))
    return addresses


@pytest.mark.parametrize(
    "version, bits",
    [(4, bits) for bits in range(33)] + [(6, bits) for bits in range(129)],
    ids=[f"v4 /{bits}" for bits in range(33)] + [f"v6 /{bits}" for bits in range(129)],
)
def test_network_of_matches_python_canonical_form(version: int, bits: int) -> None:
    addresses = documentation_addresses(version, 60, seed=f"{version}/{bits}")
    for address in addresses:
        oracle = str(ipaddress.ip_network(f"{address}/{bits}", strict=False))
        spellings = [str(address), address.exploded.upper()]
        if version == 4:
            spellings.append(f"::ffff:{address}")
        for spelling in spellings:
            assert network_of(spelling, bits if version == 4 else 48, bits if version == 6 else 24) == oracle, spelling
    clients = pa.array([str(a) for a in addresses])
    expected = [str(ipaddress.ip_network(f"{a}/{bits}", strict=False)) for a in addresses]
    assert truncate_prefix(clients, bits, bits if version == 6 else 48).to_pylist() == expected


def test_docstring_examples_of_addresses() -> None:
    assert doctest.testmod(transforms.addresses).failed == 0


# --- client_networks --------------------------------------------------------------------------------------------

NETWORK_ROWS = [
    ("203.0.113.77", "203.0.113.0/24", 4),
    ("2001:db8:ab12:cd34::1", "2001:db8:ab12::/48", 6),
    ("::ffff:192.0.2.7", "192.0.2.0/24", 4),
    ("[2001:db8::1]", "2001:db8::/48", 6),
    ("fe80::1%eth0", "fe80::/48", 6),
    ("host-1.example.net", None, None),
    ("-", None, None),
    ("", None, None),
]
NETWORK_IDS = ["v4", "v6", "v4-mapped is version 4", "bracketed v6", "zone id", "hostname", "dash", "empty"]


@pytest.mark.parametrize("client, client_net, ip_version", NETWORK_ROWS, ids=NETWORK_IDS)
def test_client_networks(client: str, client_net: str | None, ip_version: int | None) -> None:
    nets, versions = client_networks(pa.array([client]), 24, 48)
    assert (nets.to_pylist(), versions.to_pylist()) == ([client_net], [ip_version])
    assert (nets.type, versions.type) == (pa.dictionary(pa.int32(), pa.string()), pa.int8())  # each network once


def test_client_networks_keep_row_order_with_repeats() -> None:
    rows = NETWORK_ROWS + NETWORK_ROWS[::-1] + NETWORK_ROWS
    nets, versions = client_networks(pa.array([r[0] for r in rows]), 24, 48)
    assert nets.to_pylist() == [r[1] for r in rows]
    assert versions.to_pylist() == [r[2] for r in rows]


def test_client_networks_of_no_rows() -> None:
    nets, versions = client_networks(pa.array([], pa.string()), 24, 48)
    assert (nets.to_pylist(), versions.to_pylist()) == ([], [])


def test_client_networks_null_client_gives_nulls() -> None:
    nets, versions = client_networks(pa.array(["192.0.2.1", None], pa.string()), 24, 48)
    assert (nets.to_pylist(), versions.to_pylist()) == (["192.0.2.0/24", None], [4, None])


# --- client_tokens ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "client, identity",
    [
        ("192.0.2.7", b"4" + bytes([192, 0, 2, 7])),
        ("::ffff:192.0.2.7", b"4" + bytes([192, 0, 2, 7])),
        ("2001:db8::1", b"6" + ipaddress.IPv6Address("2001:db8::1").packed),
        ("host-1.example.net", b"hhost-1.example.net"),
        ("Host-1.EXAMPLE.net", b"hhost-1.example.net"),
    ],
    ids=["v4 packed", "v4-mapped as v4 packed", "v6 packed", "hostname", "hostname lower-cased"],
)
def test_token_is_truncated_hmac_sha256_of_the_identity(client: str, identity: bytes) -> None:
    tokens, key_ids = tokens_of([client], [2968])
    assert tokens == [hmac.new(secret_of(2968), identity, hashlib.sha256).hexdigest()[:32]]
    assert key_ids == ["k-epoch2968"]


@pytest.mark.parametrize(
    "client",
    ["192.0.2.7", "2001:db8:ab12::9", "::ffff:198.51.100.4", "host-1.example.net", "a.b"],
    ids=["v4", "v6", "v4-mapped", "hostname", "shortest dotted hostname"],
)
def test_token_is_128_bits_of_lowercase_hex(client: str) -> None:
    (token,), _ = tokens_of([client], [2968])
    assert re.fullmatch(r"[0-9a-f]{32}", token)


@pytest.mark.parametrize(
    "first, second, same",
    [
        ("192.0.2.7", "192.0.2.7", True),
        ("192.0.2.7", "::ffff:192.0.2.7", True),
        ("192.0.2.7", "::ffff:c000:207", True),
        ("192.0.2.7", "[192.0.2.7]", True),
        ("2001:db8::1", "[2001:db8::1]", True),
        ("2001:db8::1", "2001:0DB8:0:0:0:0:0:1", True),
        ("host-1.example.net", "HOST-1.Example.Net", True),
        ("192.0.2.7", "192.0.2.8", False),
        ("192.0.2.7", "192.0.2.0", False),
        ("2001:db8::1", "2001:db8::2", False),
        ("host-1.example.net", "host-2.example.net", False),
        ("192.0.2.7", "::c000:207", False),
    ],
    ids=[
        "same address", "v4-mapped is the v4 address", "v4-mapped in hex is the v4 address", "bracketed v4",
        "bracketed v6", "v6 spelled out", "hostname in any case", "neighbour v4", "same /24 differs", "neighbour v6",
        "other hostname", "v4-compatible v6 is not v4",
    ],
)  # fmt: skip
def test_token_identifies_the_client(first: str, second: str, same: bool) -> None:
    tokens, key_ids = tokens_of([first, second], [2968, 2968])
    assert (tokens[0] == tokens[1]) is same
    assert key_ids == ["k-epoch2968", "k-epoch2968"]


@pytest.mark.parametrize(
    "hostname, address",
    [
        ("abcde.fghij", ipaddress.IPv6Address(b"host:abcde.fghij")),
        ("abcd.efghijklmno", ipaddress.IPv6Address(b"abcd.efghijklmno")),
        ("ab.c", ipaddress.IPv4Address(b"ab.c")),
        ("bcdefg.hijklmno", ipaddress.IPv6Address(b"hbcdefg.hijklmno")),
        ("a.b", ipaddress.IPv4Address(b"ha.b")),
    ],
    ids=["v6 bytes of b'host:' + name", "v6 bytes of the name", "v4 bytes of the name", "v6 bytes of b'h' + name",
         "v4 bytes of b'h' + name"],
)  # fmt: skip
def test_hostname_and_address_never_share_a_token(
    hostname: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> None:
    tokens, key_ids = tokens_of([hostname, str(address)], [2968, 2968])
    assert None not in tokens and key_ids == ["k-epoch2968", "k-epoch2968"]
    assert tokens[0] != tokens[1]


def test_token_is_stable_across_calls_and_chunks() -> None:
    first, _ = tokens_of(["198.51.100.4", "192.0.2.7"], [2968, 2968])
    second, _ = tokens_of(["192.0.2.7", "203.0.113.1", "198.51.100.4"], [2968, 2968, 2968])
    assert first == [second[2], second[0]]


def test_token_differs_across_epochs() -> None:
    tokens, key_ids = tokens_of(["192.0.2.7", "192.0.2.7", "192.0.2.7"], [2968, 2969, 2968])
    assert tokens[0] == tokens[2] != tokens[1]
    assert key_ids == ["k-epoch2968", "k-epoch2969", "k-epoch2968"]


@pytest.mark.parametrize(
    "client",
    [
        "-",
        "",
        "192.0.2.256",
        "192.0.2.7:8080",
        "not a host",
        "-leading-dash.example",
        "..",
        "unknown",
        "localhost",
        "Server01",
    ],
    ids=["dash", "empty", "octet past 255", "v4 with port", "spaces", "leading dash", "dots only", "unknown",
         "single-label hostname", "single label with digits"],
)  # fmt: skip
def test_junk_client_gets_null_token_and_key_id(client: str) -> None:
    lookup = CountingLookup()
    assert tokens_of([client, "192.0.2.7"], [2968, 2968], lookup)[0][0] is None
    assert tokens_of([client], [2968], lookup) == ([None], [None])
    assert lookup.calls == [2968]  # only for the real address: no key is created for junk alone


def test_null_client_gets_null_token_and_key_id() -> None:
    tokens, key_ids = tokens_of(["192.0.2.7", None], [2968, 2968])
    assert tokens[1] is None and key_ids[1] is None and tokens[0] is not None


def test_destroyed_key_gives_null_token_and_key_id() -> None:
    lookup = CountingLookup(destroyed=frozenset({2967}))
    tokens, key_ids = tokens_of(["192.0.2.7", "192.0.2.7", "host-1.example.net"], [2967, 2968, 2967], lookup)
    assert tokens[0] is None and tokens[2] is None and tokens[1] is not None
    assert key_ids == [None, "k-epoch2968", None]


def test_one_key_lookup_per_epoch_and_one_hmac_per_distinct_client_and_epoch(monkeypatch) -> None:
    clients = ["192.0.2.7", "198.51.100.4", "192.0.2.7", "::ffff:192.0.2.7", "-", "192.0.2.7", "host.example.net"]
    epochs = [2968, 2968, 2968, 2968, 2968, 2969, 2969]
    lookup = CountingLookup()
    copies = []
    real_new = hmac.new

    class CountingMac:  # the keyed HMAC, counting the copies made of it: one per token computed
        def __init__(self, mac):
            self.mac = mac

        def copy(self):
            copies.append(1)
            return self.mac.copy()

    def counting_new(*args, **kwargs):
        return CountingMac(real_new(*args, **kwargs))

    monkeypatch.setattr(transforms.anonymise.hmac, "new", counting_new)
    tokens, _ = tokens_of(clients * 100, epochs * 100, lookup)
    assert sorted(lookup.calls) == [2968, 2969]
    # Distinct (text, epoch) pairs with a real client; the mapped spelling is a distinct text.
    assert len(copies) == 5
    assert tokens[:7] == tokens[7:14]


def test_tokens_of_no_rows() -> None:
    lookup = CountingLookup()
    assert tokens_of([], [], lookup) == ([], [])
    assert lookup.calls == []


# --- status_classes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, status_class",
    [(200, "2xx"), (404, "4xx"), (101, "1xx"), (503, "5xx"), (302, "3xx"), (599, "5xx"), (None, None)],
    ids=["ok", "not found", "switching protocols", "unavailable", "redirect", "top of 5xx", "null stays null"],
)
def test_status_classes(status: int | None, status_class: str | None) -> None:
    assert status_classes(pa.array([status], pa.int16())).to_pylist() == [status_class]


# --- anonymised_table -------------------------------------------------------------------------------------------

RESTRICTED_ROW = {
    "ts": dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC),
    "client_ip": "192.0.2.10",
    "ip_version": 4,
    "client_net": "192.0.2.0/24",
    "client_token": "0123456789abcdef0123456789abcdef",
    "key_id": "k20261123-3f9a0c",
    "auth_user": "frank",
    "request": "GET /index.html?page=2 HTTP/1.1",
    "method": "GET",
    "target": "/index.html?page=2",
    "path": "/index.html",
    "query": "page=2",
    "attack_families": ["sqli"],
    "rule_ids": ["sqli-union-select"],
    "protocol": "HTTP/1.1",
    "status": 200,
    "bytes": 512,
    "referrer": "https://www.example.com/",
    "user_agent": "Mozilla/5.0",
    "vhost": None,
    "server_port": None,
    "status_class": "2xx",
    "is_error": False,
    "is_server_error": False,
    "duration_ms": 12.5,
    "xff": "198.51.100.1, 192.0.2.10",
    "source": "logs/access.log",
    "line_number": 1,
    "run_id": "run-1",
}
RAW_ONLY = ("client_ip", "peer_ip", "auth_user", "request", "target", "xff", "source", "line_number")


def restricted_table(**overrides) -> pa.Table:
    row = RESTRICTED_ROW | overrides
    return pa.Table.from_pylist([row], schema=RESTRICTED_REQUESTS)


def test_anonymised_table_has_exactly_the_anonymised_columns() -> None:
    table = anonymised_table(restricted_table(), Scrubber())
    assert table.schema == ANONYMISED_REQUESTS
    assert not set(RAW_ONLY) & set(table.column_names)
    assert table.to_pylist() == [
        {name: RESTRICTED_ROW.get(name) for name in ANONYMISED_REQUESTS.names}
        | {"xff_nets": ["198.51.100.0/24", "192.0.2.0/24"]}  # the chain, anonymised like the client
    ]


@pytest.mark.parametrize(
    "column, raw, scrubbed",
    [
        ("path", "/admin/192.0.2.55/edit", "/admin/192.0.2.0/24/edit"),
        ("path", "/index.html", "/index.html"),
        ("query", "q=alice@example.com&page=2", "q=[email]&page=2"),
        ("query", "email=alice%40example.com", "email=[redacted]"),
        ("referrer", "https://www.example.com/cb?access_token=abc&page=2",
         "https://www.example.com/cb?access_token=[redacted]&page=2"),
        ("user_agent", "probe/1.0 (2001:db8:ab12:cd34::9)", "probe/1.0 (2001:db8:ab12::/48)"),
        ("user_agent", "Mozilla/5.0 Chrome/131.0.0.0", "Mozilla/5.0 Chrome/131.0.0.0"),
        ("vhost", "203.0.113.80", "203.0.113.0/24"),
        ("vhost", "www.example.com", "www.example.com"),
    ],
    ids=["v4 in path truncated", "plain path kept", "e-mail in query replaced", "secret parameter redacted",
         "token in referrer redacted", "v6 in user agent truncated", "browser version kept",
         "address as host truncated", "host name kept"],
)  # fmt: skip
def test_anonymised_table_scrubs_request_text(column: str, raw: str, scrubbed: str) -> None:
    table = anonymised_table(restricted_table(**{column: raw}), Scrubber())
    assert table[column].to_pylist() == [scrubbed]


def test_anonymised_table_holds_no_raw_client_data() -> None:
    restricted = restricted_table(
        client_ip="198.51.100.23",
        auth_user="alice",
        request="GET /u/198.51.100.23?mail=alice@example.com HTTP/1.1",
        target="/u/198.51.100.23?mail=alice@example.com",
        path="/u/198.51.100.23",
        query="mail=alice@example.com",
        referrer="https://www.example.com/?from=198.51.100.23",
        user_agent="agent (198.51.100.23; alice@example.com)",
    )
    cells = [str(v) for row in anonymised_table(restricted, Scrubber()).to_pylist() for v in row.values()]
    assert not [c for c in cells if "198.51.100.23" in c or "alice" in c]


@pytest.mark.parametrize("remembered", [1, 2, 1_000_000], ids=["forgets-every-time", "forgets-often", "remembers"])
def test_a_long_lived_anonymiser_gives_what_a_fresh_one_gives(monkeypatch, remembered: int) -> None:
    monkeypatch.setattr(transforms.anonymise.ClientAnonymiser, "MAX_REMEMBERED", remembered)
    lookup = CountingLookup()
    worker = transforms.anonymise.ClientAnonymiser(24, 48, lookup)
    chunks = [
        (["192.0.2.7", "2001:db8:1:2::3", "host.example.net", "-"], [2968, 2968, 2969, 2969]),
        (["192.0.2.7", "198.51.100.4", "::ffff:192.0.2.7", None], [2968, 2969, 2968, 2968]),
        (["192.0.2.7", "2001:db8:1:2::3"], [2968, 2968]),
    ]
    for clients, epochs in chunks:
        ips = pa.array(clients, pa.string())
        fresh = transforms.anonymise.ClientAnonymiser(24, 48, CountingLookup())
        assert worker.networks(ips) == fresh.networks(ips)
        assert worker.tokens(ips, np.array(epochs)) == fresh.tokens(ips, np.array(epochs))
    assert sorted(set(lookup.calls)) == sorted(lookup.calls)  # each epoch's key looked up once per worker
