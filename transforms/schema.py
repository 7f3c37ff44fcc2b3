"""The one place that knows each dataset's columns, and the element that carries them.

Partition column `dt` (the event's UTC date, a window's start date; for quarantine the run's date) is not
stored in the files: it is the Hive folder `dt=YYYY-MM-DD`, which DuckDB, Athena,
Trino and Spark turn back into a column.

In flight, a string column may be dictionary-encoded (see `transforms.dictionaries`):
the same values, each held once. Written, every column has its dataset's type here.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import apache_beam as beam
import pyarrow as pa

TS = pa.timestamp("ms", tz="UTC")

# What the server answered, in both request datasets.
_RESPONSE = [
    ("status", pa.int16()),
    ("status_class", pa.string()),  # 1xx .. 5xx
    ("is_error", pa.bool_()),  # status 400 and up
    ("is_server_error", pa.bool_()),  # status 500 and up
    ("bytes", pa.int64()),
]

# What the request looked like to the attack rules (transforms/attack_rules.py), in both request datasets.
_SIGNALS = [
    ("attack_families", pa.list_(pa.string())),  # sqli, xss, traversal, rfi, rce, php, java, scanner, probe
    ("rule_ids", pa.list_(pa.string())),  # our rules that fired, sorted
]

# How the request was carried and served, where the format logs it, in both request datasets.
_TRANSFER = [
    ("duration_ms", pa.float64()),  # time to serve the request
    ("upstream_ms", pa.float64()),  # of which the upstream (backend, load balancer target) took
    ("upstream_status", pa.int16()),  # the upstream's own status, where a proxy or load balancer logs it
    ("request_bytes", pa.int64()),  # bytes received from the client
    ("tls_protocol", pa.string()),  # TLSv1.3, ...
    ("tls_cipher", pa.string()),
    ("edge_result", pa.string()),  # a CDN's cache result: Hit, Miss, Error, ...
]

RESTRICTED_REQUESTS = pa.schema(
    [
        ("ts", TS),
        ("client_ip", pa.string()),  # the full address (or hostname): behind trusted proxies, from X-Forwarded-For
        ("peer_ip", pa.string()),  # the address that connected, as the server wrote it (a proxy's, behind one)
        ("ip_version", pa.int8()),
        ("client_net", pa.string()),
        ("client_token", pa.string()),
        ("key_id", pa.string()),
        ("auth_user", pa.string()),
        ("request", pa.string()),  # the raw request line
        ("method", pa.string()),
        ("target", pa.string()),  # the raw request target
        ("path", pa.string()),
        ("query", pa.string()),
        ("protocol", pa.string()),
        *_RESPONSE,
        *_SIGNALS,
        ("referrer", pa.string()),
        ("user_agent", pa.string()),
        ("vhost", pa.string()),
        ("server_port", pa.int32()),
        *_TRANSFER,
        ("xff", pa.string()),  # the X-Forwarded-For chain as logged: addresses, so restricted only
        ("source", pa.string()),
        ("line_number", pa.int64()),
        ("run_id", pa.string()),
    ]
)

ANONYMISED_REQUESTS = pa.schema(
    [
        ("ts", TS),
        ("method", pa.string()),
        ("path", pa.string()),  # scrubbed: no address, e-mail or secret
        ("query", pa.string()),  # scrubbed
        ("protocol", pa.string()),
        *_RESPONSE,
        *_SIGNALS,
        ("referrer", pa.string()),  # scrubbed
        ("user_agent", pa.string()),  # scrubbed
        ("vhost", pa.string()),  # scrubbed
        ("server_port", pa.int32()),
        *_TRANSFER,
        ("xff_nets", pa.list_(pa.string())),  # each X-Forwarded-For hop's network as in client_net; null: no address
        ("ip_version", pa.int8()),
        ("client_net", pa.string()),  # CIDR text: 203.0.113.0/24, 2001:db8:ab00::/48
        ("client_token", pa.string()),  # HMAC-SHA-256 of the client under key_id, 128 bits hex
        ("key_id", pa.string()),
        ("run_id", pa.string()),
    ]
)

QUARANTINE = pa.schema(
    [
        ("source", pa.string()),
        ("line_number", pa.int64()),
        ("line", pa.string()),  # as read, invalid UTF-8 as U+FFFD, cut at input.max_line_bytes
        ("line_bytes", pa.int64()),  # length of the whole line as read
        ("reason", pa.string()),
        ("run_id", pa.string()),
    ]
)

# Per-client behaviour in fixed windows, counted while the full address was known.
_WINDOW_COUNTS = [
    ("window_start", TS),
    ("window_seconds", pa.int32()),  # 60 or 300
    ("requests", pa.int64()),
    ("client_errors", pa.int64()),  # 4xx
    ("server_errors", pa.int64()),  # 5xx
    ("not_found", pa.int64()),  # 404
    ("auth_failures", pa.int64()),  # 401/403 on a login path
    ("distinct_paths", pa.int64()),
    ("attack_hits", pa.int64()),  # requests with any attack family
]
_CLIENT = [
    ("ip_version", pa.int8()),
    ("client_net", pa.string()),
    ("client_token", pa.string()),
    ("key_id", pa.string()),
]

CLIENT_WINDOWS = pa.schema([*_CLIENT, *_WINDOW_COUNTS, ("alerts", pa.list_(pa.string())), ("run_id", pa.string())])

# One row per alert: a client's (brute_force, scanning, flood, attack_burst), or the
# service's (error_burst: client columns null, counts over every client).
ALERTS = pa.schema([("alert", pa.string()), *_CLIENT, *_WINDOW_COUNTS, ("run_id", pa.string())])
RESTRICTED_ALERTS = pa.schema([("alert", pa.string()), ("client_ip", pa.string()), *_CLIENT, *_WINDOW_COUNTS,
                               ("run_id", pa.string())])  # fmt: skip

# Per day and published network: how many distinct clients share it (the anonymity set). Counts only.
ANONYMITY_SETS = pa.schema(
    [
        ("day", TS),  # the UTC day the counts cover (midnight)
        ("client_net", pa.string()),
        ("ip_version", pa.int8()),
        ("distinct_clients", pa.int64()),
        ("requests", pa.int64()),
        ("run_id", pa.string()),
    ]
)

DATASETS = {
    ("restricted", "requests"): RESTRICTED_REQUESTS,
    ("anonymised", "requests"): ANONYMISED_REQUESTS,
    ("restricted", "quarantine"): QUARANTINE,
    ("anonymised", "client_windows"): CLIENT_WINDOWS,
    ("anonymised", "alerts"): ALERTS,
    ("restricted", "alerts"): RESTRICTED_ALERTS,
    ("audit", "anonymity_sets"): ANONYMITY_SETS,
}


@dataclass
class Batch:
    """A table of rows from one chunk of one input: the unit every step hands on."""

    source_id: str
    part: str  # the chunk's name within its source, see LogChunk.part
    table: pa.Table

    def __repr__(self) -> str:  # never the rows: they hold client addresses
        return f"Batch({self.source_id}, {self.part}, {self.table.num_rows} rows)"

    @property
    def nbytes(self) -> int:
        """The size of the buffers the table holds: what Beam's size estimates need, read in microseconds
        (`Table.nbytes` works out the bytes each column's rows use, a tenth of a millisecond a table)."""
        return self.table.get_total_buffer_size()


class ArrowElementCoder(beam.coders.Coder):
    """The coder of elements that carry Arrow data (chunks of lines, Batches).

    Beam estimates the size of the first elements on every edge of a pipeline by
    encoding them; with a generic coder that pickles a whole table to count its
    bytes. This coder pickles only when an element really crosses a stage, and
    reads the size off the Arrow buffers.
    """

    def encode(self, value) -> bytes:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded: bytes):
        return pickle.loads(encoded)

    def is_deterministic(self) -> bool:
        return False

    def estimate_size(self, value) -> int:
        return value.nbytes


beam.coders.registry.register_coder(Batch, ArrowElementCoder)
