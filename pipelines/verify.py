"""Verify: proof, at any moment, that nothing is held past its time and nothing leaks.

    logshroud verify --config prod.yaml [--as-of 2026-11-24T03:00:00Z] [--json]

Reads every zone and checks each control, printing PASS, FAIL or N/A (a control the config
makes moot) with its evidence (`--json`: one JSON document); exits 1 if any control fails,
2 on an error. Controls:

- restricted_within_window: no restricted partition of any dataset (requests, quarantine,
  alerts, ...) whose whole UTC day is past `security_window_days`;
- raw_within_window: with `raw_retention: delete`, no raw log whose newest line, as its
  ingest recorded it, is past the window (not applicable with `keep`);
- anonymised_within_retention: with `anonymised_retention_days`, no anonymised partition past it
  (not applicable without);
- no_address_or_email: no full IPv4 or IPv6 address, e-mail address or URL credentials in any
  string column (lists of strings too) of any anonymised file, nor in any audit file. Networks
  pass when no finer than the configured prefixes (in coarsened files, the long-term ones).
  A manifest's `config` is not scanned: it names your endpoints and proxies, not clients;
  nor are compliance reports (`<audit>/reports/`: counts drawn from the files scanned here, and
  a PDF's compressed streams read as text would raise false alarms) or other binary files;
- destroyed_keys_coarsened: no `key_id` of a destroyed key (or of no key in the keyring)
  in an anonymised file that is not coarsened;
- keys_within_retention: no key whose secret still exists past `keys.retention_days`;
- manifests_match_files: every file the manifests and deletion records account for exists
  with its recorded size and SHA-256, and no file in the restricted or anonymised zone
  (staging included) is unaccounted for;
- manifest_chain: each run manifest's `previous_manifest_sha256` is the SHA-256 of the manifest
  written before it, so none was edited or deleted since (not applicable until a manifest is chained).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.ingest import zone_uris
from pipelines.job_options import job_parser, parse_as_of
from pipelines.sweep import long_term_prefixes
from transforms import storage
from transforms.config import Config, load_config
from transforms.keyring import Key, open_keyring
from transforms.manifest import PREVIOUS, audit_records, ingested_inputs, iso_time, ledger, written_order
from transforms.retention import (
    coarsening_of,
    first_day_kept,
    leaks,
    partition_of,
    raw_logs,
    relative_name,
    string_columns,
)
from transforms.scrub import Scrubber

PASS, FAIL, NOT_APPLICABLE = "pass", "fail", "not_applicable"
REPORTS = "reports"  # the audit zone's folder of compliance reports, which the leak scan leaves out


@dataclass
class Check:
    """One control: its stable name, what it holds to, the evidence, and each failure as one line.

    `not_applicable` says why the config makes the control moot (`raw_retention: keep`); such a
    control has no failures and fails nothing.
    """

    name: str
    title: str
    evidence: dict
    failures: list[str] = field(default_factory=list)
    not_applicable: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def status(self) -> str:
        return FAIL if self.failures else NOT_APPLICABLE if self.not_applicable else PASS

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "passed": self.passed,
            "not_applicable": self.not_applicable,
            "evidence": self.evidence,
            "failures": self.failures,
        }


@dataclass
class ZoneFile:
    """What verify learnt of one file by reading it whole."""

    path: str
    size: int
    sha256: str
    partition: tuple[str, str] | None  # (dataset, day)
    rows: int = 0
    unreadable: str | None = None  # why it is no Parquet file verify can read
    coarsened: dict | None = None
    key_ids: frozenset[str] = frozenset()
    leaks: dict[str, Counter] = field(default_factory=dict)  # column -> kind -> values


# --- reading the zones ------------------------------------------------------------------------------------


def read_zone(zone_uri: str, scrubbers: tuple[Scrubber, Scrubber] | None = None, datasets_only: bool = False
              ) -> list[ZoneFile]:  # fmt: skip
    """Every file of a data zone read whole; with `scrubbers` (normal, long-term) its text scanned too.

    `datasets_only` reads only the files of datasets (`<dataset>/dt=.../`): the audit zone's Parquet
    among its manifests, records and reports.
    """
    files = []
    for stored in storage.list_tree(zone_uri):
        if datasets_only and partition_of(zone_uri, stored.path) is None:
            continue
        data = storage.read_bytes(stored.path)
        found = ZoneFile(stored.path, len(data), storage.sha256_hex(data), partition_of(zone_uri, stored.path))
        try:
            if scrubbers:
                _scan_table(found, pq.read_table(pa.BufferReader(data)), scrubbers)
            else:
                found.rows = pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows
        except (pa.ArrowException, OSError) as error:
            found.unreadable = type(error).__name__
        files.append(found)
    return files


def _scan_table(found: ZoneFile, table: pa.Table, scrubbers: tuple[Scrubber, Scrubber]) -> None:
    found.rows = table.num_rows
    found.coarsened = coarsening_of(table.schema.metadata)
    scrubber = scrubbers[1] if found.coarsened else scrubbers[0]
    found.leaks = {name: kinds for name, values in string_columns(table) if (kinds := leaks(values, scrubber))}
    if "key_id" in table.column_names:
        found.key_ids = frozenset(k for k in table["key_id"].unique().to_pylist() if k)


def audit_leaks(audit_uri: str, scrubber: Scrubber) -> tuple[dict[str, int], dict[str, str]]:
    """(files scanned and files left out, path -> what is wrong) for the audit zone: each file holding
    what scrubbing would remove.

    Left out: compliance reports (`<audit>/reports/`), whose figures are counted from the files scanned
    here, and binary files other than Parquet (with a NUL byte), whose bytes read as text hold digits
    that look like addresses (a PDF's compressed streams).
    """
    reports = storage.join(audit_uri, REPORTS) + "/"
    counts = dict.fromkeys(("audit_files", "reports_not_scanned", "binary_files_not_scanned"), 0)
    found = {}
    for stored in storage.list_tree(audit_uri):
        if stored.path.startswith(reports):
            counts["reports_not_scanned"] += 1
            continue
        data = storage.read_bytes(stored.path)
        if not stored.path.endswith(".parquet") and b"\0" in data:
            counts["binary_files_not_scanned"] += 1
            continue
        counts["audit_files"] += 1
        if not stored.path.endswith(".parquet"):
            kinds = leaks(pa.array(_text_strings(stored.path, data), pa.string()), scrubber)
        else:
            try:
                table = pq.read_table(pa.BufferReader(data))
            except (pa.ArrowException, OSError) as error:
                found[stored.path] = f"not readable as Parquet ({type(error).__name__})"
                continue
            kinds = sum((leaks(values, scrubber) for _, values in string_columns(table)), Counter())
        if kinds:
            found[stored.path] = _kinds(kinds)
    return counts, found


def _text_strings(path: str, data: bytes) -> list[str]:
    """The strings of a JSON record, or the lines of any other text."""
    text = data.decode("utf-8", errors="replace")
    if path.endswith(".json"):
        try:
            return list(_json_strings(json.loads(text)))
        except ValueError:
            pass  # not JSON after all: scanned as lines, so nothing escapes
    return text.splitlines()


def _json_strings(value, top: bool = True) -> Iterator[str]:
    """Every string in a JSON document, names included; a manifest's `config` left out."""
    if isinstance(value, dict):
        for name, item in value.items():
            if not (top and name == "config"):
                yield name
                yield from _json_strings(item, top=False)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item, top=False)
    elif isinstance(value, str):
        yield value


# --- the controls -----------------------------------------------------------------------------------------


def restricted_within_window(files: list[ZoneFile], window: str, days: int) -> Check:
    check = Check(
        "restricted_within_window",
        f"restricted zone holds nothing past the {days}-day security window",
        {"window_days": days, "first_day_kept": window},
    )
    partitions = _by_partition(files)
    check.evidence.update(
        partitions=len(partitions),
        rows=sum(f.rows for f in files),
        oldest_day=min((day for _, day in partitions), default=None),
    )
    for (dataset, day), held in sorted(partitions.items()):
        if day < window:
            check.failures.append(
                f"restricted/{dataset}/dt={day}: {len(held)} file(s), {sum(f.rows for f in held):,} "
                f"rows, every one past the window, which starts {window}"
            )
    return check


def raw_within_window(config: Config, zones: dict[str, str], records: list[dict], window: str) -> Check:
    days = config.security_window_days
    check = Check(
        "raw_within_window",
        f"raw zone holds no log past the {days}-day window (raw_retention: delete)",
        {"raw_retention": config.raw_retention, "first_day_kept": window},
    )
    if config.raw_retention != "delete":
        check.not_applicable = f"raw_retention: {config.raw_retention} (raw logs are kept)"
        return check
    logs = raw_logs(zones["raw"], ingested_inputs(records))
    check.evidence.update(logs=len(logs), of_unknown_age=sum(1 for log in logs if log.newest_event is None))
    for log in logs:
        if log.newest_event is not None and log.newest_event < window:
            check.failures.append(
                f"{log.stored.path}: newest line from {log.newest_event}, past the window, which starts {window}"
            )
    return check


def anonymised_within_retention(files: list[ZoneFile], config: Config, as_of: dt.datetime) -> Check:
    days = config.anonymised_retention_days
    check = Check(
        "anonymised_within_retention",
        f"anonymised zone holds nothing past {days} days",
        {"anonymised_retention_days": days},
    )
    if days is None:
        check.title = "anonymised zone holds nothing past its retention"
        check.not_applicable = "anonymised_retention_days not set (anonymised data is kept)"
        return check
    kept_from = first_day_kept(as_of, days)
    check.evidence["first_day_kept"] = kept_from
    for (dataset, day), held in sorted(_by_partition(files).items()):
        if day < kept_from:
            check.failures.append(
                f"anonymised/{dataset}/dt={day}: {len(held)} file(s) past the retention, which starts {kept_from}"
            )
    return check


def no_address_or_email(
    anonymised: list[ZoneFile], audit: tuple[dict[str, int], dict[str, str]], config: Config, zones: dict[str, str]
) -> Check:
    a = config.anonymise
    check = Check(
        "no_address_or_email",
        "no full IP address, e-mail address or credentials in the anonymised and audit zones",
        {
            "anonymised_files": len(anonymised),
            **audit[0],
            "prefixes": {"ipv4": a.ipv4_prefix, "ipv6": a.ipv6_prefix},
            "long_term_prefixes": dict(zip(("ipv4", "ipv6"), long_term_prefixes(config), strict=True)),
        },
    )
    for found in anonymised:
        if found.unreadable:
            check.failures.append(f"{relative_name(found.path, zones)}: not readable as Parquet ({found.unreadable})")
        for column, kinds in sorted(found.leaks.items()):
            check.failures.append(f"{relative_name(found.path, zones)}: column {column}: {_kinds(kinds)}")
    for path, wrong in sorted(audit[1].items()):
        check.failures.append(f"{relative_name(path, zones)}: {wrong}")
    return check


def destroyed_keys_coarsened(anonymised: list[ZoneFile], keys: list[Key], zones: dict[str, str]) -> Check:
    destroyed = {k.id for k in keys if not k.usable}
    known = {k.id for k in keys}
    check = Check(
        "destroyed_keys_coarsened",
        "no key id of a destroyed key outside a coarsened file",
        {"destroyed_keys": len(destroyed), "coarsened_files": sum(1 for f in anonymised if f.coarsened)},
    )
    for found in anonymised:
        for key_id in sorted(found.key_ids - known):
            check.failures.append(f"{relative_name(found.path, zones)}: key_id {key_id} is in no keyring")
        if not found.coarsened:
            for key_id in sorted(found.key_ids & destroyed):
                check.failures.append(
                    f"{relative_name(found.path, zones)}: key_id {key_id} is destroyed, but the file is not coarsened"
                )
    return check


def keys_within_retention(keys: list[Key], retention_days: int, as_of: dt.datetime, location: str) -> Check:
    check = Check(
        "keys_within_retention",
        f"no key lives past its {retention_days}-day retention",
        {
            "keyring": location,
            "keys": len(keys),
            "living": sum(1 for k in keys if k.secret is not None),
            "destroyed": sum(1 for k in keys if k.secret is None),
        },
    )
    for key in keys:
        due = key.due(retention_days)
        if key.overdue(retention_days, as_of.date()):
            check.failures.append(
                f"key {key.id} (epoch {key.not_before}..{key.not_after}) still has its secret, "
                f"{(as_of.date() - due).days} day(s) past its retention (due {due})"
            )
    return check


def manifests_match_files(found: list[ZoneFile], records: list[dict], zones: dict[str, str]) -> Check:
    recorded = ledger(records)
    ours = (zones["restricted"] + "/", zones["anonymised"] + "/", zones["audit"] + "/")
    check = Check(
        "manifests_match_files",
        "every recorded file is there as recorded, and no file is unaccounted for",
        {
            "manifests": sum(1 for r in records if r.get("record") != "deletion"),
            "deletion_records": sum(1 for r in records if r.get("record") == "deletion"),
            "files_recorded": len(recorded),
            "files_found": len(found),
            "recorded_outside_the_zones": sum(1 for p in recorded if not p.startswith(ours)),
        },
    )
    present = {f.path: f for f in found}
    for path, entry in sorted(recorded.items()):
        name, held = relative_name(path, zones), present.get(path)
        if not path.startswith(ours):
            continue  # a zone since moved: no longer ours to check
        if held is None:
            check.failures.append(f"{name}: missing (recorded by {entry['recorded_by']})")
        elif held.size != entry["bytes"]:
            check.failures.append(f"{name}: {held.size:,} bytes, recorded {entry['bytes']:,} by {entry['recorded_by']}")
        elif held.sha256 != entry["sha256"]:
            check.failures.append(f"{name}: SHA-256 differs from the one recorded by {entry['recorded_by']}")
    for path in sorted(set(present) - set(recorded)):
        check.failures.append(
            f"{relative_name(path, zones)}: unaccounted for (no manifest or deletion record names it)"
        )
    return check


def manifest_chain(records: list[dict]) -> Check:
    """Each manifest's `previous_manifest_sha256` against the manifest written before it.

    A manifest without the field (written before chaining) is counted as not chained, not as a
    break; one that names no predecessor while one exists, or the wrong one, breaks the chain.
    """
    manifests = sorted((r for r in records if r.get("record") != "deletion"), key=written_order)
    chained = [m for m in manifests if PREVIOUS in m]
    check = Check(
        "manifest_chain",
        "each run manifest names the SHA-256 of the one written before it",
        {"manifests": len(manifests), "chained": len(chained), "not_chained": len(manifests) - len(chained)},
        not_applicable=None if chained else "no manifest names the one before it yet (written before chaining)",
    )
    for previous, manifest in zip([None, *manifests], manifests, strict=False):
        if PREVIOUS not in manifest or manifest[PREVIOUS] == (previous and previous["_sha256"]):
            continue
        before = f"the manifest written before it, {previous['run_id']}" if previous else "none: it was written first"
        check.failures.append(f"manifest {manifest['run_id']}: previous_manifest_sha256 does not match {before}")
    return check


def _by_partition(files: list[ZoneFile]) -> dict[tuple[str, str], list[ZoneFile]]:
    partitions: dict[tuple[str, str], list[ZoneFile]] = {}
    for found in files:
        if found.partition is not None:
            partitions.setdefault(found.partition, []).append(found)
    return partitions


def _kinds(kinds: Counter) -> str:
    """`1 value with a full IP address, 2 values with an e-mail address`"""
    return ", ".join(f"{n:,} value{'' if n == 1 else 's'} with {kind}" for kind, n in sorted(kinds.items()))


# --- the job ----------------------------------------------------------------------------------------------


def run(config: Config, as_of: dt.datetime | None = None) -> list[Check]:
    """Every control at `as_of` (default: the clock)."""
    as_of = as_of or dt.datetime.now(dt.timezone.utc)
    storage.configure(config.storage.s3)
    zones = zone_uris(config)
    for uri in zones.values():
        storage.check_bucket(uri)
    a = config.anonymise
    scrubbers = (Scrubber(a.ipv4_prefix, a.ipv6_prefix, ()), Scrubber(*long_term_prefixes(config), ()))
    records = audit_records(zones["audit"])
    restricted = read_zone(zones["restricted"])
    anonymised = read_zone(zones["anonymised"], scrubbers)
    audit = audit_leaks(zones["audit"], scrubbers[0])
    keyring = open_keyring(config.keys)
    keys = keyring.keys()
    window = first_day_kept(as_of, config.security_window_days)
    return [
        restricted_within_window(restricted, window, config.security_window_days),
        raw_within_window(config, zones, records, window),
        anonymised_within_retention(anonymised, config, as_of),
        no_address_or_email(anonymised, audit, config, zones),
        destroyed_keys_coarsened(anonymised, keys, zones),
        keys_within_retention(keys, config.keys.retention_days, as_of, keyring.location),
        manifests_match_files(restricted + anonymised + read_zone(zones["audit"], datasets_only=True), records, zones),
        manifest_chain(records),
    ]


def report(checks: list[Check], as_of: dt.datetime, config: Config) -> dict:
    """The machine-readable result: stable names, evidence, one line per failure."""
    return {
        "as_of": iso_time(as_of),
        "config": {"source": config.source, "sha256": config.digest()},
        "passed": all(c.passed for c in checks),
        "checks": [c.as_dict() for c in checks],
    }


def text(checks: list[Check], as_of: dt.datetime) -> str:
    lines = [f"verify as of {iso_time(as_of)}"]
    for check in checks:
        if check.not_applicable:
            lines.append(f"N/A   {check.title} [{check.name}]: {check.not_applicable}")
            continue
        evidence = ", ".join(f"{k} {v if isinstance(v, str) else json.dumps(v)}" for k, v in check.evidence.items())
        lines.append(f"{'PASS' if check.passed else 'FAIL'}  {check.title} [{check.name}]: {evidence}")
        lines += [f"      {failure}" for failure in check.failures]
    lines.append(verdict(checks))
    return "\n".join(lines)


def verdict(checks: list[Check]) -> str:
    """`verify: all 8 controls passed`, `verify: all 6 applicable controls passed (2 not applicable)`."""
    failed = sum(1 for c in checks if c.status == FAIL)
    moot = sum(1 for c in checks if c.status == NOT_APPLICABLE)
    if failed:
        return f"verify: {failed} of {len(checks)} controls failed"
    if moot:
        return f"verify: all {len(checks) - moot} applicable controls passed ({moot} not applicable)"
    return f"verify: all {len(checks)} controls passed"


def main(argv: list[str]) -> int:
    """`logshroud verify`: exit 0 when every control passes, 1 when any fails."""
    parser = job_parser("logshroud verify", __doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    args = parser.parse_args(argv)
    config, now = load_config(args.config), parse_as_of(args)
    checks = run(config, now)
    print(json.dumps(report(checks, now, config), indent=1) if args.json else text(checks, now))
    return 0 if all(c.passed for c in checks) else 1
