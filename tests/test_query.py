"""`logshroud query`: DuckDB over the anonymised zone, on what ingest really wrote and on written partitions.

Expected values are computed here from the inputs, in Python, never by DuckDB.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import cli, ingest, query
from pipelines.saved_queries import SAVED
from tests.conftest import Workspace, clf_line
from tests.test_s3 import s3_workspace
from transforms.errors import LogshroudError

UTC = dt.timezone.utc
AS_OF = dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = dt.datetime(2026, 11, 24)
CLIENTS = ("192.0.2.10", "192.0.2.77", "198.51.100.7", "2001:db8:1::5", "203.0.113.9")
PATHS = ("/index.html", "/login", "/missing", "/api/report", "/static/app.js", "/admin")
STATUSES = (200, 200, 404, 500, 401, 200, 503, 403, 200, 404, 302)
LOGSHROUD = [sys.executable, "-m", "pipelines.cli"]


def traffic(count: int = 240) -> list[dict]:
    """A day of requests: clients, hours, paths and statuses cycling at different periods."""
    return [
        {"client": CLIENTS[i % 5], "ts": DAY + dt.timedelta(hours=6 + i % 7, minutes=i % 60),
         "path": PATHS[i % 6], "status": STATUSES[i % 11]}
        for i in range(count)
    ]  # fmt: skip


def network(client: str) -> str:
    address = ipaddress.ip_address(client)
    return str(ipaddress.ip_network(f"{client}/{24 if address.version == 4 else 48}", strict=False))


@pytest.fixture
def ingested(workspace: Workspace) -> tuple[Workspace, list[dict]]:
    """A workspace whose anonymised zone holds what ingest wrote for `traffic()`."""
    rows = traffic()
    lines = [clf_line(r["client"], r["ts"], r["path"], r["status"]) for r in rows]
    ingest.run(workspace.config, [str(workspace.log("access.log", lines))], AS_OF)
    return workspace, rows


def records(table: pa.Table) -> list[tuple]:
    return [tuple(row.values()) for row in table.to_pylist()]


def saved(config, name: str, **dates) -> pa.Table:
    return query.run(config, SAVED[name].sql, **dates)


def count(config, where: str = "true", **dates) -> int:
    return query.run(config, f"SELECT count(*) FROM requests WHERE {where}", **dates).column(0)[0].as_py()


# --- on what ingest wrote --------------------------------------------------------------------------------


def test_error_rate_by_hour_on_ingested_requests(ingested) -> None:
    workspace, rows = ingested
    per_hour = defaultdict(Counter)
    for r in rows:
        hour = r["ts"].replace(minute=0, tzinfo=UTC)
        per_hour[hour].update(requests=1, client=400 <= r["status"] < 500, server=r["status"] >= 500)
    expected = [
        (hour, c["requests"], c["client"], c["server"], round(100 * (c["client"] + c["server"]) / c["requests"], 2),
         round(100 * c["server"] / c["requests"], 2))
        for hour, c in sorted(per_hour.items())
    ]  # fmt: skip
    got = saved(workspace.config, "error-rate-by-hour")
    assert got.column_names == ["hour", "requests", "client_errors", "server_errors", "error_pct", "server_error_pct"]
    assert records(got) == expected


def test_top_error_paths_on_ingested_requests(ingested) -> None:
    workspace, rows = ingested
    errors = [r for r in rows if r["status"] >= 400]
    by_path = defaultdict(list)
    for r in errors:
        by_path[r["path"]].append(r)
    expected = sorted(
        (
            (path, len(hits), sum(h["status"] >= 500 for h in hits), sorted({h["status"] for h in hits}),
             len({network(h["client"]) for h in hits}), max(h["ts"] for h in hits).replace(tzinfo=UTC))
            for path, hits in by_path.items()
        ),
        key=lambda row: (-row[1], row[0]),
    )  # fmt: skip
    assert records(saved(workspace.config, "top-error-paths")) == expected


def test_ad_hoc_sql_sees_networks_and_one_token_per_client(ingested) -> None:
    workspace, rows = ingested
    got = query.run(workspace.config, "SELECT client_net, count(*) AS n, count(DISTINCT client_token) AS tokens "
                                      "FROM requests GROUP BY ALL ORDER BY client_net")  # fmt: skip
    expected = Counter(network(r["client"]) for r in rows)
    assert records(got) == [(net, n, 1 + (net == "192.0.2.0/24")) for net, n in sorted(expected.items())]


@pytest.mark.parametrize("name", sorted(SAVED))
def test_every_saved_query_runs_where_some_datasets_are_still_empty(ingested, name: str) -> None:
    workspace, _ = ingested
    assert not (workspace.zone("anonymised") / "alerts").exists()
    saved(workspace.config, name)  # no error: every view exists with every column


@pytest.mark.parametrize("view", sorted(query.DATASETS))
def test_a_view_has_its_schema_and_dt_even_with_no_files(ingested, view: str) -> None:
    workspace, _ = ingested
    got = query.run(workspace.config, f"SELECT * FROM {view} WHERE false")
    assert got.column_names == query.view_schema(view).names
    assert got.column_names[-1] == "dt"


def test_dt_is_the_partition_date(ingested) -> None:
    workspace, rows = ingested
    got = query.run(workspace.config, "SELECT dt, count(*) FROM requests GROUP BY dt")
    assert records(got) == [(DAY.date(), len(rows))]


# --- on written partitions of datasets and columns ingest does not write yet ------------------------------


def write_part(zone: Path, dataset: str, day: str, rows: list[dict], name: str = "part-test.parquet") -> Path:
    """Rows as a Parquet part of a dataset, with the dataset's schema (columns not given are null)."""
    schema = pa.schema([f for f in query.view_schema(dataset) if f.name != "dt"])
    path = zone / dataset / f"dt={day}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def ts(hour: int, minute: int = 0, day: int = 26) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# (client_net, client_token, hour, status, attack families)
ATTACK_REQUESTS = [
    ("192.0.2.0/24", "a1", 1, 403, ["sqli"]),
    ("192.0.2.0/24", "a1", 2, 403, ["sqli", "xss"]),
    ("192.0.2.0/24", "a2", 3, 200, ["sqli"]),
    ("198.51.100.0/24", "b1", 4, 404, ["traversal"]),
    ("198.51.100.0/24", "b1", 5, 200, []),
    ("2001:db8:1::/48", "c1", 6, 403, ["rce", "php"]),
    ("2001:db8:1::/48", "c1", 7, 200, ["scanner"]),
    ("203.0.113.0/24", "d1", 8, 200, []),
    ("203.0.113.0/24", "d1", 9, 500, []),
]
# (alert, client_net, client_token, hour); error_burst is the service's, with no client
ALERT_ROWS = [
    ("brute_force", "192.0.2.0/24", "a1", 2),
    ("attack_burst", "192.0.2.0/24", "a1", 2),
    ("scanning", "2001:db8:1::/48", "c1", 7),
    ("error_burst", None, None, 9),
    ("flood", "203.0.113.0/24", "d1", 9),
]


def request_row(net: str, token: str, hour: int, status: int, families: list[str]) -> dict:
    return {"ts": ts(hour), "path": "/p", "status": status, "is_error": status >= 400, "is_server_error": status >= 500,
            "client_net": net, "client_token": token, "key_id": "k20261123-test", "attack_families": families,
            "rule_ids": [f"9{len(f)}" for f in families]}  # fmt: skip


def alert_row(alert: str, net: str | None, token: str | None, hour: int) -> dict:
    return {"alert": alert, "client_net": net, "client_token": token, "window_start": ts(hour),
            "window_seconds": 300, "requests": 40 + hour, "client_errors": hour, "attack_hits": 2}  # fmt: skip


@pytest.fixture
def signals(workspace: Workspace) -> Workspace:
    """An anonymised zone with attack families in requests, client windows and alerts, as ingest will write them."""
    zone = workspace.zone("anonymised")
    write_part(zone, "requests", "2026-11-26", [request_row(*r) for r in ATTACK_REQUESTS])
    write_part(zone, "alerts", "2026-11-26", [alert_row(*a) for a in ALERT_ROWS])
    windows = [{"client_net": a[1], "client_token": a[2], "window_start": ts(a[3]), "window_seconds": 300,
                "requests": 40, "alerts": [a[0]]} for a in ALERT_ROWS if a[1]]  # fmt: skip
    write_part(zone, "client_windows", "2026-11-26", windows)
    return workspace


def test_attacks_by_family(signals: Workspace) -> None:
    hits = defaultdict(list)
    for net, token, hour, status, families in ATTACK_REQUESTS:
        for family in families:
            hits[family].append((net, token, ts(hour), status))
    expected = sorted(
        ((family, len(h), sum(s >= 400 for *_, s in h), len({n for n, *_ in h}), len({t for _, t, *_ in h}),
          min(w for *_, w, _ in h), max(w for *_, w, _ in h)) for family, h in hits.items()),
        key=lambda row: (-row[1], row[0]),
    )  # fmt: skip
    got = saved(signals.config, "attacks-by-family")
    assert got.column_names == ["family", "requests", "refused", "networks", "clients", "first_seen", "last_seen"]
    assert records(got) == expected
    assert records(got)[0][:2] == ("sqli", 3)


def test_alerts_in_time_order(signals: Workspace) -> None:
    order = sorted(ALERT_ROWS, key=lambda a: (a[3], a[0], a[1] is not None, a[1] or "", a[2] or ""))
    got = saved(signals.config, "alerts")
    assert [(r["alert"], r["client_net"], r["client_token"], r["window_start"]) for r in got.to_pylist()] == [
        (alert, net, token, ts(hour)) for alert, net, token, hour in order
    ]
    assert got["requests"].to_pylist() == [40 + a[3] for a in order]


def test_abusive_networks(signals: Workspace) -> None:
    per_net = defaultdict(lambda: {"alerts": [], "requests": 0, "attacks": 0, "errors": 0, "tokens": set()})
    for alert, net, _, _ in ALERT_ROWS:
        if net:
            per_net[net]["alerts"].append(alert)
    for net, token, _, status, families in ATTACK_REQUESTS:
        n = per_net[net]
        n["requests"] += 1
        n["attacks"] += bool(families)
        n["errors"] += status >= 400
        n["tokens"].add(token)
    expected = sorted(
        ((net, len(n["alerts"]), sorted(set(n["alerts"])) or None, n["attacks"], n["requests"],
          round(100 * n["errors"] / n["requests"], 1), len(n["tokens"]))
         for net, n in per_net.items() if n["alerts"] or n["attacks"]),
        key=lambda row: (-row[1], -row[3], row[0]),
    )  # fmt: skip
    assert records(saved(signals.config, "abusive-networks")) == expected
    assert "198.51.100.0/24" in {row[0] for row in expected}  # attacks, no alert


def test_client_windows_view(signals: Workspace) -> None:
    got = query.run(signals.config, "SELECT client_token, alerts FROM client_windows ORDER BY client_token, alerts")
    assert records(got) == sorted((a[2], [a[0]]) for a in ALERT_ROWS if a[1])


def test_an_older_partition_without_new_columns_reads_them_as_null(ingested) -> None:
    """A partition written before a column existed (here: before attack detection) reads it as null."""
    workspace, rows = ingested
    older = [pa.field(f.name, f.type) for f in query.view_schema("requests")
             if f.name not in ("dt", "attack_families", "rule_ids")]  # fmt: skip
    path = workspace.zone("anonymised") / "requests" / "dt=2026-11-20" / "part-old.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([{"ts": ts(1, day=20), "status": 200}] * 3, schema=pa.schema(older)), path)
    got = query.run(workspace.config, "SELECT dt, count(*), count(attack_families), count(rule_ids) "
                                      "FROM requests GROUP BY dt ORDER BY dt")  # fmt: skip
    assert records(got) == [(dt.date(2026, 11, 20), 3, 0, 0), (DAY.date(), len(rows), len(rows), len(rows))]


# --- partitions: pruned on dt, chosen with --from/--to --------------------------------------------------


@pytest.fixture
def three_days(workspace: Workspace) -> Workspace:
    """Requests on 24 and 26 November, and a damaged part on 25 November that no reader can open."""
    zone = workspace.zone("anonymised")
    write_part(zone, "requests", "2026-11-24", [request_row("192.0.2.0/24", "a", 1, 200, [])])
    write_part(zone, "requests", "2026-11-26", [request_row("192.0.2.0/24", "a", 1, 200, [])] * 2)
    (zone / "requests" / "dt=2026-11-25").mkdir()
    (zone / "requests" / "dt=2026-11-25" / "part-damaged.parquet").write_bytes(b"not parquet")
    return workspace


@pytest.mark.parametrize(
    "where, expected",
    [
        ("dt = DATE '2026-11-26'", 2),
        ("dt = '2026-11-24'", 1),
        ("dt <> '2026-11-25'", 3),
        ("dt IN ('2026-11-24', '2026-11-26')", 3),
        ("dt > '2026-11-25'", 2),
    ],
)
def test_a_filter_on_dt_opens_only_the_partitions_it_needs(three_days: Workspace, where: str, expected: int) -> None:
    assert count(three_days.config, where) == expected


def test_the_damaged_partition_is_there_and_fails_in_one_line(three_days: Workspace) -> None:
    with pytest.raises(LogshroudError) as raised:
        query.run(three_days.config, "SELECT count(*) FROM requests")
    assert "part-damaged.parquet" in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "first, last, expected",
    [("2026-11-26", None, 2), (None, "2026-11-24", 1), ("2026-11-26", "2026-11-30", 2), ("2026-11-27", None, 0)],
)
def test_from_and_to_mount_only_their_partitions(three_days: Workspace, first, last, expected: int) -> None:
    first, last = (dt.date.fromisoformat(d) if d else None for d in (first, last))
    assert count(three_days.config, first=first, last=last) == expected


def test_files_that_are_no_parts_are_not_read(workspace: Workspace) -> None:
    zone = workspace.zone("anonymised")
    part = write_part(zone, "requests", "2026-11-24", [request_row("192.0.2.0/24", "a", 1, 200, [])])
    (part.parent / f"{part.name}.tmp-4242").write_bytes(b"half written")  # storage.write_bytes' temporary name
    (zone / "requests" / "stray.parquet").write_bytes(b"outside any partition")
    assert count(workspace.config) == 1


# --- only the anonymised zone -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_parquet('{restricted}/requests/*/*.parquet')",
        "SELECT * FROM '{restricted}/requests/dt=2026-11-24/*.parquet'",
        "COPY (SELECT * FROM requests) TO '{root}/copy.csv'",
        "ATTACH '{root}/other.duckdb'",
        "SET enable_external_access = true",
        "INSTALL httpfs",
    ],
    ids=["read_parquet", "file-as-table", "copy-out", "attach", "unlock", "extension"],
)
def test_sql_cannot_reach_beyond_the_anonymised_zone(ingested, sql: str) -> None:
    workspace, _ = ingested
    with pytest.raises(LogshroudError):
        query.run(workspace.config, sql.format(restricted=workspace.zone("restricted"), root=workspace.root))
    assert not list(workspace.root.glob("copy.csv")) and not list(workspace.root.glob("other.duckdb"))


def test_python_variables_are_no_tables(ingested) -> None:
    workspace, _ = ingested
    restricted_rows = pq.read_table(workspace.zone("restricted") / "requests")  # noqa: F841 - DuckDB finds it by name
    assert duckdb.connect().sql("SELECT count(*) FROM restricted_rows").fetchall()[0][0] > 0  # by default, it would
    with query.connect(workspace.config) as connection, pytest.raises(duckdb.CatalogException):
        connection.sql("SELECT count(*) FROM restricted_rows")


# --- the command line -------------------------------------------------------------------------------------


def logshroud(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_saved_shows_each_query_on_one_line(capsys) -> None:
    code, out, _ = logshroud(capsys, "query", "--list-saved")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == list(SAVED)
    assert {"attacks-by-family", "error-rate-by-hour", "top-error-paths", "alerts", "abusive-networks"} <= set(names)


def test_show_sql_prints_the_saved_query(capsys) -> None:
    code, out, _ = logshroud(capsys, "query", "--saved", "top-error-paths", "--show-sql")
    assert code == 0 and out.strip() == SAVED["top-error-paths"].sql.strip()


def test_formats(signals: Workspace, capsys) -> None:
    config = ["query", "--config", str(signals.config_path), "--saved", "attacks-by-family"]
    expected = saved(signals.config, "attacks-by-family").to_pylist()

    code, out, _ = logshroud(capsys, *config, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["family"], int(r["requests"]), int(r["networks"])) for r in rows] == [
        (e["family"], e["requests"], e["networks"]) for e in expected
    ]

    code, out, _ = logshroud(capsys, *config, "--format", "json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(r["family"], r["requests"], r["clients"]) for r in lines] == [
        (e["family"], e["requests"], e["clients"]) for e in expected
    ]
    assert lines[0]["first_seen"].startswith("2026-11-26 ") and lines[0]["first_seen"].endswith("+00")

    code, out, _ = logshroud(capsys, *config)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split("│")[1].strip() == "family"
    assert [line.split("│")[1].strip() for line in lines[4:-2]] == [e["family"] for e in expected]


def test_csv_writes_lists_as_text(signals: Workspace, capsys) -> None:
    code, out, _ = logshroud(capsys, "query", "--config", str(signals.config_path), "--format", "csv",
                             "SELECT attack_families FROM requests WHERE len(attack_families) = 2 ORDER BY ts")  # fmt: skip
    assert code == 0
    assert out.splitlines() == ['"attack_families"', '"[sqli, xss]"', '"[rce, php]"']


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--saved", "nope"], "--saved nope: no such saved query (known: attacks-by-family, "),
        (["SELEC count(*) FROM requests"], 'query: Parser Error: syntax error at or near "SELEC"'),
        (["SELECT nope FROM requests"], 'query: Binder Error: Referenced column "nope" not found'),
        (["SELECT * FROM quarantine"], "query: Catalog Error: Table with name quarantine does not exist"),
        (["--saved", "alerts", "--from", "2026-11-30", "--to", "2026-11-01"], "--from 2026-11-30 is after --to"),
    ],
    ids=["unknown-saved", "syntax", "unknown-column", "no-such-view", "dates-reversed"],
)
def test_errors_are_one_line_and_exit_2(ingested, capsys, argv: list[str], message: str) -> None:
    workspace, _ = ingested
    code, out, err = logshroud(capsys, "query", "--config", str(workspace.config_path), *argv)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"logshroud: error: {message}")


def test_a_zone_that_does_not_exist(make_workspace, capsys) -> None:
    workspace = make_workspace()
    code, _, err = logshroud(capsys, "query", "--config", str(workspace.config_path), "SELECT 1")
    assert code == 2
    assert err == (f"logshroud: error: {workspace.zone('anonymised')}: no anonymised data here "
                   f"(zones.anonymised in {workspace.config_path}; has ingest run?)\n")  # fmt: skip


def test_the_command_answers_a_saved_question(ingested) -> None:
    workspace, rows = ingested
    done = subprocess.run([*LOGSHROUD, "query", "--config", str(workspace.config_path), "--format", "csv",
                           "--saved", "error-rate-by-hour"], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sum(int(r["requests"]) for r in csv.DictReader(io.StringIO(done.stdout))) == len(rows)


# --- on S3 ----------------------------------------------------------------------------------------------


def test_query_on_s3(tmp_path: Path, s3_endpoint: str, s3) -> None:
    raw, zones = s3.new_bucket(), s3.new_bucket()
    rows = traffic(60)
    body = "\n".join(clf_line(r["client"], r["ts"], r["path"], r["status"]) for r in rows) + "\n"
    s3.put_object(Bucket=raw, Key="logs/access.log", Body=body.encode())
    workspace = s3_workspace(tmp_path, s3_endpoint, zones)
    ingest.run(workspace.config, [f"s3://{raw}/logs/access.log"], AS_OF)
    alerts = pa.Table.from_pylist([alert_row(*a) for a in ALERT_ROWS], schema=query.DATASETS["alerts"])
    sink = pa.BufferOutputStream()
    pq.write_table(alerts, sink)
    key = "zones/anonymised/alerts/dt=2026-11-26/part-test.parquet"
    s3.put_object(Bucket=zones, Key=key, Body=sink.getvalue().to_pybytes())

    got = query.run(workspace.config, "SELECT status, count(*) FROM requests GROUP BY status ORDER BY status")
    assert records(got) == sorted(Counter(r["status"] for r in rows).items())
    assert saved(workspace.config, "alerts").num_rows == len(ALERT_ROWS)
    assert saved(workspace.config, "alerts", last=dt.date(2026, 11, 25)).num_rows == 0
    assert count(workspace.config, "dt = '2026-11-24'") == 60


def test_query_on_a_missing_bucket(tmp_path: Path, s3_endpoint: str) -> None:
    workspace = s3_workspace(tmp_path, s3_endpoint, "no-such-bucket-logshroud")
    with pytest.raises(LogshroudError, match="bucket no-such-bucket-logshroud does not exist"):
        query.run(workspace.config, "SELECT 1")
