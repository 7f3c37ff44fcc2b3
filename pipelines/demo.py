"""The demo: a realistic day of access logs, ingested on local folders, and where everything went.

    logshroud demo                      # about 200,000 lines from two web servers, yesterday (UTC)
    logshroud demo --lines 50000 --config my.yaml

Logs are written to `<zones.raw>/demo/`, then ingested with the config (default:
the embedded one, zones under ./data), and a summary is printed with one DuckDB
query to paste, and the compliance report of the day is written to the audit zone.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import duckdb

from pipelines import ingest, report
from pipelines.generate import LogSpec, write_log
from transforms import storage
from transforms.config import load_config

SERVERS = (("web1", ".gz", 0.6), ("web2", "", 0.4))  # name, file suffix, share of the traffic


def anonymised_query(anonymised_uri: str) -> str:
    return (
        "SELECT status_class, count(*) AS requests, count(DISTINCT client_net) AS networks, "
        "count(DISTINCT client_token) AS clients "
        f"FROM read_parquet('{storage.join(anonymised_uri, 'requests', '*', '*.parquet')}', hive_partitioning = true) "
        "GROUP BY status_class ORDER BY status_class"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="logshroud demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="config file (default: the embedded configs/default.yaml)")
    parser.add_argument("--lines", type=int, default=200_000, help="lines of logs to make (default 200000)")
    args, beam_args = parser.parse_known_args(argv)
    config = load_config(args.config)
    zones = ingest.zone_uris(config)
    day = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)

    folder = Path(zones["raw"]) / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    inputs = []
    for seed, (server, suffix, share) in enumerate(SERVERS, start=1):
        path = folder / f"{server}-access.log-{day:%Y%m%d}{suffix}"
        made = write_log(path, LogSpec(lines=int(args.lines * share), day=day, seed=seed))
        print(f"made {made.lines:,} lines ({made.broken_lines} deliberately broken) in {path}")
        inputs.append(str(path))

    manifest = ingest.run(config, inputs, beam_args=beam_args)
    print(ingest.summary(manifest))
    outputs = [
        (f"restricted zone (full addresses, {config.security_window_days} days)", zones["restricted"]),
        ("anonymised zone (no full address)", zones["anonymised"]),
        ("run manifest (audit zone)", ingest.manifest_of(config, manifest["run_id"])),
        ("keyring (mode 0600, outside the zones)", str(Path(config.keys.path).resolve())),
    ]
    print("\nOutputs:")
    for label, where in outputs:
        print(f"  {label + ':':44s} {where}")
    query = anonymised_query(zones["anonymised"])
    print("\nAsk the anonymised zone with DuckDB:")
    print(f'  .venv/bin/python -c "import duckdb; duckdb.sql(\\"{query}\\").show()"')
    print(duckdb.sql(query))
    print("\nThe compliance report of the demo day:")
    print(report.text(*report.run(config, day, day)))
    return 0 if manifest["totals"]["balanced"] else 1
