"""Report: the document a privacy officer signs, built only from the zones and the audit evidence.

    logshroud report --config prod.yaml --from 2026-11-01 --to 2026-11-30 [--as-of T] [--out DIR]

writes to DIR (default `<audit>/reports/<from>_<to>_<as-of>/`, a local folder or `s3://`):

- `report.json`: every figure and verdict, machine-readable;
- `report.html`: the same for people, one self-contained file (inline CSS and SVG charts, no script,
  nothing fetched), which reads on screen and prints on A4;
- `report.pdf`: report.html printed by headless Chromium, where Chromium is installed; where it is
  not, one line says so and the other two files are still written.

Sections: summary (one verdict per control), the policy in force (from the config), processing per day
(from the run manifests), retention evidence (the oldest record of each dataset against its limit,
deletion records, keys), verification (every control of `logshroud verify` at `--as-of`, and whether
the period's runs balance), anonymity sets (per day and published network, the distinct clients
counted at ingest), security use (errors, attacks and alerts per day, from the anonymised zone),
data-subject requests (from their records in `<audit>/subject_requests/`), and the sign-off with the
SHA-256 of report.json, so the signed paper matches the evidence.

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

from pipelines import query, report_html, verify
from pipelines.ingest import parse_time, zone_uris
from pipelines.sweep import long_term_prefixes
from pipelines.verify import FAIL, NOT_APPLICABLE, PASS, Check
from transforms import storage
from transforms.config import Config, load_config
from transforms.errors import LogshroudError
from transforms.keyring import open_keyring
from transforms.manifest import audit_documents, audit_records, ingested_inputs, iso_time
from transforms.retention import first_day_kept, raw_logs, zone_partitions
from transforms.schema import ANONYMITY_SETS, DATASETS

VERSION = 2  # of report.json's layout: 2 took section 5 from verify and added data-subject requests
SUBJECT_REQUESTS = "subject_requests"  # the audit folder of the records of `logshroud subject`
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FAILURES_SHOWN = 5  # per control on the terminal; the report lists them all
PDF_SECONDS = 120  # a 30-day report prints in a few seconds; a hung browser must not hang the job

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
              "line_number", "line_bytes", "reason", "upstream_ms", "upstream_status", "request_bytes", "tls_protocol",
              "tls_cipher", "edge_result", "xff_nets")  # fmt: skip
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
    """Days each zone keeps a record (None: kept without limit). Raw logs go with the security window
    when `raw_retention: delete`."""
    return {
        "raw": config.security_window_days if config.raw_retention == "delete" else None,
        "restricted": config.security_window_days,
        "anonymised": config.anonymised_retention_days,
        "audit": None,
    }


def policy(config: Config) -> dict:
    """What the config promises: windows, prefixes, keys, zones, retention, and each column's class."""
    limits = retention_days(config)
    zones = zone_uris(config)
    v4, v6 = long_term_prefixes(config)
    return {
        "security_window_days": config.security_window_days,
        "raw_retention": config.raw_retention,
        "anonymised_retention_days": config.anonymised_retention_days,
        "truncation": {"ipv4_prefix": config.anonymise.ipv4_prefix, "ipv6_prefix": config.anonymise.ipv6_prefix},
        "token": {
            "scheme": "HMAC-SHA-256 of the client address under the key of the event's epoch, "
            "its first 128 bits as 32 hex characters",
            "epoch_days": config.keys.epoch_days,
            "key_retention_days": config.keys.retention_days,
        },
        # Once a key is destroyed the sweep rewrites its epoch's anonymised partitions (transforms.retention).
        "long_term_coarsening": {"ipv4_prefix": v4, "ipv6_prefix": v6, "after_days": config.keys.retention_days},
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


def start_order(manifest: dict) -> tuple[dt.datetime, dt.datetime, str]:
    """Runs in the order they started (then finished): `2026-11-24T03:00:00Z` and `...00.5Z` compared as times."""
    return _moment(manifest["started"]), _moment(manifest["finished"]), manifest["run_id"]


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


def holdings(config: Config, as_of: dt.datetime, records: list[dict]) -> list[dict]:
    """Per zone and dataset: partitions, files, bytes, and the oldest day held against the zone's limit.

    Raw logs age by their newest line as their ingest recorded it (what the sweep goes by); a log not
    ingested as it is now is of unknown age and counted apart.
    """
    zones, limits = zone_uris(config), retention_days(config)
    held = []
    for zone in ("restricted", "anonymised", "audit"):
        by_dataset = defaultdict(list)
        for partition in zone_partitions(zone, zones[zone]):
            by_dataset[partition.dataset].append(partition)
        for dataset, parts in sorted(by_dataset.items()):
            files = [f for p in parts for f in p.files]
            days = [p.day for p in parts]
            counts = {"partitions": len(parts), "files": len(files), "bytes": sum(f.size for f in files)}
            held.append(holding(zone, dataset, counts, min(days), max(days), limits[zone], as_of))
    logs = raw_logs(zones["raw"], ingested_inputs(records))
    ages = [log.newest_event for log in logs if log.newest_event is not None]
    counts = {"partitions": None, "files": len(logs), "bytes": sum(log.stored.size for log in logs),
              "of_unknown_age": len(logs) - len(ages)}  # fmt: skip
    held.append(holding("raw", "logs", counts, min(ages, default=None), max(ages, default=None), limits["raw"], as_of))
    return held


def holding(zone: str, dataset: str, counts: dict, oldest: str | None, newest: str | None, limit: int | None,
            as_of: dt.datetime) -> dict:  # fmt: skip
    """One dataset's line of the holdings: its counts, and its oldest day (`YYYY-MM-DD`) against its limit."""
    kept_from = first_day_kept(as_of, limit) if limit is not None else None
    return {
        "zone": zone,
        "dataset": dataset,
        **counts,
        "oldest_day": oldest,
        "newest_day": newest,
        "oldest_age_days": (as_of.date() - dt.date.fromisoformat(oldest)).days if oldest else None,
        "retention_days": limit,
        "first_day_kept": kept_from,
        "within_limit": kept_from is None or oldest is None or oldest >= kept_from,
    }


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


def deletions_by_day(deleted: list[dict]) -> list[dict]:
    """Per as-of day of the period's deletion records, and per action: records, objects, rows and bytes."""
    days: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for d in deleted:
        days[d["as_of"][:10]][d["action"]].update(records=1, objects=d["objects"], rows=d["rows"], bytes=d["bytes"])
    return [
        {"day": day, "actions": {action: dict(counts) for action, counts in sorted(actions.items())}}
        for day, actions in sorted(days.items())
    ]


def key_events(config: Config, first: dt.date, last: dt.date) -> list[dict]:
    """Keys whose epoch overlaps the period, or created or destroyed in it: ids and dates, never a secret."""
    events = []
    keys = open_keyring(config.keys).keys()
    for key in keys:
        start, end = dt.date.fromisoformat(key.not_before), dt.date.fromisoformat(key.not_after)
        touched = [_day(key.created), *([_day(key.destroyed)] if key.destroyed else [])]
        if (start <= last and end > first) or any(first <= day <= last for day in touched):
            events.append(
                {
                    "id": key.id,
                    "epoch_from": key.not_before,
                    "epoch_to": key.not_after,
                    "created": key.created,
                    "due": key.due(config.keys.retention_days).isoformat(),
                    "destroyed": key.secret is None,
                    "destroyed_on": key.destroyed and key.destroyed[:10],
                }
            )
    return events


# --- controls ----------------------------------------------------------------------------------------------


def runs_balanced(runs: list[dict]) -> Check:
    """Every run of the period read as many lines as it wrote rows and quarantine records."""
    return Check(
        "runs_balanced",
        "every line read in the period is a row or a quarantine record",
        {"runs": len(runs)},
        [
            f"run {r['run_id']}: {r['lines_read']:,} lines read, {r['rows']:,} rows + {r['quarantined']:,} quarantined"
            for r in runs
            if not r["balanced"]
        ],
        not_applicable=None if runs else "no run in the period",
    )


# --- data-subject requests ---------------------------------------------------------------------------------


def subject_requests(audit_uri: str, first: dt.date, last: dt.date) -> dict:
    """The data-subject requests recorded in the period, per request and by kind: counts, never whom they were about.

    Records (`<audit>/subject_requests/<request_id>.json`, written by `logshroud subject`) give the kind
    (`export` or `erase`), whether it was a dry run, when it was recorded, rows per dataset and the
    partitions touched. A dry run is listed but changed nothing, so it counts apart.
    """
    handled = []
    documents = [d for d in audit_documents(audit_uri, SUBJECT_REQUESTS) if d.get("record") == "subject_request"]
    for d in sorted(documents, key=lambda d: _moment(d["recorded"])):
        if first <= _day(d["recorded"]) <= last:
            partitions = d["partitions"]  # a list of the partitions touched, or their number
            handled.append(
                {
                    "recorded": d["recorded"],
                    "kind": d["kind"],
                    "dry_run": bool(d["dry_run"]),
                    "as_of": d["as_of"],
                    "rows": sum(d["counts"].values()),
                    "rows_by_dataset": dict(sorted(d["counts"].items())),
                    "partitions": len(partitions) if isinstance(partitions, list) else int(partitions),
                }
            )
    by_kind = {kind: Counter() for kind in ("export", "erase")}
    for h in handled:
        done = {"dry_runs": 1} if h["dry_run"] else {"requests": 1, "rows": h["rows"], "partitions": h["partitions"]}
        by_kind.setdefault(h["kind"], Counter()).update(done)
    fields = ("requests", "dry_runs", "rows", "partitions")
    return {"recorded": handled, "by_kind": {kind: {f: n[f] for f in fields} for kind, n in by_kind.items()}}


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
    controls = [c.as_dict() for c in verify.run(config, as_of)]  # configures storage and checks every bucket
    zones = zone_uris(config)
    records = audit_records(zones["audit"])
    runs = sorted((r for r in records if r.get("record") != "deletion"), key=start_order)
    deleted = deletions([r for r in records if r.get("record") == "deletion"], first, last)
    processed = processing(runs, first, last)
    controls.append(runs_balanced(processed["runs"]).as_dict())
    anonymity_sets = anonymity(config, first, last)
    return {
        "report": "logshroud compliance report",
        "version": VERSION,
        "period": {"from": first.isoformat(), "to": last.isoformat(), "days": (last - first).days + 1},
        "as_of": iso_time(as_of),
        "config": {"source": config.source, "sha256": config.digest()},
        "summary": summary(controls, processed, anonymity_sets),
        "policy": policy(config),
        "processing": processed,
        "retention": {
            "holdings": holdings(config, as_of, records),
            "deletions": deleted,
            "deletions_by_day": deletions_by_day(deleted),
            "keys": key_events(config, first, last),
        },
        "verification": {"controls": controls},
        "anonymity": anonymity_sets,
        "security": security_use(config, first, last),
        "subject_requests": subject_requests(zones["audit"], first, last),
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
    return storage.join(zone_uris(config)["audit"], verify.REPORTS, f"{first}_{last}_{as_of:%Y%m%dT%H%M%SZ}")


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
