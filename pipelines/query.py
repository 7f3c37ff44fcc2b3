"""Query: SQL over the anonymised zone with DuckDB, and a few saved questions.

    logshroud query "SELECT status_class, count(*) FROM requests WHERE dt >= '2026-11-01' GROUP BY 1"
    logshroud query --config prod.yaml --format csv "SELECT * FROM alerts"
    logshroud query --saved attacks-by-family --from 2026-11-01 --to 2026-11-07
    logshroud query --list-saved

The views `requests`, `client_windows` and `alerts` are the anonymised zone's datasets,
local or on `s3://`, each with every column of its schema in `transforms/schema.py` and the
partition date `dt`. pyarrow reads the Parquet files (no DuckDB extension is needed, not even
for S3); DuckDB pushes filters on `dt` and on other columns into the scan, so a query on one
day opens only that day's files. Only the anonymised zone is mounted: DuckDB's own file
access is switched off before the SQL runs, so no query can read another zone or write a file.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import re
import shutil
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds
from pyarrow import fs

from pipelines.ingest import zone_uris
from pipelines.saved_queries import SAVED
from transforms import storage
from transforms.config import Config, load_config
from transforms.errors import LogshroudError
from transforms.schema import ALERTS, ANONYMISED_REQUESTS, CLIENT_WINDOWS

# Columns the attack rules add to the anonymised requests (issue "Security signals that survive
# anonymisation"), so the saved queries run on zones written before and after them. Once
# transforms/schema.py has them this adds nothing; then it can go.
DATASETS = {"requests": ANONYMISED_REQUESTS, "client_windows": CLIENT_WINDOWS, "alerts": ALERTS}
PARTITION = pa.schema([("dt", pa.date32())])  # the Hive folder dt=YYYY-MM-DD, a DATE in SQL
FORMATS = ("table", "csv", "json")
TABLE_ROWS = 1000  # a table is for reading: DuckDB leaves out the middle of a longer result, and says so

_PARTITION_FILE = re.compile(r"dt=(\d{4}-\d{2}-\d{2})/[^/]+\.parquet")  # a part, not a temporary file


def view_schema(name: str) -> pa.Schema:
    """The columns of a view: its dataset's schema and `dt`."""
    return pa.schema([*DATASETS[name], *PARTITION])


def connect(config: Config, first: dt.date | None = None, last: dt.date | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose only data are the anonymised zone's views, locked against reading anything else.

    `first` and `last` keep only the partitions with `first <= dt <= last`.
    """
    storage.configure(config.storage.s3)
    zone = zone_uris(config)["anonymised"]
    storage.check_bucket(zone)
    parts = {name: partition_files(storage.join(zone, name)) for name in DATASETS}
    if not any(parts.values()):
        raise LogshroudError(f"{zone}: no anonymised data here (zones.anonymised in {config.source}; has ingest run?)")
    filesystem = arrow_filesystem(zone, config.storage.s3)
    connection = duckdb.connect()
    for name, files in parts.items():
        chosen = [path for day, path in files if (first is None or day >= first) and (last is None or day <= last)]
        connection.register(name, dataset(storage.join(zone, name), chosen, view_schema(name), filesystem))
    _lock(connection)
    return connection


def partition_files(dataset_uri: str) -> list[tuple[dt.date, str]]:
    """(partition date, path) of every Parquet part of a dataset; a missing dataset has none."""
    found = []
    for stored in storage.list_tree(dataset_uri):
        matched = _PARTITION_FILE.fullmatch(stored.path[len(dataset_uri) + 1 :])
        if matched:
            found.append((dt.date.fromisoformat(matched.group(1)), stored.path))
    return found


def dataset(dataset_uri: str, paths: list[str], schema: pa.Schema, filesystem: fs.FileSystem) -> ds.Dataset:
    """The parts as one dataset with the view's schema: columns a part lacks read as nulls."""
    return ds.dataset(
        [_arrow_path(p) for p in paths],
        schema=schema,
        format="parquet",
        filesystem=filesystem,
        partitioning=ds.partitioning(PARTITION, flavor="hive"),
        partition_base_dir=_arrow_path(dataset_uri),
    )


def arrow_filesystem(zone_uri: str, settings: storage.S3Settings) -> fs.FileSystem:
    """pyarrow's file system for a zone, connected as `transforms.storage` connects boto3; credentials from
    the standard AWS chain (environment, shared profile, instance role)."""
    if storage.is_local(zone_uri):
        return fs.LocalFileSystem()
    if not storage.is_s3(zone_uri):
        raise LogshroudError(f"{zone_uri}: query reads local folders and s3:// zones only")
    if not settings.verify_tls:
        raise LogshroudError(f"{zone_uri}: storage.s3.verify_tls false: query reads S3 through pyarrow, which "
                             "always verifies TLS certificates")  # fmt: skip
    endpoint = settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    where = {"endpoint_override": urlsplit(endpoint).netloc, "scheme": urlsplit(endpoint).scheme} if endpoint else {}
    return fs.S3FileSystem(
        region=settings.region,
        connect_timeout=settings.connect_timeout,
        retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=settings.max_attempts),
        force_virtual_addressing=settings.addressing_style == "virtual",
        **where,
    )


def _arrow_path(uri: str) -> str:
    return uri.removeprefix("s3://")


# Times in UTC; then no file access (read_parquet, COPY, ATTACH, extensions), no Python
# variables as tables, and no way for the SQL to switch either back on.
_LOCKDOWN = ("TimeZone = 'UTC'", "enable_external_access = false", "python_enable_replacements = false",
             "lock_configuration = true")  # fmt: skip


def _lock(connection: duckdb.DuckDBPyConnection) -> None:
    for setting in _LOCKDOWN:
        connection.execute(f"SET {setting}")


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """DuckDB's errors (bad SQL, a file that cannot be read) as one LogshroudError line."""
    try:
        yield
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise LogshroudError(f"query: {first}") from None


def run(config: Config, sql: str, first: dt.date | None = None, last: dt.date | None = None) -> pa.Table:
    """The result of SQL over the anonymised zone as an Arrow table (empty for a statement with no result)."""
    with connect(config, first, last) as connection, one_line_errors():
        relation = connection.sql(sql)
        return relation.to_arrow_table() if relation is not None else pa.table({})


def write_result(relation: duckdb.DuckDBPyRelation, fmt: str) -> None:
    """Print a result to stdout: a table to read, CSV with a header, or one JSON object per line.

    Times read as in the table (`2026-11-24 10:00:00+00`) in all three; lists and other nested
    values are DuckDB's text in CSV (`[sqli, xss]`) and JSON arrays in JSON.
    """
    if fmt == "table":
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 1_000_000
        relation.show(max_rows=TABLE_ROWS, max_width=width, max_col_width=width)
    elif fmt == "csv":
        quoted = ['"' + c.replace('"', '""') + '"' for c in relation.columns]
        columns = [f"CAST({q} AS VARCHAR) AS {q}" if t.id in _CSV_AS_TEXT else q
                   for q, t in zip(quoted, relation.types, strict=True)]  # fmt: skip
        for number, batch in enumerate(relation.project(", ".join(columns)).to_arrow_reader()):
            out = io.BytesIO()
            pa_csv.write_csv(batch, out, pa_csv.WriteOptions(include_header=number == 0))
            sys.stdout.write(out.getvalue().decode())
    else:
        for batch in relation.set_alias("result").project("to_json(result)").to_arrow_reader():
            sys.stdout.writelines(line + "\n" for line in batch.column(0).to_pylist())


# DuckDB types Arrow's CSV writer cannot write (nested) or writes unlike DuckDB (times)
_CSV_AS_TEXT = {"list", "struct", "map", "array", "union", "timestamp with time zone", "timestamp"}


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logshroud query", description=__doc__.split("\n\n")[0])
    parser.add_argument("sql", nargs="?", help="the SQL to run over the views requests, client_windows and alerts")
    parser.add_argument("--config", help="config file (default: the embedded configs/default.yaml)")
    parser.add_argument("--saved", metavar="NAME", help="run a saved query instead (see --list-saved)")
    parser.add_argument("--list-saved", action="store_true", help="list the saved queries, one line each")
    parser.add_argument("--show-sql", action="store_true", help="print the saved query's SQL instead of running it")
    parser.add_argument("--from", dest="first", type=_date, metavar="YYYY-MM-DD", help="only partitions dt >= this")
    parser.add_argument("--to", dest="last", type=_date, metavar="YYYY-MM-DD", help="only partitions dt <= this")
    parser.add_argument("--format", choices=FORMATS, default="table", help="table (default), csv or json lines")
    return parser


def main(argv: list[str]) -> int:
    """`logshroud query`: print the result of SQL or a saved query; exit 2 on bad SQL or a missing zone."""
    parser = arguments()
    args = parser.parse_args(argv)
    if args.list_saved:
        print("\n".join(f"{q.name:20s} {q.about}" for q in SAVED.values()))
        return 0
    if (args.sql is None) == (args.saved is None):
        parser.error("give either SQL or --saved NAME")
    if args.saved is not None and args.saved not in SAVED:
        raise LogshroudError(f"--saved {args.saved}: no such saved query (known: {', '.join(SAVED)})")
    sql = SAVED[args.saved].sql if args.saved else args.sql
    if args.show_sql:
        print(sql.strip())
        return 0
    if args.first and args.last and args.first > args.last:
        raise LogshroudError(f"--from {args.first} is after --to {args.last}")
    with connect(load_config(args.config), args.first, args.last) as connection, one_line_errors():
        relation = connection.sql(sql)
        if relation is not None:
            write_result(relation, args.format)
    return 0
