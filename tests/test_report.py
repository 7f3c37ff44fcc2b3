"""`logshroud report`: its figures against what we sent and what ingest wrote, its controls against planted
violations, its page in headless Chromium, and no address, token, key or e-mail address in it.

Expected figures come from the traffic written here (Python over the spec), from the Parquet files read
with DuckDB and from the audit zone's JSON read with json, never from the report's own code. The same
holds over the 30 daily runs of tests/test_daily.py, with a report written into the audit zone halfway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines import cli, daily, ingest, report, report_charts, report_html
from tests.conftest import Workspace, clf_line
from tests.test_daily import FIRST_RUN, audit, land_log, month_workspace
from tests.test_daily import query as zone_query
from tests.test_ingest import full_addresses
from tests.test_s3 import s3_workspace
from transforms.errors import LogshroudError
from transforms.schema import DATASETS

UTC = dt.timezone.utc
LOGSHROUD = [sys.executable, "-m", "pipelines.cli"]
FIRST, LAST = dt.date(2026, 11, 20), dt.date(2026, 11, 23)
AS_OF = dt.datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
K = 5  # report.min_anonymity_set, the default
# Per network, its clients: crowds either side of the minimum anonymity set of 5.
NETWORKS = {
    "198.51.100.0/24": [f"198.51.100.{n}" for n in range(10, 16)],
    "203.0.113.0/24": [f"203.0.113.{n}" for n in range(20, 25)],
    "192.0.2.0/24": ["192.0.2.10", "192.0.2.77"],
    "2001:db8:1::/48": ["2001:db8:1::5"],
}
PATHS = ("/index.html", "/search?email=jane.doe@example.com", "/missing", "/api/report", "/admin")
STATUSES = (200, 200, 404, 500, 401, 200, 503, 403, 302)
GARBAGE = ("this is not a log line", "GET / HTTP/1.1")  # quarantined: format_mismatch
# Every control on a healthy workspace of the default config, which keeps raw logs and anonymised data.
HEALTHY = {
    "restricted_within_window": "pass",
    "raw_within_window": "not_applicable",
    "anonymised_within_retention": "not_applicable",
    "no_address_or_email": "pass",
    "destroyed_keys_coarsened": "pass",
    "keys_within_retention": "pass",
    "manifests_match_files": "pass",
    "manifest_chain": "pass",
    "runs_balanced": "pass",
}


def day_traffic(day: dt.date, number: int) -> list[dict]:
    """A day of requests: on day `number` the first network loses `number` clients, so its crowd shrinks
    below the minimum; clients send 1 to 3 requests each at spread-out times."""
    rows = []
    for net, clients in NETWORKS.items():
        for c, client in enumerate(clients[: len(clients) - number] if net.startswith("198") else clients):
            for _ in range(1 + (c + number) % 3):
                i = len(rows)
                rows.append({"client": client, "net": net, "status": STATUSES[i % len(STATUSES)],
                             "path": PATHS[i % len(PATHS)], "referrer": "http://192.0.2.10/admin" if i % 7 == 0 else "-",
                             "ts": dt.datetime.combine(day, dt.time(6 + i % 12, (7 * i) % 60))})  # fmt: skip
    return rows


def brute_force(day: dt.date) -> list[dict]:
    """Twelve failed logins from one client within four minutes: a brute_force alert."""
    return [{"client": "203.0.113.20", "net": "203.0.113.0/24", "status": 401, "path": "/login", "referrer": "-",
             "ts": dt.datetime.combine(day, dt.time(10)) + dt.timedelta(seconds=20 * i)} for i in range(12)]  # fmt: skip


def log_lines(rows: list[dict]) -> list[str]:
    lines = [clf_line(r["client"], r["ts"], r["path"], r["status"], referrer=r["referrer"]) for r in rows]
    return [*lines, *GARBAGE]


# The runs: (input file, its rows, the run's as-of). The third day's traffic is split over two files
# ingested by two runs, so one day holds two runs and two counts of its anonymity sets.
def runs_plan() -> list[tuple[str, list[dict], dt.datetime]]:
    day1, day2, day3 = (FIRST + dt.timedelta(days=n) for n in range(3))
    third = day_traffic(day3, 2)
    return [
        ("day1.log", day_traffic(day1, 0) + brute_force(day1), dt.datetime(2026, 11, 21, 3, tzinfo=UTC)),
        ("day2.log", day_traffic(day2, 1), dt.datetime(2026, 11, 22, 3, tzinfo=UTC)),
        ("day3-web1.log", third[0::2], dt.datetime(2026, 11, 23, 3, tzinfo=UTC)),
        ("day3-web2.log", third[1::2], dt.datetime(2026, 11, 23, 4, tzinfo=UTC)),
    ]


def ingest_plan(workspace: Workspace, plan) -> list[dict]:
    return [ingest.run(workspace.config, [str(workspace.log(name, log_lines(rows)))], as_of)
            for name, rows, as_of in plan]  # fmt: skip


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Workspace, list[dict], dict, dict[str, str]]:
    """Four ingest runs over three days, and the report of 20-23 November written with its PDF."""
    workspace = Workspace(tmp_path_factory.mktemp("report"), report={"prepared_by": "Anna de Vries"})
    manifests = ingest_plan(workspace, runs_plan())
    built, files = report.run(workspace.config, FIRST, LAST, AS_OF, str(workspace.root / "out"))
    return workspace, manifests, built, files


def days() -> list[str]:
    return [(FIRST + dt.timedelta(days=n)).isoformat() for n in range((LAST - FIRST).days + 1)]


# --- the figures --------------------------------------------------------------------------------------------


def test_processing_per_day_is_what_each_run_read(written) -> None:
    workspace, manifests, built, _ = written
    expected = {day: {"runs": [], "input_files": 0, "lines_read": 0, "rows": 0, "quarantined": 0} for day in days()}
    for (_, rows, _), manifest in zip(runs_plan(), manifests, strict=True):
        day = expected[rows[0]["ts"].date().isoformat()]  # the day the input's lines are about
        day["runs"] = sorted([*day["runs"], manifest["run_id"]])  # two runs in one second: either order
        day["input_files"] += 1
        day["lines_read"] += len(rows) + len(GARBAGE)
        day["rows"] += len(rows)
        day["quarantined"] += len(GARBAGE)
    got = {
        d["day"]: {k: d[k] for k in expected[d["day"]]} | {"runs": sorted(d["runs"])}
        for d in built["processing"]["days"]
    }
    assert got == expected
    assert [d["quarantine_reasons"] for d in built["processing"]["days"]] == [*[{"format_mismatch": 2}] * 2,
                                                                              {"format_mismatch": 4}, {}]  # fmt: skip
    assert sorted(r["run_id"] for r in built["processing"]["runs"]) == sorted(m["run_id"] for m in manifests)


def test_processing_rows_are_the_rows_each_run_wrote(written) -> None:
    workspace, _, built, _ = written
    folder = workspace.zone("anonymised") / "requests"
    written_rows = dict(
        duckdb.sql(f"SELECT run_id, count(*) FROM read_parquet('{folder}/*/*.parquet') GROUP BY 1").fetchall()
    )
    assert {r["run_id"]: r["rows"] for r in built["processing"]["runs"]} == written_rows


def expected_anonymity() -> dict[str, dict]:
    """Per day and network: distinct clients (for a day counted by two runs, the larger count) and requests."""
    clients: dict[tuple[str, str], int] = {}
    requests: Counter = Counter()
    for _, rows, _ in runs_plan():
        per_file = defaultdict(set)
        for r in rows:
            per_file[(r["ts"].date().isoformat(), r["net"])].add(r["client"])
            requests[(r["ts"].date().isoformat(), r["net"])] += 1
        for key, seen in per_file.items():
            clients[key] = max(clients.get(key, 0), len(seen))
    result = {}
    for day in days():
        nets = {net: (n, requests[(d, net)]) for (d, net), n in clients.items() if d == day}
        rows = sum(r for _, r in nets.values())
        small = sum(r for n, r in nets.values() if n < K)
        result[day] = {"networks": len(nets), "rows": rows, "networks_below_min": sum(n < K for n, _ in nets.values()),
                       "rows_below_min": small, "share_below_min": small / rows if rows else 0.0}  # fmt: skip
    return result


def test_anonymity_sets_per_day_are_the_clients_we_sent(written) -> None:
    _, _, built, _ = written
    expected = expected_anonymity()
    got = {d["day"]: {k: d[k] for k in expected[d["day"]]} for d in built["anonymity"]["days"]}
    assert got == expected
    assert expected["2026-11-22"]["networks_below_min"] == 3  # the first crowd shrank to 4 clients
    rows = sum(d["rows"] for d in expected.values())
    assert built["anonymity"]["share_below_min"] == sum(d["rows_below_min"] for d in expected.values()) / rows
    assert built["summary"]["findings"] and "fewer than 5 distinct clients" in built["summary"]["findings"][0]


def test_anonymity_distribution_counts_every_network_day_once(written) -> None:
    _, _, built, _ = written
    a = built["anonymity"]
    assert a["set_size_edges"] == [1, 2, 3, 5, 10, 20, 50, 100]
    sizes = Counter()
    for day in a["days"]:
        assert sum(day["networks_by_set_size"]) == day["networks"]
        sizes.update(dict(enumerate(day["networks_by_set_size"])))
    assert a["networks_by_set_size"] == [sizes[i] for i in range(len(a["set_size_edges"]))]
    assert a["networks_by_set_size"][:4] == [3, 3, 1, 5]  # 1 client, 2, 3-4 (the shrunk crowd), 5-9


def test_security_use_matches_the_requests_and_alerts_written(written) -> None:
    workspace, _, built, _ = written
    sent = [r for _, rows, _ in runs_plan() for r in rows]
    requests = workspace.zone("anonymised") / "requests"
    attacks = dict(duckdb.sql(f"SELECT CAST(dt AS VARCHAR), count(*) FILTER (len(attack_families) > 0) "
                              f"FROM read_parquet('{requests}/*/*.parquet', hive_partitioning = true) GROUP BY ALL"
                              ).fetchall())  # fmt: skip
    for day in built["security"]["days"]:
        mine = [r for r in sent if r["ts"].date().isoformat() == day["day"]]
        assert day["requests"] == len(mine)
        assert day["client_errors"] == sum(400 <= r["status"] < 500 for r in mine)
        assert day["server_errors"] == sum(r["status"] >= 500 for r in mine)
        assert day["attack_requests"] == attacks.get(day["day"], 0)
    alerts = workspace.zone("anonymised") / "alerts"
    per_day = duckdb.sql(f"SELECT CAST(dt AS VARCHAR), alert, count(*) FROM read_parquet('{alerts}/*/*.parquet', "
                         "hive_partitioning = true) GROUP BY ALL").fetchall()  # fmt: skip
    got = [(d["day"], kind, n) for d in built["security"]["days"] for kind, n in d["alerts_by_kind"].items() if n]
    assert sorted(got) == sorted(per_day)
    assert any(day == "2026-11-20" and kind == "brute_force" for day, kind, _ in got)
    assert built["security"]["rows_without_attack_rules"] == 0


def test_retention_holdings_are_the_partitions_in_the_zones(written) -> None:
    workspace, _, built, _ = written
    expected = {}
    for zone in ("restricted", "anonymised", "audit"):
        for dataset in sorted(p.name for p in workspace.zone(zone).iterdir() if p.is_dir() and p.name != "manifests"):
            partitions = sorted(p.name[3:] for p in (workspace.zone(zone) / dataset).glob("dt=*"))
            files = list((workspace.zone(zone) / dataset).glob("dt=*/*.parquet"))
            expected[(zone, dataset)] = (len(partitions), len(files), partitions[0],
                                         (AS_OF.date() - dt.date.fromisoformat(partitions[0])).days)  # fmt: skip
    got = {(h["zone"], h["dataset"]): (h["partitions"], h["files"], h["oldest_day"], h["oldest_age_days"])
           for h in built["retention"]["holdings"] if h["zone"] != "raw"}  # fmt: skip
    assert got == expected
    assert ("restricted", "requests") in got and ("audit", "anonymity_sets") in got
    restricted = [h for h in built["retention"]["holdings"] if h["zone"] == "restricted"]
    assert all(h["retention_days"] == 7 and h["within_limit"] for h in restricted)
    (raw,) = [h for h in built["retention"]["holdings"] if h["zone"] == "raw"]  # the logs were never in it
    assert (raw["files"], raw["oldest_day"], raw["retention_days"], raw["within_limit"]) == (0, None, None, True)


def test_keys_are_listed_by_id_and_dates(written) -> None:
    workspace, _, built, _ = written
    keyring = json.loads((workspace.root / "keys" / "keyring.json").read_text())
    assert [(k["id"], k["epoch_from"], k["epoch_to"], k["destroyed"]) for k in built["retention"]["keys"]] == [
        (k["id"], k["not_before"], k["not_after"], False) for k in keyring["keys"]
    ]
    assert built["retention"]["keys"][0]["due"] == "2027-02-14"  # 90 days from Monday 16 November
    assert built["retention"]["deletions"] == []


def test_every_control_passes_on_a_healthy_workspace(written) -> None:
    _, manifests, built, _ = written
    controls = {c["name"]: c for c in built["verification"]["controls"]}
    assert {name: c["status"] for name, c in controls.items()} == HEALTHY
    assert [c["name"] for c in built["summary"]["controls"]] == list(HEALTHY)
    assert built["summary"]["passed"]
    files = sum(len(m["outputs"]) for m in manifests)
    match = controls["manifests_match_files"]["evidence"]
    assert (match["manifests"], match["files_recorded"], match["files_found"]) == (4, files, files)
    assert controls["manifest_chain"]["evidence"] == {"manifests": 4, "chained": 4, "not_chained": 0}
    assert controls["raw_within_window"]["not_applicable"] == "raw_retention: keep (raw logs are kept)"


def test_policy_is_the_config_in_force(written) -> None:
    workspace, _, built, _ = written
    config = workspace.config
    policy = built["policy"]
    assert built["config"]["sha256"] == config.digest()
    assert (policy["security_window_days"], policy["truncation"]) == (7, {"ipv4_prefix": 24, "ipv6_prefix": 48})
    assert (policy["token"]["epoch_days"], policy["token"]["key_retention_days"]) == (7, 90)
    assert policy["long_term_coarsening"] == {"ipv4_prefix": 16, "ipv6_prefix": 32, "after_days": 90}
    assert (policy["raw_retention"], policy["anonymised_retention_days"]) == ("keep", None)
    assert [z["retention_days"] for z in policy["zones"]] == [None, 7, None, None]
    assert [z["location"] for z in policy["zones"]] == [str(workspace.zone(z)) for z in ("raw", "restricted",
                                                                                        "anonymised", "audit")]  # fmt: skip
    assert {(d["zone"], d["dataset"]) for d in policy["datasets"]} == set(DATASETS)


# --- the files --------------------------------------------------------------------------------------------


def test_the_html_signs_the_sha256_of_report_json(written) -> None:
    _, _, built, files = written
    document = Path(files["json"]).read_bytes()
    assert json.loads(document) == json.loads(json.dumps(built))
    html = Path(files["html"]).read_text()
    assert f"<code>{hashlib.sha256(document).hexdigest()}</code>" in html
    assert "Anna de Vries" in html


def test_the_page_is_self_contained(written) -> None:
    html = Path(written[3]["html"]).read_text()
    for outside in ("<script", "<link", "src=", "url(", "http://", "https://", "@import"):
        assert outside not in html


def test_the_report_holds_no_address_token_key_or_email(written) -> None:
    workspace, _, _, files = written
    tokens = {t for (t,) in duckdb.sql(f"SELECT DISTINCT client_token FROM read_parquet("
                                       f"'{workspace.zone('anonymised')}/requests/*/*.parquet')").fetchall()}  # fmt: skip
    secrets = {k["secret"] for k in json.loads((workspace.root / "keys" / "keyring.json").read_text())["keys"]}
    assert tokens and secrets
    for name in ("html", "json"):
        text = Path(files[name]).read_text()
        assert full_addresses(text) == set(), name
        assert not re.search(r"\b[0-9a-f]{32}\b", text), name  # a token's length (digests are 64)
        assert not any(t in text for t in tokens | secrets), name
        assert not re.search(r"[\w.+-]+(@|%40)[\w-]+\.\w", text), name


def test_the_pdf_is_printed_by_chromium(written) -> None:
    pdf = Path(written[3]["pdf"]).read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 20_000


def chromium() -> str:
    found = report.find_chromium()
    if found is None:
        pytest.fail("headless Chromium is needed to render the report: `make test` installs Debian's chromium")
    return found


def test_chromium_renders_every_section_and_its_charts(written, tmp_path: Path) -> None:
    html = Path(written[3]["html"])
    browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*browser, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True).stdout  # fmt: skip
    for number, (_, title) in enumerate(report_html.SECTIONS, start=1):
        assert f"<h2>{number}. {title}</h2>" in dom
    # processing, retention, anonymity (two), errors and alerts; no attack chart: no rule matched
    assert dom.count('<svg class="chart"') == 6
    shot = tmp_path / "report.png"
    subprocess.run([*browser, "--hide-scrollbars", "--window-size=1100,6000", f"--screenshot={shot}", html.as_uri()],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    colours = {colour for _, colour in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 24)}
    assert len(colours) > 1
    assert (0x4E, 0x79, 0xA7) in colours  # the processing chart's columns are on the page


# --- planted violations -------------------------------------------------------------------------------------


def plant_old_restricted_partition(workspace: Workspace) -> None:
    part = next((workspace.zone("restricted") / "requests").glob("dt=*/*.parquet"))
    old = workspace.zone("restricted") / "requests" / "dt=2026-11-01" / part.name
    old.parent.mkdir()
    old.write_bytes(part.read_bytes())


def plant_changed_file(workspace: Workspace) -> None:
    part = sorted((workspace.zone("anonymised") / "requests").glob("dt=*/*.parquet"))[0]
    table = pq.read_table(part)
    pq.write_table(table.slice(1), part)  # one row fewer: another size, another checksum


def plant_missing_file(workspace: Workspace) -> None:
    next((workspace.zone("anonymised") / "client_windows").glob("dt=*/*.parquet")).unlink()


def manifest_files(workspace: Workspace) -> list[Path]:
    """The manifests in the order the runs started."""
    found = [(json.loads(p.read_text()), p) for p in (workspace.zone("audit") / "manifests").glob("*.json")]
    return [p for m, p in sorted(found, key=lambda pair: (pair[0]["started"], pair[0]["run_id"]))]


def plant_edited_manifest(workspace: Workspace) -> None:
    edit_manifest(manifest_files(workspace)[0])


def edit_manifest(path: Path) -> None:
    """One figure of a run's totals changed after the fact."""
    document = json.loads(path.read_text())
    document["totals"]["quarantined"] -= 1
    path.write_text(json.dumps(document, indent=1))


def plant_unbalanced_run(workspace: Workspace) -> None:
    path = manifest_files(workspace)[0]
    document = json.loads(path.read_text())
    document["totals"]["balanced"] = False
    path.write_text(json.dumps(document, indent=1))


@pytest.mark.parametrize(
    ("plant", "failed"),
    [
        (plant_old_restricted_partition, {"restricted_within_window": "restricted/requests/dt=2026-11-01: 1 file(s)",
                                          "manifests_match_files": ": unaccounted for"}),
        (plant_changed_file, {"manifests_match_files": "anonymised/requests/dt=2026-11-20/part-"}),
        (plant_missing_file, {"manifests_match_files": "missing (recorded by "}),
        (plant_edited_manifest, {"manifest_chain": "does not match the manifest written before it, "}),
        (plant_unbalanced_run, {"runs_balanced": "lines read"}),
    ],
    ids=["restricted past the window", "changed file", "missing file", "edited manifest", "unbalanced run"],
)  # fmt: skip
def test_a_planted_violation_fails_its_controls_and_no_other(make_workspace, plant, failed: dict[str, str]) -> None:
    workspace = make_workspace()
    ingest_plan(workspace, runs_plan()[: 2 if plant is plant_edited_manifest else 1])  # a chain breaks between two
    plant(workspace)
    built = report.build(workspace.config, FIRST, LAST, AS_OF)
    controls = {c["name"]: c for c in built["verification"]["controls"]}
    assert {name: c["status"] for name, c in controls.items()} == HEALTHY | dict.fromkeys(failed, "fail")
    for name, failure in failed.items():
        assert len(controls[name]["failures"]) == 1 and failure in controls[name]["failures"][0]
    assert not built["summary"]["passed"]


def test_a_restricted_partition_past_the_window_fails_later(written) -> None:
    workspace, _, _, _ = written
    later = report.build(workspace.config, FIRST, LAST, dt.datetime(2026, 11, 29, 3, tzinfo=UTC))
    control = later["verification"]["controls"][0]
    assert control["status"] == "fail"
    assert [f.split(":")[0] for f in control["failures"]] == [
        "restricted/alerts/dt=2026-11-20", "restricted/quarantine/dt=2026-11-21",  # the first run's day
        "restricted/requests/dt=2026-11-20", "restricted/requests/dt=2026-11-21"]  # fmt: skip
    assert not next(h for h in later["retention"]["holdings"] if h["dataset"] == "requests")["within_limit"]


# --- data-subject requests ---------------------------------------------------------------------------------


def subject_record(request_id: str, kind: str, recorded: str, counts: dict[str, int], partitions: list[str],
                   dry_run: bool = False) -> dict:  # fmt: skip
    """A record as `logshroud subject` writes it to `<audit>/subject_requests/<request_id>.json`: no identifier."""
    return {"record": "subject_request", "request_id": request_id, "kind": kind, "dry_run": dry_run,
            "recorded": recorded, "as_of": recorded[:10] + "T09:00:00Z", "counts": counts,
            "partitions": partitions}  # fmt: skip


SUBJECT_RECORDS = [
    subject_record("dsr-0041", "export", "2026-11-19T09:00:04.120000Z", {"restricted/requests": 9},
                   ["restricted/requests/dt=2026-11-18"]),  # before the period
    subject_record("dsr-0042", "export", "2026-11-21T10:15:00.500000Z",
                   {"restricted/requests": 7, "restricted/alerts": 1},
                   ["restricted/requests/dt=2026-11-20", "restricted/alerts/dt=2026-11-20"]),
    subject_record("dsr-0043", "erase", "2026-11-22T08:00:00.000000Z", {"restricted/requests": 4},
                   ["restricted/requests/dt=2026-11-21"], dry_run=True),
    subject_record("dsr-0043", "erase", "2026-11-22T08:05:00.000000Z", {"restricted/requests": 4},
                   ["restricted/requests/dt=2026-11-21"]),
]  # fmt: skip


def test_data_subject_requests_are_listed_by_kind_and_date_as_counts(make_workspace) -> None:
    workspace = make_workspace()
    ingest_plan(workspace, runs_plan()[:1])
    folder = workspace.zone("audit") / "subject_requests"
    folder.mkdir()
    for number, record in enumerate(SUBJECT_RECORDS):
        (folder / f"{record['request_id']}-{number}.json").write_text(json.dumps(record, indent=1))
    built, files = report.run(workspace.config, FIRST, LAST, AS_OF, str(workspace.root / "out"))

    in_period = [r for r in SUBJECT_RECORDS if FIRST.isoformat() <= r["recorded"][:10] <= LAST.isoformat()]
    assert [(r["recorded"], r["kind"], r["dry_run"], r["rows"], r["partitions"])
            for r in built["subject_requests"]["recorded"]] == [
        (r["recorded"], r["kind"], r["dry_run"], sum(r["counts"].values()), len(r["partitions"])) for r in in_period
    ]  # fmt: skip
    assert built["subject_requests"]["by_kind"] == {
        "export": {"requests": 1, "dry_runs": 0, "rows": 8, "partitions": 2},
        "erase": {"requests": 1, "dry_runs": 1, "rows": 4, "partitions": 1},
    }
    html = Path(files["html"]).read_text()
    section = html[html.index("8. Data-subject requests") : html.index("9. Sign-off")]
    assert "2026-11-21T10:15:00.500000Z" in section and "restricted/alerts 1" in section
    assert "dsr-00" not in Path(files["json"]).read_text() + html  # who asked is in the record, not the report
    assert {c["name"]: c["status"] for c in built["verification"]["controls"]} == HEALTHY


def test_no_data_subject_request_is_none_recorded(written) -> None:
    _, _, built, files = written
    zero = {"requests": 0, "dry_runs": 0, "rows": 0, "partitions": 0}
    assert built["subject_requests"] == {"recorded": [], "by_kind": {"export": zero, "erase": zero}}
    assert "<h2>8. Data-subject requests</h2><p>None recorded.</p>" in Path(files["html"]).read_text()


# --- the command line, config and storage ----------------------------------------------------------------


def test_the_command_writes_the_report_and_says_where(written, tmp_path: Path) -> None:
    workspace = written[0]
    out = tmp_path / "signed"
    done = subprocess.run([*LOGSHROUD, "report", "--config", str(workspace.config_path), "--from", "2026-11-20",
                           "--to", "2026-11-23", "--as-of", "2026-11-23T12:00:00Z", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "report 2026-11-20 .. 2026-11-23 as of 2026-11-23T12:00:00Z: 7 control(s) passed, 0 failed, 2 not applicable"
    )
    assert f"html: {out / 'report.html'}" in done.stdout and f"pdf:  {out / 'report.pdf'}" in done.stdout
    assert (out / "report.json").read_bytes() == Path(
        written[3]["json"]
    ).read_bytes()  # the same evidence, byte for byte


def test_without_chromium_html_and_json_are_written_and_the_pdf_explained(written, tmp_path: Path, monkeypatch,
                                                                        capsys) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    out = tmp_path / "no-browser"
    argv = ["--config", str(written[0].config_path), "--from", "2026-11-20", "--to", "2026-11-23", "--as-of",
            "2026-11-23T12:00:00Z", "--out", str(out)]  # fmt: skip
    assert report.main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json"]
    assert "report.pdf not written: no Chromium on PATH (looked for chromium, chromium-browser, google-chrome" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--from", "2026-11-23", "--to", "2026-11-20"],
            "logshroud: error: --from 2026-11-23 is after --to 2026-11-20",
        ),
        (["--from", "23/11/2026", "--to", "2026-11-20"], "expected a date YYYY-MM-DD, got '23/11/2026'"),
        (["--from", "2026-11-20", "--to", "2026-11-23", "--as-of", "soon"], "--as-of: not an ISO 8601 time: 'soon'"),
    ],
)
def test_mistakes_are_one_line(written, capsys, args: list[str], message: str) -> None:
    try:
        code = cli.main(["report", "--config", str(written[0].config_path), *args])
    except SystemExit as refused:  # argparse's own refusal of an argument
        code = refused.code
    error = capsys.readouterr().err
    assert code == 2
    assert message in error and "Traceback" not in error


@pytest.mark.parametrize("role", ["prepared_by", "reviewed_by"])
def test_a_signer_given_as_an_email_address_is_refused(make_workspace, role: str) -> None:
    workspace = make_workspace(report={role: "anna@example.com"})
    with pytest.raises(LogshroudError, match=rf"report\.{role}: give a name, not an e-mail address"):
        report.run(workspace.config, FIRST, LAST, AS_OF)


def test_the_report_goes_to_the_audit_zone_on_s3(s3, s3_endpoint: str, tmp_path: Path) -> None:
    zones = s3.new_bucket()
    workspace = s3_workspace(tmp_path, s3_endpoint, zones)
    name, rows, as_of = runs_plan()[0]
    ingest.run(workspace.config, [str(workspace.log(name, log_lines(rows)))], as_of)
    built, files = report.run(workspace.config, FIRST, LAST, AS_OF)
    folder = f"s3://{zones}/zones/audit/reports/2026-11-20_2026-11-23_20261123T120000Z"
    assert {files["json"], files["html"], files["pdf"]} == {f"{folder}/report.{x}" for x in ("json", "html", "pdf")}
    stored = s3.get_object(Bucket=zones, Key=files["json"].removeprefix(f"s3://{zones}/"))["Body"].read()
    assert json.loads(stored) == json.loads(json.dumps(built))
    assert built["processing"]["totals"]["rows"] == len(rows)
    assert built["anonymity"]["rows"] == len(rows)
    assert {c["name"]: c["status"] for c in built["verification"]["controls"]} == HEALTHY


# --- the parts --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "dataset"), sorted(DATASETS))
def test_every_column_has_a_personal_data_class(zone: str, dataset: str) -> None:
    assert {name: report.column_class(zone, name) for name in DATASETS[(zone, dataset)].names if
            report.column_class(zone, name) is None} == {}  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "column", "expected"),
    [
        ("restricted", "client_ip", "personal"),
        ("restricted", "path", "personal"),  # as logged: may hold an address or an e-mail address
        ("anonymised", "path", "anonymous"),  # scrubbed
        ("anonymised", "client_token", "pseudonymous"),
        ("anonymised", "client_net", "anonymous"),
        ("restricted", "line", "personal"),  # a quarantined line, whole
        ("audit", "distinct_clients", "anonymous"),
    ],
)
def test_column_class(zone: str, column: str, expected: str) -> None:
    assert report.column_class(zone, column) == expected


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (0, [0, 1]),
        (7, [0, 2, 4, 6, 8]),
        (1200, [0, 250, 500, 750, 1000, 1250]),
        (20000, [0, 5000, 10000, 15000, 20000]),
        (0.05, [0, 0.01, 0.02, 0.03, 0.04, 0.05]),
    ],
)
def test_nice_ticks(top: float, ticks: list[float]) -> None:
    assert report_charts.nice_ticks(top) == pytest.approx(ticks)


@pytest.mark.parametrize(
    ("edges", "labels"),
    [
        ([1, 2, 3, 5, 10], ["1", "2", "3-4", "5-9", "10+"]),
        ([1, 2, 3, 5, 7, 10], ["1", "2", "3-4", "5-6", "7-9", "10+"]),
    ],
)
def test_set_size_labels(edges: list[int], labels: list[str]) -> None:
    assert report_html.set_size_labels(edges) == labels


@pytest.mark.parametrize(("k", "edges"), [(5, [1, 2, 3, 5, 10, 20, 50, 100]), (7, [1, 2, 3, 5, 7, 10, 20, 50, 100])])
def test_the_histogram_splits_at_the_minimum_set_size(k: int, edges: list[int]) -> None:
    assert report.set_size_edges(k) == edges


def output(day: str, rows: int, source: str = "s1", zone: str = "anonymised", dataset: str = "requests") -> dict:
    return {
        "zone": zone,
        "dataset": dataset,
        "dt": day,
        "rows": rows,
        "path": f"/z/{dataset}/dt={day}/part-{source}-0-0.parquet",
    }


@pytest.mark.parametrize(
    ("outputs", "day"),
    [
        ([output("2026-11-20", 900)], "2026-11-20"),
        (
            [output("2026-11-19", 3), output("2026-11-20", 900), output("2026-11-21", 2)],
            "2026-11-20",
        ),  # around midnight
        ([output("2026-11-19", 5), output("2026-11-20", 5)], "2026-11-19"),  # a tie: the earlier day
        ([output("2026-11-18", 900, source="s2"), output("2026-11-20", 1)], "2026-11-20"),  # another input's rows
        ([output("2026-11-18", 900, dataset="client_windows")], "2026-11-25"),  # no row of its own: the run's day
        ([], "2026-11-25"),  # every line quarantined
    ],
)
def test_an_input_counts_on_the_day_most_of_its_rows_fall_on(outputs: list[dict], day: str) -> None:
    manifest = {"as_of": "2026-11-25T03:00:00Z", "outputs": outputs}
    assert report.input_day(manifest, {"source_id": "s1"}) == dt.date.fromisoformat(day)


# --- a month of daily runs ------------------------------------------------------------------------------------

MONTH_FIRST, MONTH_LAST = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
MONTH_AS_OF = FIRST_RUN + dt.timedelta(days=29)  # the last daily run, 1 December
HALFWAY = 14  # the run after which the report of the first two weeks is written into the audit zone


def month_days() -> list[str]:
    return [(MONTH_FIRST + dt.timedelta(days=n)).isoformat() for n in range((MONTH_LAST - MONTH_FIRST).days + 1)]


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> tuple[Workspace, list[int], dict]:
    """The 30 daily runs of tests/test_daily.py (3-day window, raw logs deleted, anonymised data kept 27 days,
    weekly keys kept 21), a report of the first two weeks written halfway to `<audit>/reports/`, where the
    later runs' verify reads past it; the exit code of each run; and the report of November as of the last."""
    workspace = month_workspace(tmp_path_factory.mktemp("month"))
    exit_codes = []
    for number in range(30):
        as_of = FIRST_RUN + dt.timedelta(days=number)
        land_log(workspace, as_of.date() - dt.timedelta(days=1))
        exit_codes.append(daily.run(workspace.config, as_of=as_of).exit_code)
        if number == HALFWAY:
            report.run(workspace.config, MONTH_FIRST, as_of.date() - dt.timedelta(days=1), as_of)
    return workspace, exit_codes, report.build(workspace.config, MONTH_FIRST, MONTH_LAST, MONTH_AS_OF)


def test_month_every_control_passes_with_a_report_in_the_audit_zone(month) -> None:
    workspace, exit_codes, built = month
    assert exit_codes == [0] * 30  # verify passed after every run, the report in the audit zone for the last 15
    assert {c["status"] for c in built["verification"]["controls"]} == {"pass"}  # every control applies here
    (written,) = (workspace.zone("audit") / "reports").iterdir()
    assert sorted(p.name for p in written.iterdir()) == ["report.html", "report.json", "report.pdf"]
    leaks = next(c for c in built["verification"]["controls"] if c["name"] == "no_address_or_email")
    assert leaks["evidence"]["reports_not_scanned"] == 3


def test_month_processing_is_what_the_manifests_and_the_parquet_hold(month) -> None:
    workspace, _, built = month
    inputs = [entry for m in audit(workspace, "manifests") for entry in m["inputs"]]
    expected = {}
    for day in month_days():
        about = [e for e in inputs if f"/{day.replace('-', '/')}/" in e["path"]]  # .../web1/2026/11/04/access.log
        expected[day] = tuple(sum(e[n] for e in about) for n in ("lines_read", "rows", "quarantined")) + (len(about),)
    got = {
        d["day"]: (d["lines_read"], d["rows"], d["quarantined"], d["input_files"]) for d in built["processing"]["days"]
    }
    assert got == expected
    assert set(expected.values()) == {(6, 5, 1, 1)}  # what land_log ships each day
    held = zone_query(
        workspace, "anonymised", "requests", "SELECT CAST(dt AS VARCHAR), count(*) FROM {view} GROUP BY 1"
    )
    assert sorted(held) == [(day, got[day][1]) for day in month_days()[3:]]  # 1-3 November are past 27 days
    # A day's bad line is quarantined in the partition of its run, the day after; the last four are held.
    quarantined = zone_query(workspace, "restricted", "quarantine", "SELECT dt, count(*) FROM {view} GROUP BY 1")
    assert sorted((str(run_day - dt.timedelta(days=1)), n) for run_day, n in quarantined) == [
        (day, got[day][2]) for day in month_days()[-4:]
    ]


def test_month_deletions_per_day_are_the_deletion_records(month) -> None:
    workspace, _, built = month
    expected: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for record in audit(workspace, "deletions"):
        if record["as_of"][:10] in month_days():
            expected[(record["as_of"][:10], record["action"])].update(
                records=1, objects=len(record["objects"]), rows=record["rows"], bytes=record["bytes"]
            )
    got = {(d["day"], action): Counter(n) for d in built["retention"]["deletions_by_day"]
           for action, n in d["actions"].items()}  # fmt: skip
    assert got == expected
    assert len(built["retention"]["deletions"]) == sum(n["records"] for n in expected.values())
    assert {action for _, action in got} == {"delete_partition", "delete_raw_object", "destroy_key",
                                             "coarsen_partition"}  # fmt: skip


def test_month_keys_destroyed_are_the_keyring_and_its_records(month) -> None:
    workspace, _, built = month
    keyring = json.loads(Path(workspace.config.keys.path).read_text())["keys"]
    recorded = {r["key"]["id"]: r["as_of"][:10] for r in audit(workspace, "deletions") if r["action"] == "destroy_key"}
    got = {k["id"]: (k["destroyed"], k["destroyed_on"]) for k in built["retention"]["keys"]}
    assert got == {k["id"]: (k["secret"] is None, k["destroyed"] and k["destroyed"][:10]) for k in keyring}
    assert {key: day for key, (destroyed, day) in got.items() if destroyed} == recorded
    assert sorted(recorded.values()) == ["2026-11-16", "2026-11-23", "2026-11-30"]  # 21 days from their Mondays


def test_month_anonymity_finding_is_the_counts_in_the_audit_zone(month) -> None:
    workspace, _, built = month
    networks = zone_query(workspace, "audit", "anonymity_sets", "SELECT CAST(dt AS VARCHAR), max(distinct_clients), "
                          "sum(requests) FROM {view} GROUP BY dt, client_net")  # fmt: skip
    rows, below = Counter(), Counter()
    for day, clients, requests in networks:
        rows[day] += requests
        below[day] += requests if clients < K else 0
    got = {d["day"]: (d["rows"], d["rows_below_min"], d["share_below_min"]) for d in built["anonymity"]["days"]}
    assert got == {day: (rows[day], below[day], below[day] / rows[day]) for day in month_days()}
    assert built["anonymity"]["share_below_min"] == sum(below.values()) / sum(rows.values())
    assert set(rows.values()) == {5}  # every request of a day, though its partition may be gone


def test_month_security_use_is_what_the_anonymised_zone_holds(month) -> None:
    workspace, _, built = month
    counts = zone_query(workspace, "anonymised", "requests", "SELECT CAST(dt AS VARCHAR), count(*), "
                        "count(*) FILTER (WHERE status BETWEEN 400 AND 499), count(*) FILTER (WHERE status >= 500) "
                        "FROM {view} GROUP BY 1")  # fmt: skip
    expected = dict.fromkeys(month_days(), (0, 0, 0)) | {day: tuple(n) for day, *n in counts}
    got = {d["day"]: (d["requests"], d["client_errors"], d["server_errors"]) for d in built["security"]["days"]}
    assert got == expected


def test_month_holdings_are_the_zones_as_they_are(month) -> None:
    workspace, _, built = month
    got = {(h["zone"], h["dataset"]): (h["oldest_day"], h["within_limit"]) for h in built["retention"]["holdings"]}
    expected = {}
    for zone in ("restricted", "anonymised", "audit"):
        for dataset in (p for p in workspace.zone(zone).iterdir() if any(p.glob("dt=*"))):
            expected[(zone, dataset.name)] = (min(p.name[3:] for p in dataset.glob("dt=*")), True)
    logs = sorted(workspace.zone("raw").rglob("*.log"))  # .../2026/11/28/access.log: its lines are all of that day
    expected[("raw", "logs")] = ("-".join(logs[0].parts[-4:-1]), True)
    assert got == expected
    assert (len(logs), got[("raw", "logs")][0]) == (3, "2026-11-28")


def restore_raw_log(workspace: Workspace) -> Callable[[], None]:
    """6 November's log shipped again as it was: ingested and recorded, its lines long past the window."""
    return land_log(workspace, dt.date(2026, 11, 6)).unlink


def plant_month_old_restricted_partition(workspace: Workspace) -> Callable[[], None]:
    plant_old_restricted_partition(workspace)
    return lambda: shutil.rmtree(workspace.zone("restricted") / "requests" / "dt=2026-11-01")


def edit_mid_month_manifest(workspace: Workspace) -> Callable[[], None]:
    path = manifest_files(workspace)[10]
    original = path.read_bytes()
    edit_manifest(path)
    return lambda: path.write_bytes(original)


@pytest.mark.parametrize(
    ("plant", "failed"),
    [
        (restore_raw_log, {"raw_within_window"}),
        (plant_month_old_restricted_partition, {"restricted_within_window", "manifests_match_files"}),
        (edit_mid_month_manifest, {"manifest_chain"}),
    ],
    ids=["raw log past the window", "restricted partition past the window", "edited manifest"],
)
def test_month_a_planted_violation_turns_its_control_to_fail(month, plant, failed: set[str]) -> None:
    workspace = month[0]
    undo = plant(workspace)
    try:
        built = report.build(workspace.config, MONTH_FIRST, MONTH_LAST, MONTH_AS_OF)
    finally:
        undo()
    assert {c["name"] for c in built["verification"]["controls"] if c["status"] == "fail"} == failed
    assert [c["name"] for c in built["summary"]["controls"] if c["status"] == "fail"] == [
        c["name"] for c in built["verification"]["controls"] if c["name"] in failed
    ]
    assert not built["summary"]["passed"]
