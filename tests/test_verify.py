"""Verify: every control passes on zones the pipeline keeps, and each violation planted on purpose is named."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipelines import ingest, sweep, verify
from tests.conftest import Workspace
from tests.test_keyring import key_entry, keyring_document
from tests.test_sweep import AS_OF, DAYS, ingest_week, retention_workspace
from transforms import storage
from transforms.keyring import open_keyring
from transforms.retention import COARSENED, leaks, relative_name
from transforms.scrub import Scrubber
from transforms.write import parquet_bytes

UTC = dt.timezone.utc
LOGSHROUD = [sys.executable, "-m", "pipelines.cli"]
LATER = dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # after the sweep test's: first epoch coarsened


@pytest.mark.parametrize(
    "value, found",
    [
        ("203.0.113.0/24", None),
        ("2001:db8:ab12::/48", None),
        ("/admin/198.51.100.0/24/edit", None),
        ("10.0.0.0/8", None),
        ("Mozilla/5.0 Chrome/131.0.0.0 Safari/537.36", None),
        ("2026-11-24T03:00:00Z 12:30:45", None),
        ("k20261123-3f9a0c part-50e4a296c21e7185-0000-00000.parquet", None),
        ("/u/[email]/x?token=[redacted]", None),
        ("https://[redacted]@example.com/", None),
        ("react@18.2.0 logo@2x.png", None),
        ("/search?q=a%20b&page=2", None),
        ("203.0.113.77", "a full IP address"),
        ("client 2001:db8:ab12:cd34::7 here", "a full IP address"),
        ("::ffff:192.0.2.7", "a full IP address"),
        ("203.0.113.77/32", "a full IP address"),
        ("192.0.2.128/25", "a full IP address"),
        ("/x/192%2E0%2E2%2E55/y", "a full IP address"),
        ("mail alice@example.com", "an e-mail address"),
        ("to=alice%40example.com", "an e-mail address"),
        ("http://bob:hunter2@example.com/", "credentials in a URL"),
    ],
    ids=["v4 network", "v6 network", "network in a path", "wider network", "browser version", "times",
         "key and part names", "placeholders", "redacted credentials", "package and image names", "plain query",
         "v4 address", "v6 address in text", "IPv4-mapped", "a /32 is an address", "finer than the prefix",
         "percent-encoded", "e-mail", "percent-encoded e-mail", "credentials"],
)  # fmt: skip
def test_leaks(value: str, found: str | None) -> None:
    values = pa.array([value, None, "/index.html"], pa.string())
    assert leaks(values, Scrubber(24, 48, ())) == (Counter({found: 1}) if found else Counter())


def test_coarsened_networks_pass_only_at_the_long_term_prefixes() -> None:
    values = pa.array(["203.0.0.0/16", "/a/192.0.0.0/16/b"], pa.string())
    assert leaks(values, Scrubber(16, 32, ())) == Counter()
    assert leaks(pa.array(["203.0.113.0/24"]), Scrubber(16, 32, ())) == Counter({"a full IP address": 1})


# --- the controls on real zones ---------------------------------------------------------------------------


@pytest.fixture
def swept(tmp_path: Path) -> Workspace:
    """A week ingested and swept at LATER: restricted days deleted, the first key destroyed, its days coarsened."""
    ws = retention_workspace(tmp_path)
    ingest_week(ws)
    sweep.run(ws.config, LATER)
    return ws


def failures(ws: Workspace, as_of: dt.datetime = LATER) -> dict[str, list[str]]:
    return {c.name: c.failures for c in verify.run(ws.config, as_of) if c.failures}


def anonymised_part(ws: Workspace, day: dt.date) -> Path:
    (path,) = (ws.zone("anonymised") / "requests" / f"dt={day}").glob("*.parquet")
    return path


def test_every_control_passes_on_what_the_pipeline_keeps(swept: Workspace) -> None:
    checks = verify.run(swept.config, LATER)
    assert [(c.name, c.passed) for c in checks] == [
        ("restricted_within_window", True),
        ("raw_within_window", True),
        ("anonymised_within_retention", True),
        ("no_address_or_email", True),
        ("destroyed_keys_coarsened", True),
        ("keys_within_retention", True),
        ("manifests_match_files", True),
        ("manifest_chain", True),
    ]
    evidence = {c.name: c.evidence for c in checks}
    assert evidence["restricted_within_window"]["oldest_day"] == "2026-11-24"
    first_epoch = [p for p in swept.zone("anonymised").rglob("*.parquet") if p.parent.name < "dt=2026-11-23"]
    assert evidence["destroyed_keys_coarsened"] == {"destroyed_keys": 1, "coarsened_files": len(first_epoch)}
    assert evidence["manifests_match_files"]["files_recorded"] == evidence["manifests_match_files"]["files_found"]


def plant_old_partition(ws: Workspace) -> None:
    source = next((ws.zone("restricted") / "requests" / "dt=2026-11-24").glob("*.parquet"))
    (ws.zone("restricted") / "requests" / "dt=2026-11-10").mkdir()
    shutil.copy(source, ws.zone("restricted") / "requests" / "dt=2026-11-10" / source.name)


def plant_address(ws: Workspace) -> None:
    path = anonymised_part(ws, DAYS[-1])
    table = pq.read_table(path)
    agents = pc.if_else(pc.equal(table["status"], 404), "Mozilla/5.0 (from 203.0.113.77)", table["user_agent"])
    pq.write_table(table.set_column(table.schema.get_field_index("user_agent"), "user_agent", agents), path)


def plant_living_expired_key(ws: Workspace) -> None:
    path = Path(ws.config.keys.path)
    document = keyring_document(path)
    document["keys"].insert(0, key_entry("2026-10-05"))
    path.write_text(json.dumps(document))


def plant_uncoarsened_copy(ws: Workspace) -> None:
    """A file of the destroyed key's epoch, as it was before the sweep coarsened it (from its twin at LATER)."""
    coarse, twin = anonymised_part(ws, DAYS[0]), anonymised_part(ws, DAYS[-1])
    table = pq.read_table(twin)
    key_id = json.loads(pq.read_table(coarse).schema.metadata[COARSENED])["key_id"]
    pq.write_table(table.set_column(table.schema.get_field_index("key_id"), "key_id",
                                    pa.array([key_id] * table.num_rows)), coarse)  # fmt: skip


def plant_email_in_audit(ws: Workspace) -> None:
    (ws.zone("audit") / "notes").mkdir()
    (ws.zone("audit") / "notes" / "handover.json").write_text(json.dumps({"contact": "jan.jansen@example.com"}))


@pytest.mark.parametrize(
    "plant, control, message",
    [
        (plant_old_partition, "restricted_within_window",
         "restricted/requests/dt=2026-11-10: 1 file(s), 4 rows, every one past the window, which starts 2026-11-24"),
        (plant_old_partition, "manifests_match_files",
         "restricted/requests/dt=2026-11-10/part-{part}: unaccounted for (no manifest or deletion record names it)"),
        (plant_address, "no_address_or_email",
         "anonymised/requests/dt=2026-11-24/part-{part}: column user_agent: 1 value with a full IP address"),
        (plant_address, "manifests_match_files",
         "anonymised/requests/dt=2026-11-24/part-{part}: {n} bytes, recorded {n} by {run}"),
        (lambda ws: anonymised_part(ws, DAYS[-1]).unlink(), "manifests_match_files",
         "anonymised/requests/dt=2026-11-24/part-{part}: missing (recorded by {run})"),
        (plant_living_expired_key, "keys_within_retention",
         "key k20261005-abc123 (epoch 2026-10-05..2026-10-12) still has its secret, 43 day(s) past its retention "
         "(due 2026-10-19)"),
        (plant_uncoarsened_copy, "destroyed_keys_coarsened",
         "anonymised/requests/dt=2026-11-18/part-{part}: key_id k20261116-{key} is destroyed, but the file is not coarsened"),
        (plant_email_in_audit, "no_address_or_email", "audit/notes/handover.json: 1 value with an e-mail address"),
    ],
    ids=["old restricted partition", "...which no manifest names", "address in an anonymised column",
         "...which changes its checksum", "missing file", "living expired key", "destroyed key id not coarsened",
         "e-mail in the audit zone"],
)  # fmt: skip
def test_each_planted_violation_is_named(swept: Workspace, plant: Callable, control: str, message: str) -> None:
    plant(swept)
    found = failures(swept)
    assert control in found, found
    assert any(_matches(line, message) for line in found[control]), found[control]


def _matches(line: str, message: str) -> bool:
    """`message` with `{part}`, `{run}`, `{key}` and `{n}` standing for names and sizes the test cannot know."""
    pattern = re.escape(message)
    for name, what in PLACEHOLDERS.items():
        pattern = pattern.replace(re.escape("{" + name + "}"), what)
    return re.fullmatch(pattern, line) is not None


PLACEHOLDERS = {"part": r"[0-9a-f]{16}-\d{4}-\d{5}\.parquet", "run": r"\d{8}T\d{6}Z-[0-9a-f]{6}", "key": "[0-9a-f]{6}",
                "n": r"[\d,]+"}  # fmt: skip


@pytest.mark.parametrize(
    "overrides, moot",
    [
        ({}, ["raw_within_window", "anonymised_within_retention", "manifest_chain"]),
        ({"raw_retention": "delete", "anonymised_retention_days": 30}, ["manifest_chain"]),
    ],
    ids=["raw kept, anonymised kept, nothing ingested", "both deleted in time"],
)  # fmt: skip
def test_controls_the_config_makes_moot_are_not_applicable(tmp_path: Path, overrides: dict, moot: list[str]) -> None:
    checks = verify.run(retention_workspace(tmp_path, **overrides).config, LATER)
    assert [c.name for c in checks if c.status == "not_applicable"] == moot
    assert all(c.passed and c.status in ("pass", "not_applicable") for c in checks)
    assert all(c.not_applicable for c in checks if c.name in moot)
    lines = verify.text(checks, LATER).splitlines()
    assert [re.search(r" \[(\w+)\]: ", line)[1] for line in lines if line.startswith("N/A   ")] == moot
    assert lines[-1] == f"verify: all {8 - len(moot)} applicable controls passed ({len(moot)} not applicable)"


# --- the manifest chain -------------------------------------------------------------------------------------


def test_ingest_chains_each_manifest_to_the_one_written_before_it(tmp_path: Path) -> None:
    ws = retention_workspace(tmp_path)
    first, second = ingest_week(ws), ingest_week(ws)
    path = {m["run_id"]: ws.zone("audit") / "manifests" / f"{m['run_id']}.json" for m in (first, second)}
    assert first["previous_manifest_sha256"] is None
    assert second["previous_manifest_sha256"] == hashlib.sha256(path[first["run_id"]].read_bytes()).hexdigest()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", m[t]) for m in (first, second)
               for t in ("started", "finished"))  # fmt: skip
    chain = next(c for c in verify.run(ws.config, AS_OF) if c.name == "manifest_chain")
    assert (chain.status, chain.evidence) == ("pass", {"manifests": 2, "chained": 2, "not_chained": 0})

    edited = json.loads(path[first["run_id"]].read_text())
    edited["totals"]["quarantined"] -= 1
    path[first["run_id"]].write_text(json.dumps(edited, indent=1))
    assert failures(ws, AS_OF) == {"manifest_chain": [
        f"manifest {second['run_id']}: previous_manifest_sha256 does not match the manifest written before it, "
        f"{first['run_id']}"]}  # fmt: skip


def manifest(run: int, previous: int | None | str = "absent", sha: str | None = None) -> dict:
    """A manifest as the chain check reads it: run `run`, naming the manifest of run `previous` (or none)."""
    document = {"run_id": f"r{run}", "finished": f"2026-11-2{run}T03:00:00.000000Z", "_sha256": sha or f"sha-of-r{run}"}
    if previous != "absent":
        document["previous_manifest_sha256"] = None if previous is None else f"sha-of-r{previous}"
    return document


@pytest.mark.parametrize(
    ("manifests", "status", "failures", "not_chained"),
    [
        ([manifest(1), manifest(2)], "not_applicable", 0, 2),
        ([manifest(1, None), manifest(2, 1), manifest(3, 2)], "pass", 0, 0),
        ([manifest(2, 1), manifest(1, None), manifest(3, 2)], "pass", 0, 0),
        ([manifest(1), manifest(2, 1), manifest(3, 2)], "pass", 0, 1),
        ([manifest(1, None), manifest(2, 1), manifest(3, 2), manifest(4)], "pass", 0, 1),
        ([manifest(1, None), manifest(2, 1, sha="edited"), manifest(3, 2)], "fail", 1, 0),
        ([manifest(1, None), manifest(3, 2)], "fail", 1, 0),
        ([manifest(1, None), manifest(2, None)], "fail", 1, 0),
        ([manifest(2, 1)], "fail", 1, 0),
    ],
    ids=["written before chaining", "chained", "listed out of order", "chaining began after run 1",
         "an older writer again", "run 2 edited since", "run 2 deleted", "claims to be first",
         "the first names one that is gone"],
)  # fmt: skip
def test_manifest_chain(manifests: list[dict], status: str, failures: int, not_chained: int) -> None:
    deletion = {"record": "deletion", "recorded": "2026-11-21T04:00:00.000000Z"}  # not a manifest: not chained
    got = verify.manifest_chain([deletion, *manifests])
    assert (got.status, len(got.failures), got.evidence["not_chained"]) == (status, failures, not_chained)


# --- what the leak scan reads -------------------------------------------------------------------------------


def test_reports_and_binary_files_are_not_scanned_for_addresses(swept: Workspace) -> None:
    """A report's PDF, its streams read as text, and any other binary file would look like addresses."""
    audit = swept.zone("audit")
    (audit / "reports" / "2026-11-01_2026-11-30_20261201T020000Z").mkdir(parents=True)
    (audit / "reports" / "2026-11-01_2026-11-30_20261201T020000Z" / "report.pdf").write_bytes(
        b"%PDF-1.7\n1 0 obj << /Length 21 >> stream\nx 198.51.100.23 y\nendstream"
    )
    (audit / "notes").mkdir()
    (audit / "notes" / "scan.bin").write_bytes(b"\x1f\x8b\x08\x00 192.0.2.55 \x00\x03")
    (audit / "notes" / "scan.txt").write_text("seen from 192.0.2.55\n")
    check = next(c for c in verify.run(swept.config, LATER) if c.name == "no_address_or_email")
    assert check.failures == ["audit/notes/scan.txt: 1 value with a full IP address"]
    assert (check.evidence["reports_not_scanned"], check.evidence["binary_files_not_scanned"]) == (1, 1)


def test_cli_exit_codes_and_json(swept: Workspace, tmp_path: Path) -> None:
    argv = [*LOGSHROUD, "verify", "--config", str(swept.config_path), "--as-of", "2026-12-01T02:00:00Z"]
    clean = subprocess.run([*argv, "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    document = json.loads(clean.stdout)
    assert document["passed"] and document["as_of"] == "2026-12-01T02:00:00Z"
    assert [c["name"] for c in document["checks"] if c["passed"]] == [c["name"] for c in document["checks"]]
    assert document["config"]["sha256"] == swept.config.digest()

    plant_old_partition(swept)
    failing = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
    assert failing.returncode == 1, failing.stderr
    lines = failing.stdout.splitlines()
    assert lines[-1] == "verify: 2 of 8 controls failed"
    assert any(line.startswith("FAIL  restricted zone holds nothing past the 7-day security window") for line in lines)
    assert (
        "      restricted/requests/dt=2026-11-10: 1 file(s), 4 rows, every one past the window, which starts 2026-11-24"
        in lines
    )


def test_restricted_partitions_of_any_dataset_are_held_to_the_window(swept: Workspace) -> None:
    """Datasets verify and sweep have never heard of (alerts, say) are walked all the same."""
    folder = swept.zone("restricted") / "alerts" / "dt=2026-11-20"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"alert": ["flood"], "client_ip": ["192.0.2.10"]}), folder / "part-x.parquet")
    assert "restricted/alerts/dt=2026-11-20: 1 file(s), 1 rows" in failures(swept)["restricted_within_window"][0]
    done = sweep.run(swept.config, LATER)
    assert [(a.zone, a.dataset, a.partition, a.rows) for a in done.actions] == [
        ("restricted", "alerts", "2026-11-20", 1)
    ]
    assert failures(swept) == {}


# --- the same on S3, with the keys in Secrets Manager ---------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def zones_on(request, tmp_path: Path) -> Workspace:
    """Local folders and a file keyring, or every zone on the S3 endpoint and the keys in its Secrets Manager."""
    if request.param == "local":
        return retention_workspace(tmp_path)
    endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3").new_bucket()
    keys = {"backend": "aws_secrets_manager", "secrets_prefix": f"{bucket}/keys/", "region": "us-east-1",
            "endpoint_url": endpoint, "epoch_days": 7, "retention_days": 14}  # fmt: skip
    zones = {z: f"s3://{bucket}/zones/{z}" for z in ("raw", "restricted", "anonymised", "audit")}
    return Workspace(tmp_path, zones=zones, storage={"s3": {"endpoint_url": endpoint}}, keys=keys)


def test_sweep_and_verify_work_the_same_on_local_folders_and_s3(zones_on: Workspace) -> None:
    ws = zones_on
    ingest_week(ws)
    done = sweep.run(ws.config, LATER)
    assert [(a.action, a.zone, a.partition, a.rows) for a in done.actions if a.dataset != "client_windows"] == [
        *[("delete_partition", "restricted", str(d), 4) for d in DAYS[:-1]],
        ("destroy_key", "keys", None, 0),
        *[("coarsen_partition", "anonymised", str(d), 4) for d in DAYS[:5]],
    ]
    assert failures(ws) == {}
    (key, _) = open_keyring(ws.config.keys).keys()
    assert (key.not_before, key.secret) == ("2026-11-16", None)

    zones = ingest.zone_uris(ws.config)
    (kept,) = storage.list_tree(storage.join(zones["restricted"], "requests", "dt=2026-11-24"))
    storage.write_bytes(kept.path.replace("dt=2026-11-24", "dt=2026-11-10"), storage.read_bytes(kept.path))
    (anonymised,) = storage.list_tree(storage.join(zones["anonymised"], "requests", "dt=2026-11-24"))
    table = pq.read_table(pa.BufferReader(storage.read_bytes(anonymised.path)))
    leaked = table.set_column(table.schema.get_field_index("vhost"), "vhost", pa.array(["2001:db8:ab12:cd34::7"] * 4))
    storage.write_bytes(anonymised.path, parquet_bytes(leaked))
    found = failures(ws)
    assert sorted(found) == ["manifests_match_files", "no_address_or_email", "restricted_within_window"]
    assert found["restricted_within_window"][0].startswith("restricted/requests/dt=2026-11-10: 1 file(s), 4 rows")
    assert found["no_address_or_email"] == [
        f"{relative_name(anonymised.path, zones)}: column vhost: 4 values with a full IP address"
    ]

    again = sweep.run(ws.config, LATER)  # the planted partition is past the window: it goes, and is recorded
    assert [(a.action, a.partition) for a in again.actions] == [("delete_partition", "2026-11-10")]
    assert sorted(failures(ws)) == ["manifests_match_files", "no_address_or_email"]
