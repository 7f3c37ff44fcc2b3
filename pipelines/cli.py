"""The `logshroud` command line: one subcommand per job.

    logshroud ingest --config configs/default.yaml --input 'logs/access.log*' [--as-of T] [Beam options]
    logshroud demo [--lines 200000] [--workdir .]

A problem the user can fix is one line on stderr, `logshroud: error: ...`, and exit
code 2; `--debug` adds the traceback. Nothing printed carries a client address.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from transforms.errors import LogshroudError, redact

_JOBS = {
    "ingest": "read access logs into the restricted and anonymised zones",
    "demo": "make a realistic day of logs, ingest it, and show where everything went",
}


def _quiet_libraries() -> None:
    # Beam and its optional cloud clients log warnings at import and at runner start
    # that say nothing about the user's job; logshroud reports what matters itself.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    parser = argparse.ArgumentParser(
        prog="logshroud",
        description="Anonymise web access logs into Parquet, with the evidence to prove it.",
        epilog="Jobs: "
        + "; ".join(f"{name}: {text}" for name, text in _JOBS.items())
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
        return _run(job, argv[1:])
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


def _run(job: str, argv: list[str]) -> int:
    if job == "ingest":
        from pipelines import ingest
        from transforms.config import load_config

        args, beam_args = ingest.arguments().parse_known_args(argv)
        config = load_config(args.config)
        as_of = ingest.parse_time(args.as_of) if args.as_of else None
        manifest = ingest.run(config, args.input, as_of, beam_args)
        print(ingest.summary(manifest))
        return 0 if manifest["totals"]["balanced"] else 1
    if job == "demo":
        from pipelines import demo

        return demo.main(argv)
    raise AssertionError(job)


if __name__ == "__main__":
    sys.exit(main())
