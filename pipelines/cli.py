"""The `logshroud` command line: one subcommand per job.

    logshroud ingest --config configs/default.yaml --input 'logs/access.log*' [--as-of T] [Beam options]
    logshroud sweep --config F [--as-of T] [--dry-run]
    logshroud verify --config F [--as-of T] [--json]
    logshroud keys list | rotate | destroy KEY_ID [--config F] [--as-of T]
    logshroud daily --config F [--date D] [--as-of T] [Beam options]
    logshroud query [--config F] ("SQL" | --saved NAME | --list-saved) [--format table|csv|json]
    logshroud report --config F --from D1 --to D2 [--as-of T] [--out DIR]
    logshroud subject export|erase --config F --ip ADDRESS [--user NAME] ...
    logshroud demo [--lines 200000] [--workdir .]

A problem the user can fix is one line on stderr, `logshroud: error: ...`, and exit
code 2; `--debug` adds the traceback. Nothing printed carries a client address.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
import traceback

from transforms import allocators
from transforms.errors import LogshroudError, redact

# job -> (module with `main(argv) -> exit code`, what it does)
_JOBS = {
    "ingest": ("pipelines.ingest", "read access logs into the restricted and anonymised zones"),
    "query": ("pipelines.query", "SQL over the anonymised zone with DuckDB, and saved questions (--list-saved)"),
    "report": ("pipelines.report", "the compliance sign-off report for a period: HTML, PDF and JSON"),
    "demo": ("pipelines.demo", "make a realistic day of logs, ingest it, and show where everything went"),
    "sweep": ("pipelines.sweep", "delete and coarsen what is past its time, destroy expired keys, record it all"),
    "verify": ("pipelines.verify", "check every zone against the retention and no-leak controls"),
    "keys": ("pipelines.keys", "list, rotate or destroy the HMAC keys"),
    "subject": ("pipelines.subject", "export or erase everything held about one person (address or user name)"),
    "daily": ("pipelines.daily", "the scheduled run: ingest a day's logs, sweep, verify"),
}


def _quiet_libraries() -> None:
    # Beam and its optional cloud clients log warnings at import and at runner start
    # that say nothing about the user's job; logshroud reports what matters itself.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the command itself: its exit code is final once the job has returned
        code = _main(sys.argv[1:], command=True)
        # Native libraries' thread pools can abort at interpreter teardown ("terminate called
        # without an active exception") after the job is done and its output written, turning a
        # finished command's exit code into a crash. Flush, then leave without that teardown.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return _main(argv)


def _main(argv: list[str], command: bool = False) -> int:
    allocators.tune()  # before Arrow is first used
    argv = list(argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    parser = argparse.ArgumentParser(
        prog="logshroud",
        description="Anonymise web access logs into Parquet, with the evidence to prove it.",
        epilog="Jobs: "
        + "; ".join(f"{name}: {text}" for name, (_, text) in _JOBS.items())
        + ". Add --debug for tracebacks.",
    )
    parser.add_argument("job", choices=sorted(_JOBS), help="the job to run")
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    job = parser.parse_args(argv[:1]).job
    if not debug:
        _quiet_libraries()
    try:
        return _run(job, argv[1:], command)
    except LogshroudError as error:
        print(f"logshroud: error: {redact(str(error))}", file=sys.stderr)
    except KeyboardInterrupt:
        print("logshroud: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # anything else is a bug or an environment fault: say which, safely
        if debug:
            traceback.print_exc()
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"logshroud: error: {type(error).__name__}: {redact(first)[:500]}", file=sys.stderr)
        if not debug:
            print("logshroud: run again with --debug for the traceback", file=sys.stderr)
    return 2


def _run(job: str, argv: list[str], command: bool = False) -> int:
    module = importlib.import_module(_JOBS[job][0])
    if command:
        # What the imports made (Beam's and its clients', over a hundred thousand objects and no
        # garbage) lives as long as the command: full garbage collections need not walk it again.
        gc.freeze()
        # A job's data lives in Arrow and numpy buffers, which hold no cycles; Beam's runner makes
        # many short-lived containers. Collected every 700 of them (Python's default), the young
        # objects took 0.17 s of a benchmark ingest, every other thread stopped meanwhile; every
        # 50,000, 0.05 s. Cycles are still collected, only in larger batches.
        gc.set_threshold(50_000, 20, 10)
    return module.main(argv)


if __name__ == "__main__":
    sys.exit(main())
