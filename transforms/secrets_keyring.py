"""The keyring in AWS Secrets Manager: for workers that share no disk (Dataflow, Flink, Kubernetes).

One secret per epoch, named `<prefix><epoch start>` (`logshroud/keys/2026-11-23`), holding the
key as the file keyring stores it:

    {"id": "k20261123-3f9a0c", "not_before": "2026-11-23", "not_after": "2026-11-30",
     "created": "2026-11-24T03:00:00Z", "destroyed": null, "secret": "<64 hex>"}

Workers agree on an epoch's key because creating a secret is atomic: the worker whose
`CreateSecret` succeeds made the key, the others read it. Destroying a key first writes its
tombstone, `<prefix><epoch start>.destroyed` (the same fields without the secret), then
deletes the key's secret, every version of it, without a recovery window. From the tombstone
on the epoch never gets a key again, and a destruction cut short is finished by the next.
Credentials come from boto3's standard chain; errors name the secret, never its value.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

from transforms.keyring import Key, KeyringError, KeyStore, key_entry, key_from_entry

_TOMBSTONE = ".destroyed"
# Attempts per request with boto3's exponential backoff, as for S3: rides out throttling,
# reports a dead endpoint within seconds.
_MAX_ATTEMPTS = 4


class SecretsManagerKeyring(KeyStore):
    def __init__(self, prefix: str, epoch_days: int, region: str | None = None, endpoint_url: str | None = None):
        super().__init__(epoch_days)
        self.prefix = prefix
        self.region = region
        self.endpoint_url = endpoint_url

    @property
    def location(self) -> str:
        return f"secretsmanager:{self.prefix}"

    def keys(self) -> list[Key]:
        starts = {name[len(self.prefix) :].removesuffix(_TOMBSTONE) for name in self._names()}
        self._by_start = {start: key for start in starts if (key := self._stored(start)) is not None}
        return sorted(self._by_start.values(), key=lambda k: k.not_before)

    def _obtain(self, start: str) -> Key:
        key = self._stored(start)
        if key is not None:
            return key
        key = self.new_key(start)
        if self._create(self.prefix + start, key_entry(key)):
            return key
        raced = self._stored(start)  # another worker created it first
        if raced is None:
            raise KeyringError(f"{self.location}{start}: secret exists but cannot be read (being deleted?)")
        return raced

    def _destroy(self, key: Key) -> None:
        self._create(self.prefix + key.not_before + _TOMBSTONE, key.public())
        name = self.prefix + key.not_before
        self._call(name, "delete", lambda c: c.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True),
                   missing_ok=True)  # fmt: skip

    def _stored(self, start: str) -> Key | None:
        """The epoch's key as stored, marked destroyed if its tombstone exists; None if neither does."""
        tombstone = self._get(self.prefix + start + _TOMBSTONE)
        key = self._get(self.prefix + start)
        if tombstone is None:
            return key
        return dataclasses.replace(key or tombstone, destroyed=tombstone.destroyed)

    def _get(self, name: str) -> Key | None:
        found = self._call(name, "read", lambda c: c.get_secret_value(SecretId=name), missing_ok=True)
        if found is None:
            return None
        try:
            entry = json.loads(found["SecretString"])
            return key_from_entry({"secret": None, **entry})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise KeyringError(f"{self.location}: secret {name} malformed: {type(error).__name__}") from None

    def _create(self, name: str, entry: dict) -> bool:
        """Create a secret; False if one of that name exists already."""
        text = json.dumps(entry)
        return self._call(name, "create", lambda c: c.create_secret(Name=name, SecretString=text),
                          exists_ok=True) is not None  # fmt: skip

    def _names(self) -> list[str]:
        def list_all(client) -> list[str]:
            pages = client.get_paginator("list_secrets").paginate(Filters=[{"Key": "name", "Values": [self.prefix]}])
            return [s["Name"] for page in pages for s in page["SecretList"]]

        # The service matches the filter as a case-blind prefix: keep exactly ours.
        return [name for name in self._call(self.prefix, "list", list_all) if name.startswith(self.prefix)]

    @cached_property
    def _client(self):
        import boto3
        from botocore.config import Config

        config = Config(retries={"max_attempts": _MAX_ATTEMPTS, "mode": "standard"}, connect_timeout=5)
        return boto3.session.Session().client(
            "secretsmanager", region_name=self.region, endpoint_url=self.endpoint_url, config=config
        )

    def _call(self, name: str, action: str, call: Callable[[Any], Any], missing_ok: bool = False,
              exists_ok: bool = False) -> Any:  # fmt: skip
        """One request; None for a missing secret or an existing one when that is fine; else one clear line."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

        where = f"secretsmanager:{name}"
        try:
            return call(self._client)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            # A secret being deleted reads as InvalidRequestException until it is gone.
            if missing_ok and code in ("ResourceNotFoundException", "InvalidRequestException"):
                return None
            if exists_ok and code == "ResourceExistsException":
                return None
            raise KeyringError(f"{where}: cannot {action} secret ({code})") from None
        except NoRegionError:
            raise KeyringError(f"{where}: no AWS region (set keys.region or AWS_DEFAULT_REGION)") from None
        except NoCredentialsError:
            raise KeyringError(f"{where}: no AWS credentials found") from None
        except BotoCoreError as error:
            raise KeyringError(f"{where}: cannot {action} secret ({type(error).__name__})") from None
