"""Sweep: whatever is past its time leaves the zones, and the audit zone records what, why and when.

    logshroud sweep --config prod.yaml [--as-of 2026-11-24T03:00:00Z] [--dry-run]

In this order, every decision taken at `--as-of` (default: the clock):

1. restricted partitions of every dataset (requests, quarantine, alerts, ...) whose whole
   UTC day is past `security_window_days` are deleted;
2. with `raw_retention: delete`, raw logs under `zones.raw` whose newest line (by the event
   dates the ingest manifests recorded, not the file's mtime) is past the window, and which
   are unchanged since they were ingested, are deleted;
3. keys past `keys.retention_days` (counted from their epoch's first day) are destroyed;
4. anonymised partitions of a destroyed key's epoch are coarsened (see transforms.retention);
5. with `anonymised_retention_days`, older anonymised partitions are deleted;
6. what a run staged (`<zone>/_staging/<run id>/`) and never committed, when the run started
   more than a day before: the run was killed outright (a run that fails deletes what it
   staged itself), and its restricted parts hold full addresses no other rule would reach.

Each action is first written as a deletion record, `<audit>/deletions/<run id>-NNN.json`,
then done. A record supersedes what manifests said of the same files (the ledger verify
checks the zones against). A sweep cut short leaves a record of an action not done;
verify then reports the file or key still there, and the next sweep does it again.
`--dry-run` prints the same plan and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.ingest import new_run_id, zone_uris
from pipelines.job_options import job_parser, parse_as_of
from transforms import storage
from transforms.config import Config, load_config
from transforms.keyring import Key, KeyStore, open_keyring
from transforms.manifest import COARSEN, audit_records, ingested_inputs, iso_time, write_deletion_record
from transforms.retention import (
    Partition,
    coarsened_table,
    coarsening_of,
    first_day_kept,
    parquet_footer,
    raw_logs,
    zone_partitions,
)
from transforms.write import parquet_bytes

DELETE_PARTITION = "delete_partition"
DELETE_RAW = "delete_raw_object"
DESTROY_KEY = "destroy_key"
DELETE_STAGED = "delete_staged_run"
# A run's staged parts are abandoned once it started this long ago and never committed them.
ABANDONED_AFTER = dt.timedelta(days=1)


@dataclass(frozen=True)
class Action:
    """One thing the sweep does, with the rule that calls for it: what a deletion record holds."""

    action: str  # delete_partition | delete_raw_object | destroy_key | coarsen_partition
    zone: str  # restricted | anonymised | raw | keys
    rule: dict  # {"setting": "security_window_days", "value": 7}
    reason: str  # one line a person reads
    dates: dict  # the dates the rule compared
    dataset: str | None = None
    partition: str | None = None  # the UTC day
    objects: tuple[dict, ...] = ()  # {"path", "bytes", "rows"}
    key: Key | None = None  # never with its secret: a key to destroy comes as it will be once destroyed

    @property
    def rows(self) -> int:
        return sum(o["rows"] for o in self.objects)

    @property
    def bytes(self) -> int:
        return sum(o["bytes"] for o in self.objects)

    def describe(self) -> str:
        if self.action == DESTROY_KEY:
            return f"destroy key {self.key.id} (epoch {self.key.not_before}..{self.key.not_after}): {self.reason}"
        if self.action == DELETE_STAGED:
            where = f"{self.zone}/_staging/{self.partition}"
            return f"delete {where}: {len(self.objects)} object(s), {self.bytes:,} bytes ({self.reason})"
        what = self.objects[0]["path"] if self.zone == "raw" else f"{self.zone}/{self.dataset}/dt={self.partition}"
        verb = "coarsen" if self.action == COARSEN else "delete"
        unit = "lines" if self.zone == "raw" else "rows"
        return (
            f"{verb} {what}: {len(self.objects)} object(s), {self.rows:,} {unit}, {self.bytes:,} bytes ({self.reason})"
        )


@dataclass
class Sweep:
    """A sweep's plan and, once done, the deletion records it wrote."""

    run_id: str
    as_of: dt.datetime
    actions: list[Action]
    records: list[str] = field(default_factory=list)


def plan(config: Config, as_of: dt.datetime, keyring: KeyStore) -> list[Action]:
    """Everything past its time at `as_of`, in the order it is to be done."""
    zones = zone_uris(config)
    window = first_day_kept(as_of, config.security_window_days)
    restricted = zone_partitions("restricted", zones["restricted"])
    actions = window_deletions(restricted, "security_window_days", config.security_window_days, window)
    if config.raw_retention == "delete":
        actions += raw_deletions(zones, window, config.security_window_days)
    keys = keyring.keys()
    due = [k.as_destroyed(as_of) for k in keys if k.overdue(config.keys.retention_days, as_of.date())]
    actions += [key_destruction(k, config.keys.retention_days) for k in due]
    destroyed = [k for k in keys if not k.usable] + due
    anonymised = zone_partitions("anonymised", zones["anonymised"])
    expired = []
    if config.anonymised_retention_days is not None:
        days = config.anonymised_retention_days
        expired = window_deletions(anonymised, "anonymised_retention_days", days, first_day_kept(as_of, days))
    expiring = {(a.dataset, a.partition) for a in expired}
    kept = [p for p in anonymised if (p.dataset, p.day) not in expiring]
    coarsened = [c for p in kept for c in coarsenings(p, destroyed, config)]
    return actions + coarsened + expired + abandoned_staging(zones, as_of)


def abandoned_staging(zones: dict[str, str], as_of: dt.datetime) -> list[Action]:
    """Deletion of what each run staged, where the run started more than `ABANDONED_AFTER` before `as_of`.

    Staging folders are named after the run (`20261124T031500Z-1a2b3c`), which says when it
    started; a folder named otherwise is no run's and is left for verify to report.
    """
    actions = []
    for zone in ("restricted", "anonymised", "audit"):
        by_run: dict[str, list[storage.StoredFile]] = {}
        root = storage.join(zones[zone], "_staging")
        for stored in storage.list_tree(root):
            by_run.setdefault(stored.path[len(root) + 1 :].split("/", 1)[0], []).append(stored)
        for run_id, files in sorted(by_run.items()):
            started = _run_start(run_id)
            if started is None or as_of - started <= ABANDONED_AFTER:
                continue
            actions.append(Action(
                DELETE_STAGED,
                zone,
                rule={"setting": "abandoned_staging_hours", "value": ABANDONED_AFTER // dt.timedelta(hours=1)},
                reason=f"staged by run {run_id}, which started {iso_time(started)} and never committed it",
                dates={"run_started": iso_time(started), "as_of": iso_time(as_of)},
                dataset="_staging",
                partition=run_id,
                objects=tuple({"path": f.path, "bytes": f.size, "rows": _rows_or_zero(f.path)} for f in files),
            ))  # fmt: skip
    return actions


def _run_start(run_id: str) -> dt.datetime | None:
    """When a run started, read off its id; None for a name that is no run id."""
    try:
        return dt.datetime.strptime(run_id.split("-", 1)[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def _rows_or_zero(path: str) -> int:
    """Rows of a staged Parquet part; 0 for a file that is no whole Parquet file."""
    try:
        return parquet_footer(path).num_rows
    except (OSError, pa.ArrowInvalid):
        return 0


def window_deletions(partitions: list[Partition], setting: str, days: int, first_kept: str) -> list[Action]:
    """Deletion of every partition whose whole day is before `first_kept`, under the rule `setting`."""
    reason = f"every record is past {days} days ({setting}), which keep {first_kept} on"
    return [
        Action(
            DELETE_PARTITION,
            p.zone,
            rule={"setting": setting, "value": days},
            reason=reason,
            dates={"partition": p.day, "first_day_kept": first_kept},
            dataset=p.dataset,
            partition=p.day,
            objects=tuple({"path": f.path, "bytes": f.size, "rows": parquet_footer(f.path).num_rows} for f in p.files),
        )
        for p in partitions
        if p.day < first_kept
    ]


def raw_deletions(zones: dict[str, str], window: str, window_days: int) -> list[Action]:
    """Raw logs whose newest line is past the window; logs of unknown age are left alone."""
    logs = raw_logs(zones["raw"], ingested_inputs(audit_records(zones["audit"])))
    return [
        Action(
            DELETE_RAW,
            "raw",
            rule={"setting": "raw_retention", "value": "delete", "window_days": window_days},
            reason=f"its newest line is from {log.newest_event}, past the {window_days}-day window, "
            f"which starts {window}",
            dates={"newest_event": log.newest_event, "first_day_kept": window},
            objects=({"path": log.stored.path, "bytes": log.stored.size, "rows": log.lines},),
        )
        for log in logs
        if log.newest_event is not None and log.newest_event < window
    ]


def key_destruction(key: Key, retention_days: int, rule: dict | None = None, reason: str | None = None) -> Action:
    due = key.due(retention_days).isoformat()
    return Action(
        DESTROY_KEY,
        "keys",
        rule=rule or {"setting": "keys.retention_days", "value": retention_days},
        reason=reason or f"{retention_days} days from its epoch's first day, due {due}",
        dates={"not_before": key.not_before, "not_after": key.not_after, "due": due},
        key=key,
    )


def coarsenings(partition: Partition, destroyed: list[Key], config: Config) -> list[Action]:
    """The coarsening of a partition whose epoch's key is destroyed: its files not yet coarsened."""
    key = next((k for k in destroyed if k.covers(partition.day)), None)
    if key is None:
        return []
    footers = [(f, parquet_footer(f.path)) for f in partition.files]
    objects = tuple(
        {"path": f.path, "bytes": f.size, "rows": footer.num_rows}
        for f, footer in footers
        if coarsening_of(footer.schema.to_arrow_schema().metadata) is None
    )
    if not objects:
        return []
    v4, v6 = long_term_prefixes(config)
    return [
        Action(
            COARSEN,
            partition.zone,
            rule={"setting": "keys.retention_days", "value": config.keys.retention_days},
            reason=f"key {key.id} of its epoch is destroyed: tokens and key ids removed, "
            f"networks widened to /{v4} and /{v6}",
            dates={"partition": partition.day, "key_not_before": key.not_before, "key_not_after": key.not_after},
            dataset=partition.dataset,
            partition=partition.day,
            objects=objects,
            key=key,
        )
    ]


def long_term_prefixes(config: Config) -> tuple[int, int]:
    """The prefixes coarsened networks widen to: never finer than the ingest's own."""
    a = config.anonymise
    return min(a.long_term_ipv4_prefix, a.ipv4_prefix), min(a.long_term_ipv6_prefix, a.ipv6_prefix)


# --- doing it ---------------------------------------------------------------------------------------------


def execute(config: Config, sweep: Sweep, keyring: KeyStore, job: str = "sweep") -> None:
    """Do each action after writing its deletion record; the record paths go to `sweep.records`."""
    audit = zone_uris(config)["audit"]
    for number, action in enumerate(sweep.actions, start=1):
        rewritten = coarsen(action, config, sweep.as_of) if action.action == COARSEN else {}
        record = deletion_record(action, f"{sweep.run_id}-{number:03d}", sweep, config, job, rewritten)
        sweep.records.append(write_deletion_record(audit, record))
        if action.action == DESTROY_KEY:
            keyring.destroy(action.key.id, sweep.as_of)
        elif action.action == COARSEN:
            for path, (_, data) in rewritten.items():
                storage.write_bytes(path, data)  # one PUT or an atomic rename: never half a file
        else:
            storage.delete([o["path"] for o in action.objects])
            _remove_empty_folders(action, zone_uris(config))


def coarsen(action: Action, config: Config, as_of: dt.datetime) -> dict[str, tuple[str, bytes]]:
    """path -> (SHA-256 of the file as it is, the coarsened file's bytes), for each file of the action."""
    v4, v6 = long_term_prefixes(config)
    marker = {"ipv4_prefix": v4, "ipv6_prefix": v6, "key_id": action.key.id, "as_of": iso_time(as_of)}
    rewritten = {}
    for entry in action.objects:
        data = storage.read_bytes(entry["path"])
        table = pq.read_table(pa.BufferReader(data))
        rewritten[entry["path"]] = (storage.sha256_hex(data), parquet_bytes(coarsened_table(table, v4, v6, marker)))
    return rewritten


def deletion_record(
    action: Action, record_id: str, sweep: Sweep, config: Config, job: str, rewritten: dict[str, tuple[str, bytes]]
) -> dict:
    """The audit zone's account of one action: what, why (rule and dates), when. Machine-readable, stable fields."""
    objects = [dict(o) for o in action.objects]
    for entry in objects:
        if entry["path"] in rewritten:  # what the file now is (the ledger takes it from here) and what it was
            was, data = rewritten[entry["path"]]
            entry.update(
                bytes=len(data), sha256=storage.sha256_hex(data), replaced={"bytes": entry["bytes"], "sha256": was}
            )
    return {
        "record": "deletion",
        "version": 1,
        "record_id": record_id,
        "run_id": sweep.run_id,
        "job": job,
        "action": action.action,
        "zone": action.zone,
        "dataset": action.dataset,
        "partition": action.partition,
        "objects": objects,
        "rows": action.rows,
        "bytes": action.bytes,
        "key": action.key.public() if action.key else None,
        "rule": action.rule,
        "reason": action.reason,
        "dates": action.dates,
        "as_of": iso_time(sweep.as_of),
        "recorded": iso_time(dt.datetime.now(dt.timezone.utc), precise=True),
        "config_sha256": config.digest(),
    }


def _remove_empty_folders(action: Action, zones: dict[str, str]) -> None:
    """Local zones: the folders the deleted files leave empty go too, up to the zone itself."""
    root = zones[action.zone]
    for entry in action.objects:
        folder = os.path.dirname(entry["path"])
        while storage.is_local(folder) and folder.startswith(root + "/") and os.path.isdir(folder):
            if os.listdir(folder):
                break
            os.rmdir(folder)
            folder = os.path.dirname(folder)


# --- the job ----------------------------------------------------------------------------------------------


def run(config: Config, as_of: dt.datetime | None = None, dry_run: bool = False) -> Sweep:
    """Plan the sweep at `as_of` (default: the clock) and, unless `dry_run`, do it."""
    started = dt.datetime.now(dt.timezone.utc)
    storage.configure(config.storage.s3)
    for uri in zone_uris(config).values():
        storage.check_bucket(uri)
    keyring = open_keyring(config.keys)
    sweep = Sweep(new_run_id(started), as_of or started, [])
    sweep.actions = plan(config, sweep.as_of, keyring)
    if not dry_run:
        execute(config, sweep, keyring)
    return sweep


def summary(sweep: Sweep, dry_run: bool) -> str:
    head = f"sweep {sweep.run_id} as of {iso_time(sweep.as_of)}: " + (
        f"{len(sweep.actions)} action(s) planned, nothing changed (dry run)"
        if dry_run
        else f"{len(sweep.actions)} action(s) done, {len(sweep.records)} deletion record(s) written"
    )
    return "\n".join([head, *(f"  {a.describe()}" for a in sweep.actions)])


def main(argv: list[str]) -> int:
    """`logshroud sweep`: exit 0 once everything past its time is gone (or, dry run, planned)."""
    parser = job_parser("logshroud sweep", __doc__)
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    sweep = run(load_config(args.config), parse_as_of(args), args.dry_run)
    print(summary(sweep, args.dry_run))
    return 0
