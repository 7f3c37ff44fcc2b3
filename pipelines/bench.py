"""The benchmark behind `make bench`: throughput and peak memory of `logshroud ingest`.

    python -m pipelines.bench                      # 1,000,000 lines, plus the element-wise baseline
    python -m pipelines.bench --lines 5000000      # the memory bar on a log five times the size
    python -m pipelines.bench --workers 2          # also with two worker processes
    python -m pipelines.bench --repeat 5           # the default run five times (three by default), the median kept
    python -m pipelines.bench --no-s3              # without the run with every zone on a local S3 endpoint
    python -m pipelines.bench --format-lines 0     # without the parse rate of each format (1,000,000 lines each)

`logshroud ingest` is measured as it runs by default (in-process, a worker thread
per core), with one worker, and with worker processes when asked. Each measured
run is its own process, so its peak resident memory and its CPU time are its own
(`wait4` reports them). The default run is taken three times and its median kept:
on a shared virtual machine the same run's time scatters, and each run also shows
the share of CPU time the hypervisor took meanwhile (steal, from /proc/stat).

The baseline is the same job written the textbook way, one line per Beam
element: ReadFromText, a Python regex per line, `ipaddress` per line,
WriteToParquet. It is run on a smaller slice of the same log (it is slow) and
reported in lines per second, which do not depend on the slice's size.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipelines.generate import FORMATS, LogSpec, write_log

DAY = dt.date(2026, 11, 24)
AS_OF = "2026-11-25T12:00:00Z"


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall clock, start to end
    cpu_seconds: float  # user and system time of the command and what it waited for
    rss: int  # peak resident memory, bytes
    steal: float | None  # share of the machine's CPU time its hypervisor took meanwhile; None off Linux


def measure(argv: list[str], env: dict | None = None) -> Measured:
    """One command run to its end; fails if the command does."""
    before = _cpu_times()
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    after = _cpu_times()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv[:4])} ... failed:\n{process.stderr.read().decode()[-2000:]}")
    steal = None
    if before and after and sum(after) > sum(before):
        steal = (after[7] - before[7]) / (sum(after) - sum(before))
    return Measured(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, steal)


def _cpu_times() -> list[int] | None:
    """The machine's CPU time so far, from /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal.

    Steal is time a virtual machine's CPUs were ready to run but its hypervisor ran something
    else: on a shared machine it makes the same run take longer from one hour to the next.
    """
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    return [int(value) for value in fields[1:9]] if fields[:1] == ["cpu"] and len(fields) >= 9 else None


def report(label: str, lines: int, size: int, run: Measured) -> dict:
    figures = {
        "run": label,
        "lines": lines,
        "seconds": round(run.seconds, 2),
        "lines_per_s": round(lines / run.seconds),
        "mb_per_s": round(size / run.seconds / 1e6, 1),
        "peak_rss_mb": round(run.rss / 2**20),
        "cpu_seconds": round(run.cpu_seconds, 2),
        "steal": None if run.steal is None else round(run.steal, 3),
    }
    steal = "" if run.steal is None else f"  steal {run.steal:4.0%}"
    print(f"{label:38s} {lines:>10,} lines {run.seconds:8.1f} s {figures['lines_per_s']:>10,} lines/s "
          f"{figures['mb_per_s']:>7.1f} MB/s  peak RSS {figures['peak_rss_mb']:>6,} MB  CPU {run.cpu_seconds:5.1f} s"
          f"{steal}", flush=True)  # fmt: skip
    return figures


def workspace(root: Path, name: str, s3_endpoint: str | None = None) -> Path:
    """A fresh config with the keyring under root/name, and every zone there or in a bucket on the endpoint."""
    folder = root / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = {
        "zones": {z: str(folder / z) for z in ("raw", "restricted", "anonymised", "audit")},
        "keys": {"path": str(folder / "keys" / "keyring.json")},
    }
    if s3_endpoint:
        config["zones"] = {z: f"s3://bench/{z}" for z in config["zones"]}
        config["storage"] = {"s3": {"endpoint_url": s3_endpoint}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def make_log(root: Path, lines: int) -> Path:
    path = root / f"bench-{lines}.log"
    if not path.exists():
        started = time.perf_counter()
        made = write_log(path, LogSpec(lines=lines, day=DAY, seed=42, ipv6_share=0.3))
        seconds = time.perf_counter() - started
        print(
            f"generated {made.lines:,} lines, {made.size_bytes / 1e6:,.0f} MB in {seconds:.1f} s -> {path}", flush=True
        )
    return path


# Custom formats measured on logs of the preset they spell out, so every line should parse.
CUSTOM_FORMATS = {
    "apache LogFormat (combined)": (
        "combined", {"apache": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'}),
    "nginx log_format (combined)": (
        "combined", {"nginx": '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                              '"$http_referer" "$http_user_agent"'}),
}  # fmt: skip


def parse_rates(root: Path, lines: int) -> list[dict]:
    """Lines/s of parsing alone, per format: chunks read as ingest reads them, each parsed three times, the best kept.

    Chunk by chunk, so memory stays flat whatever `lines` is; reading is not timed.
    """
    from transforms.config import log_format
    from transforms.parse import parse_lines
    from transforms.read import read_chunks

    cases = {name: (name, name) for name in FORMATS} | CUSTOM_FORMATS
    results = []
    for label, (written_as, spec) in cases.items():
        path = root / f"formats-{written_as}-{lines}.log"
        if not path.exists():
            write_log(path, LogSpec(lines=lines, day=DAY, seed=7, fmt=written_as))
        fmt = log_format(spec)
        seconds, parsed = 0.0, 0
        for chunk in read_chunks(str(path), 100_000):
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                result = parse_lines(chunk.lines, fmt, 65536, chunk.damaged_tail, chunk.fields_directive)
                best = min(best, time.perf_counter() - started)
            seconds += best
            parsed += len(result.rows)
        figures = {"run": f"parse {label}", "lines": lines, "parsed": parsed, "lines_per_s": round(lines / seconds)}
        print(f"parse only: {label:30s} {figures['lines_per_s']:>10,} lines/s ({parsed:,} of {lines:,} lines parsed)",
              flush=True)  # fmt: skip
        results.append(figures)
    return results


@contextlib.contextmanager
def s3_endpoint():
    """A local S3 endpoint (moto's server, from the test extras) with a `bench` bucket; yields (URL, environment)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    server_command = [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(server_command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                              aws_secret_access_key="bench")  # fmt: skip
        for _ in range(100):
            try:
                client.create_bucket(Bucket="bench")
                break
            except Exception:  # not listening yet
                time.sleep(0.2)
        yield endpoint, env
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--baseline-lines", type=int, default=100_000, help="0 skips the baseline")
    parser.add_argument("--workers", type=int, default=1, help="also measure with this many worker processes")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the default setup; the median is kept")
    parser.add_argument("--out", default="bench-out", help="folder for the logs and outputs (default bench-out)")
    parser.add_argument("--no-s3", dest="s3", action="store_false", help="skip the run with zones on local S3")
    parser.add_argument("--format-lines", type=int, default=1_000_000, help="lines per format for parse rates; 0 skips")
    args = parser.parse_args(argv)
    root = Path(args.out).resolve()
    root.mkdir(exist_ok=True)
    log = make_log(root, args.lines)
    size = log.stat().st_size
    results = []

    ingest = [sys.executable, "-m", "pipelines.cli", "ingest", "--input", str(log), "--as-of", AS_OF]
    threads = os.cpu_count() or 1
    runs = [
        (f"logshroud ingest (in-process, {threads} worker threads)", "ingest", []),
        ("logshroud ingest (in-process, 1 worker)", "ingest-1-worker", ["--direct_num_workers=1"]),
    ]
    if args.workers > 1:
        processes = [f"--direct_num_workers={args.workers}", "--direct_running_mode=multi_processing"]
        runs.append((f"logshroud ingest ({args.workers} worker processes)", "ingest-processes", processes))
    for number, (label, folder, options) in enumerate(runs):
        repeats = []
        for _ in range(args.repeat if number == 0 else 1):
            run = measure([*ingest, "--config", str(workspace(root, folder)), *options])
            repeats.append(report(label, args.lines, size, run))
        middle = sorted(repeats, key=lambda figures: figures["seconds"])[len(repeats) // 2]
        if len(repeats) > 1:
            print(f"{label}: median of {len(repeats)} runs {middle['seconds']:.1f} s, "
                  f"{middle['lines_per_s']:,} lines/s", flush=True)  # fmt: skip
        results.append(middle | {"repeats": [r["seconds"] for r in repeats]})
    one_worker = results[1]["lines_per_s"]
    for figures in (results[0], *results[2:]):
        print(f"{figures['run']}: {figures['lines_per_s'] / one_worker:.2f} x one worker", flush=True)

    if args.s3:
        with s3_endpoint() as (endpoint, env):
            run = measure([*ingest, "--config", str(workspace(root, "ingest-s3", endpoint))], env)
        results.append(report("logshroud ingest (zones on local S3)", args.lines, size, run))

    if args.baseline_lines:
        slice_path = root / f"bench-{args.lines}-first-{args.baseline_lines}.log"
        with open(log, "rb") as source, open(slice_path, "wb") as out:
            out.writelines(itertools.islice(source, args.baseline_lines))
        baseline = [sys.executable, "-m", "pipelines.baseline", str(slice_path), str(root / "baseline-out")]
        shutil.rmtree(root / "baseline-out", ignore_errors=True)
        results.append(report("element-wise Beam baseline", args.baseline_lines, slice_path.stat().st_size,
                              measure(baseline)))  # fmt: skip
        speedup = results[0]["lines_per_s"] / results[-1]["lines_per_s"]
        print(f"logshroud ingest is {speedup:.1f} x the element-wise baseline", flush=True)
    if args.format_lines:
        results += parse_rates(root, args.format_lines)
    (root / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
