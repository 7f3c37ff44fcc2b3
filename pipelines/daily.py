"""Daily: the scheduled run. Ingest one day's logs, then sweep, then verify.

    logshroud daily --config prod.yaml [--date 2026-11-23] [--as-of T] [Beam options]

The inputs are the config's `daily.inputs` globs, in which `{date:%Y/%m/%d}` (any
strftime pattern; `{date}` is `2026-11-23`) becomes `--date`, by default the day before
`--as-of` (default: the clock). Safe to re-run: ingesting the same files again replaces
what they wrote, and a sweep with nothing left to do does nothing.

Exit codes a scheduler can act on:

    0  the day ingested, swept and verified
    1  a control failed or lines were lost: read the output, the data needs a look
    2  an error (config, storage, keyring): one line on stderr says what and where
    3  some of the day's globs matched no file (what matched was ingested; sweep and verify passed)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines import ingest, sweep, verify
from pipelines.job_options import job_parser, parse_as_of
from transforms import storage
from transforms.config import Config, load_config
from transforms.errors import LogshroudError
from transforms.manifest import iso_time

NOTHING_FOR_A_GLOB = 3


@dataclass
class Daily:
    """What one daily run did: the day's globs that matched no file, the ingest manifest (if any), the sweep,
    the controls."""

    day: dt.date
    unmatched: list[str]
    manifest: dict | None
    sweep: sweep.Sweep
    checks: list[verify.Check]

    @property
    def exit_code(self) -> int:
        lost = self.manifest is not None and not self.manifest["totals"]["balanced"]
        if lost or not all(c.passed for c in self.checks):
            return 1
        return NOTHING_FOR_A_GLOB if self.unmatched else 0


def day_globs(patterns: tuple[str, ...], day: dt.date) -> list[str]:
    """`/logs/{date:%Y/%m/%d}/*.gz` -> `/logs/2026/11/23/*.gz`."""
    globs = []
    for pattern in patterns:
        try:
            globs.append(pattern.format_map({"date": day}))
        except (KeyError, ValueError, IndexError, AttributeError):
            raise LogshroudError(
                f"daily.inputs: {pattern}: only {{date}} or {{date:<strftime>}} may be in braces"
            ) from None
    return globs


def run(config: Config, day: dt.date | None = None, as_of: dt.datetime | None = None,
        beam_args: list[str] = ()) -> Daily:  # fmt: skip
    """Ingest the day's inputs, sweep and verify, all at `as_of` (default: the clock)."""
    if not config.daily.inputs:
        raise LogshroudError(f"{config.source}: daily.inputs: no input globs configured")
    as_of = as_of or dt.datetime.now(dt.timezone.utc)
    day = day or as_of.date() - dt.timedelta(days=1)
    storage.configure(config.storage.s3)
    globs = day_globs(config.daily.inputs, day)
    matched = [g for g in globs if storage.match(storage.absolute(g))]
    manifest = ingest.run(config, matched, as_of, beam_args) if matched else None
    swept = sweep.run(config, as_of)
    checks = verify.run(config, as_of)
    return Daily(day, [g for g in globs if g not in matched], manifest, swept, checks)


def report(daily: Daily) -> str:
    lines = [f"daily {daily.day} as of {iso_time(daily.sweep.as_of)}"]
    lines += [f"  no file matches {glob}" for glob in daily.unmatched]
    lines.append(ingest.summary(daily.manifest) if daily.manifest else "ingest: nothing to ingest")
    lines.append(sweep.summary(daily.sweep, dry_run=False))
    lines.append(verify.text(daily.checks, daily.sweep.as_of))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """`logshroud daily`: see the module docstring for the exit codes."""
    parser = job_parser("logshroud daily", __doc__)
    parser.add_argument(
        "--date", type=dt.date.fromisoformat, help="the day to ingest (default: the day before --as-of)"
    )
    args, beam_args = parser.parse_known_args(argv)
    daily = run(load_config(args.config), args.date, parse_as_of(args), beam_args)
    print(report(daily))
    return daily.exit_code
