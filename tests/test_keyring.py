"""The HMAC keyring: epochs, key files only their owner reads, destroyed keys, unreadable files, parallel workers."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest

from transforms.keyring import Key, Keyring, KeyringError, epoch_numbers, epoch_start

UTC = dt.timezone.utc
WEEK_OF_2026_11_23 = 2968  # (2026-11-23 - 1970-01-05) = 20776 days = 2968 weeks
SECRET_HEX = "5e" * 32


def unix_seconds(*when: int) -> int:
    return int(dt.datetime(*when, tzinfo=UTC).timestamp())


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def keyring_document(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_keyring(path: Path, *keys: dict) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "keys": list(keys)}), encoding="utf-8")


def key_entry(not_before: str = "2026-11-23", secret: str | None = SECRET_HEX) -> dict:
    first = dt.date.fromisoformat(not_before)
    return {
        "id": f"k{first:%Y%m%d}-abc123",
        "not_before": not_before,
        "not_after": (first + dt.timedelta(days=7)).isoformat(),
        "created": "2026-11-24T03:00:00Z",
        "secret": secret,
    }


# --- epochs -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "epoch_days, instant, epoch, start",
    [
        (7, unix_seconds(2026, 11, 22, 23, 59, 59), 2967, dt.date(2026, 11, 16)),
        (7, unix_seconds(2026, 11, 23, 0, 0, 0), 2968, dt.date(2026, 11, 23)),
        (7, unix_seconds(2026, 11, 29, 23, 59, 59), 2968, dt.date(2026, 11, 23)),
        (7, unix_seconds(1970, 1, 4, 23, 59, 59), -1, dt.date(1969, 12, 29)),
        (7, unix_seconds(1970, 1, 5, 0, 0, 0), 0, dt.date(1970, 1, 5)),
        (1, unix_seconds(2026, 11, 22, 23, 59, 59), 20775, dt.date(2026, 11, 22)),
        (1, unix_seconds(2026, 11, 23, 0, 0, 0), 20776, dt.date(2026, 11, 23)),
        (1, unix_seconds(2026, 11, 23, 23, 59, 59), 20776, dt.date(2026, 11, 23)),
    ],
    ids=[
        "week: Sunday 23:59:59 is last week", "week: Monday 00:00:00 starts a week",
        "week: next Sunday still this week",
        "week: before the first Monday of 1970", "week: first Monday of 1970 is epoch 0",
        "day: Sunday 23:59:59", "day: Monday 00:00:00 is the next day", "day: Monday 23:59:59 is still Monday",
    ],
)  # fmt: skip
def test_epoch_numbers_at_edges(epoch_days: int, instant: int, epoch: int, start: dt.date) -> None:
    numbers = epoch_numbers(np.array([instant, instant], np.int64), epoch_days)
    assert numbers.dtype == np.int64
    assert numbers.tolist() == [epoch, epoch]
    assert epoch_start(epoch, epoch_days) == start


@pytest.mark.parametrize("epoch", [-53, -1, 0, 1, 2967, WEEK_OF_2026_11_23, 5000], ids=lambda e: f"epoch {e}")
def test_weekly_epochs_start_on_monday(epoch: int) -> None:
    start = epoch_start(epoch, 7)
    assert start.weekday() == 0
    monday = unix_seconds(start.year, start.month, start.day)
    assert epoch_numbers(np.array([monday - 1, monday, monday + 7 * 86400 - 1]), 7).tolist() == [
        epoch - 1,
        epoch,
        epoch,
    ]


# --- the key file -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "umask, existing_mode",
    [(0o022, None), (0o000, None), (0o022, 0o644)],
    ids=["usual umask", "permissive umask", "existing world-readable file rewritten"],
)
def test_keyring_file_only_its_owner_can_read(tmp_path: Path, umask: int, existing_mode: int | None) -> None:
    path = tmp_path / "keys" / "keyring.json"
    if existing_mode is not None:
        write_keyring(path)
        path.chmod(existing_mode)
    previous = os.umask(umask)
    try:
        Keyring(path, 7).key_for_epoch(WEEK_OF_2026_11_23)
    finally:
        os.umask(previous)
    assert mode_of(path) == 0o600
    if existing_mode is None:
        assert mode_of(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_same_epoch_same_key_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    first = Keyring(path, 7).key_for_epoch(WEEK_OF_2026_11_23)
    again = Keyring(path, 7).key_for_epoch(WEEK_OF_2026_11_23)
    assert first is not None and len(first[1]) == 32
    assert again == first
    assert len(keyring_document(path)["keys"]) == 1


def test_next_epoch_gets_a_new_key(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "keys" / "keyring.json", 7)
    this_week = keyring.key_for_epoch(WEEK_OF_2026_11_23)
    next_week = keyring.key_for_epoch(WEEK_OF_2026_11_23 + 1)
    assert this_week is not None and next_week is not None
    assert this_week[0] != next_week[0] and this_week[1] != next_week[1]
    assert keyring.key_for_epoch(WEEK_OF_2026_11_23) == this_week
    stored = Keyring(keyring.path, 7).keys()
    assert [(k.not_before, k.not_after) for k in stored] == [
        ("2026-11-23", "2026-11-30"),
        ("2026-11-30", "2026-12-07"),
    ]


@pytest.mark.parametrize(
    "epoch_days, epoch, day, not_after",
    [
        (7, WEEK_OF_2026_11_23, "20261123", "2026-11-30"),
        (7, 0, "19700105", "1970-01-12"),
        (1, 20777, "20261124", "2026-11-25"),
    ],
    ids=["weekly", "first weekly epoch", "daily"],
)
def test_key_id_names_the_epoch_start(tmp_path: Path, epoch_days: int, epoch: int, day: str, not_after: str) -> None:
    keyring = Keyring(tmp_path / "keyring.json", epoch_days)
    key = keyring.key_for_epoch(epoch)
    assert key is not None
    assert re.fullmatch(rf"k{day}-[0-9a-f]{{6}}", key[0])
    (entry,) = keyring_document(keyring.path)["keys"]
    assert (entry["id"], entry["not_after"], entry["secret"]) == (key[0], not_after, key[1].hex())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["created"])


def test_key_repr_never_shows_the_secret(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "keyring.json", 7)
    keyring.key_for_epoch(WEEK_OF_2026_11_23)
    (key,) = keyring.keys()
    assert key.secret is not None
    for shown in (repr(key), str(key), f"{key}", repr([key]), repr({"k": key})):
        assert key.secret.hex() not in shown
        assert key.id in shown
    assert repr(Key("k1", "2026-11-23", "2026-11-30", "now", bytes.fromhex(SECRET_HEX))) == (
        "Key(k1, 2026-11-23..2026-11-30)"
    )


# --- destroyed keys and unreadable files ------------------------------------------------------------------------


def test_destroyed_key_gives_none_and_is_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    write_keyring(path, key_entry("2026-11-23", secret=None))
    before = keyring_document(path)
    assert Keyring(path, 7).key_for_epoch(WEEK_OF_2026_11_23) is None
    keyring = Keyring(path, 7)
    assert keyring.key_for_epoch(WEEK_OF_2026_11_23) is None
    assert keyring.key_for_epoch(WEEK_OF_2026_11_23) is None
    assert keyring_document(path)["keys"] == before["keys"]


def test_destroyed_key_leaves_other_epochs_alone(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    write_keyring(path, key_entry("2026-11-16", secret=None), key_entry("2026-11-23"))
    keyring = Keyring(path, 7)
    assert keyring.key_for_epoch(WEEK_OF_2026_11_23 - 1) is None
    assert keyring.key_for_epoch(WEEK_OF_2026_11_23) == ("k20261123-abc123", bytes.fromhex(SECRET_HEX))
    assert keyring.key_for_epoch(WEEK_OF_2026_11_23 + 1) is not None
    entries = keyring_document(path)["keys"]
    assert [(e["not_before"], e["secret"] is None) for e in entries] == [
        ("2026-11-16", True),
        ("2026-11-23", False),
        ("2026-11-30", False),
    ]


TRUNCATED = '{"version": 1, "keys": [{"id": "k20261123-abc123", "secret": "' + SECRET_HEX


@pytest.mark.parametrize(
    "content, fault",
    [
        (b"garbage", "keyring unreadable: JSONDecodeError"),
        (TRUNCATED.encode(), "keyring unreadable: JSONDecodeError"),
        (b"", "keyring unreadable: JSONDecodeError"),
        (b"\xff\xfe{}", "keyring unreadable: UnicodeDecodeError"),
        (b"[]", "keyring malformed: TypeError"),
        (b'{"keys": [{"secret": "' + SECRET_HEX.encode() + b'"}]}', "keyring malformed: KeyError"),
        (json.dumps({"keys": [key_entry(secret="zz" * 32)]}).encode(), "keyring malformed: ValueError"),
    ],
    ids=["not JSON", "truncated with a secret in it", "empty", "not UTF-8", "JSON list", "entry without fields",
         "secret not hex"],
)  # fmt: skip
def test_unreadable_keyring_raises_keyring_error(tmp_path: Path, content: bytes, fault: str) -> None:
    path = tmp_path / "keys" / "keyring.json"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(KeyringError) as raised:
        Keyring(path, 7).key_for_epoch(WEEK_OF_2026_11_23)
    message = str(raised.value)
    assert message == f"{path}: {fault}"
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    assert SECRET_HEX not in message and SECRET_HEX not in repr(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert path.read_bytes() == content  # an unreadable keyring is never replaced by a fresh one


# --- parallel workers -------------------------------------------------------------------------------------------


def create_key_after_barrier(path: str, barrier, results) -> None:
    barrier.wait(timeout=60)
    key = Keyring(path, 7).key_for_epoch(WEEK_OF_2026_11_23)
    results.put(None if key is None else (key[0], key[1].hex()))


def test_parallel_processes_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=create_key_after_barrier, args=(str(path), barrier, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    (entry,) = keyring_document(path)["keys"]
    assert answers == [(entry["id"], entry["secret"])] * 4
