"""Data-subject requests: export or erase everything held about one person, and record that it was done.

    logshroud subject export --config F --ip ADDRESS [--ip ...] [--user NAME] [--from D1 --to D2] --out FILE.json
    logshroud subject erase  --config F --ip ADDRESS [--user NAME] [--include-raw] [--dry-run]

A person is found by address (`--ip`, any spelling) and by login name (`--user`); see
transforms.subject for which rows are theirs. `export` writes those rows, with a summary of
what was found where and what can no longer be linked and why, to `--out` (JSON: one
document; CSV: one row per row, with its dataset), mode 0600: it holds personal data, for
the subject. `erase` rewrites each file holding such rows without them, in the restricted and
anonymised zones: the new file is staged under `<zone>/_staging/<request id>/`, a deletion
record (`erase_rows`) says what the file now is, then the file is replaced in one step
(a rename, or a server-side copy on S3), so a reader sees the old file or the new one, never
half of one; a file left empty is deleted. Raw logs holding the subject are reported, and
with `--include-raw` rewritten without those lines. `--dry-run` shows what would go.

Each request handled (not a dry run) is recorded in `<audit>/subject_requests/<request id>.json`:
its kind, times, period, counts, partitions, what cannot be linked, and a keyed hash of each
identifier, never the identifier. The audit zone's anonymity sets are counts per network and
day, about no one: not personal data, and left as they are.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import datetime as dt
import gzip
import io
import itertools
import json
import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

from pipelines.ingest import new_run_id, resolve_format, zone_uris
from pipelines.job_options import add_config_and_as_of, parse_as_of
from transforms import storage
from transforms.config import Config, load_config
from transforms.keyring import Key, open_keyring
from transforms.manifest import audit_records, ingested_inputs, iso_time, write_deletion_record
from transforms.read import open_log, read_chunks
from transforms.retention import Partition, first_day_kept, relative_name, zone_partitions
from transforms.scrub import Scrubber
from transforms.subject import (
    Copies,
    Matcher,
    Subject,
    SubjectError,
    identifier_hmacs,
    identifier_pepper,
    token_pairs,
)
from transforms.write import parquet_bytes, staging_root

ERASE_ROWS = "erase_rows"  # a file of a zone rewritten without the subject's rows (or deleted, left empty)
ERASE_LINES = "erase_lines"  # a raw log rewritten without the subject's lines
REQUESTS = "subject_requests"  # the audit zone's folder of request records
NOT_PERSONAL = [
    "audit/anonymity_sets: counts of distinct clients per network and day, about no one client: "
    "not personal data, left as they are",
    "audit manifests and deletion records: counts, paths and checksums, no client",
]

Period = tuple[str | None, str | None]  # first and last UTC day (`YYYY-MM-DD`), either open


@dataclass(frozen=True)
class Found:
    """The subject's rows in one file of a zone, and the file as it was when they were found."""

    zone: str
    dataset: str
    day: str
    path: str
    sha256: str
    mask: pa.Array  # per row of the file: the subject's
    rows: pa.Table  # those rows

    @property
    def dataset_name(self) -> str:
        return f"{self.zone}/{self.dataset}"

    @property
    def partition(self) -> str:
        return f"{self.zone}/{self.dataset}/dt={self.day}"


@dataclass(frozen=True)
class RawFound:
    """A raw log holding the subject: the numbers (1-based) of their lines."""

    path: str
    size: int  # as it was when its lines were counted
    lines: tuple[int, ...]
    damage: str | None  # a damaged stream is reported, never rewritten (what follows the damage is unread)


@dataclass
class Request:
    """One data-subject request: what was found, and once handled, the records it left."""

    request_id: str
    kind: str  # export | erase
    subject: Subject
    as_of: dt.datetime
    period: Period | None
    found: list[Found]
    raw: list[RawFound]
    unlinkable: list[dict]
    deletion_records: list[str] = field(default_factory=list)
    raw_rewritten: set[str] = field(default_factory=set)  # paths of the raw logs rewritten
    record: str | None = None  # the request's record in the audit zone


# --- finding the subject ------------------------------------------------------------------------------------


def find(config: Config, subject: Subject, kind: str, as_of: dt.datetime, period: Period | None = None) -> Request:
    """Every row and raw line of the subject the zones hold (in `period`, if given), and what cannot be linked."""
    zones = zone_uris(config)
    keys = open_keyring(config.keys).keys()
    restricted = _in_period(zone_partitions("restricted", zones["restricted"]), period)
    anonymised = _in_period(zone_partitions("anonymised", zones["anonymised"]), period)
    if period and not (restricted or anonymised):
        first, last = (day or "..." for day in period)
        raise SubjectError(f"--from {first} --to {last}: the zones hold nothing of that period")
    pairs = token_pairs(subject.address_texts(), keys)
    found = scan(restricted, Matcher(subject, pairs))
    copies = anonymised_copies(config, found)
    found += scan(anonymised, Matcher(subject, pairs, copies))
    raw = scan_raw(config, raw_logs_of(zones, period), Matcher(subject, pairs))
    notes = unlinkable(config, subject, keys, restricted, anonymised, as_of, copies)
    return Request(new_run_id(dt.datetime.now(dt.timezone.utc)), kind, subject, as_of, period, found, raw, notes)


def anonymised_copies(config: Config, found: list[Found]) -> Copies | None:
    """The anonymised copies of the subject's restricted request rows, scrubbed as ingest scrubs them."""
    requests = [f.rows for f in found if f.zone == "restricted" and f.dataset == "requests"]
    if not requests:
        return None
    a = config.anonymise
    return Copies(pa.concat_tables(requests), Scrubber(a.ipv4_prefix, a.ipv6_prefix, a.secret_params))


def _in_period(partitions: list[Partition], period: Period | None) -> list[Partition]:
    first, last = period or (None, None)
    return [p for p in partitions if (first is None or p.day >= first) and (last is None or p.day <= last)]


def scan(partitions: list[Partition], matcher: Matcher) -> list[Found]:
    """The subject's rows in each file of the partitions: deciding columns first, whole files only where they match."""
    found = []
    for partition in partitions:
        for stored in partition.files:
            with storage.open_read(stored.path) as source:
                parquet = pq.ParquetFile(source)
                columns = matcher.columns(parquet.schema_arrow)
                if not columns or not matcher.may_hold(parquet.read(columns=columns)):
                    continue
            data = storage.read_bytes(stored.path)
            table = pq.read_table(pa.BufferReader(data))
            mask = matcher.rows(table)
            if pc.any(mask).as_py():
                found.append(Found(partition.zone, partition.dataset, partition.day, stored.path,
                                   storage.sha256_hex(data), mask, table.filter(mask)))  # fmt: skip
    return found


def raw_logs_of(zones: dict[str, str], period: Period | None) -> list[storage.StoredFile]:
    """Every raw log, or with a period those whose event dates (as their ingest recorded them) meet it."""
    ingested = ingested_inputs(audit_records(zones["audit"]))
    first, last = period or (None, None)
    logs = []
    for stored in storage.list_tree(zones["raw"]):
        if stored.path.rsplit("/", 1)[-1].startswith("."):
            continue  # a file being written, not a log
        dates = (ingested.get(stored.path) or {}).get("event_dates")
        if dates is None or not ((first and dates["last"] < first) or (last and dates["first"] > last)):
            logs.append(stored)
    return logs


def scan_raw(config: Config, logs: list[storage.StoredFile], matcher: Matcher) -> list[RawFound]:
    """The subject's lines in each raw log, read in chunks as ingest reads them."""
    found = []
    for stored in logs:
        fmt, _ = resolve_format(config, [stored])
        numbers, damage = [], None
        for chunk in read_chunks(stored.path, config.input.chunk_lines):
            hits = matcher.lines(chunk.lines, fmt, config.input.max_line_bytes, chunk.damaged_tail)
            numbers += (hits + chunk.first_line).tolist()
            damage = damage or chunk.damage
        if numbers:
            found.append(RawFound(stored.path, stored.size, tuple(numbers), damage))
    return found


def unlinkable(config: Config, subject: Subject, keys: list[Key], restricted: list[Partition],
               anonymised: list[Partition], as_of: dt.datetime, copies: Copies | None) -> list[dict]:  # fmt: skip
    """What the zones hold that can no longer be linked to the subject, and why: one entry per cause."""
    notes = []
    window = config.security_window_days
    held = min((p.day for p in restricted if p.dataset == "requests"), default=first_day_kept(as_of, window))
    if any(p.day < held for p in anonymised):
        why = f"past the {window}-day security window: no zone holds their full address or user name any more"
        if subject.addresses:
            why += "; the address's rows among them are found by token while their key lives"
        if subject.users:
            why += "; a user name is held nowhere else, so none of them can be linked to it"
        notes.append({"what": f"requests before {held}", "why": why})
    for key in keys:
        if not key.usable and any(key.covers(p.day) for p in anonymised):
            when = f" on {key.destroyed[:10]}" if key.destroyed else ""
            notes.append({"what": f"anonymised rows of the epoch {key.not_before}..{key.not_after}",
                          "why": f"its key {key.id} was destroyed{when}: their tokens are removed, so no row "
                                 "can be linked to any address"})  # fmt: skip
    keyless = sorted({p.day for p in anonymised if not any(k.covers(p.day) for k in keys)})
    if keyless:
        notes.append({"what": f"anonymised rows of {len(keyless)} day(s), {keyless[0]} to {keyless[-1]}",
                      "why": "no key of their epochs is in the keyring: no token of theirs can be made"})  # fmt: skip
    if copies is not None and copies.missing:
        notes.append({"what": f"{copies.missing} anonymised request row(s)",
                      "why": "their restricted rows were found, but no anonymised row equals their copy "
                             "(deleted, or changed since ingest)"})  # fmt: skip
    return notes


# --- what was found, as the summary, the export and the record give it --------------------------------------


def findings(request: Request) -> dict:
    """Counts per dataset, the partitions, raw logs, and what cannot be linked: no identifier, no row."""
    counts = Counter()
    for f in request.found:
        counts[f.dataset_name] += f.rows.num_rows
    return {
        "counts": dict(sorted(counts.items())),
        "partitions": sorted({f.partition for f in request.found}),
        "raw": {
            "logs": [
                {
                    "path": r.path,
                    "lines": len(r.lines),
                    "damaged": r.damage is not None,
                    "rewritten": r.path in request.raw_rewritten,
                }
                for r in request.raw
            ],
            "lines": sum(len(r.lines) for r in request.raw),
        },
        "unlinkable": request.unlinkable,
        "not_personal": NOT_PERSONAL,
    }


def summary(request: Request, dry_run: bool = False) -> str:
    """What a request found and did, in lines a person reads; never an identifier or a row."""
    kinds = Counter(kind for kind, _ in request.subject.identifiers())
    head = (f"subject {request.kind} {request.request_id} as of {iso_time(request.as_of)}: "
            f"{kinds['ip']} address(es), {kinds['user']} user name(s)")  # fmt: skip
    if request.period:
        head += f", {request.period[0] or '...'} to {request.period[1] or '...'}"
    lines = [head + (" (dry run: nothing changed, nothing recorded)" if dry_run else "")]
    by_dataset: dict[str, list[Found]] = {}
    for f in request.found:
        by_dataset.setdefault(f.dataset_name, []).append(f)
    for name, files in sorted(by_dataset.items()):
        partitions = len({f.day for f in files})
        lines.append(f"  {name}: {sum(f.rows.num_rows for f in files):,} row(s) in {partitions} partition(s)")
    if not request.found:
        lines.append("  no row of the subject in the restricted or anonymised zone")
    if request.raw:
        lines.append(f"  raw: {sum(len(r.lines) for r in request.raw):,} line(s) in {len(request.raw)} log(s)")
    for r in request.raw:
        done = "rewritten without them" if r.path in request.raw_rewritten else "reported; --include-raw erases them"
        if r.damage:
            done = f"damaged ({r.damage}): left as it is"
        lines.append(f"    {r.path}: {len(r.lines):,} line(s), {done}")
    lines += [f"  cannot be linked: {n['what']}: {n['why']}" for n in request.unlinkable]
    lines += [f"  not personal: {text}" for text in NOT_PERSONAL]
    if request.record:
        lines.append(f"  recorded: {request.record}")
    return "\n".join(lines)


def request_record(request: Request, config: Config, pepper: bytes) -> dict:
    """The audit zone's account of one request: stable fields, keyed hashes for the identifiers."""
    return {
        "record": "subject_request",
        "version": 1,
        "request_id": request.request_id,
        "kind": request.kind,
        "dry_run": False,
        "recorded": iso_time(dt.datetime.now(dt.timezone.utc), precise=True),
        "as_of": iso_time(request.as_of),
        "identifier_kinds": sorted({kind for kind, _ in request.subject.identifiers()}),
        "identifiers": identifier_hmacs(request.subject, pepper),
        "period": {"from": request.period[0], "to": request.period[1]} if request.period else None,
        **findings(request),
        "deletion_records": [path.rsplit("/", 1)[-1].removesuffix(".json") for path in request.deletion_records],
        "config_sha256": config.digest(),
    }


def write_request_record(config: Config, request: Request, pepper: bytes) -> None:
    path = storage.join(zone_uris(config)["audit"], REQUESTS, f"{request.request_id}.json")
    storage.write_bytes(path, json.dumps(request_record(request, config, pepper), indent=1).encode())
    request.record = path


# --- export -------------------------------------------------------------------------------------------------


def check_out(path: str) -> None:
    """A SubjectError unless `--out` is a local .json or .csv file in a folder that exists."""
    if not storage.is_local(path):
        raise SubjectError(f"--out {path}: must be a local file (the export holds personal data, for the subject)")
    if not path.endswith((".json", ".csv")):
        raise SubjectError(f"--out {path}: must end in .json or .csv")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise SubjectError(f"--out {path}: no such folder")


def exported_rows(request: Request) -> dict[str, list[dict]]:
    """Dataset -> the subject's rows, each with its partition day `dt`, oldest partition first."""
    rows: dict[str, list[dict]] = {}
    for f in sorted(request.found, key=lambda f: (f.dataset_name, f.day, f.path)):
        rows.setdefault(f.dataset_name, []).extend({"dt": f.day, **row} for row in f.rows.to_pylist())
    return rows


def export_document(request: Request) -> dict:
    return {
        "export": "logshroud data-subject export",
        "request_id": request.request_id,
        "as_of": iso_time(request.as_of),
        "period": {"from": request.period[0], "to": request.period[1]} if request.period else None,
        "summary": findings(request),
        "rows": exported_rows(request),
    }


def _text(value) -> str:
    """A value as text, for a CSV cell or where JSON has no type: times in ISO 8601, lists as JSON, nothing empty."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def export_csv(request: Request) -> str:
    rows = exported_rows(request)
    columns = list(dict.fromkeys(name for dataset in rows.values() for row in dataset for name in row))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dataset", *columns])
    for name, dataset in rows.items():
        writer.writerows([name, *(_text(row.get(c)) for c in columns)] for row in dataset)
    return out.getvalue()


def write_export(path: str, request: Request) -> None:
    """The export at `path`, readable by its owner only, whatever was there before."""
    # JSON not indented: Python's C encoder then writes it, some ten times faster than indenting.
    text = export_csv(request) if path.endswith(".csv") else json.dumps(export_document(request), default=_text)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)


# --- erase --------------------------------------------------------------------------------------------------


def erase_rows(config: Config, request: Request) -> None:
    """Each partition holding the subject rewritten without their rows, one deletion record per partition."""
    zones = zone_uris(config)
    numbered = itertools.count(len(request.deletion_records) + 1)
    ordered = sorted(request.found, key=lambda f: (f.zone, f.dataset, f.day, f.path))
    for (zone, dataset, day), files in itertools.groupby(ordered, key=lambda f: (f.zone, f.dataset, f.day)):
        objects, moves, emptied = [], [], []
        for f in files:
            entry, staged = _rewrite(f, zones, request.request_id)
            objects.append(entry)
            if staged:
                moves.append((staged, f.path))
            else:
                emptied.append(f.path)
        record = erasure_record(request, next(numbered), config, ERASE_ROWS, zone, objects, dataset, day)
        request.deletion_records.append(write_deletion_record(zones["audit"], record))
        storage.move(moves)
        storage.delete(emptied)
        _remove_empty_folders(emptied, zones[zone])
    for zone in {f.zone for f in request.found}:
        storage.remove_tree(staging_root(zones[zone], request.request_id))
        _remove_empty_folders([staging_root(zones[zone], request.request_id)], zones[zone])


def _rewrite(f: Found, zones: dict[str, str], request_id: str) -> tuple[dict, str | None]:
    """(the file's entry in the deletion record, where its new version is staged: None if it is left empty)."""
    data = storage.read_bytes(f.path)
    if storage.sha256_hex(data) != f.sha256:
        raise SubjectError(f"{relative_name(f.path, zones)}: changed since the request read it; run the request again")
    table = pq.read_table(pa.BufferReader(data))
    kept = table.filter(pc.invert(f.mask))
    entry = {"path": f.path, "rows": table.num_rows, "bytes": len(data), "erased_rows": f.rows.num_rows}
    if not kept.num_rows:
        return entry, None  # no sha256: the file is gone, and the ledger drops it
    new = parquet_bytes(kept)
    staged = storage.join(staging_root(zones[f.zone], request_id), f.path[len(zones[f.zone]) + 1 :])
    storage.write_bytes(staged, new)
    replaced = {"rows": table.num_rows, "bytes": len(data), "sha256": f.sha256}
    entry.update(rows=kept.num_rows, bytes=len(new), sha256=storage.sha256_hex(new), replaced=replaced)
    return entry, staged


def erasure_record(request: Request, number: int, config: Config, action: str, zone: str, objects: list[dict],
                   dataset: str | None = None, day: str | None = None) -> dict:  # fmt: skip
    """A deletion record, as the sweep writes them, for what one request erased from one partition or raw log."""
    erased = sum(o.get("erased_rows", o.get("erased_lines", 0)) for o in objects)
    return {
        "record": "deletion",
        "version": 1,
        "record_id": f"{request.request_id}-{number:03d}",
        "run_id": request.request_id,
        "job": "subject erase",
        "action": action,
        "zone": zone,
        "dataset": dataset,
        "partition": day,
        "objects": objects,
        "rows": erased,
        "bytes": sum(o.get("replaced", o)["bytes"] for o in objects),  # of the files as they were
        "key": None,
        "rule": {"setting": "data-subject request", "value": request.request_id},
        "reason": f"the subject's {'lines' if action == ERASE_LINES else 'rows'} erased on request "
        f"(record {REQUESTS}/{request.request_id}.json)",
        "dates": {"partition": day} if day else {},
        "as_of": iso_time(request.as_of),
        "recorded": iso_time(dt.datetime.now(dt.timezone.utc), precise=True),
        "config_sha256": config.digest(),
    }


def _remove_empty_folders(paths: list[str], root: str) -> None:
    """Local zones: the folders the paths leave empty go too, up to the zone itself."""
    for path in paths:
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        while storage.is_local(folder) and folder.startswith(root + "/") and os.path.isdir(folder):
            if os.listdir(folder):
                break
            os.rmdir(folder)
            folder = os.path.dirname(folder)


# --- raw logs -----------------------------------------------------------------------------------------------


_BLOCK_BYTES = 16 * 1024 * 1024  # newlines are found a block at a time: a byte mask per block, not per log


def without_lines(data: bytes, drop: set[int]) -> bytes:
    """The text without the lines numbered in `drop` (1-based, each with its line end)."""
    view = np.frombuffer(data, dtype=np.uint8)
    ends = [
        np.flatnonzero(view[at : at + _BLOCK_BYTES] == ord("\n")) + at + 1 for at in range(0, len(view), _BLOCK_BYTES)
    ]
    starts = np.concatenate([[0], *ends])
    pieces, position = [], 0
    for number in sorted(n for n in drop if n <= len(starts) and starts[n - 1] < len(data)):
        start, end = int(starts[number - 1]), int(starts[number]) if number < len(starts) else len(data)
        pieces.append(data[position:start])
        position = end
    pieces.append(data[position:])
    return b"".join(pieces)


COMPRESSED = (".gz", ".bz2", ".zst")  # what `open_log` decompresses, by suffix


def compressed(path: str, data: bytes) -> bytes:
    """Bytes as a log of that name is stored: gzip, bzip2 or zstd by its suffix, else plain."""
    if path.endswith(".gz"):
        return gzip.compress(data, mtime=0)
    if path.endswith(".bz2"):
        return bz2.compress(data)
    if path.endswith(".zst"):
        return zstandard.ZstdCompressor().compress(data)
    return data


def erase_raw(config: Config, request: Request) -> None:
    """Each raw log holding the subject rewritten without their lines (a damaged one is left, and reported).

    Its deletion record carries the log's new size and line count as an `inputs` entry, so that
    retention still knows the log's age by the event dates its ingest recorded.
    """
    zones = zone_uris(config)
    ingested = ingested_inputs(audit_records(zones["audit"]))
    numbered = itertools.count(len(request.deletion_records) + 1)
    for raw in request.raw:
        if raw.damage:
            continue
        stored, new, lines = rewritten_log(raw)
        entry = {"path": raw.path, "bytes": len(stored), "erased_lines": len(raw.lines),
                 "rewritten": {"bytes": len(new), "sha256": storage.sha256_hex(new), "lines": lines}}  # fmt: skip
        record = erasure_record(request, next(numbered), config, ERASE_LINES, "raw", [entry])
        before = ingested.get(raw.path)
        if before and before["size_bytes"] == len(stored):
            dates = before.get("event_dates") or {"first": before["as_of"][:10], "last": before["as_of"][:10]}
            record["inputs"] = [{"path": raw.path, "size_bytes": len(new), "lines_read": lines, "event_dates": dates}]
        request.deletion_records.append(write_deletion_record(zones["audit"], record))
        storage.write_bytes(raw.path, new)  # one PUT, or a rename on local disk: never half a log
        request.raw_rewritten.add(raw.path)


def rewritten_log(raw: RawFound) -> tuple[bytes, bytes, int]:
    """(the log as stored, as it is to be stored without the subject's lines, how many lines that keeps)."""
    stored = storage.read_bytes(raw.path)
    if len(stored) != raw.size:  # a log still being written: its line numbers may no longer be the subject's
        raise SubjectError(f"{raw.path}: changed since the request read it; run the request again")
    if not raw.path.endswith(COMPRESSED):  # a plain log: the bytes stored are its text
        text = stored
    else:
        with open_log(raw.path) as stream:
            text = stream.read()
    kept = without_lines(text, set(raw.lines))
    return stored, compressed(raw.path, kept), kept.count(b"\n") + (not kept.endswith(b"\n") and bool(kept))


# --- the jobs -----------------------------------------------------------------------------------------------


def _open(config: Config) -> None:
    storage.configure(config.storage.s3)
    for uri in zone_uris(config).values():
        storage.check_bucket(uri)


def export(config: Config, subject: Subject, out: str, as_of: dt.datetime | None = None,
           period: Period | None = None) -> Request:  # fmt: skip
    """Write everything held about the subject to `out` and record the request."""
    check_out(out)
    _open(config)
    pepper = identifier_pepper(config.keys)
    request = find(config, subject, "export", as_of or dt.datetime.now(dt.timezone.utc), period)
    write_export(out, request)
    write_request_record(config, request, pepper)
    return request


def erase(config: Config, subject: Subject, as_of: dt.datetime | None = None, include_raw: bool = False,
          dry_run: bool = False) -> Request:  # fmt: skip
    """Erase every row of the subject from the restricted and anonymised zones (and raw logs), and record it."""
    _open(config)
    pepper = None if dry_run else identifier_pepper(config.keys)
    request = find(config, subject, "erase", as_of or dt.datetime.now(dt.timezone.utc))
    if dry_run:
        return request
    erase_rows(config, request)
    if include_raw and request.raw:
        erase_raw(config, request)
    write_request_record(config, request, pepper)
    return request


def parse_period(first: str | None, last: str | None) -> Period | None:
    """`--from` and `--to` as UTC days; None when neither is given."""
    for option, value in (("--from", first), ("--to", last)):
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise SubjectError(f"{option} {value}: not a date (YYYY-MM-DD)") from None
    if first and last and first > last:
        raise SubjectError(f"--from {first} is after --to {last}")
    return (first, last) if first or last else None


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logshroud subject", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("export", "write everything held about the subject to a file, for them"),
                       ("erase", "erase the subject's rows from every zone")):  # fmt: skip
        command = add_config_and_as_of(commands.add_parser(name, help=text))
        command.add_argument("--ip", action="append", default=[], metavar="ADDRESS",
                             help="the subject's IP address, any spelling; repeat for more")  # fmt: skip
        command.add_argument("--user", action="append", default=[], metavar="NAME",
                             help="the subject's login name, as logs write it; repeat for more")  # fmt: skip
        if name == "export":
            command.add_argument("--from", dest="first", metavar="YYYY-MM-DD", help="first UTC day of the period")
            command.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="last UTC day of the period")
            command.add_argument("--out", required=True, metavar="FILE", help="the export: FILE.json or FILE.csv")
        else:
            command.add_argument("--include-raw", action="store_true", help="rewrite raw logs without their lines")
            command.add_argument("--dry-run", action="store_true", help="show what would go, change nothing")
    return parser


def main(argv: list[str]) -> int:
    """`logshroud subject export | erase`: exit 0 once the request is handled (or, dry run, shown)."""
    args = arguments().parse_args(argv)
    config, now = load_config(args.config), parse_as_of(args)
    subject = Subject.of(args.ip, args.user)
    if args.command == "export":
        request = export(config, subject, args.out, now, parse_period(args.first, args.last))
        print(summary(request))
        print(f"  export: {os.path.abspath(args.out)} (mode 0600: it holds the subject's personal data)")
    else:
        request = erase(config, subject, now, args.include_raw, args.dry_run)
        print(summary(request, args.dry_run))
    return 0
