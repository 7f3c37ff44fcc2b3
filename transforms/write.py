"""Writing Batches as Parquet into Hive partitions, and committing a run's files in one step.

Workers write each part to the zone's staging area, `<zone>/_staging/<run_id>/`,
which readers never look at. Once every part is written, `commit_run` moves them
into place, deletes what earlier runs wrote for the same inputs and this run did
not write again, and records the run in its manifest. A part's name comes from
its input, range and chunk (`part-<source id>-<range>-<chunk>.parquet`), so ingesting the same
input again replaces the same files: no duplicate rows, no stale files.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics

from transforms import storage
from transforms.schema import DATASETS, Batch

_MS_PER_DAY = 86_400_000


def part_name(source_id: str, part: str) -> str:
    return f"part-{source_id}-{part}.parquet"


def staging_root(zone_uri: str, run_id: str) -> str:
    return storage.join(zone_uri, "_staging", run_id)


def by_event_date(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    """(YYYY-MM-DD, rows of that UTC date) for each date present, oldest first.

    The date is the event's (`ts`), for windows of events their start's (`window_start`),
    for counts per day the day's (`day`).
    """
    moment = next(table[name] for name in ("ts", "window_start", "day") if name in table.column_names)
    days = pc.cast(moment, pa.int64()).to_numpy() // _MS_PER_DAY
    distinct = np.unique(days).tolist()
    for day in distinct:
        date = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
        yield date, table if len(distinct) == 1 else table.filter(pa.array(days == day))


# Columns whose min/max statistics let readers skip row groups: times, which a part's rows
# share (lines of a chunk are neighbours in time), and numbers, cheap to keep. Text gets none:
# a part holds most values of a column (status classes, methods, networks, free text) or one
# that its folder and the manifests name already (run, source, key); min/max would prune
# nothing, and cost a fifth of the writing time.
_STATISTICS = ("ts", "window_start", "window_seconds", "day", "status", "bytes", "server_port", "ip_version",
               "line_number")  # fmt: skip


# Line numbers rise by one row to the next, and times by a second or none (a log is written
# in time order, windows are made in it): delta encoding stores each in a few bits, where a
# dictionary of values that hardly repeat costs hashing every row. A third of the writing
# time of a request's time, a fifth of its bytes; a seventh less on disk for line numbers.
_DELTA_ENCODED = ("ts", "window_start", "day", "line_number")


def parquet_bytes(table: pa.Table) -> bytes:
    """The table as a Parquet file, zstd-compressed; every reader sees plain columns.

    A dictionary column (see `transforms.dictionaries`) is written from its dictionary
    and codes, without hashing each row again. Arrow's own schema is not stored in the
    file: it would tell Arrow readers to read such a column back as a dictionary, where
    the file's Parquet types alone give back the dataset's schema, as every other reader
    sees it (DuckDB, Athena, Trino, Spark). The schema's key-value metadata is kept.
    """
    sink = pa.BufferOutputStream()
    statistics = [name for name in table.column_names if name in _STATISTICS]
    delta = {name: "DELTA_BINARY_PACKED" for name in table.column_names if name in _DELTA_ENCODED}
    dictionary = [name for name in table.column_names if name not in delta]
    options = {"use_dictionary": dictionary, "column_encoding": delta or None, "write_statistics": statistics}
    with pq.ParquetWriter(sink, table.schema, compression="zstd", store_schema=False, **options) as writer:
        writer.write_table(table)
        if table.schema.metadata:  # what the Arrow schema would have carried (the coarsening marker)
            writer.add_key_value_metadata(table.schema.metadata)
    return sink.getvalue().to_pybytes()


def conformed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table cast to the schema, but for dictionary columns of the schema's type: they stay dictionaries."""
    given = dict(zip(table.column_names, table.schema.types, strict=True))
    fields = [
        field.with_type(given[field.name])
        if pa.types.is_dictionary(given.get(field.name, field.type)) and given[field.name].value_type == field.type
        else field
        for field in schema
    ]
    return table.cast(pa.schema(fields, metadata=schema.metadata))


class WriteParts(beam.DoFn):
    """Batch -> one staged Parquet part per partition date, and a record of each part.

    `fixed_date` partitions every row by that date (the quarantine uses the run's
    date); otherwise rows are partitioned by the UTC date of their `ts`.
    """

    def __init__(self, zone: str, zone_uri: str, dataset: str, run_id: str, s3: storage.S3Settings,
                 fixed_date: str | None = None):  # fmt: skip
        self.s3 = s3
        self.zone = zone
        self.zone_uri = zone_uri
        self.dataset = dataset
        self.run_id = run_id
        self.fixed_date = fixed_date
        self.rows = Metrics.counter("write", f"{zone}_{dataset}_rows")

    def setup(self) -> None:
        storage.configure(self.s3)

    def process(self, batch: Batch) -> Iterator[dict]:
        table = conformed(batch.table, DATASETS[(self.zone, self.dataset)])
        parts = [(self.fixed_date, table)] if self.fixed_date else by_event_date(table)
        for date, rows in parts:
            relative = f"{self.dataset}/dt={date}/{part_name(batch.source_id, batch.part)}"
            data = parquet_bytes(rows)
            staged = storage.join(staging_root(self.zone_uri, self.run_id), relative)
            storage.write_bytes(staged, data)
            self.rows.inc(rows.num_rows)
            record = {
                "zone": self.zone,
                "dataset": self.dataset,
                "dt": date,
                "source_id": batch.source_id,
                "path": storage.join(self.zone_uri, relative),
                "staged": staged,
                "rows": rows.num_rows,
                "bytes": len(data),
                "sha256": storage.sha256_hex(data),
            }
            if "key_id" in rows.column_names:
                record["key_ids"] = sorted(k for k in pc.unique(rows["key_id"]).to_pylist() if k)
            yield record


def commit(records: list[dict], zone_uris: dict[str, str], source_ids: set[str], run_id: str) -> list[str]:
    """Move staged parts into place and delete the stale parts of this run's inputs.

    Returns the paths deleted as stale.
    """
    storage.move([(r["staged"], r["path"]) for r in records])
    written = {r["path"] for r in records}
    stale = []
    for zone, dataset in DATASETS:
        for stored in storage.list_tree(storage.join(zone_uris[zone], dataset)):
            name = stored.path.rsplit("/", 1)[-1]
            if name.startswith("part-") and name.split("-")[1] in source_ids and stored.path not in written:
                stale.append(stored.path)
    storage.delete(stale)
    discard_staged(zone_uris, run_id)
    return stale


def discard_staged(zone_uris: dict[str, str], run_id: str) -> None:
    """Delete what a run staged in every zone: after its commit, or when it failed.

    A failed run's staged restricted parts hold full addresses that no retention rule
    would ever find; they must not outlive the run.
    """
    for zone_uri in {zone_uris[zone] for zone, _ in DATASETS}:
        storage.remove_tree(staging_root(zone_uri, run_id))
        if storage.is_local(zone_uri):
            _remove_empty_dirs(storage.join(zone_uri, "_staging"))


def _remove_empty_dirs(path: str) -> None:
    if os.path.isdir(path) and not os.listdir(path):
        os.rmdir(path)
