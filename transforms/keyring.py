"""The HMAC keyring: one random 256-bit key per epoch, in a file only its owner can read.

    {"version": 1, "keys": [{"id": "k20261123-3f9a0c", "not_before": "2026-11-23",
      "not_after": "2026-11-30", "created": "2026-11-24T03:00:00Z", "secret": "<64 hex>"}]}

Epochs start on Mondays (00:00 UTC) so weekly keys line up with calendar weeks.
A key is created the first time an event of its epoch is seen, under a file lock,
so parallel workers on one machine agree on it. Once past its retention the sweep
destroys it: `"secret": null` and `"destroyed": "<when>"`, id and dates kept. Key
material never leaves this module (or `secrets_keyring`, the AWS Secrets Manager
backend) except as the bytes handed to HMAC: `repr` and errors name key ids only.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from transforms.config import Keys
from transforms.errors import LogshroudError

_MONDAY = dt.date(1970, 1, 5)
_EPOCH_SECONDS_ORIGIN = (_MONDAY - dt.date(1970, 1, 1)).days * 86400


class KeyringError(LogshroudError):
    pass


def epoch_numbers(unix_seconds, epoch_days: int):
    """Epoch number of each timestamp (numpy int64 seconds since 1970 UTC)."""
    return (unix_seconds - _EPOCH_SECONDS_ORIGIN) // (epoch_days * 86400)


def epoch_start(epoch: int, epoch_days: int) -> dt.date:
    return _MONDAY + dt.timedelta(days=epoch * epoch_days)


@dataclass(frozen=True)
class Key:
    id: str
    not_before: str
    not_after: str
    created: str
    secret: bytes | None  # None once destroyed
    destroyed: str | None = None  # when it was destroyed (ISO 8601 UTC); None while it lives

    def __repr__(self) -> str:
        return f"Key({self.id}, {self.not_before}..{self.not_after})"

    @property
    def usable(self) -> bool:
        """Whether tokens may be made with it: its secret is there and no one has destroyed it."""
        return self.secret is not None and self.destroyed is None

    def due(self, retention_days: int) -> dt.date:
        """The day from which the key is past its retention: its age counts from its epoch's first day."""
        return dt.date.fromisoformat(self.not_before) + dt.timedelta(days=retention_days)

    def as_destroyed(self, when: dt.datetime) -> Key:
        """The key without its secret, destroyed at `when` (or when it already was)."""
        return dataclasses.replace(self, secret=None, destroyed=self.destroyed or _iso(when))

    def overdue(self, retention_days: int, today: dt.date) -> bool:
        """Whether the secret still exists on or after the day it was due for destruction."""
        return self.secret is not None and self.due(retention_days) <= today

    def covers(self, day: str) -> bool:
        """Whether events of the UTC day `YYYY-MM-DD` were tokenised with this key."""
        return self.not_before <= day < self.not_after

    def public(self) -> dict:
        """Everything about the key but its secret: what records and listings show."""
        return {"id": self.id, "not_before": self.not_before, "not_after": self.not_after, "created": self.created,
                "destroyed": self.destroyed}  # fmt: skip


class KeyStore(abc.ABC):
    """What every keyring does, wherever it keeps its keys: one key per epoch, made on first
    use and agreed on by parallel workers, destroyed for good when its time comes.

    A backend supplies `keys`, `_obtain` (the key of an epoch, created atomically if there is
    none yet) and `_destroy` (the secret gone, id and dates kept, so the epoch never gets a
    new key: a late event of that epoch gets no token rather than a linkable one).
    """

    def __init__(self, epoch_days: int):
        self.epoch_days = epoch_days
        self._by_start: dict[str, Key] = {}

    def key_for_epoch(self, epoch: int) -> tuple[str, bytes] | None:
        """(key id, secret) of the epoch, creating the key on first use; None if destroyed."""
        key = self.ensure(epoch)
        return (key.id, key.secret) if key.usable else None

    def ensure(self, epoch: int) -> Key:
        """The key of the epoch, created if there is none yet (destroyed keys stay destroyed)."""
        start = epoch_start(epoch, self.epoch_days).isoformat()
        if start not in self._by_start:
            self._by_start[start] = self._obtain(start)
        return self._by_start[start]

    def find(self, key_id: str) -> Key:
        """The key of that id, living or destroyed; a KeyringError if there is none."""
        for key in self.keys():
            if key.id == key_id:
                return key
        raise KeyringError(f"{self.location}: no key {key_id}")

    def destroy(self, key_id: str, when: dt.datetime) -> Key:
        """Destroy the key's secret for good; its id and dates stay. A destroyed key is left as it is."""
        key = self.find(key_id)
        if key.secret is None and key.destroyed is not None:
            return key
        destroyed = key.as_destroyed(when)
        self._destroy(destroyed)
        self._by_start[key.not_before] = destroyed
        return destroyed

    def new_key(self, start: str) -> Key:
        """A fresh key for the epoch starting `start` (`YYYY-MM-DD`): 256 random bits, not yet stored."""
        first = dt.date.fromisoformat(start)
        return Key(
            id=f"k{first:%Y%m%d}-{secrets.token_hex(3)}",
            not_before=start,
            not_after=(first + dt.timedelta(days=self.epoch_days)).isoformat(),
            created=_iso(dt.datetime.now(dt.timezone.utc)),
            secret=secrets.token_bytes(32),
        )

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the keys live, for messages: a path or a secret name prefix, never a secret."""

    @abc.abstractmethod
    def keys(self) -> list[Key]:
        """Every key, living and destroyed, oldest epoch first."""

    @abc.abstractmethod
    def _obtain(self, start: str) -> Key:
        """The key of the epoch starting `start`, as stored, or created and stored if there is none."""

    @abc.abstractmethod
    def _destroy(self, key: Key) -> None:
        """Store `key` (no secret, `destroyed` set) in place of the living one, its secret gone for good."""


class Keyring(KeyStore):
    """The local keyring: one JSON file, mode 0600, changed under a file lock."""

    def __init__(self, path: str | Path, epoch_days: int):
        super().__init__(epoch_days)
        self.path = Path(path)

    @property
    def location(self) -> str:
        return str(self.path)

    def keys(self) -> list[Key]:
        self._by_start = self._read()
        return sorted(self._by_start.values(), key=lambda k: k.not_before)

    def _obtain(self, start: str) -> Key:
        with self._locked():
            if start not in self._by_start:
                self._by_start[start] = self.new_key(start)
                self._write()
        return self._by_start[start]

    def _destroy(self, key: Key) -> None:
        with self._locked():
            self._by_start[key.not_before] = key
            self._write()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The file lock held, and the keyring as it is on disk read into `_by_start`."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self._lock_path(), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._by_start = self._read()
            yield

    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _read(self) -> dict[str, Key]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise KeyringError(f"{self.path}: keyring unreadable: {type(error).__name__}") from None
        try:
            keys = {}
            for entry in document["keys"]:
                keys[entry["not_before"]] = key_from_entry(entry)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # The message names the path and the kind of fault, never a value: values may be secrets.
            raise KeyringError(f"{self.path}: keyring malformed: {type(error).__name__}") from None
        return keys

    def _write(self) -> None:
        entries = [key_entry(k) for k in sorted(self._by_start.values(), key=lambda k: k.not_before)]
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"version": 1, "keys": entries}, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)


def key_entry(key: Key) -> dict:
    """A key as stored: its public fields and its secret as hex (null once destroyed)."""
    return {**key.public(), "secret": key.secret.hex() if key.secret else None}


def key_from_entry(entry: dict) -> Key:
    """A stored entry back to a Key; KeyError, TypeError or ValueError when it is malformed."""
    secret = entry["secret"]
    return Key(
        id=entry["id"],
        not_before=entry["not_before"],
        not_after=entry["not_after"],
        created=entry["created"],
        secret=bytes.fromhex(secret) if secret else None,
        destroyed=entry.get("destroyed"),
    )


def open_keyring(keys: Keys) -> KeyStore:
    """The keyring the config names: the local file, or AWS Secrets Manager."""
    if keys.backend == "aws_secrets_manager":
        from transforms.secrets_keyring import SecretsManagerKeyring

        return SecretsManagerKeyring(keys.secrets_prefix, keys.epoch_days, keys.region, keys.endpoint_url)
    return Keyring(keys.path, keys.epoch_days)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
