"""Report: the document a privacy officer signs, built only from the zones and the audit evidence.

    logshroud report --config prod.yaml --from 2026-11-01 --to 2026-11-30 [--as-of T] [--out DIR]

writes to DIR (default `<audit>/reports/<from>_<to>_<as-of>/`, a local folder or `s3://`):

- `report.json`: every figure and verdict, machine-readable;
- `report.html`: the same for people, one self-contained file (inline CSS and SVG charts, no script,
  nothing fetched), which reads on screen and prints on A4;
- `report.pdf`: report.html printed by headless Chromium, where Chromium is installed; where it is
  not, one line says so and the other two files are still written.

Sections: summary (one verdict per control), the policy in force (from the config), processing per day
(from the run manifests), retention evidence (the oldest partition of each dataset against its limit,
deletion records, keys), verification (controls checked now, at `--as-of`), anonymity sets (per day
and published network, the distinct clients counted at ingest), security use (errors, attacks and
alerts per day, from the anonymised zone), data-subject requests, and the sign-off with the SHA-256 of
report.json, so the signed paper matches the evidence.

Nothing is taken from claims: every figure is counted from files the pipelines wrote. The report
counts clients and networks and never names one: it holds no address, network, token, key or
e-mail address.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from pipelines import query, report_html
from pipelines.ingest import parse_time, zone_uris
from transforms import storage
from transforms.config import Config, load_config
from transforms.errors import LogshroudError
from transforms.keyring import Keyring
from transforms.schema import ANONYMITY_SETS, DATASETS

VERSION = 1  # of report.json's layout
PASS, FAIL, NOT_APPLICABLE = "pass", "fail", "not_applicable"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FAILURES_SHOWN = 5  # per control on the terminal; the report lists them all
PDF_SECONDS = 120  # a 30-day report prints in a few seconds; a hung browser must not hang the job

_PARTITION_FILE = re.compile(r"(?P<dataset>[^/_][^/]*)/dt=(?P<day>\d{4}-\d{2}-\d{2})/[^/]+\.parquet")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
_UNIX_DAY = dt.date(1970, 1, 1)


# --- the policy in force ---------------------------------------------------------------------------------

PERSONAL, PSEUDONYMOUS, ANONYMOUS = "personal", "pseudonymous", "anonymous"
# Each column's personal-data class on its own (README, "Anonymised datasets"): personal names or nearly
# names a person; pseudonymous ties a person's rows together while the key that made it exists;
# anonymous is tied to no one (networks, scrubbed text, times, counts, the pipeline's bookkeeping).
_PERSONAL = ("client_ip", "peer_ip", "xff", "auth_user", "request", "target", "line")
_AS_LOGGED = ("path", "query", "referrer", "user_agent", "vhost")  # personal as logged, anonymous once scrubbed
_ANONYMOUS = ("ts", "method", "protocol", "status", "status_class", "is_error", "is_server_error", "bytes",
              "server_port", "duration_ms", "ip_version", "client_net", "key_id", "run_id", "attack_families",
              "rule_ids", "window_start", "window_seconds", "requests", "client_errors", "server_errors", "not_found",
              "auth_failures", "distinct_paths", "attack_hits", "alerts", "alert", "day", "distinct_clients", "source",
              "line_number", "line_bytes", "reason")  # fmt: skip
COLUMN_CLASSES = {
    **dict.fromkeys(_PERSONAL, PERSONAL),
    "client_token": PSEUDONYMOUS,
    **dict.fromkeys(_ANONYMOUS, ANONYMOUS),
}


def column_class(zone: str, column: str) -> str | None:
    """`client_ip` -> personal; `path` -> personal in the restricted zone, anonymous (scrubbed) elsewhere."""
    if column in _AS_LOGGED:
        return PERSONAL if zone == "restricted" else ANONYMOUS
    return COLUMN_CLASSES.get(column)


def retention_days(config: Config) -> dict[str, int | None]:
    """Days each zone keeps a record (None: no limit configured)."""
    return {"raw": None, "restricted": config.security_window_days, "anonymised": None, "audit": None}


def policy(config: Config) -> dict:
    """What the config promises: windows, prefixes, keys, zones, retention, and each column's class."""
    limits = retention_days(config)
    zones = zone_uris(config)
    return {
        "security_window_days": config.security_window_days,
        "truncation": {"ipv4_prefix": config.anonymise.ipv4_prefix, "ipv6_prefix": config.anonymise.ipv6_prefix},
        "token": {
            "scheme": "HMAC-SHA-256 of the client address under the key of the event's epoch, "
            "its first 128 bits as 32 hex characters",
            "epoch_days": config.keys.epoch_days,
            "key_retention_days": config.keys.retention_days,
        },
        "long_term_coarsening": None,  # not in this version: rows keep their network once the key is gone
        "min_anonymity_set": config.report.min_anonymity_set,
        "zones": [{"zone": zone, "location": uri, "retention_days": limits[zone]} for zone, uri in zones.items()],
        "datasets": [
            {
                "zone": zone,
                "dataset": dataset,
                "retention_days": limits[zone],
                "columns": [{"column": name, "class": column_class(zone, name)} for name in schema.names],
            }
            for (zone, dataset), schema in sorted(DATASETS.items())
        ],
    }


# --- the audit evidence ----------------------------------------------------------------------------------


def audit_documents(audit_uri: str, folder: str) -> list[dict]:
    """Every JSON document in an audit folder, with `_path` and `_sha256` (of its bytes as stored)."""
    documents = []
    for stored in storage.list_tree(storage.join(audit_uri, folder)):
        if stored.path.endswith(".json"):
            data = storage.read_bytes(stored.path)
            try:
                document = json.loads(data)
            except ValueError:
                raise LogshroudError(f"{stored.path}: not a JSON document") from None
            documents.append({**document, "_path": stored.path, "_sha256": storage.sha256_hex(data)})
    return documents


def manifests(audit_uri: str) -> list[dict]:
    """Every run manifest, in the order the runs started (times are to the second: within one, by finish)."""
    return sorted(
        audit_documents(audit_uri, "manifests"),
        key=lambda m: (_moment(m["started"]), _moment(m["finished"]), m["run_id"]),
    )


def _day(timestamp: str) -> dt.date:
    return dt.date.fromisoformat(timestamp[:10])


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def input_day(manifest: dict, entry: dict) -> dt.date:
    """The UTC day an input's lines are about: the day most of its rows fall on (a day's log holds a few
    lines of the days either side of midnight); for an input with no row, the day of the run's as-of."""
    part = f"/part-{entry['source_id']}-"  # the input's parts are named after it (transforms.write.part_name)
    rows: Counter[str] = Counter()
    for output in manifest["outputs"]:
        if (output["zone"], output["dataset"]) == ("anonymised", "requests") and part in output["path"]:
            rows[output["dt"]] += output["rows"]
    return dt.date.fromisoformat(min(rows, key=lambda day: (-rows[day], day))) if rows else _day(manifest["as_of"])


def processing(runs: list[dict], first: dt.date, last: dt.date) -> dict:
    """Per day of the period: the inputs about that day (see `input_day`), their lines, rows and quarantine,
    and the runs that read them; and each of those runs as its manifest sums it up."""
    inputs = defaultdict(list)
    for manifest in runs:
        for entry in manifest["inputs"] if manifest.get("job") == "ingest" else []:
            day = input_day(manifest, entry)
            if first <= day <= last:
                inputs[day].append((manifest["run_id"], entry))
    days = []
    for day in _days(first, last):
        held = inputs[day]
        reasons = sum((Counter(entry["quarantine_reasons"]) for _, entry in held), Counter())
        lines, quarantined = sum(e["lines_read"] for _, e in held), sum(e["quarantined"] for _, e in held)
        days.append(
            {
                "day": day.isoformat(),
                "runs": list(dict.fromkeys(run_id for run_id, _ in held)),
                "input_files": len(held),
                "lines_read": lines,
                "rows": sum(e["rows"] for _, e in held),
                "quarantined": quarantined,
                "quarantine_reasons": dict(sorted(reasons.items())),
                "quarantine_rate": quarantined / lines if lines else 0.0,
            }
        )
    chosen = {run_id for d in days for run_id in d["runs"]}
    per_run = [run_summary(m) for m in runs if m["run_id"] in chosen]
    totals = {name: sum(d[name] for d in days) for name in ("input_files", "lines_read", "rows", "quarantined")}
    return {"runs": per_run, "days": days, "totals": {"runs": len(per_run), **totals}}


def run_summary(manifest: dict) -> dict:
    """A run as its manifest sums it up: when, under which config, and its totals."""
    totals = manifest["totals"]
    return {
        "run_id": manifest["run_id"],
        "as_of": manifest["as_of"],
        "started": manifest["started"],
        "finished": manifest["finished"],
        "config_sha256": manifest["config"]["sha256"],
        "input_files": totals["inputs"],
        "lines_read": totals["lines_read"],
        "rows": totals["rows"],
        "quarantined": totals["quarantined"],
        "balanced": totals["balanced"],
    }


# --- retention ---------------------------------------------------------------------------------------------


def first_day_kept(as_of: dt.datetime, days: int) -> dt.date:
    """The oldest UTC day that still holds a record younger than `days` at `as_of` (the sweep's rule)."""
    return (as_of - dt.timedelta(days=days)).date()


def partitions(zone_uri: str) -> dict[str, dict[dt.date, list[storage.StoredFile]]]:
    """dataset -> partition day -> its Parquet files, for every dataset a zone holds (staging left out)."""
    found: dict[str, dict[dt.date, list[storage.StoredFile]]] = defaultdict(lambda: defaultdict(list))
    for stored in storage.list_tree(zone_uri):
        matched = _PARTITION_FILE.fullmatch(stored.path[len(zone_uri) + 1 :])
        if matched:
            found[matched["dataset"]][dt.date.fromisoformat(matched["day"])].append(stored)
    return found


def holdings(config: Config, as_of: dt.datetime) -> list[dict]:
    """Per zone and dataset: partitions, files, bytes, and the oldest day held against the zone's limit."""
    zones, limits = zone_uris(config), retention_days(config)
    held = []
    for zone in ("restricted", "anonymised", "audit"):
        for dataset, days in sorted(partitions(zones[zone]).items()):
            oldest, limit = min(days), limits[zone]
            kept_from = first_day_kept(as_of, limit) if limit is not None else None
            files = [f for stored in days.values() for f in stored]
            held.append(
                {
                    "zone": zone,
                    "dataset": dataset,
                    "partitions": len(days),
                    "files": len(files),
                    "bytes": sum(f.size for f in files),
                    "oldest_day": oldest.isoformat(),
                    "newest_day": max(days).isoformat(),
                    "oldest_age_days": (as_of.date() - oldest).days,
                    "retention_days": limit,
                    "first_day_kept": kept_from and kept_from.isoformat(),
                    "within_limit": kept_from is None or oldest >= kept_from,
                }
            )
    raw = storage.list_tree(zones["raw"])
    held.append(
        {
            "zone": "raw",
            "dataset": "logs",
            "partitions": None,
            "files": len(raw),
            "bytes": sum(f.size for f in raw),
            "oldest_day": None,
            "newest_day": None,
            "oldest_age_days": None,
            "retention_days": limits["raw"],
            "first_day_kept": None,
            "within_limit": True,
        }
    )
    return held


def deletions(records: list[dict], first: dt.date, last: dt.date) -> list[dict]:
    """The deletion records of the period (by their as-of date): what was removed, coarsened or destroyed, and why."""
    return [
        {
            "record_id": r["record_id"],
            "as_of": r["as_of"],
            "action": r["action"],
            "zone": r["zone"],
            "dataset": r.get("dataset"),
            "partition": r.get("partition"),
            "objects": len(r.get("objects", [])),
            "rows": r.get("rows", 0),
            "bytes": r.get("bytes", 0),
            "key_id": (r.get("key") or {}).get("id"),
            "reason": r.get("reason", ""),
        }
        for r in sorted(records, key=lambda r: (r["as_of"], r["record_id"]))
        if first <= _day(r["as_of"]) <= last
    ]


def key_events(config: Config, records: list[dict], first: dt.date, last: dt.date) -> list[dict]:
    """Keys whose epoch overlaps the period, or created or destroyed in it: ids and dates, never a secret."""
    destroyed_on = {r["key"]["id"]: r["as_of"][:10] for r in records if r["action"] == "destroy_key" and r.get("key")}
    events = []
    for key in Keyring(config.keys.path, config.keys.epoch_days).keys():  # noqa: SIM118 (a Keyring is no dict)
        start, end = dt.date.fromisoformat(key.not_before), dt.date.fromisoformat(key.not_after)
        destroyed = key.secret is None
        when = destroyed_on.get(key.id)
        touched = [_day(key.created), *([dt.date.fromisoformat(when)] if when else [])]
        if (start <= last and end > first) or any(first <= day <= last for day in touched):
            events.append(
                {
                    "id": key.id,
                    "epoch_from": key.not_before,
                    "epoch_to": key.not_after,
                    "created": key.created,
                    "due": (start + dt.timedelta(days=config.keys.retention_days)).isoformat(),
                    "destroyed": destroyed,
                    "destroyed_on": when,
                }
            )
    return events


# --- controls ----------------------------------------------------------------------------------------------


def control(name: str, title: str, evidence: dict, failures: list[str], applicable: bool = True) -> dict:
    """One control's result: a stable name, what it holds to, its evidence, and each failure as one line."""
    status = NOT_APPLICABLE if not applicable else FAIL if failures else PASS
    return {"name": name, "title": title, "status": status, "evidence": evidence, "failures": failures}


def restricted_within_window(config: Config, as_of: dt.datetime) -> dict:
    days = config.security_window_days
    kept_from = first_day_kept(as_of, days)
    held = partitions(zone_uris(config)["restricted"])
    failures = [
        f"restricted/{dataset}/dt={day}: {len(files)} file(s), past the window, which keeps {kept_from} on"
        for dataset, by_day in sorted(held.items())
        for day, files in sorted(by_day.items())
        if day < kept_from
    ]
    oldest = min((day for by_day in held.values() for day in by_day), default=None)
    evidence = {
        "window_days": days,
        "first_day_kept": kept_from.isoformat(),
        "oldest_day": oldest and oldest.isoformat(),
    }
    return control("restricted_within_window", f"no restricted record past the {days}-day window", evidence, failures)


def recorded_files(runs: list[dict], records: list[dict]) -> dict[str, dict]:
    """path -> {bytes, sha256, by} of every file the manifests and deletion records say is held now."""
    files: dict[str, dict] = {}
    moments = [(_moment(m["finished"]), m) for m in runs] + [(_moment(r["recorded"]), r) for r in records]
    for _, record in sorted(moments, key=lambda pair: pair[0]):
        if record.get("record") == "deletion":
            for entry in record.get("objects", []):
                if "sha256" in entry:  # rewritten in place (coarsened): what the file is now
                    files[entry["path"]] = {
                        "bytes": entry["bytes"],
                        "sha256": entry["sha256"],
                        "by": record["record_id"],
                    }
                else:
                    files.pop(entry["path"], None)
            continue
        for path in record.get("deleted_stale", []):
            files.pop(path, None)
        for entry in record.get("outputs", []):
            files[entry["path"]] = {"bytes": entry["bytes"], "sha256": entry["sha256"], "by": record["run_id"]}
    return files


def manifests_match_files(config: Config, runs: list[dict], records: list[dict]) -> dict:
    zones = zone_uris(config)
    recorded = recorded_files(runs, records)
    present = {f.path: f.size for zone in ("restricted", "anonymised", "audit") for f in storage.list_tree(zones[zone])}
    failures = []
    for path, entry in sorted(recorded.items()):
        name = relative_name(path, zones)
        if path not in present:
            failures.append(f"{name}: missing (recorded by {entry['by']})")
        elif present[path] != entry["bytes"] or storage.sha256_hex(storage.read_bytes(path)) != entry["sha256"]:
            failures.append(f"{name}: not the file recorded by {entry['by']} (its size or SHA-256 differs)")
    evidence = {"manifests": len(runs), "deletion_records": len(records), "files_recorded": len(recorded)}
    return control(
        "manifests_match_files", "every recorded file is there with its recorded size and SHA-256", evidence, failures
    )


def relative_name(path: str, zones: dict[str, str]) -> str:
    """`anonymised/requests/dt=2026-11-20/part-x.parquet` for a file in a zone; other paths as they are."""
    for zone, uri in zones.items():
        if path.startswith(uri + "/"):
            return f"{zone}/{path[len(uri) + 1 :]}"
    return path


def manifest_chain(runs: list[dict]) -> dict:
    """Each manifest's `previous_manifest_sha256` against the manifest before it (by start time).

    A manifest without the field (written before chaining) is counted as not chained, not as a
    break; one that names no predecessor while one exists, or the wrong one, breaks the chain.
    """
    failures, chained = [], 0
    for number, manifest in enumerate(runs):
        if "previous_manifest_sha256" not in manifest:
            continue
        chained += 1
        previous = runs[number - 1] if number else None
        expected = previous["_sha256"] if previous else None
        if manifest["previous_manifest_sha256"] != expected:
            before = f"manifest {previous['run_id']} before it" if previous else "no manifest before it"
            failures.append(f"manifest {manifest['run_id']}: its previous-manifest SHA-256 does not match the {before}")
    evidence = {"manifests": len(runs), "chained": chained, "not_chained": len(runs) - chained}
    return control(
        "manifest_chain",
        "each run manifest names the SHA-256 of the one before it",
        evidence,
        failures,
        applicable=chained > 0,
    )


def runs_balanced(runs: list[dict]) -> dict:
    failures = [
        f"run {r['run_id']}: {r['lines_read']:,} lines read, {r['rows']:,} rows + {r['quarantined']:,} quarantined"
        for r in runs
        if not r["balanced"]
    ]
    return control(
        "runs_balanced",
        "every line read in the period is a row or a quarantine record",
        {"runs": len(runs)},
        failures,
        applicable=bool(runs),
    )


# --- anonymity sets ----------------------------------------------------------------------------------------


def set_size_edges(min_set: int) -> list[int]:
    """Lower edges of the histogram's buckets of clients per network, split at the minimum set size."""
    return sorted({1, 2, 3, 5, 10, 20, 50, 100, min_set})


def anonymity(config: Config, first: dt.date, last: dt.date) -> dict:
    """Per day: networks, rows, the distribution of distinct clients per network, and the rows below the minimum.

    Where several runs counted the same day and network (inputs ingested apart), the largest of their
    counts is taken: the clients they saw may overlap, so the true set is at least that large and the
    finding errs towards flagging.
    """
    audit = zone_uris(config)["audit"]
    uri = storage.join(audit, "anonymity_sets")
    files = [path for day, path in query.partition_files(uri) if first <= day <= last]
    schema = pa.schema([*ANONYMITY_SETS, *query.PARTITION])
    with duckdb.connect() as connection:
        connection.register("sets", query.dataset(uri, files, schema, query.arrow_filesystem(audit, config.storage.s3)))
        networks = connection.sql(
            "SELECT date_diff('day', DATE '1970-01-01', dt) AS day, max(distinct_clients) AS clients, "
            "CAST(sum(requests) AS BIGINT) AS requests FROM sets GROUP BY dt, client_net"
        ).to_arrow_table()
    k, edges = config.report.min_anonymity_set, set_size_edges(config.report.min_anonymity_set)
    day_of, clients, requests = (networks[name].to_numpy() for name in ("day", "clients", "requests"))
    bucket = np.searchsorted(edges, clients, side="right") - 1
    days = []
    for day in _days(first, last):
        here = day_of == (day - _UNIX_DAY).days
        small = here & (clients < k)
        rows = int(requests[here].sum())
        days.append(
            {
                "day": day.isoformat(),
                "networks": int(here.sum()),
                "rows": rows,
                "networks_below_min": int(small.sum()),
                "rows_below_min": int(requests[small].sum()),
                "share_below_min": float(requests[small].sum() / rows) if rows else 0.0,
                "networks_by_set_size": np.bincount(bucket[here], minlength=len(edges)).tolist(),
            }
        )
    rows, below = sum(d["rows"] for d in days), sum(d["rows_below_min"] for d in days)
    return {
        "min_anonymity_set": k,
        "set_size_edges": edges,
        "days": days,
        "networks_by_set_size": np.bincount(bucket, minlength=len(edges)).tolist(),
        "rows": rows,
        "rows_below_min": below,
        "share_below_min": below / rows if rows else 0.0,
    }


# --- security use ------------------------------------------------------------------------------------------

_SECURITY_SQL = {
    "requests": """
        SELECT dt, count(*) AS requests,
               count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS client_errors,
               count(*) FILTER (WHERE status >= 500) AS server_errors,
               count(attack_families) AS rows_with_rules,
               count(*) FILTER (WHERE len(attack_families) > 0) AS attack_requests
        FROM requests GROUP BY dt""",
    "families": "SELECT dt, family AS name, count(*) AS n "
    "FROM (SELECT dt, unnest(attack_families) AS family FROM requests) GROUP BY ALL",
    "alerts": "SELECT dt, alert AS name, count(*) AS n FROM alerts GROUP BY ALL",
}


def security_use(config: Config, first: dt.date, last: dt.date) -> dict:
    """Per day: requests, errors, requests that matched attack rules by family, and alerts by kind."""
    with query.connect(config, first, last) as connection, query.one_line_errors():
        rows = {name: connection.sql(sql).to_arrow_table().to_pylist() for name, sql in _SECURITY_SQL.items()}
    counts = {row["dt"]: row for row in rows["requests"]}
    named = {name: [(r["dt"], r["name"], r["n"]) for r in rows[name]] for name in ("families", "alerts")}
    families = sorted({name for _, name, _ in named["families"]})
    kinds = sorted({name for _, name, _ in named["alerts"]})
    by_day = {name: {(day, kind): n for day, kind, n in rows} for name, rows in named.items()}
    days = []
    for day in _days(first, last):
        row = counts.get(day, {})
        days.append(
            {
                "day": day.isoformat(),
                "requests": row.get("requests", 0),
                "client_errors": row.get("client_errors", 0),
                "server_errors": row.get("server_errors", 0),
                "attack_requests": row.get("attack_requests", 0),
                "attacks_by_family": {f: by_day["families"].get((day, f), 0) for f in families},
                "alerts_by_kind": {a: by_day["alerts"].get((day, a), 0) for a in kinds},
            }
        )
    requests = sum(r["requests"] for r in counts.values())
    return {
        "families": families,
        "alert_kinds": kinds,
        "days": days,
        # Rows written before the attack rules existed carry no attack_families at all.
        "rows_without_attack_rules": requests - sum(r["rows_with_rules"] for r in counts.values()),
        "totals": {
            name: sum(d[name] for d in days)
            for name in ("requests", "client_errors", "server_errors", "attack_requests")
        }
        | {"alerts": sum(sum(d["alerts_by_kind"].values()) for d in days)},
    }


# --- the whole report --------------------------------------------------------------------------------------


def build(config: Config, first: dt.date, last: dt.date, as_of: dt.datetime) -> dict:
    """The report's every figure and verdict: what report.json holds and report.html shows."""
    storage.configure(config.storage.s3)
    zones = zone_uris(config)
    for uri in zones.values():
        storage.check_bucket(uri)
    runs = manifests(zones["audit"])
    records = [r for r in audit_documents(zones["audit"], "deletions") if r.get("record") == "deletion"]
    processed = processing(runs, first, last)
    controls = [
        restricted_within_window(config, as_of),
        manifests_match_files(config, runs, records),
        manifest_chain(runs),
        runs_balanced(processed["runs"]),
    ]
    anonymity_sets = anonymity(config, first, last)
    return {
        "report": "logshroud compliance report",
        "version": VERSION,
        "period": {"from": first.isoformat(), "to": last.isoformat(), "days": (last - first).days + 1},
        "as_of": _iso(as_of),
        "config": {"source": config.source, "sha256": config.digest()},
        "summary": summary(controls, processed, anonymity_sets),
        "policy": policy(config),
        "processing": processed,
        "retention": {
            "holdings": holdings(config, as_of),
            "deletions": deletions(records, first, last),
            "keys": key_events(config, records, first, last),
        },
        "verification": {"controls": controls},
        "anonymity": anonymity_sets,
        "security": security_use(config, first, last),
        "subject_requests": {"recorded": [], "note": "none recorded"},
        "sign_off": {"prepared_by": config.report.prepared_by, "reviewed_by": config.report.reviewed_by},
    }


def summary(controls: list[dict], processed: dict, anonymity_sets: dict) -> dict:
    """One verdict per control, the findings a reader must weigh, and the period's volume."""
    findings = []
    if anonymity_sets["rows_below_min"]:
        low_days = sum(1 for d in anonymity_sets["days"] if d["rows_below_min"])
        findings.append(
            f"{anonymity_sets['share_below_min']:.2%} of rows ({anonymity_sets['rows_below_min']:,} of "
            f"{anonymity_sets['rows']:,}, on {low_days} day(s)) come from networks shared by fewer than "
            f"{anonymity_sets['min_anonymity_set']} distinct clients that day"
        )
    return {
        "controls": [{k: c[k] for k in ("name", "title", "status")} for c in controls],
        "passed": all(c["status"] != FAIL for c in controls),
        "findings": findings,
        "volume": processed["totals"],
    }


def _moment(text: str) -> dt.datetime:
    """`2026-11-24T03:00:00Z` or `2026-11-24T03:00:00.123456Z` as a time: the two sort wrongly as text."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- writing -----------------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """The headless browser that prints the PDF: the first of Chromium's usual names on PATH."""
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def print_pdf(browser: str, html_path: str, pdf_path: str) -> None:
    """Print a local HTML file to PDF with headless Chromium, in a profile of its own that is thrown away."""
    with tempfile.TemporaryDirectory(prefix="logshroud-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path}",
            Path(html_path).as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=PDF_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise LogshroudError(f"{browser}: did not print report.pdf within {PDF_SECONDS} s") from None
    if done.returncode != 0 or not os.path.isfile(pdf_path):
        raise LogshroudError(f"{browser}: could not print report.pdf (exit code {done.returncode})")


def write(report: dict, out: str) -> dict[str, str]:
    """report.json, report.html and (where Chromium is) report.pdf into `out`; returns what was written,
    and under `pdf_missing` why no PDF was."""
    document = json.dumps(report, indent=1, sort_keys=True).encode()
    page = report_html.render(report, storage.sha256_hex(document)).encode()
    written = {"json": storage.join(out, "report.json"), "html": storage.join(out, "report.html")}
    storage.write_bytes(written["json"], document)
    storage.write_bytes(written["html"], page)
    browser = find_chromium()
    if browser is None:
        written["pdf_missing"] = (
            f"report.pdf not written: no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)}"
            "; on Debian: apt-get install chromium)"
        )
        return written
    with tempfile.TemporaryDirectory(prefix="logshroud-report-") as folder:
        html_path, pdf_path = os.path.join(folder, "report.html"), os.path.join(folder, "report.pdf")
        with open(html_path, "wb") as html_file:
            html_file.write(page)
        print_pdf(browser, html_path, pdf_path)
        with open(pdf_path, "rb") as pdf_file:
            written["pdf"] = storage.write_bytes(storage.join(out, "report.pdf"), pdf_file.read()).path
    return written


def run(
    config: Config, first: dt.date, last: dt.date, as_of: dt.datetime | None = None, out: str | None = None
) -> tuple[dict, dict[str, str]]:
    """Build the report for `first`..`last` at `as_of` (default: the clock) and write it; (report, what was written)."""
    if first > last:
        raise LogshroudError(f"--from {first} is after --to {last}")
    if config.report.min_anonymity_set < 1:
        raise LogshroudError(f"{config.source}: report.min_anonymity_set: expected at least 1")
    for role in ("prepared_by", "reviewed_by"):
        if _EMAIL.search(getattr(config.report, role) or ""):
            raise LogshroudError(f"{config.source}: report.{role}: give a name, not an e-mail address")
    as_of = (as_of or dt.datetime.now()).astimezone(dt.timezone.utc)
    report = build(config, first, last, as_of)
    out = storage.absolute(out) if out else default_out(config, first, last, as_of)
    return report, write(report, out)


def default_out(config: Config, first: dt.date, last: dt.date, as_of: dt.datetime) -> str:
    """`<audit>/reports/2026-11-01_2026-11-30_20261201T030000Z`: the audit zone keeps every report made."""
    return storage.join(zone_uris(config)["audit"], "reports", f"{first}_{last}_{as_of:%Y%m%dT%H%M%SZ}")


def text(report: dict, written: dict[str, str]) -> str:
    """What was found and where it went, in a few lines a person reads."""
    statuses = Counter(c["status"] for c in report["verification"]["controls"])
    lines = [
        f"report {report['period']['from']} .. {report['period']['to']} as of {report['as_of']}: "
        f"{statuses[PASS]} control(s) passed, {statuses[FAIL]} failed, {statuses[NOT_APPLICABLE]} not applicable; "
        f"{len(report['summary']['findings'])} finding(s)"
    ]
    for check in report["verification"]["controls"]:
        failures = check["failures"]
        lines += [f"  FAIL {check['name']}: {failure}" for failure in failures[:FAILURES_SHOWN]]
        if len(failures) > FAILURES_SHOWN:
            lines.append(f"  FAIL {check['name']}: ... and {len(failures) - FAILURES_SHOWN:,} more (see the report)")
    lines += [f"  finding: {finding}" for finding in report["summary"]["findings"]]
    lines.append(f"  html: {written['html']}")
    lines.append(f"  json: {written['json']}")
    lines.append(f"  pdf:  {written['pdf']}" if "pdf" in written else f"  {written['pdf_missing']}")
    return "\n".join(lines)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logshroud report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="config file (default: the embedded configs/default.yaml)")
    day = query._date  # YYYY-MM-DD, refused in one line as `logshroud query --from` refuses it
    parser.add_argument("--from", dest="first", type=day, required=True, metavar="YYYY-MM-DD", help="first day (UTC)")
    parser.add_argument("--to", dest="last", type=day, required=True, metavar="YYYY-MM-DD", help="last day, included")
    parser.add_argument("--as-of", help="'now' for every age decision (ISO 8601; default: the clock)")
    parser.add_argument("--out", metavar="DIR", help="folder or s3:// prefix (default: <audit>/reports/...)")
    return parser


def main(argv: list[str]) -> int:
    """`logshroud report`: exit 0 once the report is written, whatever its verdicts (they are its content)."""
    args = arguments().parse_args(argv)
    as_of = parse_time(args.as_of) if args.as_of else None
    report, written = run(load_config(args.config), args.first, args.last, as_of, args.out)
    print(text(report, written))
    return 0
