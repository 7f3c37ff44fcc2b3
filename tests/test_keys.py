"""Keys: destruction for good, the AWS Secrets Manager keyring (on a real local endpoint), and `logshroud keys`."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import boto3
import pytest

from pipelines import verify
from tests.test_keyring import SECRET_HEX, WEEK_OF_2026_11_23, key_entry, keyring_document, mode_of, write_keyring
from tests.test_sweep import DAYS, ingest_week, read, records, retention_workspace
from transforms.config import ConfigError, Keys, parse_config
from transforms.keyring import Key, Keyring, KeyringError, open_keyring
from transforms.secrets_keyring import SecretsManagerKeyring

UTC = dt.timezone.utc
LOGSHROUD = [sys.executable, "-m", "pipelines.cli"]
WHEN = dt.datetime(2027, 2, 21, 3, 0, tzinfo=UTC)


# --- a key's age --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "not_before, retention_days, today, due, overdue",
    [
        ("2026-11-23", 90, "2027-02-20", "2027-02-21", False),
        ("2026-11-23", 90, "2027-02-21", "2027-02-21", True),
        ("2026-11-23", 7, "2026-11-30", "2026-11-30", True),
        ("2026-11-23", 14, "2026-11-30", "2026-12-07", False),
    ],
    ids=["the day before it is due", "the day it is due", "a week's key kept a week", "kept two weeks"],
)  # fmt: skip
def test_key_age_counts_from_its_epochs_first_day(not_before: str, retention_days: int, today: str, due: str,
                                                 overdue: bool) -> None:  # fmt: skip
    key = Key("k1", not_before, "2026-11-30", "2026-11-24T03:00:00Z", bytes(32))
    assert key.due(retention_days).isoformat() == due
    assert key.overdue(retention_days, dt.date.fromisoformat(today)) is overdue
    assert not Key("k1", not_before, "2026-11-30", "x", None, "y").overdue(retention_days, dt.date(2099, 1, 1))


@pytest.mark.parametrize(
    "document, message",
    [
        ({"keys": {"backend": "vault"}}, "keys.backend: expected one of file, aws_secrets_manager, got 'vault'"),
        ({"keys": {"epoch_days": 14, "retention_days": 7}}, "keys.retention_days: 7 is shorter than keys.epoch_days (14)"),
        ({"raw_retention": "shred"}, "raw_retention: expected one of keep, delete, got 'shred'"),
        ({"anonymised_retention_days": 0}, "anonymised_retention_days: expected an integer from 1 to 36500, got 0"),
        ({"daily": {"inputs": "logs/*.gz"}}, "daily.inputs: expected a list of strings, got 'logs/*.gz'"),
    ],
    ids=["unknown backend", "keys destroyed while in use", "unknown raw retention", "zero-day retention",
         "one glob, not a list"],
)  # fmt: skip
def test_retention_settings_are_checked(document: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(document, "inline")
    assert str(raised.value) == f"inline: {message}"


def test_retention_settings_read() -> None:
    config = parse_config({"anonymised_retention_days": 400, "raw_retention": "delete",
                           "anonymise": {"long_term_ipv4_prefix": 8}, "daily": {"inputs": ["/l/{date}.log"]}}, "x")  # fmt: skip
    assert (config.anonymised_retention_days, config.raw_retention) == (400, "delete")
    assert (config.anonymise.long_term_ipv4_prefix, config.anonymise.long_term_ipv6_prefix) == (8, 32)
    assert config.daily.inputs == ("/l/{date}.log",)
    assert parse_config({"anonymised_retention_days": None}, "x").anonymised_retention_days is None


# --- the file keyring ---------------------------------------------------------------------------------------


def test_destroyed_key_is_gone_for_good_and_its_id_and_dates_stay(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    keyring = Keyring(path, 7)
    key_id, secret = keyring.key_for_epoch(WEEK_OF_2026_11_23)
    keyring.key_for_epoch(WEEK_OF_2026_11_23 + 1)

    destroyed = Keyring(path, 7).destroy(key_id, WHEN)

    assert (destroyed.id, destroyed.secret, destroyed.destroyed) == (key_id, None, "2027-02-21T03:00:00Z")
    entries = keyring_document(path)["keys"]
    assert entries[0] == {**entries[0], "id": key_id, "not_before": "2026-11-23", "not_after": "2026-11-30",
                          "secret": None, "destroyed": "2027-02-21T03:00:00Z"}  # fmt: skip
    assert entries[1]["secret"] is not None and entries[1]["destroyed"] is None
    assert secret.hex() not in path.read_text() and mode_of(path) == 0o600
    again = Keyring(path, 7)
    assert again.key_for_epoch(WEEK_OF_2026_11_23) is None  # never a new key for a destroyed epoch
    assert again.destroy(key_id, WHEN + dt.timedelta(days=1)).destroyed == "2027-02-21T03:00:00Z"
    assert len(keyring_document(path)["keys"]) == 2


def test_destroying_an_unknown_key_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    write_keyring(path, key_entry())
    with pytest.raises(KeyringError) as raised:
        Keyring(path, 7).destroy("k20260101-000000", WHEN)
    assert str(raised.value) == f"{path}: no key k20260101-000000"
    assert keyring_document(path)["keys"][0]["secret"] == SECRET_HEX


# --- AWS Secrets Manager, on the local endpoint ---------------------------------------------------------------


@pytest.fixture
def secrets_keys(s3_endpoint: str) -> Keys:
    """Keys settings for the endpoint's Secrets Manager, under a name prefix of this test's own."""
    return Keys(backend="aws_secrets_manager", secrets_prefix=f"test-{uuid.uuid4().hex[:8]}/keys/",
                region="us-east-1", endpoint_url=s3_endpoint, epoch_days=7, retention_days=14)  # fmt: skip


def secrets_client(endpoint: str):
    return boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")


def secret_names(endpoint: str, prefix: str) -> list[str]:
    listed = secrets_client(endpoint).list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"]
    return sorted(s["Name"] for s in listed)


def test_secrets_manager_keyring_makes_one_key_per_epoch(s3_endpoint: str, secrets_keys: Keys) -> None:
    keyring = open_keyring(secrets_keys)
    assert isinstance(keyring, SecretsManagerKeyring)
    first = keyring.key_for_epoch(WEEK_OF_2026_11_23)
    assert first is not None and len(first[1]) == 32
    assert open_keyring(secrets_keys).key_for_epoch(WEEK_OF_2026_11_23) == first  # read back, not made again
    assert open_keyring(secrets_keys).key_for_epoch(WEEK_OF_2026_11_23 + 1)[0] != first[0]
    prefix = secrets_keys.secrets_prefix
    assert secret_names(s3_endpoint, prefix) == [f"{prefix}2026-11-23", f"{prefix}2026-11-30"]
    stored = json.loads(secrets_client(s3_endpoint).get_secret_value(SecretId=f"{prefix}2026-11-23")["SecretString"])
    assert stored == {"id": first[0], "not_before": "2026-11-23", "not_after": "2026-11-30", "created": stored["created"],
                      "destroyed": None, "secret": first[1].hex()}  # fmt: skip


def test_parallel_workers_agree_on_one_secrets_manager_key(secrets_keys: Keys) -> None:
    answers, barrier = [], threading.Barrier(4)

    def worker() -> None:
        keyring = open_keyring(secrets_keys)
        barrier.wait(timeout=30)
        answers.append(keyring.key_for_epoch(WEEK_OF_2026_11_23))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 4 and len(set(answers)) == 1


def test_secrets_manager_destruction_deletes_the_secret_and_leaves_a_tombstone(s3_endpoint: str,
                                                                               secrets_keys: Keys) -> None:  # fmt: skip
    keyring = open_keyring(secrets_keys)
    key_id, secret = keyring.key_for_epoch(WEEK_OF_2026_11_23)
    destroyed = keyring.destroy(key_id, WHEN)
    assert (destroyed.secret, destroyed.destroyed) == (None, "2027-02-21T03:00:00Z")

    prefix, client = secrets_keys.secrets_prefix, secrets_client(s3_endpoint)
    assert secret_names(s3_endpoint, prefix) == [f"{prefix}2026-11-23.destroyed"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_secret_value(SecretId=f"{prefix}2026-11-23")
    tombstone = client.get_secret_value(SecretId=f"{prefix}2026-11-23.destroyed")["SecretString"]
    assert secret.hex() not in tombstone and json.loads(tombstone)["id"] == key_id
    again = open_keyring(secrets_keys)
    assert again.key_for_epoch(WEEK_OF_2026_11_23) is None
    (stored,) = again.keys()
    assert (stored.id, stored.secret, stored.destroyed) == (key_id, None, "2027-02-21T03:00:00Z")
    assert secret_names(s3_endpoint, prefix) == [f"{prefix}2026-11-23.destroyed"]


def test_a_destruction_cut_short_is_finished_by_the_next(s3_endpoint: str, secrets_keys: Keys) -> None:
    """Tombstone written, secret not yet deleted: the key makes no token and counts as living until destroyed."""
    keyring = open_keyring(secrets_keys)
    key_id, _ = keyring.key_for_epoch(WEEK_OF_2026_11_23)
    prefix = secrets_keys.secrets_prefix
    tombstone = {"id": key_id, "not_before": "2026-11-23", "not_after": "2026-11-30", "created": "x", "destroyed": "y"}
    secrets_client(s3_endpoint).create_secret(Name=f"{prefix}2026-11-23.destroyed", SecretString=json.dumps(tombstone))
    (key,) = open_keyring(secrets_keys).keys()
    assert key.secret is not None and not key.usable and key.overdue(14, dt.date(2026, 12, 7))
    assert open_keyring(secrets_keys).key_for_epoch(WEEK_OF_2026_11_23) is None
    open_keyring(secrets_keys).destroy(key_id, WHEN)
    assert secret_names(s3_endpoint, prefix) == [f"{prefix}2026-11-23.destroyed"]


def test_secrets_manager_errors_are_one_line(secrets_keys: Keys) -> None:
    dead = Keys(**{**secrets_keys.__dict__, "endpoint_url": "http://127.0.0.1:9"})
    with pytest.raises(KeyringError) as raised:
        open_keyring(dead).key_for_epoch(WEEK_OF_2026_11_23)
    assert str(raised.value) == (
        f"secretsmanager:{dead.secrets_prefix}2026-11-23.destroyed: cannot read secret (EndpointConnectionError)"
    )
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


# --- logshroud keys -----------------------------------------------------------------------------------------


def run_keys(ws, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*LOGSHROUD, "keys", *argv, "--config", str(ws.config_path)], capture_output=True,
                          text=True, cwd=ws.root)  # fmt: skip


def test_keys_rotate_list_and_destroy(tmp_path: Path) -> None:
    ws = retention_workspace(tmp_path)
    rotated = run_keys(ws, "rotate", "--as-of", "2026-11-25T02:00:00Z")
    assert rotated.returncode == 0, rotated.stderr
    made = rotated.stdout.splitlines()
    assert made[0].endswith(": 2 key(s) made")
    assert [line.split()[1] for line in made[1:]] == ["2026-11-23..2026-11-30", "2026-11-30..2026-12-07"]
    assert run_keys(ws, "rotate", "--as-of", "2026-11-25T02:00:00Z").stdout.splitlines()[0].endswith(": 0 key(s) made")

    ingest_week(ws)  # events of 18..24 Nov: the 16 Nov epoch's key is made by the ingest
    listed = run_keys(ws, "list", "--as-of", "2026-12-01T02:00:00Z")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].endswith(": 3 key(s)")
    assert lines[1].endswith("living, past its retention since 2026-11-30: the next sweep destroys it")
    assert lines[2].endswith("living, due for destruction 2026-12-07")
    stored = open_keyring(ws.config.keys).keys()
    secrets = [k.secret.hex() for k in stored if k.secret]
    assert len(secrets) == 3 and not [s for s in secrets if s in listed.stdout + rotated.stdout]

    first_id = lines[1].split()[0]
    destroyed = run_keys(ws, "destroy", first_id, "--as-of", "2026-11-26T02:00:00Z")
    assert destroyed.returncode == 0, destroyed.stderr
    out = destroyed.stdout.splitlines()
    assert "11 deletion record(s) written" in out[0]  # the key, then 5 days of client windows and of requests
    assert out[1] == f"  destroy key {first_id} (epoch 2026-11-16..2026-11-23): destroyed on request"
    assert [line.split()[1] for line in out[2:]] == [
        f"anonymised/{dataset}/dt={d}:" for dataset in ("client_windows", "requests") for d in DAYS[:5]
    ]
    written = records(ws)
    assert written[0]["job"] == "keys destroy" and written[0]["rule"] == {"setting": "keys destroy", "value": first_id}
    assert {r["client_token"] for r in read(ws, "anonymised").to_pylist() if str(r["dt"]) < "2026-11-23"} == {None}
    checks = {c.name: c.passed for c in verify.run(ws.config, dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC))}
    assert checks["destroyed_keys_coarsened"] and checks["manifests_match_files"] and checks["no_address_or_email"]
    assert run_keys(ws, "list").stdout.splitlines()[1].endswith("destroyed 2026-11-26T02:00:00Z")

    unknown = run_keys(ws, "destroy", "k20260101-000000")
    assert unknown.returncode == 2
    assert unknown.stderr == f"logshroud: error: {ws.config.keys.path}: no key k20260101-000000\n"
