"""Keys: list, rotate and destroy the HMAC keys of the keyring the config names (file or AWS Secrets Manager).

    logshroud keys list    [--config F] [--as-of T]
    logshroud keys rotate  [--config F] [--as-of T]
    logshroud keys destroy KEY_ID [--config F] [--as-of T]

`list` shows every key, living or destroyed, with its epoch and when it is due for
destruction; never a secret. `rotate` makes the keys of the epoch holding `--as-of` and
of the next epoch, if they do not exist yet: run it before an epoch begins, and workers
that share no disk (Dataflow, Flink, Kubernetes) find the key made rather than race to
make it. `destroy` destroys one key now, whatever its age (a key suspected leaked),
coarsens the anonymised partitions of its epoch at once, and records both in the audit
zone, as the sweep does when a key's time comes.
"""

from __future__ import annotations

import argparse
import datetime as dt

from pipelines.ingest import new_run_id, zone_uris
from pipelines.job_options import add_config_and_as_of, parse_as_of
from pipelines.sweep import Sweep, coarsenings, execute, key_destruction, summary
from transforms.config import Config, load_config
from transforms.keyring import Key, KeyStore, epoch_numbers, open_keyring
from transforms.retention import zone_partitions


def listing(keys: list[Key], retention_days: int, as_of: dt.datetime) -> list[str]:
    """One line per key, oldest epoch first: id, epoch, created, and destroyed or due."""
    lines = []
    for key in keys:
        due = key.due(retention_days)
        if key.secret is None:
            state = f"destroyed {key.destroyed or '(time not recorded)'}"
        elif key.overdue(retention_days, as_of.date()):
            state = f"living, past its retention since {due}: the next sweep destroys it"
        else:
            state = f"living, due for destruction {due}"
        lines.append(f"{key.id}  {key.not_before}..{key.not_after}  created {key.created}  {state}")
    return lines


def rotate(keyring: KeyStore, as_of: dt.datetime) -> list[Key]:
    """Make the keys of the epoch holding `as_of` and of the next one; return those newly made."""
    existing = keyring.keys()
    before = {k.id for k in existing}
    epoch = int(epoch_numbers(int(as_of.timestamp()), keyring.epoch_days))
    return [key for key in (keyring.ensure(epoch), keyring.ensure(epoch + 1)) if key.id not in before]


def destroy(config: Config, keyring: KeyStore, key_id: str, as_of: dt.datetime) -> Sweep:
    """Destroy a key now and coarsen its epoch's anonymised partitions, each action recorded."""
    found = keyring.find(key_id)
    key = found.as_destroyed(as_of)
    actions = []
    if found.secret is not None:
        rule = {"setting": "keys destroy", "value": key_id}
        actions.append(key_destruction(key, config.keys.retention_days, rule, "destroyed on request"))
    for partition in zone_partitions("anonymised", zone_uris(config)["anonymised"]):
        actions += coarsenings(partition, [key], config)
    sweep = Sweep(new_run_id(dt.datetime.now(dt.timezone.utc)), as_of, actions)
    execute(config, sweep, keyring, job="keys destroy")
    return sweep


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logshroud keys", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("list", "every key, living or destroyed"), ("rotate", "make this epoch's and the next key"),
                       ("destroy", "destroy one key now and coarsen its partitions")):  # fmt: skip
        command = add_config_and_as_of(commands.add_parser(name, help=text))
        if name == "destroy":
            command.add_argument("key_id", metavar="KEY_ID")
    return parser


def main(argv: list[str]) -> int:
    """`logshroud keys list | rotate | destroy KEY_ID`: exit 0 when done."""
    args = arguments().parse_args(argv)
    config, now = load_config(args.config), parse_as_of(args)
    keyring = open_keyring(config.keys)
    if args.command == "list":
        keys = keyring.keys()
        print(f"{keyring.location}: {len(keys)} key(s)")
        print("\n".join(listing(keys, config.keys.retention_days, now)))
    elif args.command == "rotate":
        made = rotate(keyring, now)
        print(f"{keyring.location}: {len(made)} key(s) made")
        print("\n".join(listing(made, config.keys.retention_days, now)))
    else:
        print(summary(destroy(config, keyring, args.key_id, now), dry_run=False))
    return 0
