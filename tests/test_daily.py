"""The scheduled run: a month of daily runs keeps every promise every day; re-runs and missing logs are safe."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import daily
from tests.conftest import Workspace, clf_line
from transforms.errors import LogshroudError
from transforms.keyring import open_keyring

UTC = dt.timezone.utc
LOGSHROUD = [sys.executable, "-m", "pipelines.cli"]
FIRST_RUN = dt.datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # a Monday; it ingests Sunday 1 November
WINDOW_DAYS = 3
ANONYMISED_DAYS = 27


def month_workspace(root: Path) -> Workspace:
    """A short window, weekly keys kept three weeks, raw logs deleted, anonymised data kept 27 days."""
    return Workspace(
        root,
        security_window_days=WINDOW_DAYS,
        raw_retention="delete",
        anonymised_retention_days=ANONYMISED_DAYS,
        keys={"path": str(root / "keys" / "keyring.json"), "epoch_days": 7, "retention_days": 21},
        daily={"inputs": [str(root / "data" / "raw" / "web1" / "{date:%Y/%m/%d}" / "*.log")]},
    )


def land_log(ws: Workspace, day: dt.date) -> Path:
    """What a web server ships for one day: five requests (one naming an address in its URL) and one bad line."""
    hours = [dt.datetime.combine(day, dt.time(h)) for h in (1, 7, 13, 19, 23)]
    lines = [
        clf_line("192.0.2.10", hours[0], target="/admin/198.51.100.23/edit"),
        clf_line("192.0.2.11", hours[1]),
        clf_line("2001:db8:ab12:cd34::7", hours[2], status=500),
        clf_line("203.0.113.5", hours[3], referrer="https://www.example.com/?from=203.0.113.5"),
        clf_line("198.51.100.7", hours[4], status=404),
        "\x00 not a log line",
    ]
    path = ws.zone("raw") / "web1" / f"{day:%Y/%m/%d}" / "access.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def query(ws: Workspace, zone: str, dataset: str, sql: str) -> list[tuple]:
    files = ws.zone(zone) / dataset / "*" / "*.parquet"
    if not list((ws.zone(zone) / dataset).glob("*/*.parquet")):
        return []
    view = f"read_parquet('{files}', hive_partitioning = true)"
    return duckdb.sql(sql.format(view=view)).fetchall()


def audit(ws: Workspace, folder: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((ws.zone("audit") / folder).glob("*.json"))]


def test_a_month_of_daily_runs(tmp_path: Path) -> None:
    ws = month_workspace(tmp_path)
    landed = []
    for day_number in range(30):
        as_of = FIRST_RUN + dt.timedelta(days=day_number)
        landed.append(land_log(ws, as_of.date() - dt.timedelta(days=1)))

        run = daily.run(ws.config, as_of=as_of)

        assert run.exit_code == 0, daily.report(run)
        assert all(c.passed for c in run.checks)
        window_start = (as_of - dt.timedelta(days=WINDOW_DAYS)).date()
        (oldest,) = query(ws, "restricted", "requests", "SELECT min(ts) FROM {view}")[0]
        assert oldest.date() >= window_start, f"day {day_number + 1}: a full address held past the window"
        assert all(dt.date.fromisoformat(p.parent.name[3:]) >= window_start
                   for p in (ws.zone("restricted") / "quarantine").glob("*/*.parquet"))  # fmt: skip
        assert [p for p in landed if p.exists()] == [p for p in landed if p.parent.name >= f"{window_start:%d}"
                                                     or p.parent.parent.name > f"{window_start:%m}"]  # fmt: skip

    # Day 30, 1 December: the keys of the first three weekly epochs are destroyed (21 days from their Mondays),
    # the anonymised days from 4 November on are kept (27 days), and those of destroyed keys are coarsened.
    keys = open_keyring(ws.config.keys).keys()
    assert [(k.not_before, k.secret is None) for k in keys] == [
        ("2026-10-26", True), ("2026-11-02", True), ("2026-11-09", True),
        ("2026-11-16", False), ("2026-11-23", False), ("2026-11-30", False),
    ]  # fmt: skip
    by_day = query(ws, "anonymised", "requests",
                   "SELECT CAST(dt AS VARCHAR), count(*), count(client_token), count(key_id), "
                   "list(DISTINCT client_net ORDER BY client_net) FROM {view} GROUP BY 1 ORDER BY 1")  # fmt: skip
    assert [d for d, *_ in by_day] == [f"2026-11-{n:02d}" for n in range(4, 31)]
    for day, rows, tokens, key_ids, networks in by_day:
        assert rows == 5
        if day < "2026-11-16":
            assert (tokens, key_ids) == (0, 0)
            assert networks == ["192.0.0.0/16", "198.51.0.0/16", "2001:db8::/32", "203.0.0.0/16"]
        else:
            assert tokens == key_ids == 5
            assert networks == ["192.0.2.0/24", "198.51.100.0/24", "2001:db8:ab12::/48", "203.0.113.0/24"]
    paths = query(
        ws, "anonymised", "requests", "SELECT path FROM {view} WHERE dt < '2026-11-16' AND path LIKE '/admin%'"
    )
    assert set(paths) == {("/admin/198.51.0.0/16/edit",)}

    # The deletion records add up to what disappeared.
    manifests, deletions = audit(ws, "manifests"), audit(ws, "deletions")
    assert len(manifests) == 30
    written = {o["path"]: o for m in manifests for o in m["outputs"]}
    present = {str(p) for z in ("restricted", "anonymised", "audit") for p in ws.zone(z).rglob("*.parquet")}
    deleted = {o["path"]: o for r in deletions if r["action"] == "delete_partition" for o in r["objects"]}
    assert set(deleted) == set(written) - present
    assert all(deleted[path]["rows"] == written[path]["rows"] for path in deleted)
    for zone, dataset in (("restricted", "requests"), ("restricted", "quarantine"), ("anonymised", "requests")):
        ever = sum(o["rows"] for o in written.values() if (o["zone"], o["dataset"]) == (zone, dataset))
        now = sum(n for (n,) in query(ws, zone, dataset, "SELECT count(*) FROM {view}"))
        gone = sum(r["rows"] for r in deletions if r["action"] == "delete_partition"
                   and (r["zone"], r["dataset"]) == (zone, dataset))  # fmt: skip
        assert ever - now == gone, (zone, dataset)
    raw_deleted = sorted(o["path"] for r in deletions if r["zone"] == "raw" for o in r["objects"])
    assert raw_deleted == sorted(str(p) for p in landed if not p.exists())
    assert sum(r["rows"] for r in deletions if r["zone"] == "raw") == 6 * len(raw_deleted)
    destroyed = [r["key"]["id"] for r in deletions if r["action"] == "destroy_key"]
    assert destroyed == [k.id for k in keys[:3]]
    coarsened = sorted(
        r["partition"] for r in deletions if r["action"] == "coarsen_partition" and r["dataset"] == "requests"
    )
    assert coarsened == [f"2026-11-{n:02d}" for n in range(1, 16)]  # 1 Nov coarsened on day 15, deleted on day 30


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("/logs/{date:%Y/%m/%d}/*.gz", "/logs/2026/11/23/*.gz"),
        ("s3://weblogs/web1/access.log-{date:%Y%m%d}.gz", "s3://weblogs/web1/access.log-20261123.gz"),
        ("/logs/{date}/*", "/logs/2026-11-23/*"),
        ("/logs/{date:%Y}/{date:%j}.log", "/logs/2026/327.log"),
        ("/logs/static.log", "/logs/static.log"),
    ],
    ids=["folders by date", "file name with a date on S3", "ISO date", "twice, day of the year", "no placeholder"],
)  # fmt: skip
def test_day_globs(pattern: str, expected: str) -> None:
    assert daily.day_globs((pattern,), dt.date(2026, 11, 23)) == [expected]


@pytest.mark.parametrize("pattern", ["/logs/{day}/*.gz", "/logs/{date:%Y}/{0}.gz", "/logs/{date.year/*.gz"],
                         ids=["unknown name", "positional", "unclosed brace"])  # fmt: skip
def test_day_globs_refuse_other_placeholders(pattern: str) -> None:
    with pytest.raises(
        LogshroudError, match=r"^daily\.inputs: .*: only \{date\} or \{date:<strftime>\} may be in braces$"
    ):
        daily.day_globs((pattern,), dt.date(2026, 11, 23))


def run_daily(ws: Workspace, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*LOGSHROUD, "daily", "--config", str(ws.config_path), *argv], capture_output=True,
                          text=True, cwd=ws.root)  # fmt: skip


def test_re_runs_are_safe_and_exit_codes_tell_a_scheduler_what_happened(tmp_path: Path) -> None:
    ws = month_workspace(tmp_path)
    land_log(ws, dt.date(2026, 11, 1))

    first = run_daily(ws, "--as-of", "2026-11-02T02:00:00Z")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "verify: all 8 controls passed" in first.stdout
    files = {p: p.read_bytes() for p in ws.zone("anonymised").rglob("*.parquet")}
    again = run_daily(ws, "--as-of", "2026-11-02T02:00:00Z")
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(ws.zone("anonymised").rglob("*.parquet")) == set(files)  # the same files, no duplicates
    assert query(ws, "anonymised", "requests", "SELECT count(*) FROM {view}") == [(5,)]

    missing = run_daily(ws, "--as-of", "2026-11-03T02:00:00Z")  # nothing landed for 2 November
    assert missing.returncode == 3, missing.stdout + missing.stderr
    assert f"  no file matches {ws.zone('raw')}/web1/2026/11/02/*.log" in missing.stdout
    assert "ingest: nothing to ingest" in missing.stdout and "verify: all 8 controls passed" in missing.stdout

    land_log(ws, dt.date(2026, 11, 2))
    late = run_daily(ws, "--date", "2026-11-02", "--as-of", "2026-11-03T05:00:00Z")
    assert late.returncode == 0, late.stdout + late.stderr
    assert query(ws, "anonymised", "requests", "SELECT count(*) FROM {view}") == [(10,)]

    (ws.zone("restricted") / "requests" / "dt=2026-11-02" / "planted.parquet").write_bytes(b"not parquet")
    failed = run_daily(ws, "--as-of", "2026-11-03T05:00:00Z", "--date", "2026-11-02")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "planted.parquet: unaccounted for" in failed.stdout

    unconfigured = Workspace(tmp_path / "plain")
    done = run_daily(unconfigured)
    assert done.returncode == 2
    assert done.stderr == f"logshroud: error: {unconfigured.config_path}: daily.inputs: no input globs configured\n"
