"""Run manifests: the audit zone's record of what one run read, wrote and deleted.

A manifest proves, per input file, `lines_read == rows + quarantined + directives`,
from counts taken on both sides: lines as the reader cut them, rows and quarantine
records as the writers wrote them. Directives are the header lines of W3C extended
logs (`#Fields: ...`), counted by the parser: neither requests nor errors.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from transforms import storage
from transforms.read import source_id


def manifest_path(audit_uri: str, run_id: str) -> str:
    return storage.join(audit_uri, "manifests", f"{run_id}.json")


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
    for f in files:
        if f["zone"] == "anonymised" or f["dataset"] == "quarantine":
            written[(f["source_id"], f["dataset"])] += f["rows"]
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


def write_manifest(audit_uri: str, manifest: dict) -> str:
    path = manifest_path(audit_uri, manifest["run_id"])
    storage.write_bytes(path, json.dumps(manifest, indent=1, sort_keys=False).encode())
    return path


def read_manifest(path: str) -> dict:
    return json.loads(storage.read_bytes(path))
