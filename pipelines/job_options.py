"""The options every retention job takes: which config, and "now" for every age decision."""

from __future__ import annotations

import argparse
import datetime as dt

from pipelines.ingest import parse_time


def add_config_and_as_of(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", help="config file (default: the embedded configs/default.yaml)")
    parser.add_argument("--as-of", help="'now' for every age decision (ISO 8601; default: the clock)")
    return parser


def job_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """A job's parser with --config and --as-of; its description is the first paragraph of `doc`."""
    return add_config_and_as_of(argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0]))


def parse_as_of(args: argparse.Namespace) -> dt.datetime:
    """`--as-of` as an aware UTC time, or the clock."""
    return parse_time(args.as_of) if args.as_of else dt.datetime.now(dt.timezone.utc)
