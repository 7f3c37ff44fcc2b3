"""Parsing a chunk of log lines into typed columns, and every other line into quarantine.

Each line of a chunk ends in exactly one of two places: a row of `Parsed.fields`,
or a quarantine entry with one reason from `REASONS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.metrics import Metrics

from transforms.parse import clf, jsonlines, logformat
from transforms.parse.common import status_classes
from transforms.parse.jsonlines import JsonFormat
from transforms.parse.logformat import CompiledFormat
from transforms.proxies import TrustedProxies
from transforms.read import LogChunk
from transforms.schema import QUARANTINE, RESTRICTED_REQUESTS, Batch
from transforms.slicing import Positions, find_bytes, line_positions, lines_holding, slices

LogFormat = str | CompiledFormat | JsonFormat  # a preset of the CLF family, or a compiled format

# Why a line was quarantined, first match wins.
REASONS = (
    "truncated_input",  # the cut-off last line of a damaged compressed stream
    "line_too_long",  # longer than input.max_line_bytes
    "empty_line",
    "binary_data",  # control bytes (NUL, ...) that web servers escape, never write
    "invalid_utf8",  # bytes that are no UTF-8, and the line does not parse
    "bad_timestamp",  # the shape is right but the time is no real time
    "format_mismatch",  # not a line of the configured format
)


@dataclass
class Parsed:
    fields: dict[str, pa.Array]  # parsed rows; `ts` is a UTC timestamp
    rows: np.ndarray  # index into the chunk's lines of each parsed row
    quarantined: np.ndarray  # index into the chunk's lines of each quarantined line
    reasons: pa.Array  # reason of each quarantined line
    at: Positions  # where the chunk's lines lie


def parse_lines(lines: pa.Array, fmt: LogFormat, max_line_bytes: int, damaged_tail: bool = False) -> Parsed:
    """Every line, with or without its line end, to a row or a quarantine reason.

    `fmt` is a preset of the Common Log Format family (parsed by position, see `clf`)
    or a format compiled from the web server's own config (parsed by captures).
    """
    at = line_positions(lines)
    lengths = at.ends - at.starts
    too_long = lengths > max_line_bytes
    # Bytes no web server writes raw (it escapes them): C0 controls but tab, and DEL.
    control = at.raw[: at.data_end] < 32
    control[at.raw[: at.data_end] == 9] = False  # tab
    binary = lines_holding(at, np.union1d(np.flatnonzero(control), find_bytes(at, 127)))
    tail = np.zeros(len(lines), dtype=bool)
    if damaged_tail and len(lines):
        tail[-1] = True
    shaped = _matches(lines, fmt).to_numpy(zero_copy_only=False) & ~(too_long | binary | tail)

    candidates = np.flatnonzero(shaped)
    if isinstance(fmt, str):
        fields = clf.parse(lines, at, candidates, fmt)
    else:
        shaped_lines = slices(at.buffer, at.raw, at.starts[candidates], at.ends[candidates])
        parser = jsonlines.parse if isinstance(fmt, JsonFormat) else logformat.parse
        fields = parser(shaped_lines, fmt)
    good_time = pc.is_valid(fields["ts"]).to_numpy(zero_copy_only=False)
    if not good_time.all():
        fields = {name: column.filter(pa.array(good_time)) for name, column in fields.items()}
    rows = candidates[good_time]

    parsed = np.zeros(len(lines), dtype=bool)
    parsed[rows] = True
    quarantined = np.flatnonzero(~parsed)
    reasons = _reasons(lines, fmt, quarantined, lengths, too_long, binary, tail)
    return Parsed(fields, rows, quarantined, reasons, at)


# Formats `auto` chooses from, the most specific first (a combined_xff line is a
# combined line too, as far as its start goes; ties go to the earlier one).
AUTO_CANDIDATES = ("combined_xff", "vhost_combined", "combined", "common")


def detect_format(sample: pa.Array, candidates: dict[str, LogFormat]) -> tuple[str, int]:
    """(name, lines matched) of the candidate format that the most sample lines match."""
    best, best_count = next(iter(candidates)), -1
    for name, fmt in candidates.items():
        count = pc.sum(pc.cast(_matches(sample, fmt), pa.int64())).as_py() or 0
        if count > best_count:
            best, best_count = name, count
    return best, best_count


def _matches(lines: pa.Array, fmt: LogFormat) -> pa.Array:
    if isinstance(fmt, str):
        return clf.matches(lines, fmt)
    return jsonlines.matches(lines) if isinstance(fmt, JsonFormat) else logformat.matches(lines, fmt)


def _loosely_shaped(lines: pa.Array, fmt: LogFormat) -> np.ndarray:
    """Lines of the format's shape whatever their time says: quarantined for the time, not the shape."""
    if isinstance(fmt, str):
        return pc.match_substring_regex(lines, clf.LOOSE_PATTERNS[fmt]).to_numpy(zero_copy_only=False)
    if isinstance(fmt, JsonFormat):  # the few quarantined lines: is each one a JSON object at all?
        return np.array([jsonlines.is_json_object(line) for line in lines.to_pylist()], dtype=bool)
    return logformat.matches(lines, fmt).to_numpy(zero_copy_only=False)


def _reasons(lines, fmt, quarantined, lengths, too_long, binary, tail) -> pa.Array:
    if len(quarantined) == 0:
        return pa.array([], pa.string())
    bad = pa.array(quarantined)
    bad_lines = lines.take(bad)
    conditions = [
        tail[quarantined],
        too_long[quarantined],
        lengths[quarantined] == 0,
        binary[quarantined],
        pc.match_substring(bad_lines, "\ufffd").to_numpy(zero_copy_only=False),
        _loosely_shaped(bad_lines, fmt),
        np.ones(len(quarantined), dtype=bool),
    ]
    first_true = np.argmax(np.vstack(conditions), axis=0)
    return pa.array(np.array(REASONS, dtype=object)[first_true], pa.string())


def request_table(parsed: Parsed, source: str, first_line: int, run_id: str,
                  proxies: TrustedProxies | None = None) -> pa.Table:  # fmt: skip
    """The parsed rows as a table of the restricted schema, anonymisation columns still empty.

    With trusted proxies, `client_ip` is the client their X-Forwarded-For names; `peer_ip`
    is always the address that connected.
    """
    n = len(parsed.rows)
    peer = parsed.fields["client"]
    columns = {
        "ts": parsed.fields["ts"],
        "client_ip": proxies.clients(peer, parsed.fields["xff"]) if proxies else peer,
        "peer_ip": peer,
        "source": pa.repeat(source, n),
        "line_number": pa.array(parsed.rows + first_line, pa.int64()),
        "run_id": pa.repeat(run_id, n),
    }
    status = parsed.fields["status"]
    columns["status_class"] = status_classes(status)
    columns["is_error"] = pc.greater_equal(status, pa.scalar(400, status.type))
    columns["is_server_error"] = pc.greater_equal(status, pa.scalar(500, status.type))
    for name in ("auth_user", "request", "method", "target", "path", "query", "protocol", "status", "bytes",
                 "referrer", "user_agent", "vhost", "server_port", "duration_ms", "xff"):  # fmt: skip
        if name in parsed.fields:
            columns[name] = parsed.fields[name]
    schema = RESTRICTED_REQUESTS
    return pa.table([columns.get(f.name, pa.nulls(n, f.type)) for f in schema], schema=schema)


def quarantine_table(parsed: Parsed, source: str, first_line: int, run_id: str, max_line_bytes: int) -> pa.Table:
    at, bad = parsed.at, parsed.quarantined
    n = len(bad)
    starts, ends = at.starts[bad], at.ends[bad]
    return pa.table(
        [
            pa.repeat(source, n),
            pa.array(bad + first_line, pa.int64()),
            slices(at.buffer, at.raw, starts, _cut(at.raw, starts, ends, max_line_bytes)),
            pa.array(ends - starts, pa.int64()),
            parsed.reasons,
            pa.repeat(run_id, n),
        ],
        schema=QUARANTINE,
    )


def _cut(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray, max_bytes: int) -> np.ndarray:
    """Ends moved back to at most `max_bytes` after the starts, never inside a UTF-8 character."""
    cut = np.minimum(ends, starts + max_bytes)
    for _ in range(3):  # a character has at most 3 continuation bytes
        inside = (cut < ends) & ((raw[cut] & 0xC0) == 0x80)
        cut -= inside
    return cut


class ParseChunks(beam.DoFn):
    """LogChunk -> Batch of requests (main output), Batch of quarantined lines, and chunk stats."""

    QUARANTINE = "quarantine"
    STATS = "stats"

    def __init__(self, fmt: LogFormat, max_line_bytes: int, run_id: str,
                 trusted_proxies: tuple[str, ...] = ()):  # fmt: skip
        self.fmt = fmt
        self.trusted_proxies = trusted_proxies
        self.max_line_bytes = max_line_bytes
        self.run_id = run_id
        self.lines = Metrics.counter("parse", "lines")
        self.quarantined = Metrics.counter("parse", "quarantined")

    def setup(self) -> None:
        self.proxies = TrustedProxies(self.trusted_proxies) if self.trusted_proxies else None

    def process(self, chunk: LogChunk):
        parsed = parse_lines(chunk.lines, self.fmt, self.max_line_bytes, chunk.damaged_tail)
        self.lines.inc(len(chunk.lines))
        self.quarantined.inc(len(parsed.quarantined))
        if len(parsed.rows):
            table = request_table(parsed, chunk.source, chunk.first_line, self.run_id, self.proxies)
            yield Batch(chunk.source_id, chunk.part, table)
        if len(parsed.quarantined):
            table = quarantine_table(parsed, chunk.source, chunk.first_line, self.run_id, self.max_line_bytes)
            yield beam.pvalue.TaggedOutput(self.QUARANTINE, Batch(chunk.source_id, chunk.part, table))
        reasons = pc.value_counts(parsed.reasons).to_pylist() if len(parsed.quarantined) else []
        yield beam.pvalue.TaggedOutput(
            self.STATS,
            {
                "source": chunk.source,
                "chunk": chunk.part,
                "lines_read": len(chunk.lines),
                "rows": len(parsed.rows),
                "quarantined": len(parsed.quarantined),
                "reasons": {r["values"]: r["counts"] for r in reasons},
                "last": chunk.last,
                "damage": chunk.damage,
            },
        )
