"""Run manifests and deletion records: the audit zone's account of every file the zones hold.

A manifest proves, per input file, `lines_read == rows + quarantined + directives`,
from counts taken on both sides: lines as the reader cut them, rows and quarantine
records as the writers wrote them. Directives are the header lines of W3C extended
logs (`#Fields: ...`), counted by the parser: neither requests nor errors. It lists
every file the run wrote (path, rows, bytes, SHA-256) and every stale file it deleted.

The sweep changes files after their run: it deletes them, or rewrites (coarsens)
them, and a data-subject erasure rewrites them without the subject's rows. Each
such action is a deletion record in `<audit>/deletions/`, and a record
supersedes what earlier manifests said of the same paths. Replaying manifests and
records in the order they were written (`ledger`) gives every file the zones
should hold now, with its size and checksum: what `verify` holds the zones to.

Manifests are chained: each names, in `previous_manifest_sha256`, the SHA-256 of the
bytes of the manifest written before it (null for the first), so a manifest edited or
deleted afterwards breaks the chain, which `verify` checks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict

from transforms import storage
from transforms.errors import LogshroudError
from transforms.read import source_id

MANIFESTS = "manifests"
PREVIOUS = "previous_manifest_sha256"  # what chains a manifest to the one written before it


def manifest_path(audit_uri: str, run_id: str) -> str:
    return storage.join(audit_uri, MANIFESTS, f"{run_id}.json")


def input_summaries(inputs: list[storage.StoredFile], stats: list[dict], files: list[dict]) -> list[dict]:
    """One entry per input: lines read, rows and quarantined written, reasons, damage."""
    lines, directives = Counter(), Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)
    damage: dict[str, str] = {}
    for s in stats:
        lines[s["source"]] += s["lines_read"]
        directives[s["source"]] += s["directives"]
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
                "directives": directives[stored.path],
                "quarantine_reasons": dict(sorted(reasons[stored.path].items())),
                "damage": damage.get(stored.path),
                "balanced": lines[stored.path] == rows + quarantined + directives[stored.path],
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
        "directives": sum(s["directives"] for s in summaries),
        "quarantine_reasons": dict(sorted(reasons.items())),
        "damaged_inputs": sum(1 for s in summaries if s["damage"]),
        "balanced": all(s["balanced"] for s in summaries),
        **dict(sorted(rows_by_zone.items())),
    }


def _first_last(days: set[str]) -> dict | None:
    return {"first": min(days), "last": max(days)} if days else None


def write_manifest(audit_uri: str, manifest: dict) -> str:
    """Write a run manifest chained to the latest one written before it (see `latest_manifest_sha256`)."""
    path = manifest_path(audit_uri, manifest["run_id"])
    chained = {**manifest, PREVIOUS: latest_manifest_sha256(audit_uri)}
    storage.write_bytes(path, json.dumps(chained, indent=1, sort_keys=False).encode())
    return path


def latest_manifest_sha256(audit_uri: str) -> str | None:
    """The SHA-256 of the stored bytes of the manifest written last (by `written_order`); None if there is none.

    Chained by the order manifests are written rather than by the order their runs started, so runs
    that overlap (a backfill beside the daily run) still make one unbroken chain.
    """
    manifests = audit_documents(audit_uri, MANIFESTS)
    return max(manifests, key=written_order)["_sha256"] if manifests else None


def written_order(manifest: dict) -> tuple[dt.datetime, str]:
    """The order manifests were written in: by `finished` (microseconds since chaining), then run id."""
    return record_time(manifest), manifest["run_id"]


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


def audit_documents(audit_uri: str, folder: str) -> list[dict]:
    """Every JSON document in an audit folder, with `_path` and `_sha256` (of its bytes as stored)."""
    documents = []
    for stored in storage.list_tree(storage.join(audit_uri, folder)):
        if stored.path.endswith(".json"):
            data = storage.read_bytes(stored.path)
            try:
                document = json.loads(data)
            except ValueError:
                document = None
            if not isinstance(document, dict):
                raise LogshroudError(f"{stored.path}: not a JSON object")
            documents.append({**document, "_path": stored.path, "_sha256": storage.sha256_hex(data)})
    return documents


def audit_records(audit_uri: str) -> list[dict]:
    """Every run manifest and deletion record, in the order they were written."""
    return sorted(audit_documents(audit_uri, MANIFESTS) + audit_documents(audit_uri, DELETIONS), key=record_time)


def iso_time(moment: dt.datetime, precise: bool = False) -> str:
    """`2026-11-24T03:00:00Z`, or with microseconds (`precise`) where records must sort by it."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if precise else "%Y-%m-%dT%H:%M:%SZ")


def record_time(record: dict) -> dt.datetime:
    """When a record was written: a deletion record's `recorded`, a manifest's `finished` (microseconds).

    Manifests written before chaining have `finished` cut to the second, but their runs took longer
    than that, so they still sort after every record written before the run began.
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
