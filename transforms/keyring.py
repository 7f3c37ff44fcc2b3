"""The HMAC keyring: one random 256-bit key per epoch, in a file only its owner can read.

    {"version": 1, "keys": [{"id": "k20261123-3f9a0c", "not_before": "2026-11-23",
      "not_after": "2026-11-30", "created": "2026-11-24T03:00:00Z", "secret": "<64 hex>"}]}

Epochs start on Mondays (00:00 UTC) so weekly keys line up with calendar weeks.
A key is created the first time an event of its epoch is seen, under a file lock,
so parallel workers on one machine agree on it. Key material never leaves this
module except as the bytes handed to HMAC: `repr` and errors name key ids only.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

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

    def __repr__(self) -> str:
        return f"Key({self.id}, {self.not_before}..{self.not_after})"


class Keyring:
    def __init__(self, path: str | Path, epoch_days: int):
        self.path = Path(path)
        self.epoch_days = epoch_days
        self._by_start: dict[str, Key] = {}

    def key_for_epoch(self, epoch: int) -> tuple[str, bytes] | None:
        """(key id, secret) of the epoch, creating the key on first use; None if destroyed."""
        start = epoch_start(epoch, self.epoch_days).isoformat()
        key = self._by_start.get(start)
        if key is None:
            key = self._create(start)
        return None if key.secret is None else (key.id, key.secret)

    def keys(self) -> list[Key]:
        self._by_start = self._read()
        return sorted(self._by_start.values(), key=lambda k: k.not_before)

    def _create(self, start: str) -> Key:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self._lock_path(), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._by_start = self._read()
            if start not in self._by_start:
                first = dt.date.fromisoformat(start)
                self._by_start[start] = Key(
                    id=f"k{first:%Y%m%d}-{secrets.token_hex(3)}",
                    not_before=start,
                    not_after=(first + dt.timedelta(days=self.epoch_days)).isoformat(),
                    created=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    secret=secrets.token_bytes(32),
                )
                self._write()
        return self._by_start[start]

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
                secret = entry["secret"]
                keys[entry["not_before"]] = Key(
                    id=entry["id"],
                    not_before=entry["not_before"],
                    not_after=entry["not_after"],
                    created=entry["created"],
                    secret=bytes.fromhex(secret) if secret else None,
                )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # The message names the path and the kind of fault, never a value: values may be secrets.
            raise KeyringError(f"{self.path}: keyring malformed: {type(error).__name__}") from None
        return keys

    def _write(self) -> None:
        entries = [
            {
                "id": k.id,
                "not_before": k.not_before,
                "not_after": k.not_after,
                "created": k.created,
                "secret": k.secret.hex() if k.secret else None,
            }
            for k in sorted(self._by_start.values(), key=lambda k: k.not_before)
        ]
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"version": 1, "keys": entries}, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
