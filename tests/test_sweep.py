"""The sweep: what is past its time leaves the zones, keys are destroyed, partitions coarsened, all recorded."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import ingest, sweep, verify
from tests.conftest import Workspace, clf_line
from tests.test_ingest import full_addresses, strings_of
from transforms.addresses import parse_address
from transforms.keyring import open_keyring
from transforms.retention import COARSENED, coarsened_table, first_day_kept, widen_networks

UTC = dt.timezone.utc
LOGSHROUD = [sys.executable, "-m", "pipelines.cli"]
AS_OF = dt.datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
DAYS = [dt.date(2026, 11, 18) + dt.timedelta(days=i) for i in range(7)]  # 18..24 November: two key epochs
ROWS_PER_DAY = 4


def day_lines(day: dt.date) -> list[str]:
    """A day of traffic from documentation addresses, one of them written into a URL too."""
    at = [dt.datetime.combine(day, dt.time(hour)) for hour in (9, 12, 15, 18)]
    return [
        clf_line("192.0.2.10", at[0], target="/admin/198.51.100.23/edit"),
        clf_line("192.0.2.11", at[1], referrer="http://203.0.113.9/from"),
        clf_line("2001:db8:ab12:cd34::7", at[2]),
        clf_line("198.51.100.7", at[3], status=404),
    ]


def retention_workspace(root: Path, **overrides) -> Workspace:
    """Zones, keyring and config of its own: a 7-day window, weekly keys kept 14 days."""
    settings = {"keys": {"path": str(root / "keys" / "keyring.json"), "epoch_days": 7, "retention_days": 14}}
    return Workspace(root, **{**settings, **overrides})


def ingest_week(ws: Workspace, as_of: dt.datetime = AS_OF) -> dict:
    """One log of the seven days of DAYS plus a line that does not parse, ingested at `as_of`."""
    lines = [line for day in DAYS for line in day_lines(day)] + ["not a log line"]
    return ingest.run(ws.config, [str(ws.log("week.log", lines))], as_of)


def partitions(ws: Workspace, zone: str, dataset: str = "requests") -> list[str]:
    folder = ws.zone(zone) / dataset
    return sorted(p.name for p in folder.iterdir() if any(p.glob("*.parquet"))) if folder.exists() else []


def read(ws: Workspace, zone: str, dataset: str = "requests") -> pa.Table:
    glob = ws.zone(zone) / dataset / "*" / "*.parquet"
    return duckdb.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true) ORDER BY ts").to_arrow_table()


def records(ws: Workspace) -> list[dict]:
    folder = ws.zone("audit") / "deletions"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def zone_files(ws: Workspace) -> dict[str, bytes]:
    return {
        str(p): p.read_bytes()
        for z in ("raw", "restricted", "anonymised")
        for p in ws.zone(z).rglob("*")
        if p.is_file()
    }


# --- coarsening, one value at a time ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("203.0.113.0/24", "203.0.0.0/16"),
        ("2001:db8:ab12::/48", "2001:db8::/32"),
        ("/admin/198.51.100.0/24/edit", "/admin/198.51.0.0/16/edit"),
        ("http://203.0.113.0/24/from?next=/x/192.0.2.0/24", "http://203.0.0.0/16/from?next=/x/192.0.0.0/16"),
        ("[2001:db8:ab12::/48]:443", "[2001:db8::/32]:443"),
        ("::ffff:192.0.2.0/24", "192.0.0.0/16"),
        ("Mozilla/5.0 (X11; rv:1.9.0.0/24) Gecko/2010040121", "Mozilla/5.0 (X11; rv:1.9.0.0/16) Gecko/2010040121"),
        ("host_192.0.2.0/24:8080", "host_192.0.0.0/16:8080"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("192.0.0.0/16", "192.0.0.0/16"),
        ("Mozilla/5.0 Chrome/131.0.0.0 Safari/537.36", "Mozilla/5.0 Chrome/131.0.0.0 Safari/537.36"),
        ("/v/1.2/3", "/v/1.2/3"),
        ("/ranges/192.0.2.0/99", "/ranges/192.0.2.0/99"),
        ("/a/b", "/a/b"),
        (None, None),
    ],
    ids=["client_net v4", "client_net v6", "address scrubbed in a path", "two in a URL", "bracketed v6 with port",
         "IPv4-mapped shown as IPv4", "after a colon, as the scrubber reads it",
         "after an underscore", "already wider stays", "already as wide stays", "user agent untouched",
         "version number untouched", "no such prefix length", "no network", "null"],
)  # fmt: skip
def test_widen_networks(value: str | None, expected: str | None) -> None:
    assert widen_networks(pa.array([value, value], pa.string()), 16, 32).to_pylist() == [expected, expected]


def test_coarsened_table_nulls_tokens_widens_networks_and_marks_itself() -> None:
    table = pa.table(
        {
            "client_net": ["203.0.113.0/24", "2001:db8:ab12::/48"],
            "client_token": ["3f" * 16, "a0" * 16],
            "key_id": ["k20261116-abcdef", "k20261116-abcdef"],
            "path": ["/admin/198.51.100.0/24/edit", "/index.html"],
            "status": pa.array([200, 404], pa.int16()),
        }
    ).replace_schema_metadata({b"other": b"kept"})
    marker = {"ipv4_prefix": 16, "ipv6_prefix": 32, "key_id": "k20261116-abcdef"}
    coarse = coarsened_table(table, 16, 32, marker)
    assert coarse.to_pydict() == {
        "client_net": ["203.0.0.0/16", "2001:db8::/32"],
        "client_token": [None, None],
        "key_id": [None, None],
        "path": ["/admin/198.51.0.0/16/edit", "/index.html"],
        "status": [200, 404],
    }
    assert coarse.schema.remove_metadata() == table.schema.remove_metadata()
    assert json.loads(coarse.schema.metadata[COARSENED]) == marker
    assert coarse.schema.metadata[b"other"] == b"kept"


@pytest.mark.parametrize(
    "as_of, days, first_kept",
    [
        (dt.datetime(2026, 11, 25, 2, 0, tzinfo=UTC), 7, "2026-11-18"),
        (dt.datetime(2026, 11, 25, 0, 0, tzinfo=UTC), 7, "2026-11-18"),
        (dt.datetime(2026, 11, 24, 23, 59, tzinfo=UTC), 7, "2026-11-17"),
        (dt.datetime(2026, 11, 25, 2, 0, tzinfo=UTC), 0, "2026-11-25"),
    ],
    ids=["mid-day: that day still holds younger records", "midnight: the day before is wholly past",
         "a minute before midnight", "zero-day window"],
)  # fmt: skip
def test_first_day_kept(as_of: dt.datetime, days: int, first_kept: str) -> None:
    assert first_day_kept(as_of, days) == first_kept


# --- the sweep on real zones ------------------------------------------------------------------------------


def test_sweep_deletes_past_the_window_destroys_keys_coarsens_and_records_it(tmp_path: Path) -> None:
    ws = retention_workspace(tmp_path)
    manifest = ingest_week(ws)
    restricted_before = read(ws, "restricted")
    assert partitions(ws, "restricted") == [f"dt={d}" for d in DAYS]
    later = dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # window from 2026-11-24; key of 16 Nov due 30 Nov
    keys_before = open_keyring(ws.config.keys).keys()
    secrets = [k.secret.hex() for k in keys_before]

    done = sweep.run(ws.config, later)

    assert partitions(ws, "restricted") == ["dt=2026-11-24"]
    assert partitions(ws, "restricted", "quarantine") == ["dt=2026-11-25"]
    assert not (ws.zone("restricted") / "requests" / "dt=2026-11-18").exists()  # no empty folders left
    (first_key, second_key) = open_keyring(ws.config.keys).keys()
    assert (first_key.not_before, first_key.secret, first_key.destroyed) == ("2026-11-16", None, "2026-12-01T02:00:00Z")
    assert second_key.usable
    anonymised = read(ws, "anonymised")
    assert anonymised.num_rows == len(DAYS) * ROWS_PER_DAY  # coarsened, not deleted
    first_epoch = [r for r in anonymised.to_pylist() if str(r["dt"]) < "2026-11-23"]
    second_epoch = [r for r in anonymised.to_pylist() if str(r["dt"]) >= "2026-11-23"]
    assert {(r["client_token"], r["key_id"]) for r in first_epoch} == {(None, None)}
    assert {r["client_net"] for r in first_epoch} == {"192.0.0.0/16", "198.51.0.0/16", "2001:db8::/32"}
    assert {r["path"] for r in first_epoch} >= {"/admin/198.51.0.0/16/edit"}
    assert {r["referrer"] for r in first_epoch} >= {"http://203.0.0.0/16/from"}
    assert {r["key_id"] for r in second_epoch} == {second_key.id}
    assert {r["client_net"] for r in second_epoch} == {"192.0.2.0/24", "198.51.100.0/24", "2001:db8:ab12::/48"}

    written = records(ws)
    assert [(r["action"], r["zone"], r["dataset"], r["partition"]) for r in written] == [
        *[("delete_partition", "restricted", "requests", str(d)) for d in DAYS[:-1]],
        ("destroy_key", "keys", None, None),
        *[("coarsen_partition", "anonymised", dataset, str(d)) for dataset in ("client_windows", "requests")
          for d in DAYS[:5]],
    ]  # fmt: skip
    assert [r["record_id"] for r in written] == [f"{done.run_id}-{n:03d}" for n in range(1, len(written) + 1)]
    deleted_rows = sum(r["rows"] for r in written if r["action"] == "delete_partition")
    assert deleted_rows == restricted_before.num_rows - read(ws, "restricted").num_rows
    outputs = {o["path"]: o for o in manifest["outputs"]}
    for record in written:
        assert record["as_of"] == "2026-12-01T02:00:00Z" and record["config_sha256"] == ws.config.digest()
        for entry in record["objects"]:
            assert entry["rows"] == outputs[entry["path"]]["rows"]
    destroyed = written[len(DAYS) - 1]
    assert destroyed["key"] == {"id": first_key.id, "not_before": "2026-11-16", "not_after": "2026-11-23",
                                "created": first_key.created, "destroyed": "2026-12-01T02:00:00Z"}  # fmt: skip
    assert not [s for s in secrets if any(s in json.dumps(r) for r in written)]
    assert destroyed["rule"] == {"setting": "keys.retention_days", "value": 14}
    assert destroyed["dates"] == {"not_before": "2026-11-16", "not_after": "2026-11-23", "due": "2026-11-30"}
    coarse = written[-1]
    (entry,) = coarse["objects"]
    assert entry["replaced"]["sha256"] == outputs[entry["path"]]["sha256"]
    assert entry["sha256"] != entry["replaced"]["sha256"] and coarse["key"]["destroyed"] == "2026-12-01T02:00:00Z"

    assert all(check.passed for check in verify.run(ws.config, later))
    again = sweep.run(ws.config, later)
    assert again.actions == [] and len(records(ws)) == len(written)


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    ws = retention_workspace(tmp_path)
    ingest_week(ws)
    before, keyring_before = zone_files(ws), (tmp_path / "keys" / "keyring.json").read_bytes()
    argv = ["sweep", "--config", str(ws.config_path), "--as-of", "2026-12-01T02:00:00Z"]
    dry = subprocess.run([*LOGSHROUD, *argv, "--dry-run"], capture_output=True, text=True, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert zone_files(ws) == before and (tmp_path / "keys" / "keyring.json").read_bytes() == keyring_before
    assert records(ws) == []
    real = subprocess.run([*LOGSHROUD, *argv], capture_output=True, text=True, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    planned, done = dry.stdout.splitlines(), real.stdout.splitlines()
    # 6 restricted partitions, 1 key, 5 days each of anonymised requests and client windows
    assert "nothing changed (dry run)" in planned[0] and "17 deletion record(s) written" in done[0]
    assert planned[1:] == done[1:] and len(done) == 18
    assert done[1].startswith("  delete restricted/requests/dt=2026-11-18: 1 object(s), 4 rows, ")
    assert "every record is past 7 days (security_window_days), which keep 2026-11-24 on" in done[1]
    assert done[7].startswith("  destroy key k20261116-") and "due 2026-11-30" in done[7]
    assert done[8].startswith("  coarsen anonymised/client_windows/dt=2026-11-18: ")
    assert done[13].startswith("  coarsen anonymised/requests/dt=2026-11-18: 1 object(s), 4 rows, ")


def test_parts_a_killed_run_staged_are_deleted_once_it_started_over_a_day_before(tmp_path: Path) -> None:
    """A run killed outright cannot clean up: its staged restricted parts (full addresses) would stay for
    ever. The sweep deletes them once the run started more than a day before, with a deletion record."""
    ws = retention_workspace(tmp_path)
    ingest_week(ws)
    part = next((ws.zone("restricted") / "requests").rglob("*.parquet"))
    killed, running = "20261124T010000Z-0a1b2c", "20261124T230000Z-3d4e5f"  # as of 25 Nov 02:00: 25 h and 3 h ago
    for run_id in (killed, running):
        staged = ws.zone("restricted") / "_staging" / run_id / "requests" / part.parent.name / part.name
        staged.parent.mkdir(parents=True)
        staged.write_bytes(part.read_bytes())
    (ws.zone("anonymised") / "_staging" / killed).mkdir(parents=True)
    (ws.zone("anonymised") / "_staging" / killed / "half-written").write_bytes(b"PAR1")
    unaccounted = [c for c in verify.run(ws.config, AS_OF) if c.name == "manifests_match_files"]
    assert not unaccounted[0].passed

    done = sweep.run(ws.config, AS_OF)

    staged = sorted(str(p.relative_to(ws.root)) for p in ws.root.rglob("_staging/**/*") if p.is_file())
    assert staged == [f"data/restricted/_staging/{running}/requests/{part.parent.name}/{part.name}"]
    assert not (ws.zone("restricted") / "_staging" / killed).exists()
    assert not (ws.zone("anonymised") / "_staging").exists()  # emptied folders go too
    written = [r for r in records(ws) if r["action"] == "delete_staged_run"]
    assert [(r["zone"], r["partition"], len(r["objects"])) for r in written] == [
        ("restricted", killed, 1), ("anonymised", killed, 1)]  # fmt: skip
    assert written[0]["rows"] == pq.ParquetFile(part).metadata.num_rows and written[1]["rows"] == 0
    assert written[0]["dates"] == {"run_started": "2026-11-24T01:00:00Z", "as_of": "2026-11-25T02:00:00Z"}
    assert any(a.describe().startswith(f"delete restricted/_staging/{killed}: 1 object(s)") for a in done.actions)


def test_raw_logs_go_by_the_dates_of_their_lines_not_by_mtime(tmp_path: Path) -> None:
    ws = retention_workspace(tmp_path, raw_retention="delete")
    raw = ws.zone("raw")
    raw.mkdir(parents=True)
    old = raw / "old.log"  # old lines, fresh mtime: deleted
    old.write_text("\n".join(day_lines(DAYS[0])) + "\n")
    recent = raw / "recent.log"  # recent lines: kept
    recent.write_text("\n".join(day_lines(DAYS[-1])) + "\n")
    growing = raw / "growing.log"  # old lines, but written to since its ingest: its new lines are unread
    growing.write_text("\n".join(day_lines(DAYS[0])) + "\n")
    junk = raw / "junk.log"  # no line parsed: as old as its ingest day
    junk.write_text("junk\n")
    ingest.run(ws.config, [str(old), str(recent), str(growing), str(junk)], AS_OF)
    never = raw / "never-ingested.log"
    never.write_text("\n".join(day_lines(DAYS[0])) + "\n")
    with growing.open("a") as more:
        more.write(clf_line("192.0.2.99", dt.datetime(2026, 11, 30, 1)) + "\n")

    done = sweep.run(ws.config, dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC))  # window from 2026-11-19
    assert sorted(p.name for p in raw.iterdir()) == ["growing.log", "junk.log", "never-ingested.log", "recent.log"]
    (deleted,) = [r for r in records(ws) if r["zone"] == "raw"]
    assert deleted["objects"] == [{"path": str(old), "bytes": len(day_lines_bytes(DAYS[0])), "rows": ROWS_PER_DAY}]
    assert deleted["dates"] == {"newest_event": "2026-11-18", "first_day_kept": "2026-11-19"}
    assert deleted["rule"] == {"setting": "raw_retention", "value": "delete", "window_days": 7}
    assert done.actions[0].action == "delete_partition"

    sweep.run(ws.config, dt.datetime(2026, 12, 3, 2, 0, tzinfo=UTC))  # window from 2026-11-26: the ingest day too
    assert sorted(p.name for p in raw.iterdir()) == ["growing.log", "never-ingested.log"]


def day_lines_bytes(day: dt.date) -> bytes:
    return ("\n".join(day_lines(day)) + "\n").encode()


def test_anonymised_retention_deletes_rather_than_coarsens(tmp_path: Path) -> None:
    ws = retention_workspace(tmp_path, anonymised_retention_days=10)
    ingest_week(ws)
    done = sweep.run(ws.config, dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC))  # kept from 2026-11-21
    assert partitions(ws, "anonymised") == [f"dt={d}" for d in DAYS[3:]]
    actions = [(a.action, a.partition) for a in done.actions if (a.zone, a.dataset) == ("anonymised", "requests")]
    assert actions == [
        ("coarsen_partition", "2026-11-21"),
        ("coarsen_partition", "2026-11-22"),
        *[("delete_partition", str(d)) for d in DAYS[:3]],
    ]
    deleted = [r for r in records(ws) if r["zone"] == "anonymised" and r["action"] == "delete_partition"]
    assert {r["rule"]["setting"] for r in deleted} == {"anonymised_retention_days"}
    assert {r["dataset"] for r in deleted} == {"requests", "client_windows"}
    assert sum(r["rows"] for r in deleted if r["dataset"] == "requests") == 3 * ROWS_PER_DAY
    assert all(check.passed for check in verify.run(ws.config, dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)))


def test_a_key_destroyed_before_its_events_arrive_leaves_their_partition_coarsened(tmp_path: Path) -> None:
    """A backfill of an epoch whose key is gone: no token at ingest, and the next sweep coarsens the networks."""
    ws = retention_workspace(tmp_path)
    ingest_week(ws)
    later = dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    sweep.run(ws.config, later)
    late = ws.log("late.log", [clf_line("192.0.2.77", dt.datetime(2026, 11, 17, 8))])  # epoch of 16 Nov
    ingest.run(ws.config, [str(late)], later)
    (row,) = [r for r in read(ws, "anonymised").to_pylist() if str(r["dt"]) == "2026-11-17"]
    assert (row["client_token"], row["client_net"]) == (None, "192.0.2.0/24")
    done = sweep.run(ws.config, later)
    assert [(a.action, a.dataset, a.partition) for a in done.actions] == [
        ("coarsen_partition", dataset, "2026-11-17") for dataset in ("client_windows", "requests")
    ]
    (row,) = [r for r in read(ws, "anonymised").to_pylist() if str(r["dt"]) == "2026-11-17"]
    assert row["client_net"] == "192.0.0.0/16"
    assert all(check.passed for check in verify.run(ws.config, later))


def test_a_coarsened_file_stays_a_file_analysts_read(tmp_path: Path) -> None:
    ws = retention_workspace(tmp_path)
    ingest_week(ws)
    sweep.run(ws.config, dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    (path,) = (ws.zone("anonymised") / "requests" / "dt=2026-11-18").glob("*.parquet")
    coarse = pq.read_table(path)
    assert json.loads(coarse.schema.metadata[COARSENED])["key_id"].startswith("k20261116-")
    counts = duckdb.sql(
        f"SELECT client_net, count(*) AS n FROM read_parquet('{path}') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert counts == [("192.0.0.0/16", 2), ("198.51.0.0/16", 1), ("2001:db8::/32", 1)]


def test_the_shared_sample_log_coarsens_to_no_finer_than_the_long_term_networks(
    tmp_path: Path, sample_log: Path
) -> None:
    """10,000 real lines: after the sweep no /24 of a real client is left in any string of the anonymised zone."""
    ws = Workspace(tmp_path)
    ingest.run(ws.config, [str(sample_log)], ingest.parse_time("2015-05-21T00:00:00Z"))
    clients = {c for c in read(ws, "restricted")["client_ip"].to_pylist() if ":" not in c}
    later = ingest.parse_time("2015-09-01T00:00:00Z")  # both keys of May 2015 are past 90 days

    done = sweep.run(ws.config, later)

    assert {a.action for a in done.actions} == {"delete_partition", "destroy_key", "coarsen_partition"}
    assert partitions(ws, "restricted") == []
    anonymised = read(ws, "anonymised")
    assert anonymised.num_rows == 10_000
    assert set(anonymised["client_token"].to_pylist()) == set(anonymised["key_id"].to_pylist()) == {None}
    assert {n.rsplit("/", 1)[1] for n in anonymised["client_net"].to_pylist() if n} <= {"16", "32"}
    text = strings_of(anonymised)
    left = [c for c in clients if f"{c.rsplit('.', 1)[0]}.0/24" in text]
    assert left == []
    assert not (full_addresses(text) & {parse_address(c)[1] for c in clients})
    assert all(check.passed for check in verify.run(ws.config, later))
