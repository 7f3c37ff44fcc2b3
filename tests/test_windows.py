"""Per-client windows and alerts: counted across files, chunks and workers, while the address is whole."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from pipelines import ingest
from tests.conftest import Workspace, clf_line
from transforms.config import Signals
from transforms.windows import by_hour, login_pattern

AS_OF = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
HOUR = dt.datetime(2026, 11, 24, 10, 0)
BENIGN = [f"192.0.2.{i}" for i in range(10, 30)]
BRUTE, SCANNER, FLOOD, ATTACKER = "203.0.113.66", "2001:db8:bad::1", "198.51.100.77", "203.0.113.200"


def at(minute: float) -> dt.datetime:
    return HOUR + dt.timedelta(seconds=round(minute * 60))


def scenario() -> tuple[list[str], list[str]]:
    """Two servers' logs of one hour: benign background, and one of each kind of abuse."""
    rng = random.Random(7)
    first, second = [], []
    for client in BENIGN:  # about 3 requests a minute each, a few pages, never an error burst
        for second_of_hour in sorted(rng.sample(range(3600), 180)):
            line = clf_line(client, HOUR + dt.timedelta(seconds=second_of_hour), f"/page/{rng.randrange(20)}")
            rng.choice((first, second)).append(line)
    for i in range(12):  # failed logins within one 5-minute window, half in each file: neither file alone alerts
        line = clf_line(BRUTE, at(1 + i * 0.25), "/login", status=401)
        (first if i % 2 else second).append(line)
    first += [clf_line(SCANNER, at(11 + i * 0.05), f"/probe/{i}.php", status=404) for i in range(40)]
    first += [clf_line(FLOOD, at(20 + i * 0.18 / 60), "/api/items") for i in range(320)]
    second += [clf_line(BENIGN[i % 5], at(31 + i * 0.3), "/checkout", status=500) for i in range(10)]
    injection = "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--"
    second += [clf_line(ATTACKER, at(41 + i * 0.5), f"{injection}{i}", status=403) for i in range(6)]
    return first, second


def read(ws: Workspace, zone: str, dataset: str) -> pa.Table:
    return duckdb.sql(
        f"SELECT * FROM read_parquet('{ws.zone(zone) / dataset}/*/*.parquet', hive_partitioning = true)"
    ).to_arrow_table()


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("windows"), input__chunk_lines=500)
    first, second = scenario()
    random.Random(1).shuffle(second)  # a log need not be in time order
    ingest.run(ws.config, [str(ws.log("web1.log", sorted(first))), str(ws.log("web2.log", second))], AS_OF)
    return ws


def test_exactly_the_planted_abuse_raises_alerts(ingested: Workspace) -> None:
    restricted = read(ingested, "restricted", "alerts")
    found = sorted(zip(restricted["alert"].to_pylist(), restricted["client_ip"].to_pylist(), strict=True), key=str)
    assert found == sorted([("brute_force", BRUTE), ("scanning", SCANNER), ("flood", FLOOD),
                            ("attack_burst", ATTACKER), ("error_burst", None)], key=str)  # fmt: skip

    anonymised = read(ingested, "anonymised", "alerts")
    assert "client_ip" not in anonymised.column_names
    assert sorted(anonymised["alert"].to_pylist()) == sorted(restricted["alert"].to_pylist())
    rows = {r["alert"]: r for r in anonymised.to_pylist()}
    assert rows["brute_force"]["auth_failures"] == 12 and rows["brute_force"]["window_seconds"] == 300
    assert rows["brute_force"]["client_net"] == "203.0.113.0/24" and len(rows["brute_force"]["client_token"]) == 32
    assert rows["scanning"]["not_found"] == 40 and rows["scanning"]["client_net"] == "2001:db8:bad::/48"
    assert rows["flood"]["requests"] == 320 and rows["flood"]["window_seconds"] == 60
    assert rows["attack_burst"]["attack_hits"] == 6 and rows["attack_burst"]["client_net"] == "203.0.113.0/24"
    burst = rows["error_burst"]
    assert burst["client_token"] is None and burst["server_errors"] == 10
    assert burst["window_start"] == dt.datetime(2026, 11, 24, 10, 30, tzinfo=dt.timezone.utc)


def test_client_windows_match_a_direct_count_of_the_requests(ingested: Workspace) -> None:
    """Every (client, window) count equals what SQL over the restricted requests says."""
    ours = read(ingested, "anonymised", "client_windows")
    requests = read(ingested, "restricted", "requests")  # noqa: F841 (read by the SQL below)
    for seconds in (60, 300):
        expected = duckdb.sql(f"""
            SELECT client_token, time_bucket(INTERVAL {seconds} SECOND, ts) AS window_start,
                   count(*) AS requests, count(*) FILTER (status BETWEEN 400 AND 499) AS client_errors,
                   count(*) FILTER (status >= 500) AS server_errors, count(*) FILTER (status = 404) AS not_found,
                   count(*) FILTER (status IN (401, 403) AND path = '/login') AS auth_failures,
                   count(DISTINCT path) AS distinct_paths, count(*) FILTER (len(attack_families) > 0) AS attack_hits
            FROM requests GROUP BY ALL ORDER BY ALL""").fetchall()
        got = duckdb.sql(f"""
            SELECT client_token, window_start, requests, client_errors, server_errors, not_found, auth_failures,
                   distinct_paths, attack_hits
            FROM ours WHERE window_seconds = {seconds} ORDER BY ALL""").fetchall()
        assert got == expected
    assert set(ours["key_id"].to_pylist()) == set(requests["key_id"].to_pylist())
    alerted = {
        t for t, alerts in zip(ours["client_token"].to_pylist(), ours["alerts"].to_pylist(), strict=True) if alerts
    }
    benign = set(requests.filter(pa.compute.is_in(requests["client_ip"], pa.array(BENIGN)))["client_token"].to_pylist())
    assert alerted and not alerted & benign


def test_alerts_with_addresses_stay_inside_the_security_window(tmp_path) -> None:
    ws = Workspace(tmp_path)
    first, second = scenario()
    manifest = ingest.run(ws.config, [str(ws.log("old.log", first + second))], AS_OF + dt.timedelta(days=30))
    assert not (ws.zone("restricted") / "alerts").exists()
    assert len(read(ws, "anonymised", "alerts")) == 5
    assert manifest["totals"]["anonymised_alerts_rows"] == 5


@pytest.mark.parametrize(
    ("path", "login"),
    [("/login", True), ("/api/v2/authenticate", True), ("/api/v2/x/auth", False), ("/wp-login.php", True),
     ("/login/help", False), ("/wp-loginXphp", False)],
)  # fmt: skip
def test_login_paths_are_globs_within_a_segment(path: str, login: bool) -> None:
    pattern = login_pattern(Signals().login_paths)
    assert pa.compute.match_substring_regex(pa.array([path]), pattern)[0].as_py() is login


def test_thresholds_come_from_the_config(make_workspace) -> None:
    ws = make_workspace(signals__flood_requests=1000, signals__brute_force_auth_failures=13)
    first, second = scenario()
    ingest.run(ws.config, [str(ws.log("a.log", first + second))], AS_OF)
    assert sorted(read(ws, "anonymised", "alerts")["alert"].to_pylist()) == ["attack_burst", "error_burst", "scanning"]
    assert np.all(read(ws, "anonymised", "client_windows")["requests"].to_numpy() > 0)


def test_anonymity_sets_count_distinct_clients_per_network_and_day(tmp_path) -> None:
    ws = Workspace(tmp_path, input__chunk_lines=50)
    lines = [clf_line(f"192.0.2.{i % 7}", dt.datetime(2026, 11, 24, i % 24, 5)) for i in range(300)]
    lines += [clf_line(f"198.51.100.{i % 3}", dt.datetime(2026, 11, 23, 23, 59)) for i in range(40)]
    lines += [clf_line("2001:db8:1:2::9", dt.datetime(2026, 11, 24, 1, 0)), clf_line("crawler.example.com")]
    ingest.run(ws.config, [str(ws.log("a.log", lines[::2])), str(ws.log("b.log", lines[1::2]))], AS_OF)
    sets = read(ws, "audit", "anonymity_sets")
    got = sorted((str(r["dt"]), r["client_net"], r["distinct_clients"], r["requests"]) for r in sets.to_pylist())
    assert got == [("2026-11-23", "198.51.100.0/24", 3, 40), ("2026-11-24", "192.0.2.0/24", 7, 300),
                   ("2026-11-24", "2001:db8:1::/48", 1, 1)]  # fmt: skip


def test_a_chunk_across_a_key_epoch_gives_each_window_the_token_of_its_own_epoch(tmp_path) -> None:
    ws = Workspace(tmp_path)
    sunday, monday = dt.datetime(2026, 11, 22, 23, 59), dt.datetime(2026, 11, 23, 0, 1)  # epochs start on Mondays
    ingest.run(ws.config, [str(ws.log("a.log", [clf_line("192.0.2.5", sunday), clf_line("192.0.2.5", monday)]))], AS_OF)
    requests = {r["ts"]: (r["client_token"], r["key_id"]) for r in read(ws, "anonymised", "requests").to_pylist()}
    windows = read(ws, "anonymised", "client_windows").to_pylist()
    assert len(set(requests.values())) == 2
    for window in windows:
        (inside,) = [
            v
            for ts, v in requests.items()
            if 0 <= (ts - window["window_start"]).total_seconds() < window["window_seconds"]
        ]
        assert (window["client_token"], window["key_id"]) == inside


def test_activity_split_by_hour_keeps_each_hour_its_own_values() -> None:
    """Each hour's activity carries only the paths and clients its rows use, and each row still reads its own."""
    paths = pa.array(["/a", "/b", "/c", "/d"])
    clients = pa.StructArray.from_arrays([pa.array(["192.0.2.1", "192.0.2.2", "198.51.100.3"])], names=["client_ip"])
    rows = pa.table(
        {
            "minute": pa.array([60, 61, 119, 120, 121, 180], pa.int32()),  # hours 1, 1, 1, 2, 2, 3
            "path": pa.DictionaryArray.from_arrays(pa.array([3, 0, 3, 1, 3, 2], pa.int32()), paths),
            "client": pa.DictionaryArray.from_arrays(pa.array([2, 2, 0, 1, 0, 1], pa.int32()), clients),
        }
    )
    hours = dict(by_hour(rows))
    assert sorted(hours) == [1, 2, 3]
    assert [hours[1]["path"].to_pylist(), hours[2]["path"].to_pylist(), hours[3]["path"].to_pylist()] == [
        ["/d", "/a", "/d"], ["/b", "/d"], ["/c"]
    ]  # fmt: skip
    assert [sorted(hours[h]["path"].combine_chunks().dictionary.to_pylist()) for h in (1, 2, 3)] == [
        ["/a", "/d"], ["/b", "/d"], ["/c"]
    ]  # fmt: skip
    assert [c["client_ip"] for c in hours[2]["client"].to_pylist()] == ["192.0.2.2", "192.0.2.1"]
    assert len(hours[3]["client"].combine_chunks().dictionary) == 1
