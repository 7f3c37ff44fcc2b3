"""Parsing a chunk of log lines into typed columns, and every other line into quarantine.

Each line of a chunk ends in exactly one of three places: a row of `Parsed.fields`, a
quarantine entry with one reason from `REASONS`, or, in W3C extended logs, the count of
directive lines (`#Fields: ...`), which are neither requests nor errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.metrics import Metrics

from transforms.dictionaries import concatenated, constant, encoded, plain
from transforms.parse import clf, delimited, jsonlines, logformat, w3c
from transforms.parse.common import FIELDS, complete, empty_fields, status_classes
from transforms.parse.delimited import Layout
from transforms.parse.jsonlines import JsonFormat
from transforms.parse.logformat import CompiledFormat
from transforms.parse.w3c import W3cFormat
from transforms.proxies import TrustedProxies
from transforms.read import LogChunk
from transforms.schema import QUARANTINE, RESTRICTED_REQUESTS, Batch
from transforms.slicing import Positions, line_positions, lines_holding, slices, unwritten_bytes

# A preset of the CLF family (parsed by position, see `clf`), a compiled custom format, a JSON
# mapping, a layout of separated fields (AWS), or a W3C extended format (columns from the file).
LogFormat = str | CompiledFormat | JsonFormat | Layout | W3cFormat

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
    fields: dict[str, pa.Array]  # parsed rows, every field of `FIELDS`; `ts` is a UTC timestamp
    rows: np.ndarray  # index into the chunk's lines of each parsed row, in the order of `fields`
    quarantined: np.ndarray  # index into the chunk's lines of each quarantined line
    reasons: pa.Array  # reason of each quarantined line
    at: Positions  # where the chunk's lines lie
    directives: np.ndarray  # index of each directive line (W3C `#Fields:` and the like): no request, no error


def parse_lines(lines: pa.Array, fmt: LogFormat, max_line_bytes: int, damaged_tail: bool = False,
                fields_in_force: str | None = None) -> Parsed:  # fmt: skip
    """Every line, with or without its line end, to a row, a directive or a quarantine reason.

    `fields_in_force` is the W3C `#Fields:` directive in force at the chunk's first line.
    """
    at = line_positions(lines)
    lengths = at.ends - at.starts
    too_long = lengths > max_line_bytes
    binary = lines_holding(at, unwritten_bytes(at))
    tail = np.zeros(len(lines), dtype=bool)
    if damaged_tail and len(lines):
        tail[-1] = True
    unusable = too_long | binary | tail
    directive, runs = _runs(lines, fmt, fields_in_force, unusable)
    rows, fields = _parse_runs(lines, at, runs, unusable | directive)
    accounted = directive.copy()
    accounted[rows] = True
    quarantined = np.flatnonzero(~accounted)
    reasons = _reasons(lines, runs, quarantined, lengths, too_long, binary, tail)
    return Parsed(fields, rows, quarantined, reasons, at, np.flatnonzero(directive))


Run = tuple[int, int, LogFormat | None]  # lines [start, stop) read with one format; None: no line of it can be


def has_directives(fmt: LogFormat) -> bool:
    """Whether logs of the format hold directive lines (`#Fields: ...`): W3C logs do."""
    return isinstance(fmt, W3cFormat)


def _runs(lines: pa.Array, fmt: LogFormat, fields_in_force: str | None, unusable: np.ndarray
          ) -> tuple[np.ndarray, list[Run]]:  # fmt: skip
    """Which lines are directives, and the runs of lines read with one format.

    One run of the whole chunk, but in W3C logs, where each `#Fields:` directive starts another.
    """
    if not has_directives(fmt):
        return np.zeros(len(lines), dtype=bool), [(0, len(lines), fmt)]
    directive = w3c.directives(lines) & ~unusable
    return directive, w3c.segments(lines, fmt, fields_in_force, directive)


def _parse_runs(lines: pa.Array, at: Positions, runs: list[Run], excluded: np.ndarray
                ) -> tuple[np.ndarray, dict[str, pa.Array]]:  # fmt: skip
    """(rows, their fields): the lines of each run that have its format's shape and a real time."""
    shaped = np.zeros(len(lines), dtype=bool)
    for start, stop, run_format in runs:
        if isinstance(run_format, str) and (start, stop) == (0, len(lines)):  # CLF, the whole chunk
            shaped[:] = clf.full_matches(lines, at, run_format)
        elif run_format is not None:
            shaped[start:stop] = _matches(lines.slice(start, stop - start), run_format).to_numpy(zero_copy_only=False)
    candidates = np.flatnonzero(shaped & ~excluded)
    rows, parts = [], []
    for start, stop, run_format in runs:
        run_rows = candidates[(candidates >= start) & (candidates < stop)]
        if run_format is not None and len(run_rows):
            ordered, fields = _parse(lines, at, run_rows, run_format)
            rows.append(ordered)
            parts.append(complete(fields, len(ordered)))
    rows = np.concatenate(rows) if rows else candidates[:0]
    fields = _concatenated(parts)
    good_time = pc.is_valid(fields["ts"]).to_numpy(zero_copy_only=False)
    if not good_time.all():
        fields = {name: column.filter(pa.array(good_time)) for name, column in fields.items()}
    return rows[good_time], fields


def _parse(lines: pa.Array, at: Positions, rows: np.ndarray, fmt: LogFormat) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """(the rows in the order of the fields, the fields)."""
    if isinstance(fmt, str):
        return clf.parse(lines, at, rows, fmt)
    if isinstance(fmt, Layout):
        return rows, delimited.parse(at, rows, fmt)
    if isinstance(fmt, JsonFormat):
        return rows, jsonlines.parse(at, rows, fmt)
    return rows, logformat.parse(slices(at.buffer, at.raw, at.starts[rows], at.ends[rows]), fmt)


def _concatenated(parts: list[dict[str, pa.Array]]) -> dict[str, pa.Array]:
    """The fields of runs of rows, one after the other."""
    if len(parts) <= 1:
        return parts[0] if parts else empty_fields()
    return {name: concatenated([part[name] for part in parts]) for name in FIELDS}


# Formats `auto` chooses from, the most specific first (a combined_xff line is a
# combined line too, as far as its start goes; ties go to the earlier one).
AUTO_CANDIDATES = ("combined_xff", "vhost_combined", "combined", "common", "aws_alb", "aws_elb_classic",
                   "cloudfront", "w3c", "caddy_json", "nginx_json")  # fmt: skip


def detect_format(sample: pa.Array, candidates: dict[str, LogFormat]) -> tuple[str, int]:
    """(name, lines read) of the candidate format that reads the most sample lines as requests or directives."""
    best, best_count = next(iter(candidates)), -1
    for name, fmt in candidates.items():
        parsed = parse_lines(sample, fmt, _SAMPLE_LINE_BYTES)
        count = len(parsed.rows) + len(parsed.directives)
        if count > best_count:
            best, best_count = name, count
    return best, best_count


_SAMPLE_LINE_BYTES = 1 << 20  # detection looks at shapes, not line lengths


def _matches(lines: pa.Array, fmt: LogFormat) -> pa.Array:
    if isinstance(fmt, str):
        return clf.matches(lines, fmt)
    if isinstance(fmt, Layout):
        return delimited.matches(lines, fmt)
    return jsonlines.matches(lines) if isinstance(fmt, JsonFormat) else logformat.matches(lines, fmt)


def _loosely_shaped(lines: pa.Array, fmt: LogFormat | None) -> np.ndarray:
    """Lines of the format's shape whatever their time says: quarantined for the time, not the shape."""
    if fmt is None:  # a W3C run without date and time columns: no line of it can be read
        return np.zeros(len(lines), dtype=bool)
    if isinstance(fmt, str):
        return pc.match_substring_regex(lines, clf.LOOSE_PATTERNS[fmt]).to_numpy(zero_copy_only=False)
    if isinstance(fmt, Layout):
        return delimited.loosely_shaped(lines, fmt)
    if isinstance(fmt, JsonFormat):  # the few quarantined lines: is each one a JSON object at all?
        return np.array([jsonlines.is_json_object(line) for line in lines.to_pylist()], dtype=bool)
    return logformat.matches(lines, fmt).to_numpy(zero_copy_only=False)


def _reasons(lines, runs, quarantined, lengths, too_long, binary, tail) -> pa.Array:
    if len(quarantined) == 0:
        return pa.array([], pa.string())
    bad_lines = lines.take(pa.array(quarantined))
    shaped = np.zeros(len(quarantined), dtype=bool)
    for start, stop, run_format in runs:
        inside = np.flatnonzero((quarantined >= start) & (quarantined < stop))
        if len(inside):
            shaped[inside] = _loosely_shaped(bad_lines.take(pa.array(inside)), run_format)
    conditions = [
        tail[quarantined],
        too_long[quarantined],
        lengths[quarantined] == 0,
        binary[quarantined],
        pc.match_substring(bad_lines, "\ufffd").to_numpy(zero_copy_only=False),
        shaped,
        np.ones(len(quarantined), dtype=bool),
    ]
    first_true = np.argmax(np.vstack(conditions), axis=0)
    return pa.array(np.array(REASONS, dtype=object)[first_true], pa.string())


# Text columns that repeat, and that later steps work on per distinct value (attack rules,
# scrubbing, counting paths) or that Parquet stores as a dictionary: hashed once here.
ENCODED = ("target", "path", "query", "referrer", "user_agent", "method", "protocol")


def request_table(parsed: Parsed, source: str, first_line: int, run_id: str,
                  proxies: TrustedProxies | None = None) -> pa.Table:  # fmt: skip
    """The parsed rows as a table of the restricted schema, anonymisation columns still empty.

    With trusted proxies, `client_ip` is the client their X-Forwarded-For names; `peer_ip`
    is always the address that connected.
    """
    n = len(parsed.rows)
    peer = encoded(parsed.fields["client"])  # hashed once here: anonymising, counting and writing reuse it
    columns = {
        "ts": parsed.fields["ts"],
        "client_ip": proxies.clients(plain(peer), parsed.fields["xff"]) if proxies else peer,
        "peer_ip": peer,
        "source": constant(source, n),
        "line_number": pa.array(parsed.rows + first_line, pa.int64()),
        "run_id": constant(run_id, n),
    }
    status = parsed.fields["status"]
    columns["status_class"] = status_classes(status)
    columns["is_error"] = pc.greater_equal(status, pa.scalar(400, status.type))
    columns["is_server_error"] = pc.greater_equal(status, pa.scalar(500, status.type))
    for name in ENCODED:
        columns[name] = encoded(parsed.fields[name])
    for name in FIELDS:
        columns.setdefault(name, parsed.fields[name])
    return pa.table([columns.get(f.name, pa.nulls(n, f.type)) for f in RESTRICTED_REQUESTS],
                    names=RESTRICTED_REQUESTS.names)  # fmt: skip


def quarantine_table(parsed: Parsed, source: str, first_line: int, run_id: str, max_line_bytes: int) -> pa.Table:
    at, bad = parsed.at, parsed.quarantined
    n = len(bad)
    starts, ends = at.starts[bad], at.ends[bad]
    return pa.table(
        [
            constant(source, n),
            pa.array(bad + first_line, pa.int64()),
            slices(at.buffer, at.raw, starts, _cut(at.raw, starts, ends, max_line_bytes)),
            pa.array(ends - starts, pa.int64()),
            parsed.reasons,
            constant(run_id, n),
        ],
        names=QUARANTINE.names,
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
        parsed = parse_lines(chunk.lines, self.fmt, self.max_line_bytes, chunk.damaged_tail, chunk.fields_directive)
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
                "directives": len(parsed.directives),
                "reasons": {r["values"]: r["counts"] for r in reasons},
                "last": chunk.last,
                "damage": chunk.damage,
            },
        )
