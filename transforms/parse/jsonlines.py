"""JSON-lines access logs: one object per line, fields found by dotted paths.

    {"ts": 1764064800.25, "request": {"remote_ip": "192.0.2.1", "method": "GET", "uri": "/a?b=1",
     "headers": {"User-Agent": ["curl/8.5.0"]}}, "status": 200, "size": 12, "duration": 0.0021}

with `json: {client: request.remote_ip, ts: ts, time_format: epoch_s, method: request.method, ...}`
(or the `caddy_json` preset) gives client `192.0.2.1`, ts `2025-11-25 10:00:00.250Z`, and so on.

A chunk is read with Arrow's JSON reader in one go. When a line is no JSON object
the read fails as a whole; the chunk is then halved until each failing line stands
alone, so a few bad lines cost a few extra reads, never a Python step per line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from transforms.parse.logformat import FormatError, typed_fields
from transforms.slicing import Positions, line_positions, slices

TIME_FORMATS = {"iso": "iso_time", "clf": "clf_time", "epoch_s": "epoch_s", "epoch_ms": "epoch_ms"}
# The fields a mapping may name, and how each is read (see logformat.typed_fields).
# JSON text arrives decoded, so text is read as written ("plain"), never unescaped again.
FIELD_KINDS = {
    "client": "plain", "auth_user": "plain", "request": "plain", "method": "plain", "target": "plain",
    "path": "plain", "query": "plain", "protocol": "plain", "status": "int", "bytes": "int", "referrer": "plain",
    "user_agent": "plain", "vhost": "plain", "server_port": "int", "xff": "plain", "duration_s": "duration_s",
    "duration_ms": "duration_ms", "duration_us": "duration_us", "upstream_s": "duration_s",
    "upstream_status": "int", "request_bytes": "int", "tls_protocol": "plain", "tls_cipher": "plain",
    "edge_result": "plain", "ts": None,
}  # fmt: skip

# Mapping names that fill a field of another name: durations in any unit are kept in milliseconds.
_FIELD_OF = {"duration_s": "duration_ms", "duration_us": "duration_ms", "upstream_s": "upstream_ms"}

PRESETS = {
    # Caddy's structured access log (`log { format json }`).
    "caddy_json": {
        "client": "request.remote_ip", "ts": "ts", "time_format": "epoch_s", "method": "request.method",
        "target": "request.uri", "protocol": "request.proto", "vhost": "request.host", "status": "status",
        "bytes": "size", "duration_s": "duration", "auth_user": "user_id",
        "user_agent": "request.headers.User-Agent", "referrer": "request.headers.Referer",
        "xff": "request.headers.X-Forwarded-For",
    },
    # nginx with `log_format json escape=json '{"time":"$time_iso8601","remote_addr":"$remote_addr",...}'`.
    "nginx_json": {
        "ts": "time", "time_format": "iso", "client": "remote_addr", "auth_user": "remote_user", "request": "request",
        "status": "status", "bytes": "body_bytes_sent", "duration_s": "request_time", "referrer": "http_referer",
        "user_agent": "http_user_agent", "xff": "http_x_forwarded_for", "vhost": "host",
    },
}  # fmt: skip


@dataclass(frozen=True)
class JsonFormat:
    paths: dict[str, str]  # our field -> dotted path in the object
    time_kind: str
    source: str

    @property
    def fields(self) -> set[str]:
        return {_FIELD_OF.get(name, name) for name in self.paths}


def compile_json(mapping: dict) -> JsonFormat:
    """{client: remote_addr, ts: time, time_format: iso, ...} -> a JsonFormat; what is wrong is a FormatError."""
    if not isinstance(mapping, dict) or not all(isinstance(v, str) and v for v in mapping.values()):
        raise FormatError(f"json format: expected a mapping of field: dotted.path, got {mapping!r}")
    paths = dict(mapping)
    time_format = paths.pop("time_format", "iso")
    if time_format not in TIME_FORMATS:
        raise FormatError(f"json format: time_format: expected one of {', '.join(TIME_FORMATS)}, got {time_format!r}")
    unknown = sorted(set(paths) - set(FIELD_KINDS))
    if unknown:
        raise FormatError(f"json format: {unknown[0]}: unknown field (known: {', '.join(sorted(FIELD_KINDS))})")
    for needed in ("client", "ts"):
        if needed not in paths:
            raise FormatError(f"json format: {needed}: a path to it is needed")
    return JsonFormat(paths, TIME_FORMATS[time_format], f"json: {json.dumps(mapping, sort_keys=True)}")


def matches(lines: pa.Array) -> pa.Array:
    """Lines shaped like one JSON object; whether they really are one, the reader decides.

    Most lines are `{...}` exactly, told by their first and last byte; only the others
    are matched with a pattern that allows whitespace around.
    """
    at = line_positions(lines)
    last = len(at.raw) - 1
    braced = (at.raw[np.minimum(at.starts, last)] == ord("{")) & (at.raw[np.maximum(at.ends - 1, 0)] == ord("}"))
    braced &= at.ends > at.starts
    others = np.flatnonzero(~braced)
    if len(others):
        loose = pc.match_substring_regex(lines.take(pa.array(others)), r"^\s*\{.*\}\s*$")
        braced[others] = loose.to_numpy(zero_copy_only=False)
    return pa.array(braced)


def is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def parse(at: Positions, rows: np.ndarray, fmt: JsonFormat) -> dict[str, pa.Array]:
    """Fields of the given rows of a chunk, shaped like JSON objects; a row that is no JSON object gets a null `ts`.

    Mostly the chunk's own bytes are handed to the reader at once, the few other lines
    blanked out (the reader skips blank lines); only when the read fails are the rows
    taken apart to find the bad ones.
    """
    n = len(rows)
    options = _read_options(fmt)
    segments = None
    whole = _rows_only(at, rows)
    if whole is not None:
        try:
            table = pj.read_json(whole, parse_options=options)
            segments = [(np.arange(n), table)] if table.num_rows == n else None
        except pa.ArrowInvalid:
            pass  # some row is no JSON object: found below
    if segments is None:
        segments = _read_segments(slices(at.buffer, at.raw, at.starts[rows], at.ends[rows]), np.arange(n), options)
    order, columns = [], {name: [] for name in fmt.paths}
    for rows, table in segments:
        order.append(rows)
        for name, path in fmt.paths.items():
            columns[name].append(_text_at(table, path, len(rows)))
    taken = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
    placed = np.full(n, -1, dtype=np.int64)  # where each line's values are in the concatenated columns
    placed[taken] = np.arange(len(taken))
    valid = placed >= 0
    position = pa.array(np.where(valid, placed, 0))
    raw: dict[str, tuple[pa.Array, str]] = {}
    for name, parts in columns.items():
        values = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
        values = pc.if_else(pa.array(valid), values.take(position) if len(values) else pa.nulls(n, pa.string()), None)
        kind = fmt.time_kind if name == "ts" else FIELD_KINDS[name]
        raw[_FIELD_OF.get(name, name)] = (values, kind)
    return typed_fields(raw, n)


_BLANKED_LINES = 1000  # other lines blanked out one by one, at most; past that the rows are copied out


def _rows_only(at: Positions, rows: np.ndarray) -> pa.BufferReader | None:
    """The chunk's bytes with every line but the rows blanked out; None when too many lines are not rows."""
    others = np.setdiff1d(np.arange(len(at.starts)), rows, assume_unique=True)
    if len(rows) == 0 or len(others) > _BLANKED_LINES:
        return None
    first = at.data_start
    data = at.data
    if len(others):
        data = data.copy()
        for start, end in zip((at.starts[others] - first).tolist(), (at.ends[others] - first).tolist(), strict=True):
            data[start:end] = ord(" ")
    return pa.BufferReader(pa.py_buffer(data))


def _read_options(fmt: JsonFormat) -> pj.ParseOptions:
    """A time written as text is read as text: Arrow would otherwise make it a timestamp, and back costs more."""
    path = fmt.paths["ts"]
    text_time = fmt.time_kind in ("iso_time", "clf_time") and "." not in path
    schema = pa.schema([(path, pa.string())]) if text_time else None
    return pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")


def _read_segments(lines: pa.Array, rows: np.ndarray, options: pj.ParseOptions):
    """(rows, table) for the runs of lines Arrow's JSON reader takes; halving around lines it refuses."""
    if len(rows) == 0:
        return
    try:
        yield rows, pj.read_json(_newline_delimited(lines.take(pa.array(rows))), parse_options=options)
        return
    except pa.ArrowInvalid:
        if len(rows) == 1:
            return  # no JSON object: left out, so its `ts` stays null and it is quarantined
    half = len(rows) // 2
    yield from _read_segments(lines, rows[:half], options)
    yield from _read_segments(lines, rows[half:], options)


def _newline_delimited(lines: pa.Array) -> pa.BufferReader:
    """The lines as one newline-delimited buffer, built by Arrow in one pass."""
    with_newlines = pc.binary_join_element_wise(lines, "", "\n")  # each line and "" joined by a newline
    _, offsets, data = with_newlines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[with_newlines.offset : with_newlines.offset + len(lines) + 1]
    return pa.BufferReader(data.slice(int(bounds[0]), int(bounds[-1] - bounds[0])))


def _text_at(table: pa.Table, path: str, n: int) -> pa.Array:
    """The value at a dotted path as text: a list's first item, numbers as written; null where absent."""
    head, *rest = path.split(".")
    if head not in table.column_names:
        return pa.nulls(n, pa.string())
    values = table[head].combine_chunks()
    for part in rest:
        if not pa.types.is_struct(values.type) or values.type.get_field_index(part) < 0:
            return pa.nulls(n, pa.string())
        values = pc.struct_field(values, part)
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        values = pc.list_element(pc.list_slice(values, 0, 1, return_fixed_size_list=True), 0)
    if pa.types.is_struct(values.type) or pa.types.is_list(values.type):
        return pa.nulls(n, pa.string())
    if pa.types.is_timestamp(values.type):  # the reader turned ISO 8601 text into times: back to UTC text
        return pc.strftime(pc.cast(values, pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    return pc.cast(values, pa.string())
