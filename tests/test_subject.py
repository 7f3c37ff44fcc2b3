"""Data-subject requests: a known subject's rows exported exactly, erased from every zone, every other row untouched."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import hmac
import json
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import cli, ingest, subject, sweep, verify
from tests.conftest import Workspace, clf_line
from tests.test_sweep import ingest_week, retention_workspace
from transforms import storage
from transforms.addresses import parse_address
from transforms.anonymise import client_identity
from transforms.subject import AddressText, Subject, SubjectError, pepper_secret_name

UTC = dt.timezone.utc
LOGSHROUD = [sys.executable, "-m", "pipelines.cli"]
AS_OF = dt.datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # the 7-day window keeps 2026-11-18 on
SUBJECT = "192.0.2.7"
USER = "jdoe"
OFFICE = "198.51.100.23"  # an address the user shares with a colleague
DAYS = [dt.date(2026, 11, 15) + dt.timedelta(days=i) for i in range(10)]  # 15..17 are past the window
WINDOW_STARTS = dt.date(2026, 11, 18)


# --- the address in text, table-driven ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, text, held",
    [
        ("192.0.2.7", "192.0.2.7", True),
        ("192.0.2.7", "::ffff:192.0.2.7", True),
        ("192.0.2.7", "::FFFF:C000:0207", True),
        ("192.0.2.7", "0:0:0:0:0:ffff:c000:207", True),
        ("192.0.2.7", "[::ffff:192.0.2.7]:443", True),
        ("192.0.2.7", "192.0.2.7:8080", True),
        ("192.0.2.7", "203.0.113.9, 192.0.2.7", True),
        ("192.0.2.7", "garbage from 192.0.2.7\n", True),
        ("192.0.2.7", "192.0.2.70", False),
        ("192.0.2.7", "10.192.0.2.7", False),
        ("192.0.2.7", "192.0.2.7.5", False),
        ("192.0.2.7", "v192.0.2.7", False),
        ("192.0.2.7", "::ffff:c000:2070", False),
        ("192.0.2.7", "192.0.2.0/24", False),
        ("2001:db8::7", "2001:db8::7", True),
        ("2001:db8::7", "2001:0DB8:0000:0000:0000:0000:0000:0007", True),
        ("2001:db8::7", "2001:db8:0:0::7", True),
        ("2001:db8::7", "2001:db8::0:7", True),
        ("2001:db8::7", "[2001:db8::7]:443", True),
        ("2001:db8::7", "2001:db8::0.0.0.7", True),
        ("2001:db8::7", "for=2001:db8::7%eth0", True),
        ("2001:db8::7", "2001:db8::70", False),
        ("2001:db8::7", "2001:db8::7:1", False),
        ("2001:db8::7", "2001:db8:1::7", False),
        ("2001:db8::7", "12001:db8::7", False),
        ("2001:db8::7", "2001:db8::/48", False),
    ],
    ids=["v4", "v4-mapped", "v4-mapped in hex, upper case", "v4-mapped, uncompressed", "bracketed with port",
         "with port", "in a chain", "in a quarantined line", "one digit more", "inside a longer dotted run",
         "followed by more dots", "glued to a letter", "hex-mapped, one digit more", "its network",
         "v6", "v6 expanded, upper case", "v6 partly compressed", "v6 compressed elsewhere", "v6 bracketed",
         "v6 with dotted tail", "v6 with zone id", "v6 one digit more", "v6 longer", "v6 another network",
         "v6 glued to a digit", "v6 network"],
)  # fmt: skip
def test_the_address_is_found_in_any_spelling_and_nowhere_else(address: str, text: str, held: bool) -> None:
    found = AddressText.of([parse_address(address)])
    assert found.mentions(pa.array([text, None, "/index.html"])).to_pylist() == [held, False, False]


@pytest.mark.parametrize(
    "value, named",
    [("192.0.2.7", True), ("::ffff:192.0.2.7", True), ("::ffff:c000:207", True), (" 192.0.2.7", True),
     ("192.0.2.70", False), ("192.0.2.7:80", False), ("2001:db8::7", False), ("host.example.com", False)],
)  # fmt: skip
def test_an_address_column_names_the_subject_however_written(value: str, named: bool) -> None:
    assert AddressText.of([parse_address("192.0.2.7")]).names(pa.array([value])).to_pylist() == [named]


@pytest.mark.parametrize(
    "ips, users, message",
    [
        ([], [], "give the subject's address (--ip), user name (--user), or both"),
        (["300.1.2.3"], [], "--ip (number 1): not an IPv4 or IPv6 address"),
        (["192.0.2.7", "jdoe"], [], "--ip (number 2): not an IPv4 or IPv6 address"),
        ([], [""], "--user (number 1): empty, or `-`, which logs write for no user"),
        ([], ["-"], "--user (number 1): empty, or `-`, which logs write for no user"),
    ],
    ids=["nothing", "invalid address", "a name as address", "empty user", "dash"],
)
def test_bad_identifiers_are_refused_without_quoting_them(ips: list[str], users: list[str], message: str) -> None:
    with pytest.raises(SubjectError) as refused:
        Subject.of(ips, users)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    "data, drop, kept",
    [
        (b"a\nb\nc\n", {2}, b"a\nc\n"),
        (b"a\nb\nc\n", {1, 3}, b"b\n"),
        (b"a\r\nb\r\nc", {3}, b"a\r\nb\r\n"),
        (b"a\nb", {2}, b"a\n"),
        (b"a\nb\n", {1, 2}, b""),
        (b"a\n", set(), b"a\n"),
    ],
    ids=["middle", "first and last", "CRLF, last without newline", "unterminated last", "all", "none"],
)
def test_lines_leave_a_log_whole(data: bytes, drop: set[int], kept: bytes) -> None:
    assert subject.without_lines(data, drop) == kept


@pytest.mark.parametrize(
    "prefix, name",
    [("logshroud/keys/", "logshroud/keys.subject-requests"), ("lk-", "lk.subject-requests"),
     ("keys.", "keys-subject-requests")],
)  # fmt: skip
def test_the_pepper_secret_lies_outside_the_keys_prefix(prefix: str, name: str) -> None:
    assert pepper_secret_name(prefix) == name
    assert not name.startswith(prefix)


# --- a known subject, end to end ------------------------------------------------------------------------------


def day_traffic(day: dt.date) -> list[tuple[str, str]]:
    """(log, line) of one day: the subject under two spellings, a near-miss address, the user at a shared office."""

    def at(hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute, second))

    return [
        ("web1.log", clf_line(SUBJECT, at(9), target=f"/timesheets/{day}")),
        ("web1.log", clf_line("192.0.2.70", at(9, 5))),
        ("web1.log", clf_line(OFFICE, at(10), target=f"/timesheets/{day}", user=USER)),
        ("web1.log", clf_line(OFFICE, at(10, 0, 30), target="/reports", user="asmith")),
        ("web2.log.gz", clf_line("::ffff:192.0.2.7", at(14), target="/api/hours")),
        ("web2.log.gz", clf_line("2001:db8::7", at(14, 1))),
    ]


def traffic() -> dict[str, list[str]]:
    """Two logs over ten days, a scan by the subject (30 not-found answers in a minute), quarantined lines."""
    lines: dict[str, list[str]] = {"web1.log": [], "web2.log.gz": []}
    for day in DAYS:
        for log, line in day_traffic(day):
            lines[log].append(line)
    scan_at = dt.datetime(2026, 11, 24, 20, 0)
    lines["web1.log"] += [clf_line(SUBJECT, scan_at + dt.timedelta(seconds=i), target=f"/old/{i}.html", status=404)
                          for i in range(30)]  # fmt: skip
    lines["web2.log.gz"] += ["garbage from ::ffff:c000:207 here", "garbage from 192.0.2.70 here"]
    return lines


def write_raw(ws: Workspace, lines: dict[str, list[str]]) -> dict[str, list[str]]:
    """The logs in the raw zone, by path."""
    raw = ws.zone("raw")
    raw.mkdir(parents=True, exist_ok=True)
    for name, content in lines.items():
        data = ("\n".join(content) + "\n").encode()
        (raw / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return {str(raw / name): content for name, content in lines.items()}


def client_of(line: str) -> tuple[int, bytes] | None:
    return parse_address(line.split(" ")[0])


def day_of(line: str) -> dt.date | None:
    stamp = line.partition("[")[2][:11]
    return dt.datetime.strptime(stamp, "%d/%b/%Y").date() if stamp else None


def is_subject_line(line: str) -> bool:
    """The test's own reading of an input line: the subject's client, the user, or the address written in it."""
    return client_of(line) == parse_address(SUBJECT) or line.split(" ")[2] == USER or "c000:207" in line


def subject_tokens(ws: Workspace) -> set[tuple[str, str]]:
    """(key id, token) of the subject under every living key, straight from the keyring file."""
    keys = json.loads(Path(ws.config.keys.path).read_text())["keys"]
    return {(k["id"], hmac.new(bytes.fromhex(k["secret"]), client_identity(SUBJECT), hashlib.sha256).hexdigest()[:32])
            for k in keys if k["secret"]}  # fmt: skip


def zone_tables(ws: Workspace) -> dict[str, list[tuple[Path, pa.Table]]]:
    """`zone/dataset` -> (file, its rows) of every Parquet file of every zone."""
    tables: dict[str, list[tuple[Path, pa.Table]]] = {}
    for zone in ("restricted", "anonymised", "audit"):
        for path in sorted(ws.zone(zone).rglob("*.parquet")):
            dataset = path.relative_to(ws.zone(zone)).parts[0]
            tables.setdefault(f"{zone}/{dataset}", []).append((path, pq.read_table(path)))
    return tables


def is_subject_row(dataset: str, row: dict, tokens: set[tuple[str, str]]) -> bool:
    """Whether a row is the subject's, by the test's own rules (not the code's)."""
    if (row.get("key_id"), row.get("client_token")) in tokens:
        return True
    if dataset == "anonymised/requests":  # the user's own requests from the office, inside the window
        return row["client_net"] == "198.51.100.0/24" and row["path"].startswith("/timesheets/") and \
            row["ts"].date() >= WINDOW_STARTS  # fmt: skip
    if dataset.startswith("restricted/"):
        client = row.get("client_ip")
        return (client is not None and parse_address(client) == parse_address(SUBJECT)) or \
            row.get("auth_user") == USER or "c000:207" in (row.get("line") or "")  # fmt: skip
    return False


def digests(
    tables: list[tuple[Path, pa.Table]], but_of: tuple[str, set[tuple[str, str]]] | None = None
) -> Counter[str]:
    """A digest per row, with duplicates counted; `but_of` (dataset, tokens) leaves the subject's rows out."""
    return Counter(
        json.dumps(row, default=str, sort_keys=True)
        for _, table in tables
        for row in table.to_pylist()
        if but_of is None or not is_subject_row(but_of[0], row, but_of[1])
    )


def test_a_subject_is_exported_exactly_then_erased_from_every_zone(workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace
    raw = write_raw(ws, traffic())
    ingest.run(ws.config, list(raw), AS_OF)
    ours = Subject.of([SUBJECT], [USER])
    tokens = subject_tokens(ws)
    before = zone_tables(ws)
    theirs = {(path, n): line for path, content in raw.items() for n, line in enumerate(content, start=1)
              if is_subject_line(line)}  # fmt: skip

    request = subject.export(ws.config, ours, str(tmp_path / "export.json"), AS_OF)
    document = json.loads((tmp_path / "export.json").read_text())
    assert stat.S_IMODE((tmp_path / "export.json").stat().st_mode) == 0o600
    rows = document["rows"]
    # Compared with a direct scan of the input: restricted requests are the subject's lines inside the window,
    inside = {at for at, line in theirs.items() if day_of(line) and day_of(line) >= WINDOW_STARTS}
    assert {(r["source"], r["line_number"]) for r in rows["restricted/requests"]} == inside
    assert [r["line"] for r in rows["restricted/quarantine"]] == ["garbage from ::ffff:c000:207 here"]
    # anonymised requests every request of the address (days past the window too) and the user's inside it,
    of_address = [line for line in theirs.values() if client_of(line) == parse_address(SUBJECT)]
    expected = Counter(line.split('"')[1].split(" ")[1] for line in of_address)
    expected.update(f"/timesheets/{day}" for day in DAYS if day >= WINDOW_STARTS)
    assert Counter(r["path"] for r in rows["anonymised/requests"]) == expected
    # and each request of the address is in one per-minute window of the address.
    assert sum(r["requests"] for r in rows["anonymised/client_windows"] if r["window_seconds"] == 60) == len(of_address)
    assert "scanning" in {r["alert"] for r in rows["restricted/alerts"]}
    assert {r["alert"] for r in rows["anonymised/alerts"]} == {r["alert"] for r in rows["restricted/alerts"]}
    for dataset, tables in before.items():  # every row of the subject a zone holds, and nothing else
        held = sum(is_subject_row(dataset, row, tokens) for _, table in tables for row in table.to_pylist())
        assert len(rows.get(dataset, [])) == held, dataset
    assert document["summary"]["unlinkable"] == [{
        "what": "requests before 2026-11-18",
        "why": "past the 7-day security window: no zone holds their full address or user name any more; the "
               "address's rows among them are found by token while their key lives; a user name is held nowhere "
               "else, so none of them can be linked to it",
    }]  # fmt: skip
    assert {r["path"]: r["lines"] for r in document["summary"]["raw"]["logs"]} == Counter(p for p, _ in theirs)

    held_files = {p: p.read_bytes() for p in (ws.root / "data").rglob("*") if p.is_file()}
    dry = subject.erase(ws.config, ours, AS_OF, include_raw=True, dry_run=True)
    assert {p: p.read_bytes() for p in (ws.root / "data").rglob("*") if p.is_file()} == held_files
    assert subject.findings(dry)["counts"] == document["summary"]["counts"]

    erased = subject.erase(ws.config, ours, AS_OF, include_raw=True)
    after = zone_tables(ws)
    for dataset, tables in before.items():  # no row of the subject is left, every other row is as it was
        assert digests(after.get(dataset, [])) == digests(tables, but_of=(dataset, tokens))
        for path, table in tables:  # and a file that held none of the subject's rows is not touched at all
            if not any(is_subject_row(dataset, row, tokens) for row in table.to_pylist()):
                assert path.read_bytes() == held_files[path], path
    for path, content in raw.items():  # raw logs keep every other line, in order, byte for byte
        data = Path(path).read_bytes()
        kept = [line for n, line in enumerate(content, start=1) if (path, n) not in theirs]
        assert (gzip.decompress(data) if path.endswith(".gz") else data).decode() == "\n".join(kept) + "\n"
    assert [c.name for c in verify.run(ws.config, AS_OF) if not c.passed] == []

    again = subject.export(ws.config, ours, str(tmp_path / "again.json"), AS_OF)
    assert (subject.findings(again)["counts"], again.raw) == ({}, [])
    records = {
        r["request_id"]: r for r in (json.loads(p.read_text()) for p in ws.zone("audit").glob("subject_requests/*"))
    }
    assert {i: r["kind"] for i, r in records.items()} == {x.request_id: x.kind for x in (request, erased, again)}
    assert len({json.dumps(r["identifiers"]) for r in records.values()}) == 1  # the same person, hashed alike
    assert [r["identifier_kinds"] for r in records.values()] == [["ip", "user"]] * 3
    erase_record = records[erased.request_id]
    assert erase_record["counts"] == document["summary"]["counts"]
    assert erase_record["raw"]["lines"] == document["summary"]["raw"]["lines"] == len(theirs)
    assert all(log["rewritten"] and not log["damaged"] for log in erase_record["raw"]["logs"])
    deletions = {p.stem: json.loads(p.read_text()) for p in (ws.zone("audit") / "deletions").glob("*.json")}
    assert sorted(erase_record["deletion_records"]) == sorted(deletions)
    assert Counter(d["action"] for d in deletions.values()) == {"erase_rows": len(erase_record["partitions"]),
                                                               "erase_lines": len(raw)}  # fmt: skip
    assert sum(d["rows"] for d in deletions.values()) == sum(erase_record["counts"].values()) + len(theirs)
    for audit_file in ws.zone("audit").rglob("*"):  # no identifier anywhere in the audit zone
        if audit_file.is_file():
            assert not any(s in audit_file.read_bytes() for s in (b"192.0.2.7", b"c000:207", USER.encode()))


def test_a_damaged_raw_log_is_reported_and_left_as_it_is(workspace: Workspace) -> None:
    whole = gzip.compress(
        ("\n".join(clf_line(SUBJECT, dt.datetime(2026, 11, 24, 9, m)) for m in range(50)) + "\n").encode()
    )
    (workspace.zone("raw") / "cut.log.gz").parent.mkdir(parents=True)
    (workspace.zone("raw") / "cut.log.gz").write_bytes(whole[: len(whole) // 2])
    request = subject.erase(workspace.config, Subject.of([SUBJECT], []), AS_OF, include_raw=True)
    (log,) = subject.findings(request)["raw"]["logs"]
    assert (log["damaged"], log["rewritten"], log["lines"] > 0) == (True, False, True)
    assert (workspace.zone("raw") / "cut.log.gz").read_bytes() == whole[: len(whole) // 2]
    assert "damaged (" in subject.summary(request) and "left as it is" in subject.summary(request)


# --- what can no longer be linked -------------------------------------------------------------------------------


def test_destroyed_keys_and_the_window_are_named_as_unlinkable(tmp_path: Path) -> None:
    """A week swept a week later: only the last day is restricted, and the first epoch's key is destroyed."""
    ws = retention_workspace(tmp_path)
    ingest_week(ws)
    later = dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    sweep.run(ws.config, later)
    request = subject.export(ws.config, Subject.of(["192.0.2.10"], []), str(tmp_path / "out.json"), later)
    found = subject.findings(request)
    assert found["counts"] == {"anonymised/client_windows": 4, "anonymised/requests": 2, "restricted/requests": 1}
    assert found["partitions"] == [
        "anonymised/client_windows/dt=2026-11-23", "anonymised/client_windows/dt=2026-11-24",
        "anonymised/requests/dt=2026-11-23", "anonymised/requests/dt=2026-11-24", "restricted/requests/dt=2026-11-24",
    ]  # fmt: skip
    (key,) = [k for k in json.loads(Path(ws.config.keys.path).read_text())["keys"] if not k["secret"]]
    assert found["unlinkable"] == [
        {"what": "requests before 2026-11-24",
         "why": "past the 7-day security window: no zone holds their full address or user name any more; "
                "the address's rows among them are found by token while their key lives"},
        {"what": "anonymised rows of the epoch 2026-11-16..2026-11-23",
         "why": f"its key {key['id']} was destroyed on 2026-12-01: their tokens are removed, so no row can be "
                "linked to any address"},
    ]  # fmt: skip


# --- the command line -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "--out", "{tmp}/x.json"], "give the subject's address (--ip), user name (--user), or both"),
        (["erase", "--ip", "198.51.100.300"], "--ip (number 1): not an IPv4 or IPv6 address"),
        (["export", "--ip", "192.0.2.7", "--from", "2020-01-01", "--to", "2020-01-31", "--out", "{tmp}/x.json"],
         "--from 2020-01-01 --to 2020-01-31: the zones hold nothing of that period"),
        (["export", "--ip", "192.0.2.7", "--from", "2020-02-01", "--to", "2020-01-31", "--out", "{tmp}/x.json"],
         "--from 2020-02-01 is after --to 2020-01-31"),
        (["export", "--ip", "192.0.2.7", "--from", "1 May", "--out", "{tmp}/x.json"],
         "--from 1 May: not a date (YYYY-MM-DD)"),
        (["export", "--ip", "192.0.2.7", "--out", "{tmp}/x.txt"], "--out {tmp}/x.txt: must end in .json or .csv"),
        (["export", "--ip", "192.0.2.7", "--out", "s3://b/x.json"],
         "--out s3://b/x.json: must be a local file (the export holds personal data, for the subject)"),
    ],
    ids=["no identifier", "invalid address", "a period with nothing held", "period backwards", "not a date",
         "unknown format", "not local"],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_code_2(workspace: Workspace, argv: list[str], message: str, capsys) -> None:
    argv = [a.replace("{tmp}", str(workspace.root)) for a in argv]
    assert cli.main(["subject", *argv[:1], "--config", str(workspace.config_path), *argv[1:]]) == 2
    error = capsys.readouterr().err
    assert error == f"logshroud: error: {message.replace('{tmp}', str(workspace.root))}\n"
    assert not (workspace.zone("audit") / "subject_requests").exists()


def test_cli_exports_csv_and_erases(workspace: Workspace) -> None:
    ws = workspace
    lines = [clf_line(SUBJECT, dt.datetime(2026, 11, 24, 9, m)) for m in range(3)] + [
        clf_line("192.0.2.70", dt.datetime(2026, 11, 24, 9, 5)), clf_line(OFFICE, dt.datetime(2026, 11, 24, 9, 6), user=USER)
    ]  # fmt: skip
    ingest.run(ws.config, [str(ws.log("access.log", lines))], AS_OF)
    common = ["--config", str(ws.config_path), "--as-of", "2026-11-25T02:00:00Z", "--ip", "::ffff:192.0.2.7"]
    out = ws.root / "subject.csv"
    exported = subprocess.run([*LOGSHROUD, "subject", "export", *common, "--user", USER, "--out", str(out)],
                              capture_output=True, text=True, cwd=ws.root)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with out.open(newline="") as source:
        table = list(csv.DictReader(source))
    assert Counter(r["dataset"] for r in table) == {"restricted/requests": 4, "anonymised/requests": 4,
                                                    "anonymised/client_windows": 4}  # fmt: skip
    assert {r["client_ip"] for r in table if r["dataset"] == "restricted/requests"} == {SUBJECT, OFFICE}
    assert "  restricted/requests: 4 row(s) in 1 partition(s)" in exported.stdout.splitlines()
    erased = subprocess.run([*LOGSHROUD, "subject", "erase", *common], capture_output=True, text=True, cwd=ws.root)
    assert erased.returncode == 0, erased.stderr
    assert "  restricted/requests: 3 row(s) in 1 partition(s)" in erased.stdout.splitlines()
    for printed in (exported.stdout + exported.stderr, erased.stdout + erased.stderr):
        assert SUBJECT not in printed and USER not in printed and "c000:207" not in printed
    restricted = pq.read_table(next((ws.zone("restricted") / "requests").rglob("*.parquet")))
    assert sorted(restricted["client_ip"].to_pylist()) == ["192.0.2.70", OFFICE]


# --- on S3, with the keys (and the identifier pepper) in Secrets Manager ------------------------------------------


def test_erase_works_the_same_on_s3(s3_endpoint: str, s3, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    keys = {"backend": "aws_secrets_manager", "secrets_prefix": f"{bucket}/keys/", "region": "us-east-1",
            "endpoint_url": s3_endpoint}  # fmt: skip
    zones = {z: f"s3://{bucket}/zones/{z}" for z in ("raw", "restricted", "anonymised", "audit")}
    ws = Workspace(tmp_path, zones=zones, storage={"s3": {"endpoint_url": s3_endpoint}}, keys=keys)
    lines = [line for day in DAYS[-3:] for _, line in day_traffic(day)] + ["garbage from ::ffff:c000:207 here"]
    log = f"{zones['raw']}/web/access.log"
    s3.put_object(Bucket=bucket, Key="zones/raw/web/access.log", Body=("\n".join(lines) + "\n").encode())
    ingest.run(ws.config, [log], AS_OF)
    ours = Subject.of([SUBJECT], [])

    exported = subject.export(ws.config, ours, str(tmp_path / "out.json"), AS_OF)
    assert subject.findings(exported)["counts"] == {
        "anonymised/client_windows": 12, "anonymised/requests": 6, "restricted/quarantine": 1, "restricted/requests": 6
    }  # fmt: skip
    erased = subject.erase(ws.config, ours, AS_OF, include_raw=True)
    assert subject.findings(erased)["counts"] == subject.findings(exported)["counts"]
    assert [c.name for c in verify.run(ws.config, AS_OF) if not c.passed] == []
    assert subject.findings(subject.erase(ws.config, ours, AS_OF, dry_run=True))["counts"] == {}
    remaining = storage.read_bytes(log).decode().splitlines()
    assert remaining == [line for line in lines if not (client_of(line) == parse_address(SUBJECT) or "c000" in line)]
    for stored in storage.list_tree(zones["restricted"]):
        table = pq.read_table(pa.BufferReader(storage.read_bytes(stored.path)))
        if "client_ip" in table.column_names:
            assert parse_address(SUBJECT) not in {parse_address(c) for c in table["client_ip"].to_pylist()}
    records = [json.loads(storage.read_bytes(f.path)) for f in storage.list_tree(f"{zones['audit']}/subject_requests")]
    assert sorted(r["kind"] for r in records) == ["erase", "export"]
    assert records[0]["identifiers"] == records[1]["identifiers"]  # hashed under one pepper, kept beside the keys
    secretsmanager = boto3.client("secretsmanager", endpoint_url=s3_endpoint, region_name="us-east-1")
    names = {s["Name"] for s in secretsmanager.list_secrets()["SecretList"]}
    assert pepper_secret_name(f"{bucket}/keys/") in names
