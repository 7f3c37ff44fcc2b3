"""End to end: the real ingest pipeline on real files, read back the way analysts read it."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from apache_beam.runners.worker import statesampler
from apache_beam.utils.counters import CounterFactory

from pipelines import ingest, runner
from tests.conftest import SAMPLE_LOG, Workspace, clf_line
from transforms.addresses import parse_address

AS_OF = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
LOGSHROUD = [sys.executable, "-m", "pipelines.cli"]


def run(ws: Workspace, *inputs: Path | str, as_of: dt.datetime = AS_OF) -> dict:
    return ingest.run(ws.config, [str(i) for i in inputs], as_of)


def table(ws: Workspace, zone: str, dataset: str = "requests") -> pa.Table:
    folder = ws.zone(zone) / dataset
    if not folder.exists():
        return pa.table({})
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder}/*/*.parquet', hive_partitioning = true)").to_arrow_table()


_CANDIDATE = re.compile(r"[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]+(?:/\d+)?")


def full_addresses(text: str) -> set[str]:
    """Every whole IP address in a text; network text such as `192.0.2.0/24` is no address."""
    found = set()
    for candidate in _CANDIDATE.findall(text):
        if "/" in candidate:
            continue
        parsed = parse_address(candidate.strip(".:"))
        if parsed:
            found.add(parsed[1])
    return found


def strings_of(tbl: pa.Table) -> str:
    return "\n".join(
        str(v)
        for name in tbl.column_names
        if pa.types.is_string(tbl.schema.field(name).type)
        for v in tbl[name].to_pylist()
    )


def test_shared_sample_ingests_whole_and_leaks_no_address(workspace: Workspace, sample_log: Path) -> None:
    done = subprocess.run(
        [*LOGSHROUD, "ingest", "--config", str(workspace.config_path), "--input", str(sample_log),
         "--as-of", "2015-05-21T00:00:00Z"],
        capture_output=True, text=True, check=True, cwd=workspace.root,
    )  # fmt: skip
    manifest = json.loads(next((workspace.zone("audit") / "manifests").glob("*.json")).read_text())
    assert manifest["totals"]["lines_read"] == 10_000
    assert manifest["totals"]["rows"] == 10_000
    assert manifest["totals"]["quarantined"] == 0
    assert manifest["inputs"][0]["balanced"]

    clients = {parse_address(c)[1] for c in table(workspace, "restricted")["client_ip"].to_pylist()}
    assert len(clients) > 1000
    anonymised = table(workspace, "anonymised")
    assert anonymised.num_rows == 10_000
    assert "client_ip" not in anonymised.column_names
    audit_text = "\n".join(p.read_text() for p in workspace.zone("audit").rglob("*.json"))
    for where, text in [("anonymised", strings_of(anonymised)), ("audit", audit_text),
                        ("output", done.stdout + done.stderr)]:  # fmt: skip
        assert not (full_addresses(text) & clients), f"a client address reached the {where}"


def test_outputs_are_hive_partitioned_zstd_parquet_by_utc_date(workspace: Workspace) -> None:
    lines = [
        clf_line("192.0.2.1", dt.datetime(2026, 11, 23, 23, 59, 59)),
        clf_line("192.0.2.2", dt.datetime(2026, 11, 24, 0, 0, 0)),
    ]
    lines.append(lines[0].replace("+0000", "-0100").replace("23:59:59", "23:30:00"))  # 00:30 UTC next day
    manifest = run(workspace, workspace.log("a.log", lines))
    parts = sorted(p.parent.name for p in (workspace.zone("anonymised") / "requests").rglob("*.parquet"))
    assert parts == ["dt=2026-11-23", "dt=2026-11-24"]
    one = next((workspace.zone("anonymised") / "requests").rglob("*.parquet"))
    assert pq.ParquetFile(one).metadata.row_group(0).column(0).compression == "ZSTD"
    by_day = duckdb.sql(
        f"SELECT dt, count(*) FROM read_parquet('{workspace.zone('anonymised')}/requests/*/*.parquet', "
        "hive_partitioning = true) GROUP BY dt ORDER BY dt"
    ).fetchall()
    assert by_day == [(dt.date(2026, 11, 23), 1), (dt.date(2026, 11, 24), 2)]
    restricted = pq.ParquetFile(next((workspace.zone("restricted") / "requests").rglob("*.parquet")))
    line_number = restricted.schema_arrow.get_field_index("line_number")
    assert "DELTA_BINARY_PACKED" in restricted.metadata.row_group(0).column(line_number).encodings
    numbers = duckdb.sql(
        f"SELECT list(line_number ORDER BY line_number) FROM '{workspace.zone('restricted')}/requests/*/*.parquet'"
    )
    assert numbers.fetchall() == [([1, 2, 3],)]
    for output in manifest["outputs"]:
        data = Path(output["path"]).read_bytes()
        assert len(data) == output["bytes"]
        assert __import__("hashlib").sha256(data).hexdigest() == output["sha256"]


@pytest.mark.parametrize(
    "client, net, version",
    [
        ("203.0.113.77", "203.0.113.0/24", 4),
        ("2001:db8:ab12:cd34::1", "2001:db8:ab12::/48", 6),
        ("::ffff:192.0.2.7", "192.0.2.0/24", 4),
        ("host-7.example.net", None, None),
    ],
    ids=["ipv4", "ipv6", "ipv4-mapped", "hostname"],
)
def test_client_columns(workspace: Workspace, client: str, net: str | None, version: int | None) -> None:
    run(workspace, workspace.log("a.log", [clf_line(client)]))
    row = table(workspace, "anonymised").to_pylist()[0]
    assert (row["client_net"], row["ip_version"]) == (net, version)
    assert len(row["client_token"]) == 32 and row["key_id"].startswith("k2026112")
    assert table(workspace, "restricted").to_pylist()[0]["client_ip"] == client


def test_tokens_stable_within_an_epoch_and_changed_across_epochs(workspace: Workspace) -> None:
    monday = dt.datetime(2026, 11, 23, 8)
    lines = [clf_line("198.51.100.9", monday), clf_line("198.51.100.9", monday + dt.timedelta(days=6)),
             clf_line("198.51.100.9", monday + dt.timedelta(days=7))]  # fmt: skip
    run(workspace, workspace.log("a.log", lines), as_of=monday + dt.timedelta(days=8))
    rows = sorted(table(workspace, "anonymised").to_pylist(), key=lambda r: r["ts"])
    assert rows[0]["client_token"] == rows[1]["client_token"]
    assert rows[0]["key_id"] == rows[1]["key_id"]
    assert rows[2]["client_token"] != rows[0]["client_token"]
    assert rows[2]["key_id"] != rows[0]["key_id"]
    keyring = Path(workspace.config.keys.path)
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    secrets_ = [k["secret"] for k in json.loads(keyring.read_text())["keys"]]
    everything = "\n".join(p.read_bytes().decode("latin-1") for p in workspace.zone("audit").rglob("*") if p.is_file())
    assert not any(s in everything for s in secrets_)


def test_urls_and_agents_are_scrubbed_in_the_anonymised_zone_only(workspace: Workspace) -> None:
    line = clf_line("192.0.2.10", target="/api/v1/users/jan.jansen@example.com?token=s3cr3t&ip=198.51.100.44&page=2",
                    agent="Mozilla/5.0 (probe from 203.0.113.9)", referrer="https://app.example.com/?email=a@example.org",
                    user="jan")  # fmt: skip
    run(workspace, workspace.log("a.log", [line]))
    anonymised = table(workspace, "anonymised").to_pylist()[0]
    text = json.dumps(anonymised, default=str)
    for secret in ("jan.jansen@example.com", "s3cr3t", "198.51.100.44", "203.0.113.9", "a@example.org", '"jan"'):
        assert secret not in text
    assert "page=2" in anonymised["query"]
    assert "198.51.100.0/24" in anonymised["query"]
    restricted = table(workspace, "restricted").to_pylist()[0]
    assert restricted["auth_user"] == "jan" and "s3cr3t" in restricted["query"]


def test_malformed_input_never_stops_the_run_and_nothing_is_lost(workspace: Workspace) -> None:
    good = clf_line()
    whole = gzip.compress(("\n".join([good] * 5000) + "\n").encode())
    inputs = {
        "binary.log": b"\x00\x01\x02\xff\xfe\n" + good.encode() + b"\n",
        "nul.log": (good[:40] + "\x00" + good[40:] + "\n" + good + "\n").encode(),
        "utf8.log": good.encode().replace(b"Mozilla", b"Moz\xff\xfeilla") + b"\n" + b"\xc3\x28 junk\n",
        "long.log": (good + "\n" + good.replace("/index.html", "/" + "a" * 1_000_000) + "\n").encode(),
        "empty.log": b"",
        "crlf.log": (good + "\r\n" + good + "\r\n").encode(),
        "fields.log": (good + "\n" + good.rsplit(" ", 3)[0] + "\n").encode(),
        "truncated.log.gz": whole[: len(whole) // 2],
    }
    paths = [workspace.log(name, data) for name, data in inputs.items()]
    manifest = run(workspace, *paths)

    by_name = {Path(i["path"]).name: i for i in manifest["inputs"]}
    for name, entry in by_name.items():
        assert entry["lines_read"] == entry["rows"] + entry["quarantined"], name
        assert entry["balanced"], name
    assert by_name["binary.log"]["quarantine_reasons"] == {"binary_data": 1}
    assert by_name["nul.log"]["quarantine_reasons"] == {"binary_data": 1}
    assert by_name["utf8.log"]["rows"] == 1  # a replaced byte in the user agent still parses
    assert by_name["long.log"]["quarantine_reasons"] == {"line_too_long": 1}
    assert by_name["empty.log"]["lines_read"] == 0
    assert by_name["crlf.log"]["rows"] == 2
    assert by_name["fields.log"]["quarantine_reasons"] == {"format_mismatch": 1}
    damaged = by_name["truncated.log.gz"]
    assert damaged["damage"] and "EOFError" in damaged["damage"]
    assert damaged["rows"] > 1000 and damaged["quarantine_reasons"] in ({"truncated_input": 1}, {})
    assert manifest["totals"]["balanced"]

    quarantine = table(workspace, "restricted", "quarantine")
    assert quarantine.num_rows == manifest["totals"]["quarantined"]
    assert set(quarantine["dt"].to_pylist()) == {AS_OF.date()}
    long = quarantine.filter(pa.compute.equal(quarantine["reason"], "line_too_long")).to_pylist()[0]
    assert long["line_bytes"] > 1_000_000 and len(long["line"].encode()) <= 65536
    assert long["line_number"] == 2


def test_compressed_inputs_read_like_plain(workspace: Workspace) -> None:
    lines = [clf_line(f"192.0.2.{i}") for i in range(1, 101)]
    text = ("\n".join(lines) + "\n").encode()
    half = len(text) // 2
    cut = text.index(b"\n", half) + 1
    paths = [
        workspace.log("plain.log", text),
        workspace.log("multi.log.gz", gzip.compress(text[:cut]) + gzip.compress(text[cut:])),
        workspace.log("a.log.bz2", bz2.compress(text)),
        workspace.log("a.log.zst", zstandard.ZstdCompressor().compress(text[:cut]) + zstandard.ZstdCompressor().compress(text[cut:])),
    ]  # fmt: skip
    manifest = run(workspace, *paths)
    assert [i["rows"] for i in manifest["inputs"]] == [100, 100, 100, 100]
    assert manifest["totals"]["quarantined"] == 0


def test_backfill_older_than_the_window_goes_to_the_anonymised_zone_only(workspace: Workspace) -> None:
    old, recent = AS_OF - dt.timedelta(days=30), AS_OF - dt.timedelta(days=1)
    lines = [clf_line("192.0.2.1", old.replace(tzinfo=None)), clf_line("192.0.2.2", recent.replace(tzinfo=None))]
    manifest = run(workspace, workspace.log("a.log", lines))
    assert table(workspace, "restricted")["client_ip"].to_pylist() == ["192.0.2.2"]
    assert table(workspace, "anonymised").num_rows == 2
    assert manifest["totals"]["restricted_requests_rows"] == 1


def test_reingest_replaces_what_it_wrote(make_workspace) -> None:
    ws = make_workspace(input__chunk_lines=300)
    lines = [clf_line(f"192.0.2.{i % 200}", dt.datetime(2026, 11, 24, 10, i % 60)) for i in range(1000)] + ["junk"]
    log = ws.log("a.log", lines)

    def parts() -> list[Path]:
        return sorted(p.relative_to(ws.root) for p in (ws.root / "data").rglob("*.parquet"))

    first = run(ws, log)
    files_first = parts()
    assert len([p for p in files_first if "anonymised/requests" in str(p)]) == 4
    assert len([p for p in files_first if "anonymised/client_windows" in str(p)]) == 1  # one hour of events
    second = run(ws, log)
    assert parts() == files_first
    assert table(ws, "anonymised").num_rows == 1000
    assert table(ws, "restricted", "quarantine").num_rows == 1
    assert first["run_id"] != second["run_id"]

    bigger_chunks = make_workspace()  # the same folders, the default chunking: one part per dataset
    third = run(bigger_chunks, log)
    assert table(ws, "anonymised").num_rows == 1000
    assert table(ws, "restricted").num_rows == 1000
    assert len([p for p in parts() if "anonymised/requests" in str(p)]) == 1
    # three stale parts in each requests dataset, and the quarantine part of the old fourth chunk
    assert len(third["deleted_stale"]) == 7
    assert not list((ws.root / "data").rglob("_staging"))


def test_a_failed_run_leaves_no_staged_part_behind(workspace: Workspace) -> None:
    """Restricted parts are staged before the run fails (here: the anonymised zone cannot stage);
    the failure is reported and what was staged is gone, full addresses and all."""
    log = workspace.log("a.log", [clf_line(f"192.0.2.{i}", dt.datetime(2026, 11, 24, 10, i)) for i in range(1, 50)])
    workspace.zone("anonymised").mkdir(parents=True, exist_ok=True)
    (workspace.zone("anonymised") / "_staging").write_text("in the way")
    with pytest.raises(Exception, match="_staging"):
        run(workspace, log)
    assert not list(workspace.zone("restricted").rglob("*.parquet"))
    assert not (workspace.zone("restricted") / "_staging").exists()
    assert not list(workspace.zone("audit").rglob("*.json"))  # no manifest: the run did not happen


def test_cli_one_line_errors(workspace: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("anonymise:\n  ipv4_prefx: 24\n")
    cases = [
        (["ingest", "--config", str(bad), "--input", str(SAMPLE_LOG)], f"{bad}: anonymise.ipv4_prefx: unknown key"),
        (["ingest", "--config", str(workspace.config_path), "--input", str(tmp_path / "nothing-*.log")], "matches no file"),
        (["ingest", "--config", str(tmp_path / "missing.yaml"), "--input", str(SAMPLE_LOG)], "cannot read config"),
        (["ingest", "--input", str(SAMPLE_LOG), "--as-of", "yesterday"], "--as-of"),
    ]  # fmt: skip
    for argv, message in cases:
        done = subprocess.run([*LOGSHROUD, *argv], capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})  # fmt: skip
        assert done.returncode == 2, argv
        assert message in done.stderr
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize(
    ("given", "passed_on"),
    [
        ([], ["--runner=FnApiRunner", f"--direct_num_workers={os.cpu_count()}"]),
        (["--direct_num_workers=1"], ["--direct_num_workers=1", "--runner=FnApiRunner"]),
        (["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
         ["--direct_running_mode=multi_processing", "--direct_num_workers=2", "--runner=FnApiRunner"]),
        (["--runner=PortableRunner", "--job_endpoint=embed"], ["--runner=PortableRunner", "--job_endpoint=embed"]),
    ],
    ids=["default", "one-worker", "worker-processes", "another-runner"],
)  # fmt: skip
def test_ingest_runs_in_process_with_a_worker_thread_per_core_unless_told_otherwise(given, passed_on) -> None:
    assert runner.runner_options(given) == passed_on


def test_in_process_workers_sample_step_states_every_10_ms_so_a_stage_ends_with_its_work(make_workspace) -> None:
    ws = make_workspace()
    run(ws, ws.log("a.log", [clf_line("192.0.2.1", dt.datetime(2026, 11, 24, 10), "/")]))
    runner.sample_states_often()  # once more changes nothing
    assert statesampler.StateSampler("stage", CounterFactory()).sampling_period_ms == runner.SAMPLING_PERIOD_MS == 10


@pytest.mark.parametrize(
    "beam_args",
    [[], ["--direct_num_workers=1"], ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
     ["--direct_num_workers=2", "--direct_running_mode=multi_threading"]],
    ids=["default-worker-threads", "one-worker", "two-processes", "two-threads"],
)  # fmt: skip
def test_split_files_give_the_same_rows_and_line_numbers_on_every_worker_setup(make_workspace, beam_args) -> None:
    ws = make_workspace(input__range_bytes=20_000, input__chunk_lines=300)
    lines = [clf_line(f"192.0.2.{i % 250}", dt.datetime(2026, 11, 24, i % 24, i % 60), f"/p/{i}") for i in range(3000)]
    for broken in (1, 777, 1500, 2999):
        lines[broken] = f"broken line {broken + 1}"
    log = ws.log("big.log", lines)
    manifest = ingest.run(ws.config, [str(log)], AS_OF, beam_args)
    assert manifest["inputs"][0]["lines_read"] == 3000
    quarantine = table(ws, "restricted", "quarantine")
    assert sorted(quarantine["line_number"].to_pylist()) == [2, 778, 1501, 3000]
    assert all(
        text == f"broken line {n}"
        for n, text in zip(quarantine["line_number"].to_pylist(), quarantine["line"].to_pylist(), strict=True)
    )
    restricted = table(ws, "restricted")
    assert restricted.num_rows == 2996
    assert all(
        path == f"/p/{n - 1}"
        for n, path in zip(restricted["line_number"].to_pylist(), restricted["path"].to_pylist(), strict=True)
    )
