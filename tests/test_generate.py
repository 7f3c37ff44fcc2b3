"""The synthetic log generator: exact counts, the shape of every line, and nothing but documentation data."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import gzip
import ipaddress
import re
from collections import Counter
from pathlib import Path

import pytest

from pipelines.generate import LogSpec, generate_lines, write_log

LINES = 20_000
DAY = datetime.date(2026, 11, 24)
SPEC = LogSpec(lines=LINES, day=DAY, seed=7, hostname_share=0.05)

DOCUMENTATION_V4 = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
DOCUMENTATION_V6 = ipaddress.ip_network("2001:db8::/32")

# Apache's formats, field by field; a quoted field may hold `\"` and `\xhh` escapes.
_QUOTED = rb'[^"\\]*(?:\\.[^"\\]*)*'
_COMMON = (
    rb"(?P<client>[0-9A-Za-z.:-]+) (?P<ident>\S+) (?P<user>\S+) "
    rb"\[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    rb'"(?P<request>-|[A-Z]+ \S+ HTTP/\d\.\d)" (?P<status>[1-5]\d\d) (?P<bytes>\d+|-)'
)
_COMBINED = _COMMON + rb' "(?P<referrer>' + _QUOTED + rb')" "(?P<agent>' + _QUOTED + rb')"'
PATTERNS = {
    "common": re.compile(rb"^" + _COMMON + rb"$"),
    "combined": re.compile(rb"^" + _COMBINED + rb"$"),
    "vhost_combined": re.compile(rb"^(?P<vhost>[a-z0-9.-]+:\d+) " + _COMBINED + rb"$"),
}


@functools.cache
def log_of(spec: LogSpec) -> bytes:
    return b"".join(generate_lines(spec))


def lines_of(spec: LogSpec) -> list[bytes]:
    return log_of(spec).split(b"\n")[:-1]


@functools.cache
def parsed(spec: LogSpec) -> list[re.Match[bytes]]:
    """The lines that are not deliberately broken, parsed."""
    pattern = PATTERNS[spec.fmt]
    return [m for m in map(pattern.match, lines_of(spec)) if m]


MONTHS = {m: i for i, m in enumerate(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def utc_seconds(stamp: bytes) -> int:
    """b"24/Nov/2026:10:15:02 +0100" as seconds since 0001-01-01 00:00 UTC."""
    date, hour, minute, rest = stamp.split(b":")
    day, month, year = date.split(b"/")
    second, offset = rest.split(b" ")
    sign = -1 if offset.startswith(b"-") else 1
    local = (
        datetime.date(int(year), MONTHS[month], int(day)).toordinal() * 86_400
        + int(hour) * 3600
        + int(minute) * 60
        + int(second)
    )
    return local - sign * (int(offset[1:3]) * 3600 + int(offset[3:5]) * 60)


def test_same_seed_gives_same_bytes_and_another_seed_others() -> None:
    assert b"".join(generate_lines(SPEC)) == log_of(SPEC)
    assert log_of(dataclasses.replace(SPEC, seed=8)) != log_of(SPEC)


def test_blocks_hold_whole_lines() -> None:
    blocks = list(generate_lines(dataclasses.replace(SPEC, lines=60_000)))
    assert len(blocks) > 1
    assert all(block.endswith(b"\n") for block in blocks)
    assert sum(block.count(b"\n") for block in blocks) == 60_000


@pytest.mark.parametrize("lines", [0, 1, 7, 999, LINES])
def test_line_count_is_exact(lines: int) -> None:
    spec = dataclasses.replace(SPEC, lines=lines)
    text = log_of(spec)
    assert text.count(b"\n") == lines
    assert text == b"" or text.endswith(b"\n")


@pytest.mark.parametrize(
    ("fmt", "broken_share"),
    [
        ("combined", 0.0),
        ("combined", 0.0005),
        ("combined", 0.01),
        ("common", 0.0005),
        ("common", 0.01),
        ("vhost_combined", 0.0005),
        ("vhost_combined", 0.01),
    ],
)
def test_every_line_but_the_broken_ones_matches_the_format(fmt: str, broken_share: float) -> None:
    spec = dataclasses.replace(SPEC, fmt=fmt, broken_share=broken_share)
    unmatched = [line for line in lines_of(spec) if not PATTERNS[fmt].match(line)]
    assert len(unmatched) == spec.broken_lines == round(LINES * broken_share)


def test_broken_lines_are_a_mix_of_kinds() -> None:
    spec = dataclasses.replace(SPEC, broken_share=0.002)
    broken = [line for line in lines_of(spec) if not PATTERNS["combined"].match(line)]
    assert len(broken) == 40
    assert b"" in broken  # an empty line
    assert any(line.count(b'"') == 1 for line in broken)  # cut off in the request
    assert any(re.search(rb'" \d{3}$', line) for line in broken)  # fields missing after the status
    garbage = [line for line in broken if b"\x00" in line]
    assert garbage
    for line in garbage:
        assert b"\xff\xfe" in line
        with pytest.raises(UnicodeDecodeError):
            line.decode("utf-8")


@pytest.mark.parametrize(
    ("utc_offset_minutes", "written"),
    [(60, b"+0100"), (120, b"+0200"), (0, b"+0000"), (-300, b"-0500"), (330, b"+0530")],
)
def test_timestamps_are_sorted_and_fall_on_the_utc_day(utc_offset_minutes: int, written: bytes) -> None:
    spec = dataclasses.replace(SPEC, utc_offset_minutes=utc_offset_minutes)
    stamps = [m["time"] for m in parsed(spec)]
    utc = {stamp: utc_seconds(stamp) for stamp in set(stamps)}
    times = [utc[stamp] for stamp in stamps]
    assert times == sorted(times)
    assert {t // 86_400 for t in times} == {DAY.toordinal()}
    assert {stamp[-5:] for stamp in utc} == {written}


def test_local_time_is_utc_plus_the_offset() -> None:
    first = parsed(dataclasses.replace(SPEC, utc_offset_minutes=-300))[0]["time"]
    assert first.startswith(b"23/Nov/2026:19:") and first.endswith(b" -0500")  # the UTC day starts at 19:00 the eve


def test_traffic_follows_the_working_day_in_amsterdam() -> None:
    hours = Counter(utc_seconds(m["time"]) // 3600 % 24 for m in parsed(SPEC))
    # 09:00 UTC is 10:00 in Amsterdam in November, 02:00 UTC is 03:00
    assert hours[9] > 10 * hours[2]
    assert hours[12] > hours[11]  # after the lunch dip


def test_clients_come_only_from_documentation_ranges() -> None:
    seen = Counter()
    for client in {m["client"].decode() for m in parsed(SPEC)}:
        if client.endswith(".example.net"):
            seen["hostname"] += 1
            continue
        address = ipaddress.ip_address(client)
        if address.version == 4:
            assert any(address in net for net in DOCUMENTATION_V4), client
            seen["v4"] += 1
        elif address.ipv4_mapped:
            assert any(address.ipv4_mapped in net for net in DOCUMENTATION_V4), client
            assert client == f"::ffff:{address.ipv4_mapped}"
            seen["mapped"] += 1
        else:
            assert address in DOCUMENTATION_V6, client
            assert client == address.compressed
            seen["v6"] += 1
    assert set(seen) == {"v4", "v6", "mapped", "hostname"}


def test_ipv6_clients_spread_over_many_networks() -> None:
    spec = dataclasses.replace(SPEC, lines=40_000, ipv6_share=1.0, mapped_share=0.0, hostname_share=0.0)
    v6 = {ipaddress.ip_address(client.decode()) for client in {m["client"] for m in parsed(spec)}}
    assert len({int(a) >> 64 for a in v6}) > 1000  # /64s
    assert 100 < len({int(a) >> 80 for a in v6}) <= 1000  # /48s


def test_few_clients_send_much_many_send_little() -> None:
    per_client = Counter(m["client"] for m in parsed(SPEC)).most_common()
    assert per_client[0][1] > 10 * per_client[len(per_client) // 2][1]
    assert sum(n for _, n in per_client[:10]) > 0.15 * LINES


@pytest.mark.parametrize(
    ("ipv6_share", "mapped_share", "hostname_share"),
    [(0.3, 0.05, 0.0), (0.0, 0.0, 0.0), (0.5, 0.1, 0.1), (0.9, 0.0, 0.05)],
)
def test_client_families_come_in_the_shares_asked(
    ipv6_share: float, mapped_share: float, hostname_share: float
) -> None:
    spec = dataclasses.replace(SPEC, ipv6_share=ipv6_share, mapped_share=mapped_share, hostname_share=hostname_share)
    clients = [m["client"] for m in parsed(spec)]
    mapped = sum(c.startswith(b"::ffff:") for c in clients) / len(clients)
    v6 = sum(b":" in c for c in clients) / len(clients) - mapped
    hostnames = sum(c.endswith(b".example.net") for c in clients) / len(clients)
    # attack probes (1%) come from their own clients, so allow a little more than chance
    assert v6 == pytest.approx(ipv6_share, abs=0.02)
    assert mapped == pytest.approx(mapped_share, abs=0.01)
    assert hostnames == pytest.approx(hostname_share, abs=0.01)


def test_status_mix_is_realistic() -> None:
    matches = parsed(SPEC)
    classes = Counter(m["status"][:1] for m in matches)
    share = {cls: classes[cls] / len(matches) for cls in (b"2", b"3", b"4", b"5")}
    assert 0.80 < share[b"2"] < 0.90
    assert 0.05 < share[b"3"] < 0.12
    assert 0.03 < share[b"4"] < 0.09
    assert 0.001 < share[b"5"] < 0.01
    not_modified = [m for m in matches if m["status"] == b"304"]
    assert not_modified and all(m["bytes"] == b"-" for m in not_modified)
    timeouts = [m for m in matches if m["status"] == b"408"]
    assert timeouts and all(m["request"] == b"-" and m["bytes"] == b"-" for m in timeouts)


@pytest.mark.parametrize(
    "evidence",
    [
        rb'"GET /api/v1/timesheets/\d+ HTTP/',
        rb'"POST /api/v1/projects/\d+/entries HTTP/',
        rb'"(PUT|DELETE) /api/v1/',
        rb"\?week=2026-W48",
        rb'"GET /static/app\.[0-9a-f]+\.js HTTP/',
        rb"/favicon\.ico",
        rb'"POST /login HTTP/1\.1" 401 ',
        rb" HTTP/2\.0\" ",
        rb'"https://app\.example\.com/',
        rb'"https://www\.google\.',
        rb'\\"',  # an escaped quote inside a user agent
        rb"\\x[0-9a-f]{2}",  # a byte Apache wrote as \xhh
    ],
)
def test_traffic_looks_like_a_time_registration_app(evidence: bytes) -> None:
    assert re.search(evidence, log_of(SPEC))


@pytest.mark.parametrize(
    "personal_data",
    [
        rb"/api/v1/users/[a-z.-]+@example\.(com|org|net)",
        rb"\?token=[0-9a-f]{32}",
        rb"[?&]email=",
        rb"\?ip=192\.0\.2\.44",
    ],
)
def test_some_urls_carry_personal_data_to_scrub(personal_data: bytes) -> None:
    assert re.search(personal_data, log_of(SPEC))


ATTACK_EVIDENCE = [
    rb"%27%20OR%201=1--|UNION%20SELECT|SLEEP\(5\)",  # SQL injection
    rb"%3Cscript%3E|<script>|onerror=",  # cross-site scripting
    rb"/\.\./|\.\.%2f|%2e%2e/",  # path traversal
    rb"/\.env |/\.git/config |/wp-login\.php ",  # looking for leftovers
    rb"\$\{jndi:|\$\{\$\{lower:j\}ndi:",  # Log4Shell
    rb"sqlmap/|Nikto/|Nuclei",  # scanners
]


@pytest.mark.parametrize("evidence", ATTACK_EVIDENCE)
def test_attack_probes_appear_when_asked(evidence: bytes) -> None:
    assert re.search(evidence, log_of(dataclasses.replace(SPEC, attack_share=0.05)))


@pytest.mark.parametrize("evidence", ATTACK_EVIDENCE)
def test_no_attack_probes_when_none_are_asked(evidence: bytes) -> None:
    assert not re.search(evidence, log_of(dataclasses.replace(SPEC, attack_share=0.0)))


def test_attack_probes_come_mostly_from_a_few_clients_in_bursts() -> None:
    matches = parsed(dataclasses.replace(SPEC, attack_share=0.05))
    probes = [m for m in matches if re.search(rb"sqlmap|Nikto|Nuclei|zgrab|masscan|Hydra|jndi", m["agent"])]
    by_client = Counter(m["client"] for m in probes).most_common()
    assert sum(n for _, n in by_client[:6]) > 0.6 * len(probes)


@pytest.mark.parametrize(
    ("fmt", "shape"),
    [
        ("combined", rb'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} (\d+|-) "'),
        ("common", rb'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} (\d+|-)$'),
        ("vhost_combined", rb'^(app|api)\.example\.com:443 \S+ \S+ \S+ \[[^\]]+\] "'),
    ],
)
def test_format_shapes(fmt: str, shape: bytes) -> None:
    spec = dataclasses.replace(SPEC, fmt=fmt)
    matches = parsed(spec)
    assert len(matches) == LINES - spec.broken_lines
    assert all(re.match(shape, m[0]) for m in matches[:2000])


@pytest.mark.parametrize("name", ["access.log", "access.log.gz", "nested/dir/access.log.gz"])
def test_write_log_writes_what_generate_lines_yields(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    log = write_log(path, SPEC)
    data = path.read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
        assert path.stat().st_size < len(data) / 3
    assert data == log_of(SPEC)
    assert log.path == str(path)
    assert (log.lines, log.broken_lines, log.size_bytes) == (LINES, SPEC.broken_lines, path.stat().st_size)


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    write_log(tmp_path / "a.log.gz", SPEC)
    write_log(tmp_path / "b.log.gz", SPEC)
    assert (tmp_path / "a.log.gz").read_bytes() == (tmp_path / "b.log.gz").read_bytes()


@pytest.mark.parametrize(
    "change",
    [
        {"lines": -1},
        {"fmt": "json"},
        {"ipv6_share": 1.5},
        {"attack_share": -0.1},
        {"ipv6_share": 0.6, "mapped_share": 0.3, "hostname_share": 0.2},
        {"utc_offset_minutes": 24 * 60},
    ],
)
def test_impossible_specs_are_refused(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(SPEC, **change)
