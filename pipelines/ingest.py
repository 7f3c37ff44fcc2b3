"""Ingest: web access logs in, Parquet in the restricted and anonymised zones out.

    logshroud ingest --config configs/default.yaml --input '/var/log/apache2/access.log*'

reads every matching file (plain, .gz, .bz2, .zst), parses it in chunks of lines
held as Arrow tables, and writes:

- `<restricted>/requests/dt=YYYY-MM-DD/`: rows with the full client address, for
  events inside the security window only;
- `<anonymised>/requests/dt=YYYY-MM-DD/`: every row, with the address truncated to
  `client_net`, keyed into `client_token`, and scrubbed from URLs and user agents;
- `<restricted>/quarantine/dt=<as-of date>/`: every line that did not parse, with its reason;
- `<audit>/manifests/<run_id>.json`: the proof that every line read is a row, a
  quarantine record or a directive (W3C `#Fields:` lines), and of every file written.

Any Beam option passes through. In-process (the default: FnApiRunner, a worker thread per core):

    logshroud ingest --input 'logs/*.gz'
    logshroud ingest --input 'logs/*.gz' --direct_num_workers=1
    logshroud ingest --input 'logs/*.gz' --direct_num_workers=2 --direct_running_mode=multi_processing

On Dataflow, Flink or Spark (see the README's "Runners" section):

    logshroud ingest --config prod.yaml --input 's3://logs/2026/11/24/*' \\
        --runner=FlinkRunner --flink_master=flink:8081 --environment_type=LOOPBACK
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass

import apache_beam as beam
import pyarrow as pa
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.runner import runner_options, sample_states_often
from transforms import storage
from transforms.anonymise import AnonymiseRequests
from transforms.attacks import DetectAttacks
from transforms.config import Config, load_config, log_format, logs_xff
from transforms.errors import LogshroudError
from transforms.manifest import input_summaries, iso_time, manifest_path, read_manifest, totals, write_manifest
from transforms.parse import AUTO_CANDIDATES, ParseChunks, detect_format, has_directives
from transforms.parse.logformat import CompiledFormat
from transforms.read import LogChunk, ReadLogChunks, ScanRanges, plan_ranges, read_chunks, source_id
from transforms.schema import Batch
from transforms.windows import ClientActivity, DayTables, HourWindows
from transforms.write import WriteParts, commit, discard_staged


@dataclass(frozen=True)
class Run:
    """Everything one ingest run decides before the pipeline starts."""

    config: Config
    inputs: list[storage.StoredFile]
    run_id: str
    as_of: dt.datetime
    started: dt.datetime
    log_format: str | CompiledFormat  # the format the lines are parsed with
    format_name: str  # what the manifest and the summary call it

    @property
    def window_start(self) -> dt.datetime:
        return self.as_of - dt.timedelta(days=self.config.security_window_days)

    @property
    def zone_uris(self) -> dict[str, str]:
        return zone_uris(self.config)

    @property
    def inputs_id(self) -> str:
        """Names what is computed over all inputs together (per-client windows) in file names."""
        return inputs_id(self.inputs)


def zone_uris(config: Config) -> dict[str, str]:
    """Each zone's URI, local folders made absolute."""
    return {
        name: storage.absolute(getattr(config.zones, name)) for name in ("raw", "restricted", "anonymised", "audit")
    }


def inputs_id(inputs: list[storage.StoredFile]) -> str:
    return source_id("\n".join(sorted(f.path for f in inputs)))


def manifest_of(config: Config, run_id: str) -> str:
    return manifest_path(zone_uris(config)["audit"], run_id)


def parse_time(text: str) -> dt.datetime:
    """`2026-11-24T12:00:00Z` (any ISO 8601 offset, or a bare date) -> aware UTC datetime."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise LogshroudError(f"--as-of: not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def new_run_id(started: dt.datetime) -> str:
    return f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def match_inputs(patterns: list[str]) -> list[storage.StoredFile]:
    found: dict[str, storage.StoredFile] = {}
    for pattern in patterns:
        pattern = storage.absolute(pattern)
        matched = [f for f in storage.match(pattern) if not f.path.rsplit("/", 1)[-1].startswith(".")]
        if not matched:
            raise LogshroudError(f"--input {pattern}: matches no file")
        unreadable = [f.path for f in matched if storage.is_local(f.path) and not os.access(f.path, os.R_OK)]
        if unreadable:
            raise LogshroudError(f"--input {unreadable[0]}: cannot read (permission denied)")
        found.update((f.path, f) for f in matched)
    return sorted(found.values(), key=lambda f: f.path)


class CommitRun(beam.DoFn):
    """All part records and chunk stats of the run -> files in place, stale files gone, manifest written."""

    def __init__(self, run: Run):
        self.run = run

    def setup(self) -> None:
        storage.configure(self.run.config.storage.s3)

    def process(self, _, records: list[dict]):
        run = self.run
        files = sorted((r for r in records if "sha256" in r), key=lambda r: r["path"])
        stats = [r for r in records if "lines_read" in r]
        stale = commit(files, run.zone_uris, {run.inputs_id, *(source_id(f.path) for f in run.inputs)}, run.run_id)
        summaries = input_summaries(run.inputs, stats, files)
        manifest = {
            "run_id": run.run_id,
            "job": "ingest",
            "as_of": _iso(run.as_of),
            "started": iso_time(run.started, precise=True),  # runs in the same second still order
            "finished": iso_time(dt.datetime.now(dt.timezone.utc), precise=True),
            "security_window_days": run.config.security_window_days,
            "window_start": _iso(run.window_start),
            "format": run.format_name,
            "config": {"source": run.config.source, "sha256": run.config.digest(), "settings": run.config.to_dict()},
            "totals": totals(summaries, files),
            "inputs": summaries,
            "outputs": [{k: v for k, v in f.items() if k not in ("staged", "source_id")} for f in files],
            "deleted_stale": sorted(stale),
            "key_ids": sorted({k for f in files for k in f.get("key_ids", [])}),
        }
        yield write_manifest(run.zone_uris["audit"], manifest)


def build(pipeline: beam.Pipeline, run: Run) -> beam.PCollection:
    """The ingest pipeline; its output is the path of the run's manifest."""
    cfg = run.config
    zones = run.zone_uris
    ranges = pipeline | "PlanRanges" >> beam.Create(plan_ranges(run.inputs, cfg.input.range_bytes))
    scans = ranges | "ScanRanges" >> beam.ParDo(ScanRanges(cfg.storage.s3, has_directives(run.log_format)))
    chunks = ranges | "ReadChunks" >> beam.ParDo(
        ReadLogChunks(cfg.input.chunk_lines, cfg.storage.s3, has_directives(run.log_format)),
        scans=beam.pvalue.AsDict(scans),
    ).with_output_types(LogChunk)
    parsed = chunks | "Parse" >> beam.ParDo(
        ParseChunks(run.log_format, cfg.input.max_line_bytes, run.run_id, cfg.input.trusted_proxies)
    ).with_outputs(ParseChunks.QUARANTINE, ParseChunks.STATS, main="requests")
    requests = parsed.requests | "DetectAttacks" >> beam.ParDo(DetectAttacks())
    anonymised = requests | "Anonymise" >> beam.ParDo(
        AnonymiseRequests(cfg.anonymise, cfg.keys, run.window_start)
    ).with_outputs(AnonymiseRequests.RESTRICTED, AnonymiseRequests.CLIENTS, main="anonymised")
    windows = (
        anonymised.clients
        | "ClientActivity" >> beam.ParDo(ClientActivity(cfg.signals)).with_output_types(beam.typehints.KV[int, Batch])
        | "ByHour" >> beam.GroupByKey()
        | "Windows"
        >> beam.ParDo(
            HourWindows(cfg.signals, run.run_id, run.inputs_id, int(run.window_start.timestamp() * 1000))
        ).with_outputs(HourWindows.BY_DAY, main="client_windows")
    )
    windows.by_day.element_type = beam.typehints.KV[int, beam.typehints.Tuple[str, Batch]]
    days = (
        windows.by_day
        | "ByDay" >> beam.GroupByKey()
        | "DayTables"
        >> beam.ParDo(DayTables(run.run_id, run.inputs_id)).with_outputs(
            DayTables.ALERTS, DayTables.RESTRICTED_ALERTS, main="anonymity_sets"
        )
    )

    for batches in (parsed.requests, requests, parsed.quarantine, anonymised.anonymised, anonymised.restricted,
                    anonymised.clients, windows.client_windows, days.alerts, days.restricted_alerts,
                    days.anonymity_sets):  # fmt: skip
        batches.element_type = Batch  # so Beam uses ArrowElementCoder, which sizes a table without pickling it

    def write(label: str, batches, zone: str, dataset: str, fixed_date: str | None = None):
        return batches | label >> beam.ParDo(
            WriteParts(zone, zones[zone], dataset, run.run_id, cfg.storage.s3, fixed_date)
        )

    records = (
        write("WriteRestricted", anonymised.restricted, "restricted", "requests"),
        write("WriteAnonymised", anonymised.anonymised, "anonymised", "requests"),
        write("WriteQuarantine", parsed.quarantine, "restricted", "quarantine", run.as_of.date().isoformat()),
        write("WriteClientWindows", windows.client_windows, "anonymised", "client_windows"),
        write("WriteAlerts", days.alerts, "anonymised", "alerts"),
        write("WriteRestrictedAlerts", days.restricted_alerts, "restricted", "alerts"),
        write("WriteAnonymitySets", days.anonymity_sets, "audit", "anonymity_sets"),
        parsed.stats,
    )
    every_record = records | "AllRecords" >> beam.Flatten()
    # Once, when every record is in: the records reach the commit as a side input.
    return (
        pipeline
        | "Once" >> beam.Impulse()
        | "Commit" >> beam.ParDo(CommitRun(run), records=beam.pvalue.AsList(every_record))
    )


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logshroud ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="config file (default: the embedded configs/default.yaml)")
    parser.add_argument("--input", action="append", required=True, metavar="GLOB",
                        help="log files: a path or glob, local or s3://; repeat for more")  # fmt: skip
    parser.add_argument("--as-of", help="'now' for every age decision (ISO 8601; default: the clock)")
    return parser


def main(argv: list[str]) -> int:
    """`logshroud ingest`: exit 0 when every line read is a row or a quarantine record, 1 when not."""
    args, beam_args = arguments().parse_known_args(argv)
    config = load_config(args.config)
    as_of = parse_time(args.as_of) if args.as_of else None
    manifest = run(config, args.input, as_of, beam_args)
    print(summary(manifest))
    return 0 if manifest["totals"]["balanced"] else 1


def run(config: Config, inputs: list[str], as_of: dt.datetime | None = None, beam_args: list[str] = ()) -> dict:
    """Run one ingest and return its manifest."""
    started = dt.datetime.now(dt.timezone.utc)
    storage.configure(config.storage.s3)
    for uri in [*zone_uris(config).values(), *inputs]:
        storage.check_bucket(uri)  # a missing bucket or a dead endpoint is one clear line, before any work
    matched = match_inputs(inputs)
    fmt, format_name = resolve_format(config, matched)
    job = Run(config, matched, new_run_id(started), as_of or started, started, fmt, format_name)
    sample_states_often()
    try:
        with beam.Pipeline(options=PipelineOptions(runner_options(beam_args))) as pipeline:
            build(pipeline, job)
    except BaseException:
        # Nothing of a failed run stays behind, and its own error is the one reported: should the
        # clean-up fail too (the store gone), `verify` names what is left as unaccounted for.
        with contextlib.suppress(Exception):
            discard_staged(job.zone_uris, job.run_id)
        raise
    return read_manifest(manifest_of(config, job.run_id))


_SAMPLE_LINES = 200  # first lines of each input that `auto` looks at


def resolve_format(config: Config, inputs: list[storage.StoredFile]) -> tuple[str | CompiledFormat, str]:
    """The format to parse with, and its name; for `auto`, the candidate most sample lines match."""
    spec = config.input.format
    if spec != "auto":
        return log_format(spec), spec if isinstance(spec, str) else json.dumps(spec)
    sample = pa.concat_arrays([next(read_chunks(f.path, _SAMPLE_LINES)).lines for f in inputs])
    candidates = {name: log_format(name) for name in AUTO_CANDIDATES}
    name, matched = detect_format(sample, candidates)
    if not matched:
        raise LogshroudError(f"input.format auto: none of {', '.join(AUTO_CANDIDATES)} matches the inputs' first lines")
    fmt = candidates[name]
    if config.input.trusted_proxies and not logs_xff(fmt):
        raise LogshroudError(f"input.trusted_proxies: auto chose {name}, which logs no X-Forwarded-For header")
    return fmt, f"auto: {name} ({matched} of {len(sample)} sample lines)"


def summary(manifest: dict) -> str:
    """What a run did, in a few lines a person reads."""
    t = manifest["totals"]
    lines = [
        f"run {manifest['run_id']}: {t['inputs']} input file(s), {t['lines_read']:,} lines read, "
        f"{t['rows']:,} rows, {t['quarantined']:,} quarantined"
        + (f", {t['directives']:,} directive lines" if t["directives"] else "")
        + ("" if t["balanced"] else "  ** NOT BALANCED: lines were lost **"),
    ]
    if manifest["format"].startswith("auto"):
        lines.append(f"  format {manifest['format']}")
    for reason, count in t["quarantine_reasons"].items():
        lines.append(f"  quarantined {reason}: {count:,}")
    for entry in manifest["inputs"]:
        if entry["damage"]:
            lines.append(f"  damaged input {entry['path']}: {entry['damage']} (lines before the damage kept)")
    lines.append(
        f"  restricted rows (inside the {manifest['security_window_days']}-day window): "
        f"{t.get('restricted_requests_rows', 0):,}; anonymised rows: {t.get('anonymised_requests_rows', 0):,}"
    )
    lines.append(
        f"  per-client windows: {t.get('anonymised_client_windows_rows', 0):,}; "
        f"alerts: {t.get('anonymised_alerts_rows', 0):,}"
    )
    return "\n".join(lines)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
