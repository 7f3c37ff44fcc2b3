"""Run manifests and deletion records: the audit zone's account of every file the zones hold.

A manifest proves, per input file, `lines_read == rows + quarantined`, from counts
taken on both sides: lines as the reader cut them, rows and quarantine records
as the writers wrote them. It lists every file the run wrote (path, rows, bytes,
SHA-256) and every stale file it deleted.

The sweep changes files after their run: it deletes them, or rewrites (coarsens)
them, and a data-subject erasure rewrites them without the subject's rows. Each
such action is a deletion record in `<audit>/deletions/`, and a record
supersedes what earlier manifests said of the same paths. Replaying manifests and
records in the order they were written (`ledger`) gives every file the zones
should hold now, with its size and checksum: what `verify` holds the zones to.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict

from transforms import storage
from transforms.read import source_id


def manifest_path(audit_uri: str, run_id: str) -> str:
    return storage.join(audit_uri, "manifests", f"{run_id}.json")


def input_summaries(inputs: list[storage.StoredFile], stats: list[dict], files: list[dict]) -> list[dict]:
    """One entry per input: lines read, rows and quarantined written, reasons, damage."""
    lines = Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)
    damage: dict[str, str] = {}
    for s in stats:
        lines[s["source"]] += s["lines_read"]
        reasons[s["source"]].update(s["reasons"])
        if s["damage"]:
            damage[s["source"]] = s["damage"]
    written: dict[tuple[str, str], int] = Counter()
    event_days: dict[str, set[str]] = defaultdict(set)
    for f in files:
        if f["zone"] == "anonymised" or f["dataset"] == "quarantine":
            written[(f["source_id"], f["dataset"])] += f["rows"]
        if f["zone"] == "anonymised" and f["dataset"] == "requests":  # every parsed line, by its UTC date
            event_days[f["source_id"]].add(f["dt"])
    summaries = []
    for stored in inputs:
        sid = source_id(stored.path)
        rows, quarantined = written[(sid, "requests")], written[(sid, "quarantine")]
        summaries.append(
            {
                "path": stored.path,
                "source_id": sid,
                "size_bytes": stored.size,
                "lines_read": lines[stored.path],
                "rows": rows,
                "quarantined": quarantined,
                "quarantine_reasons": dict(sorted(reasons[stored.path].items())),
                "damage": damage.get(stored.path),
                "balanced": lines[stored.path] == rows + quarantined,
                # What raw retention goes by: the newest line's date, not the file's mtime.
                "event_dates": _first_last(event_days[sid]),
            }
        )
    return summaries


def totals(summaries: list[dict], files: list[dict]) -> dict:
    reasons = Counter()
    for s in summaries:
        reasons.update(s["quarantine_reasons"])
    rows_by_zone = Counter()
    for f in files:
        rows_by_zone[f"{f['zone']}_{f['dataset']}_rows"] += f["rows"]
    return {
        "inputs": len(summaries),
        "lines_read": sum(s["lines_read"] for s in summaries),
        "rows": sum(s["rows"] for s in summaries),
        "quarantined": sum(s["quarantined"] for s in summaries),
        "quarantine_reasons": dict(sorted(reasons.items())),
        "damaged_inputs": sum(1 for s in summaries if s["damage"]),
        "balanced": all(s["balanced"] for s in summaries),
        **dict(sorted(rows_by_zone.items())),
    }


def _first_last(days: set[str]) -> dict | None:
    return {"first": min(days), "last": max(days)} if days else None


def write_manifest(audit_uri: str, manifest: dict) -> str:
    path = manifest_path(audit_uri, manifest["run_id"])
    storage.write_bytes(path, json.dumps(manifest, indent=1, sort_keys=False).encode())
    return path


def read_manifest(path: str) -> dict:
    return json.loads(storage.read_bytes(path))


# --- deletion records and the ledger ---------------------------------------------------------------------

DELETIONS = "deletions"
COARSEN = "coarsen_partition"  # the sweep's action that rewrites files rather than removing them


def deletion_path(audit_uri: str, record_id: str) -> str:
    return storage.join(audit_uri, DELETIONS, f"{record_id}.json")


def write_deletion_record(audit_uri: str, record: dict) -> str:
    path = deletion_path(audit_uri, record["record_id"])
    storage.write_bytes(path, json.dumps(record, indent=1).encode())
    return path


def audit_records(audit_uri: str) -> list[dict]:
    """Every run manifest and deletion record, in the order they were written."""
    records = []
    for folder in ("manifests", DELETIONS):
        for stored in storage.list_tree(storage.join(audit_uri, folder)):
            if stored.path.endswith(".json"):
                records.append({**json.loads(storage.read_bytes(stored.path)), "_path": stored.path})
    return sorted(records, key=record_time)


def iso_time(moment: dt.datetime, precise: bool = False) -> str:
    """`2026-11-24T03:00:00Z`, or with microseconds (`precise`) where records must sort by it."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if precise else "%Y-%m-%dT%H:%M:%SZ")


def record_time(record: dict) -> dt.datetime:
    """When a record was written: a deletion record's `recorded` (microseconds), a manifest's `finished`.

    A manifest's time is cut to the second, but its run took longer than that, so it still
    sorts after every record written before the run began.
    """
    text = record.get("recorded") or record["finished"]
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def ledger(records: list[dict]) -> dict[str, dict]:
    """path -> {rows, bytes, sha256, recorded_by} of every file the records say is held now.

    `recorded_by` is the run id of the manifest, or the record id of the deletion record,
    that last wrote of the file.
    """
    files: dict[str, dict] = {}
    for record in records:
        if record.get("record") == "deletion":
            for entry in record["objects"]:
                if "sha256" in entry:  # rewritten in place (coarsened, rows erased): what the file is now
                    files[entry["path"]] = _file_fields(entry, record["record_id"])
                else:
                    files.pop(entry["path"], None)
            continue
        for path in record.get("deleted_stale", []):
            files.pop(path, None)
        for entry in record.get("outputs", []):
            files[entry["path"]] = _file_fields(entry, record["run_id"])
    return files


def ingested_inputs(records: list[dict]) -> dict[str, dict]:
    """input path -> its entry in the latest manifest that read it, with that run's `as_of` added."""
    inputs = {}
    for record in records:
        for entry in record.get("inputs", []):
            inputs[entry["path"]] = {**entry, "as_of": record["as_of"]}
    return inputs


def _file_fields(entry: dict, recorded_by: str) -> dict:
    return {"rows": entry["rows"], "bytes": entry["bytes"], "sha256": entry["sha256"], "recorded_by": recorded_by}
