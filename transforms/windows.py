"""Per-client behaviour in 1- and 5-minute windows, counted while the full address is known.

Each chunk of requests is folded into *activity*: one row per (minute, client, path)
with counts. Activity is keyed by the UTC hour and shuffled, so every request of an
hour, whatever file, chunk or worker it came from, meets the others in one place.
There it becomes, per client and window:

    requests, client_errors (4xx), server_errors (5xx), not_found (404),
    auth_failures (401/403 on a login path), distinct_paths, attack_hits

and the alerts those counts cross (`brute_force`, `scanning`, `flood`, `attack_burst`),
plus the service-wide `error_burst`. Hours nest in 5-minute windows, so an hour key
never cuts a window; epochs of keys start on Mondays, so a window never spans two keys.

All counting is numpy over integer codes: strings are dictionary-encoded once, in the
chunk, and cross the shuffle as dictionaries; an hour merges only their distinct values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.config import Signals
from transforms.dictionaries import codes, constant, plain
from transforms.schema import ALERTS as ALERTS_SCHEMA
from transforms.schema import CLIENT_WINDOWS, TS, Batch
from transforms.schema import RESTRICTED_ALERTS as RESTRICTED_ALERTS_SCHEMA

_MS_PER_MINUTE = 60_000
_CLIENT = ("client_ip", "ip_version", "client_net", "client_token", "key_id")
_COUNTS = ("requests", "client_errors", "server_errors", "not_found", "auth_failures", "attack_hits")
WINDOW_MINUTES = (1, 5)


def login_pattern(globs: Iterable[str]) -> str:
    """Login path globs (`*` within one path segment) -> one anchored RE2 pattern."""
    return "^(?:" + "|".join(re.escape(g).replace(r"\*", "[^/]*") for g in globs) + ")$"


def _groups(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped by equal integer keys: (row order sorted by the keys, first key most
    significant; where each group starts in that order; the group number of each row).

    Rows of a group come in no set order: callers take from a group's first row only
    what every row of the group shares.
    """
    keys = tuple(key - key.min() if len(key) else key for key in keys)
    spans = [int(key.max()) + 1 if len(key) else 1 for key in keys]
    if np.prod(spans, dtype=object) < 2**62:  # one integer per row: one sort instead of one per key
        composite = np.zeros(len(keys[0]), dtype=np.int64)
        for key, span in zip(keys, spans, strict=True):
            composite = composite * span + key
        order = np.argsort(composite)
        ordered = composite[order]
        changed = np.r_[True, ordered[1:] != ordered[:-1]] if len(order) else np.zeros(0, dtype=bool)
    else:
        order = np.lexsort(keys[::-1])
        changed = np.zeros(len(order), dtype=bool)
        changed[:1] = True
        for key in keys:
            changed[1:] |= key[order][1:] != key[order][:-1]
    group = np.empty(len(order), dtype=np.int64)
    group[order] = np.cumsum(changed) - 1
    return order, np.flatnonzero(changed), group


def _sums(values: np.ndarray, order: np.ndarray, starts: np.ndarray, dtype: type = np.int64) -> pa.Array:
    """Sum of `values` per group (groups as `_groups` gives them)."""
    sums = np.add.reduceat(values[order], starts, dtype=dtype) if len(order) else np.zeros(0, dtype)
    return pa.array(sums)


def activity(table: pa.Table, login: str) -> pa.Table:
    """Requests (with client columns and `attack_families`) -> one row per (minute, client, path) with counts."""
    status = pc.fill_null(table["status"], 0).to_numpy().astype(np.int64)
    minute = pc.cast(table["ts"], pa.int64()).to_numpy() // _MS_PER_MINUTE
    clients, _ = codes(table["client_ip"])
    paths, path_values = codes(table["path"])
    auth = np.isin(status, (401, 403))
    if auth.any():
        on_login = pc.match_substring_regex(plain(table["path"].filter(pa.array(auth))), login)
        auth[auth] = pc.fill_null(on_login, False).to_numpy(zero_copy_only=False)
    attacks = (
        pc.greater(pc.list_value_length(table["attack_families"]), 0).to_numpy(zero_copy_only=False)
        if "attack_families" in table.column_names
        else np.zeros(len(status), dtype=bool)
    )
    flags = {
        "requests": np.ones(len(status), dtype=np.int32),
        "client_errors": (status // 100) == 4,
        "server_errors": (status // 100) == 5,
        "not_found": status == 404,
        "auth_failures": auth,
        "attack_hits": attacks,
    }
    order, starts, _ = _groups(minute, clients, paths)
    first = order[starts]
    # Activity crosses the shuffle, so it is kept small: strings go as dictionaries (codes,
    # and each distinct value once), the client's five columns as one dictionary of structs,
    # numbers as 32 bits (a row counts requests of one chunk). A client's token and key id
    # change with the key epoch, which a chunk may span: a client in each epoch is a value
    # of its own.
    keys, _ = codes(table["key_id"])
    pair_order, pair_starts, pair = _groups(clients, keys)
    pair_first = pa.array(pair_order[pair_starts])
    client_values = pa.StructArray.from_arrays(
        [plain(table[name].combine_chunks().take(pair_first)) for name in _CLIENT], names=list(_CLIENT)
    )
    columns = {"client": pa.DictionaryArray.from_arrays(pa.array(pair[first].astype(np.int32)), client_values)}
    columns["minute"] = pa.array(minute[first].astype(np.int32))
    columns["path"] = pa.DictionaryArray.from_arrays(pa.array(paths[first].astype(np.int32)), path_values)
    for name, flag in flags.items():
        columns[name] = _sums(flag, order, starts, np.int32)
    return pa.table(columns)


def by_hour(rows: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """(UTC hour since the epoch, its activity rows); rows come sorted by minute.

    Each hour's rows are copied out, not sliced, and keep only the dictionary values
    they use: a slice would carry the whole table's buffers through the shuffle.
    """
    hours = rows["minute"].to_numpy() // 60
    edges = np.flatnonzero(np.diff(hours)) + 1
    if len(edges) == 0:  # one hour: the table is that hour's, as it is
        if len(hours):
            yield int(hours[0]), rows
        return
    for start, end in zip(np.r_[0, edges], np.r_[edges, len(hours)], strict=True):
        yield int(hours[start]), _used_values_only(rows.take(pa.array(np.arange(start, end))))


def _used_values_only(table: pa.Table) -> pa.Table:
    """The table with each dictionary column's dictionary cut to the values its rows use."""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            column = table[field.name].combine_chunks()
            codes = column.indices.to_numpy(zero_copy_only=False)
            used = np.zeros(len(column.dictionary), dtype=bool)
            used[codes] = True
            recoded = (np.cumsum(used, dtype=np.int32) - 1)[codes]  # a used value's place among the used ones
            trimmed = pa.DictionaryArray.from_arrays(pa.array(recoded), column.dictionary.filter(pa.array(used)))
            table = table.set_column(i, field.name, trimmed)
    return table


class ClientActivity(beam.DoFn):
    """Batch of requests with client columns -> (hour, Batch of activity) for the shuffle."""

    def __init__(self, signals: Signals):
        self.login = login_pattern(signals.login_paths)

    def process(self, batch: Batch) -> Iterator[tuple[int, Batch]]:
        if batch.table.num_rows:
            for hour, rows in by_hour(activity(batch.table, self.login)):
                yield hour, Batch(batch.source_id, batch.part, rows)


@dataclass(frozen=True)
class HourActivity:
    """One hour's activity from every batch, as numpy: minute, counts, and codes for the strings.

    The batches' dictionaries are only merged, no string per row is touched: `client`
    points each row at its client's columns in `clients` (a client may be there more
    than once, from several batches), `address` and `path` are codes per distinct
    client address and per distinct path.
    """

    minute: np.ndarray
    counts: np.ndarray  # a row per name in _COUNTS, a column per activity row
    client: np.ndarray
    address: np.ndarray
    path: np.ndarray
    clients: pa.StructArray  # the _CLIENT columns

    @classmethod
    def of(cls, batches: Iterable[Batch]) -> HourActivity:
        rows = pa.concat_tables([b.table for b in batches])
        clients, client = _dictionaries(rows["client"])
        paths, path = _dictionaries(rows["path"])
        return cls(
            rows["minute"].to_numpy().astype(np.int64),
            np.vstack([rows[name].to_numpy() for name in _COUNTS]).astype(np.int64),
            client,
            codes(clients.field("client_ip"))[0][client],
            codes(paths)[0][path],
            clients,
        )

    def __len__(self) -> int:
        return len(self.minute)

    def filter(self, keep: np.ndarray) -> HourActivity:
        if keep.all():
            return self
        return HourActivity(self.minute[keep], self.counts[:, keep], self.client[keep], self.address[keep],
                            self.path[keep], self.clients)  # fmt: skip

    def column(self, name: str, rows: np.ndarray) -> pa.Array:
        """The client column `name` of these rows."""
        return self.clients.field(name).take(pa.array(self.client[rows]))

    def columns(self, rows: np.ndarray) -> dict[str, pa.Array]:
        """Every client column of these rows."""
        taken = self.clients.take(pa.array(self.client[rows]))
        return {name: taken.field(name) for name in _CLIENT}

    def valid(self, name: str) -> np.ndarray:
        """Per row: is its client column `name` set?"""
        return pc.is_valid(self.clients.field(name)).to_numpy(zero_copy_only=False)[self.client]


def _dictionaries(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """(every chunk's dictionary one after the other; each row's index into them) of a dictionary column."""
    chunks = column.chunks
    if not chunks:
        return pa.array([], column.type.value_type), np.zeros(0, dtype=np.int64)
    offsets = np.cumsum([0] + [len(c.dictionary) for c in chunks[:-1]])
    rows = [offset + c.indices.to_numpy(zero_copy_only=False) for offset, c in zip(offsets, chunks, strict=True)]
    return pa.concat_arrays([c.dictionary for c in chunks]), np.concatenate(rows).astype(np.int64)


def _window_table(rows: HourActivity, minutes: int, clients: np.ndarray | None) -> pa.Table:
    """Activity -> one row per (window, client): the client columns, the counts, distinct paths.

    `clients` is a code per row that tells clients apart; without it every client counts
    as one (the service's windows), and the client columns are null.
    """
    window = rows.minute // minutes * minutes
    who = np.zeros(len(rows), np.int64) if clients is None else clients
    # One sort by (window, client, path): the rows of a client's window lie together, and
    # within them the rows of each distinct path.
    order, path_starts, path_group = _groups(window, who, rows.path)
    run_window, run_client = window[order[path_starts]], who[order[path_starts]]
    new_window = np.ones(len(path_starts), dtype=bool)
    new_window[1:] = (run_window[1:] != run_window[:-1]) | (run_client[1:] != run_client[:-1])
    window_runs = np.flatnonzero(new_window)  # where each window starts among the runs of paths
    starts = path_starts[window_runs]
    first = order[starts]
    row_window = (np.cumsum(new_window) - 1)[path_group]  # each row's window, numbered as `starts`
    if clients is None:
        columns = {f.name: pa.nulls(len(starts), f.type) for f in rows.clients.type}
    else:
        columns = rows.columns(first)
    columns["window_start"] = pa.array(window[first] * _MS_PER_MINUTE, pa.int64()).cast(TS)
    columns["window_seconds"] = pa.array(np.full(len(starts), minutes * 60, np.int32))
    for name, counts in zip(_COUNTS, rows.counts, strict=True):  # a tally per window: no reordering of the rows
        columns[name] = pa.array(np.bincount(row_window, weights=counts, minlength=len(starts)).astype(np.int64))
    columns["distinct_paths"] = pa.array(np.diff(np.r_[window_runs, len(path_starts)]).astype(np.int64))
    return pa.table(columns)


def client_alerts(windows: pa.Table, signals: Signals) -> list[tuple[str, np.ndarray]]:
    """(alert, mask over the window rows) for each per-client alert."""
    seconds = windows["window_seconds"].to_numpy()
    count = {name: windows[name].to_numpy() for name in (*_COUNTS, "distinct_paths")}
    five, one = seconds == 300, seconds == 60
    return [
        ("brute_force", five & (count["auth_failures"] >= signals.brute_force_auth_failures)),
        (
            "scanning",
            five
            & (
                (count["not_found"] >= signals.scanning_not_found)
                | (count["distinct_paths"] >= signals.scanning_distinct_paths)
            ),
        ),  # fmt: skip
        ("flood", one & (count["requests"] >= signals.flood_requests)),
        ("attack_burst", five & (count["attack_hits"] >= signals.attack_burst_hits)),
    ]


def _alert_lists(masks: list[tuple[str, np.ndarray]], rows: int) -> pa.Array:
    """Masks -> per row the list of alert names it crossed, in the masks' order."""
    hits = np.column_stack([mask for _, mask in masks]) if masks else np.zeros((rows, 0), dtype=bool)
    row, which = np.nonzero(hits)  # row-major: rows ascending, alerts in order within a row
    offsets = np.r_[0, np.cumsum(hits.sum(axis=1))].astype(np.int32)
    names = pa.array([name for name, _ in masks], pa.string()).take(pa.array(which, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets), names)


def service_windows(rows: HourActivity, minutes: int = 5) -> pa.Table:
    """Activity -> one row per 5-minute window over every client (client columns null).

    An hour has a dozen such windows, so each count is a tally per window, and a path
    is counted once per window from a table of (path, window) seen: no sort.
    """
    if len(rows) == 0:
        return _window_table(rows, minutes, None)
    first = rows.minute.min() // minutes * minutes
    window = (rows.minute - first) // minutes
    slots = int(window.max()) + 1
    totals = np.vstack([np.bincount(window, weights=counts, minlength=slots) for counts in rows.counts])
    seen = np.zeros((int(rows.path.max()) + 1, slots), dtype=bool)
    seen[rows.path, window] = True
    present = np.flatnonzero(totals[_COUNTS.index("requests")] > 0)
    columns = {f.name: pa.nulls(len(present), f.type) for f in rows.clients.type}
    columns["window_start"] = pa.array((first + present * minutes) * _MS_PER_MINUTE, pa.int64()).cast(TS)
    columns["window_seconds"] = pa.array(np.full(len(present), minutes * 60, np.int32))
    for name, total in zip(_COUNTS, totals[:, present].astype(np.int64), strict=True):
        columns[name] = pa.array(total)
    columns["distinct_paths"] = pa.array(seen[:, present].sum(axis=0, dtype=np.int64))
    return pa.table(columns)


# What an hour hands on to its day (see DayTables), as (kind, Batch) under the day's key.
PREFIX_CLIENTS = "prefix_clients"  # requests per published network and client
ALERTS = "alerts"  # the hour's alerts (anonymised)
RESTRICTED_ALERTS = "restricted_alerts"  # the hour's alerts with addresses, inside the security window


class HourWindows(beam.DoFn):
    """(hour, activity Batches) -> client windows (main output), and (day, (kind, Batch)) for the day's tables.

    Alerts are few: they go on to the day, which writes one part of them rather than one per
    hour. Restricted alerts are kept only for windows inside the security window.
    """

    BY_DAY = "by_day"

    def __init__(self, signals: Signals, run_id: str, source_id: str, window_start_ms: int):
        self.signals = signals
        self.run_id = run_id
        self.source_id = source_id  # names the run's set of inputs in part file names
        self.window_start_ms = window_start_ms

    def process(self, element: tuple[int, Iterable[Batch]]):
        hour, batches = element
        rows = HourActivity.of(batches)
        service = service_windows(rows)
        rows = rows.filter(rows.valid("client_net") | rows.valid("client_token"))
        windows = pa.concat_tables([_window_table(rows, minutes, rows.address) for minutes in WINDOW_MINUTES])
        masks = client_alerts(windows, self.signals)
        windows = windows.append_column("alerts", _alert_lists(masks, windows.num_rows))
        alerts = pa.concat_tables(
            [_alert_rows(windows, masks), _alert_rows(service, error_bursts(service, self.signals))]
        )
        windows = windows.append_column("run_id", constant(self.run_id, windows.num_rows))
        alerts = _with_run_id(alerts, self.run_id)  # few rows, concatenated across hours: plain strings

        part, day = f"h{hour}", hour // 24
        yield Batch(self.source_id, part, windows.select(CLIENT_WINDOWS.names))
        inside = alerts.filter(pc.greater_equal(pc.cast(alerts["window_start"], pa.int64()), self.window_start_ms))
        for kind, table in ((PREFIX_CLIENTS, prefix_clients(rows)), (ALERTS, alerts.select(ALERTS_SCHEMA.names)),
                            (RESTRICTED_ALERTS, inside.select(RESTRICTED_ALERTS_SCHEMA.names))):  # fmt: skip
            if table.num_rows or kind == PREFIX_CLIENTS:
                yield beam.pvalue.TaggedOutput(self.BY_DAY, (day, (kind, Batch(self.source_id, part, table))))


def prefix_clients(rows: HourActivity) -> pa.Table:
    """Activity -> requests per (published network, client): what anonymity sets are counted from."""
    rows = rows.filter(rows.valid("client_net"))
    requests = np.bincount(rows.address, weights=rows.counts[_COUNTS.index("requests")]).astype(np.int64)
    row_of = np.full(len(requests), -1, np.int64)
    row_of[rows.address] = np.arange(len(rows))  # a row of each client: its network is the same in all
    present = np.flatnonzero(row_of >= 0)
    return pa.table(
        {
            "client_net": rows.column("client_net", row_of[present]),
            "ip_version": rows.column("ip_version", row_of[present]),
            "client_ip": rows.column("client_ip", row_of[present]),
            "requests": pa.array(requests[present]),
        }
    )


def anonymity_sets(day: int, rows: pa.Table) -> pa.Table:
    """Requests per (published network, client) of a day -> per network: distinct clients and requests.

    The anonymity set of a `client_net` is the number of distinct clients behind it
    on that day, counted here while the addresses exist and kept as a count only.
    """
    nets, _ = codes(rows["client_net"])
    clients, _ = codes(rows["client_ip"])
    pair_order, pair_starts, _ = _groups(nets, clients)
    order, starts, _ = _groups(nets)
    return pa.table(
        {
            "day": pa.array(np.full(len(starts), day * 86_400_000, np.int64)).cast(TS),
            "client_net": rows["client_net"].take(pa.array(order[starts])),
            "ip_version": rows["ip_version"].take(pa.array(order[starts])),
            "distinct_clients": pa.array(np.bincount(nets[pair_order[pair_starts]], minlength=len(starts))),
            "requests": _sums(rows["requests"].to_numpy(), order, starts),
        }
    )


class DayTables(beam.DoFn):
    """(day, its hours' (kind, Batch)) -> the day's anonymity sets (main output), alerts and restricted alerts.

    One part of each per day.
    """

    ALERTS = ALERTS
    RESTRICTED_ALERTS = RESTRICTED_ALERTS

    def __init__(self, run_id: str, source_id: str):
        self.run_id = run_id
        self.source_id = source_id

    def process(self, element: tuple[int, Iterable[tuple[str, Batch]]]) -> Iterator:
        day, parts = element
        tables: dict[str, list[pa.Table]] = {PREFIX_CLIENTS: [], ALERTS: [], RESTRICTED_ALERTS: []}
        for kind, batch in parts:
            tables[kind].append(batch.table)
        part = f"d{day}"
        if tables[PREFIX_CLIENTS]:
            sets = anonymity_sets(day, pa.concat_tables(tables[PREFIX_CLIENTS]))
            yield Batch(self.source_id, part, _with_run_id(sets, self.run_id))
        for kind in (ALERTS, RESTRICTED_ALERTS):
            if tables[kind]:
                alerts = pa.concat_tables(tables[kind]).sort_by([("window_start", "ascending")])
                yield beam.pvalue.TaggedOutput(kind, Batch(self.source_id, part, alerts))


def error_bursts(service: pa.Table, signals: Signals) -> list[tuple[str, np.ndarray]]:
    """The service-wide alert over 5-minute windows of every client: enough requests, and 5xx past the share."""
    requests, errors = service["requests"].to_numpy(), service["server_errors"].to_numpy()
    burst = (requests >= signals.error_burst_min_requests) & (errors >= signals.error_burst_share * requests)
    return [("error_burst", burst)]


def _with_run_id(table: pa.Table, run_id: str) -> pa.Table:
    return table.append_column("run_id", pa.repeat(pa.scalar(run_id, pa.string()), table.num_rows))


# The columns of alert rows before the run id is added (see _alert_rows).
_NO_ALERTS = RESTRICTED_ALERTS_SCHEMA.remove(RESTRICTED_ALERTS_SCHEMA.get_field_index("run_id")).empty_table()


def _alert_rows(windows: pa.Table, masks: list[tuple[str, np.ndarray]]) -> pa.Table:
    """One row per (window, alert crossed), with the window's client columns and counts."""
    pieces = [_NO_ALERTS]
    for name, mask in masks:
        if mask.any():  # most windows cross no alert: most masks select nothing
            hit = windows.filter(pa.array(mask))
            alert = pa.repeat(pa.scalar(name, pa.string()), hit.num_rows)
            pieces.append(hit.append_column("alert", alert).select(_NO_ALERTS.column_names))
    return pa.concat_tables(pieces)
