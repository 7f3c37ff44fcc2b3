"""What ages out of the zones and how: partitions by day, cut-off days, coarsening, leak detection.

Pure functions over zone listings and Arrow tables, shared by `sweep` (which acts) and
`verify` (which checks that nothing was left undone).

Retention counts whole UTC days, the unit a partition holds. With a 7-day window at
2026-11-24T03:00Z the window starts 2026-11-17T03:00Z, so `first_day_kept` is 2026-11-17:
partition `dt=2026-11-16` and older hold only records past the window and are deleted,
`dt=2026-11-17` stays until its last record is past it. A record is thus held at most one
day past the window, never less than the window.

Coarsening: once the key of a partition's epoch is destroyed, its tokens link nothing, and
what is left of a client is its network. `coarsened_table` nulls `client_token` and `key_id`
and widens every network written in a string column to the long-term prefix:

    client_net  203.0.113.0/24         ->  203.0.0.0/16
    path        /admin/192.0.2.0/24/x  ->  /admin/192.0.0.0/16/x
    client_net  2001:db8:ab12::/48     ->  2001:db8::/32

and marks the file in its Parquet metadata, so a sweep and `verify` know it is done.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms import storage
from transforms.addresses import format_network, mask, parse_address
from transforms.scrub import EMAIL_PLACEHOLDER, SECRET_PLACEHOLDER, Scrubber

TOKEN_COLUMNS = ("client_token", "key_id")  # what links a row to a client while the key lives
COARSENED = b"logshroud.coarsened"  # Parquet (Arrow schema) metadata key of a coarsened file

# Network text as the scrubber and `client_net` write it: an address, `/`, a prefix length. The borders
# are the scrubber's own (transforms.scrub): an IPv4 address may follow `:` (`rv:1.9.0.0/24` in a user
# agent), an IPv6 run may not follow a letter, digit, `:`, `.` or `%`.
_NETWORK_TEXT = re.compile(
    r"(?:(?<![0-9A-Za-z])(?<![0-9]\.)(?P<v4>[0-9]{1,3}(?:\.[0-9]{1,3}){3})"
    r"|(?<![0-9A-Za-z:.%])(?P<v6>[0-9A-Fa-f.]*:[0-9A-Fa-f.:]*))"
    r"/(?P<bits>[0-9]{1,3})(?![0-9])"
)
_NETWORK_HINT = r"[0-9A-Fa-f.:]/[0-9]"  # RE2 prefilter: values that could hold network text
_PARTITION = re.compile(r"^(?P<dataset>[^/_][^/]*)/dt=(?P<day>\d{4}-\d\d-\d\d)/[^/]+$")


@dataclass(frozen=True)
class Partition:
    """The files of one dataset for one UTC day: `<zone>/<dataset>/dt=YYYY-MM-DD/`."""

    zone: str
    dataset: str
    day: str
    files: tuple[storage.StoredFile, ...]

    @property
    def name(self) -> str:
        return f"{self.zone}/{self.dataset}/dt={self.day}"

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


def partition_of(zone_uri: str, path: str) -> tuple[str, str] | None:
    """(dataset, day) of a file in a zone, or None for anything outside a dataset's day partitions."""
    found = _PARTITION.match(path[len(zone_uri) + 1 :]) if path.startswith(zone_uri + "/") else None
    return (found["dataset"], found["day"]) if found else None


def zone_partitions(zone: str, zone_uri: str) -> list[Partition]:
    """Every day partition of every dataset in a zone, whatever datasets the zone holds; staging excluded."""
    grouped: dict[tuple[str, str], list[storage.StoredFile]] = {}
    for stored in storage.list_tree(zone_uri):
        where = partition_of(zone_uri, stored.path)
        if where is not None:
            grouped.setdefault(where, []).append(stored)
    return [Partition(zone, dataset, day, tuple(files)) for (dataset, day), files in sorted(grouped.items())]


def first_day_kept(as_of: dt.datetime, days: int) -> str:
    """The oldest UTC day (`YYYY-MM-DD`) that still holds a record younger than `days` at `as_of`."""
    return (as_of - dt.timedelta(days=days)).date().isoformat()


def relative_name(path: str, zones: dict[str, str]) -> str:
    """`anonymised/requests/dt=2026-11-20/part-x.parquet` for a file in a zone; other paths as they are."""
    for zone, uri in zones.items():
        if path.startswith(uri + "/"):
            return f"{zone}/{path[len(uri) + 1 :]}"
    return path


@dataclass(frozen=True)
class RawLog:
    """A raw log and the date of its newest line, as its latest ingest recorded it."""

    stored: storage.StoredFile
    newest_event: str | None  # None: never ingested as it is now, so its age is unknown
    lines: int


def raw_logs(raw_uri: str, ingested: dict[str, dict]) -> list[RawLog]:
    """Every file in the raw zone, aged by the event dates its ingest recorded (never by mtime).

    A log changed since its ingest (one still being written) is unknown: its newest lines
    were not read. An input in which no line parsed is as old as the day it was ingested.
    """
    logs = []
    for stored in storage.list_tree(raw_uri):
        entry = ingested.get(stored.path)
        if entry is None or entry["size_bytes"] != stored.size:
            logs.append(RawLog(stored, None, 0))
        else:
            newest = (entry.get("event_dates") or {}).get("last") or entry["as_of"][:10]
            logs.append(RawLog(stored, newest, entry["lines_read"]))
    return logs


# --- Parquet files ------------------------------------------------------------------------------------------


def parquet_footer(path: str) -> pq.FileMetaData:
    """A Parquet file's footer (rows, schema and its metadata), read without reading the data."""
    with storage.open_read(path) as source:
        return pq.ParquetFile(source).metadata


def coarsening_of(metadata: dict[bytes, bytes] | None) -> dict | None:
    """What a file's coarsening marker says (prefixes, key ids, when), None if it is not coarsened."""
    marker = (metadata or {}).get(COARSENED)
    return json.loads(marker) if marker else None


def string_columns(table: pa.Table) -> Iterator[tuple[str, pa.Array]]:
    """(name, values) of every string column, lists of strings flattened: everything that can hold text."""
    for field in table.schema:
        column = table[field.name].combine_chunks()
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            column, kind = pc.list_flatten(column), field.type.value_type
        else:
            kind = field.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            yield field.name, column


# --- coarsening ---------------------------------------------------------------------------------------------


def widen_networks(values: pa.Array, v4_bits: int, v6_bits: int) -> pa.Array:
    """Every network written in `values` widened to at most `v4_bits` / `v6_bits`; the rest untouched.

    `203.0.113.0/24` -> `203.0.0.0/16`; a network already as wide (`10.0.0.0/8`) stays.
    Python runs once per distinct value that could hold network text.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary
    picked = pc.fill_null(pc.match_substring_regex(distinct, _NETWORK_HINT), False)
    if not pc.any(picked).as_py():
        return values
    widen = partial(_widened, v4_bits, v6_bits)
    widened = [_NETWORK_TEXT.sub(widen, v) for v in distinct.filter(picked).to_pylist()]
    return pc.replace_with_mask(distinct, picked, pa.array(widened, values.type)).take(encoded.indices)


def _widened(v4_bits: int, v6_bits: int, match: re.Match[str]) -> str:
    parsed = parse_address(match["v4"] or match["v6"])
    if parsed is None:
        return match[0]
    version, packed = parsed
    bits, limit = int(match["bits"]), v4_bits if version == 4 else v6_bits
    if bits <= limit or bits > len(packed) * 8:
        return match[0]
    return format_network(version, mask(packed, limit), limit)


def coarsened_table(table: pa.Table, v4_bits: int, v6_bits: int, marker: dict) -> pa.Table:
    """The table with tokens and key ids null, every network widened, and the coarsening marker set."""
    columns = []
    for field in table.schema:
        column = table[field.name]
        if field.name in TOKEN_COLUMNS:
            column = pa.nulls(table.num_rows, field.type)
        elif pa.types.is_string(field.type):
            column = widen_networks(column, v4_bits, v6_bits)
        columns.append(column)
    metadata = {**(table.schema.metadata or {}), COARSENED: json.dumps(marker, sort_keys=True).encode()}
    return pa.table(columns, schema=table.schema.with_metadata(metadata))


# --- what verify looks for ----------------------------------------------------------------------------------


def leaks(values: pa.Array, scrubber: Scrubber) -> Counter[str]:
    """What scrubbing would still remove from `values`: kind -> number of values holding it.

    Scrubbed text is a fixed point of the scrubber (scrubbing twice changes nothing), so
    any value the scrubber would change holds a full address, an e-mail address or
    credentials. Kinds: `a full IP address`, `an e-mail address`, `credentials in a URL`.
    """
    scrubbed = scrubber.column(values, "text")
    if scrubbed is values:
        return Counter()
    changed = pc.fill_null(pc.not_equal(values, scrubbed), False)
    before, after = values.filter(changed).to_pylist(), scrubbed.filter(changed).to_pylist()
    return Counter(_leak_kind(b, a) for b, a in zip(before, after, strict=True))


def _leak_kind(before: str, after: str) -> str:
    if after.count(EMAIL_PLACEHOLDER) > before.count(EMAIL_PLACEHOLDER):
        return "an e-mail address"
    if after.count(SECRET_PLACEHOLDER) > before.count(SECRET_PLACEHOLDER):
        return "credentials in a URL"
    return "a full IP address"
