"""One storage helper for local folders and S3-compatible object storage.

Every zone and every input is a URI: a local path, or `s3://bucket/prefix` on AWS,
MinIO, Ceph or any S3-compatible store. The same functions list, read, write, move
and delete on both; other schemes Beam knows (`gs://`) go through Beam's file systems.

S3 connection settings (endpoint, region, TLS verification, addressing style) come
from the config's `storage.s3` section via `configure`; credentials only from
boto3's standard chain (environment, shared profile, instance role), never from a
config file. Every failure is a `StorageError` whose one-line message says what and
where, and never holds a credential.
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from typing import BinaryIO

from transforms.errors import LogshroudError


class StorageError(LogshroudError):
    pass


@dataclass(frozen=True)
class StoredFile:
    path: str
    size: int


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None = None  # default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then AWS itself
    region: str | None = None
    verify_tls: bool = True
    addressing_style: str = "auto"  # auto | path | virtual
    # Attempts per request, with boto3's standard exponential backoff between them:
    # enough to ride out a throttling burst, few enough that a dead endpoint is
    # reported within seconds rather than minutes.
    max_attempts: int = 4
    connect_timeout: float = 5.0


_settings = S3Settings()


def configure(settings: S3Settings) -> None:
    """Set the S3 connection settings of this process (each worker calls it in its setup)."""
    global _settings
    _settings = settings


def is_local(uri: str) -> bool:
    return "://" not in uri


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def absolute(uri: str) -> str:
    """A local path made absolute (workers may run elsewhere); URIs as they are, without a trailing slash."""
    return os.path.abspath(uri) if is_local(uri) else uri.rstrip("/")


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- listing ---------------------------------------------------------------------------------------------


def match(pattern: str) -> list[StoredFile]:
    """Files matching a path or glob (`*` and `?` within a folder, `**` across), sorted by path."""
    if is_s3(pattern) and not _split(pattern)[0]:
        raise StorageError(f"{pattern}: no bucket in the URI")
    if is_s3(pattern):
        bucket, key = _split(pattern)
        fixed = re.split(r"[*?\[]", key, maxsplit=1)[0]
        if fixed == key:  # no wildcard: the object itself
            return [f for f in _s3_list(bucket, key) if f.path == pattern]
        wanted = _glob_regex(key)
        return [f for f in _s3_list(bucket, fixed) if wanted.fullmatch(_split(f.path)[1])]
    if is_local(pattern):
        return _local_match(pattern)
    return _beam_match(pattern)


def list_tree(prefix: str) -> list[StoredFile]:
    """Every file below a folder or prefix, at any depth, sorted by path."""
    if is_s3(prefix):
        bucket, key = _split(prefix)
        return _s3_list(bucket, key.rstrip("/") + "/" if key else "")
    if is_local(prefix):
        files = []
        for folder, _, names in os.walk(prefix):
            files += [StoredFile(p, os.path.getsize(p)) for p in (os.path.join(folder, n) for n in names)]
        return sorted(files, key=lambda f: f.path)
    return _beam_match(join(prefix, "**"))


def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    translated = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(translated.get(p, re.escape(p)) for p in parts))


def _local_match(pattern: str) -> list[StoredFile]:
    paths = glob.glob(pattern, recursive=True) if any(c in pattern for c in "*?[") else [pattern]
    return sorted((StoredFile(p, os.path.getsize(p)) for p in paths if os.path.isfile(p)), key=lambda f: f.path)


# --- reading and writing ---------------------------------------------------------------------------------


def open_read(path: str) -> BinaryIO:
    """The stored bytes as they are, seekable; decompression is the reader's choice, by suffix."""
    if is_s3(path):
        return io.BufferedReader(_S3Reader(path), buffer_size=1024 * 1024)
    if is_local(path):
        try:
            return open(path, "rb")
        except OSError as error:
            raise StorageError(f"{path}: cannot open: {error.strerror}") from None
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def read_bytes(path: str) -> bytes:
    with open_read(path) as source:
        return source.read()


def write_bytes(path: str, data: bytes) -> StoredFile:
    """Write a whole file; on S3 one PUT, so the object appears complete or not at all."""
    if is_s3(path):
        bucket, key = _split(path)
        _s3_call(path, "write", lambda c: c.put_object(Bucket=bucket, Key=key, Body=data))
    elif is_local(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.tmp-{os.getpid()}"
        with open(temporary, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    else:
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.create(path) as out:
            out.write(data)
    return StoredFile(path, len(data))


def move(pairs: list[tuple[str, str]]) -> None:
    """Move files into place: a rename on local disk, a server-side copy and delete on S3."""
    for source, destination in pairs:
        if is_s3(source):
            (src_bucket, src_key), (bucket, key) = _split(source), _split(destination)
            request = {"Bucket": bucket, "Key": key, "CopySource": {"Bucket": src_bucket, "Key": src_key}}
            _s3_call(destination, "write", lambda c, r=request: c.copy_object(**r))
        elif is_local(source):
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            os.replace(source, destination)
        else:
            from apache_beam.io.filesystems import FileSystems

            FileSystems.rename([source], [destination])
    delete([s for s, _ in pairs if is_s3(s)])


def delete(paths: list[str]) -> None:
    s3 = [p for p in paths if is_s3(p)]
    for path in paths:
        if is_local(path):
            os.remove(path)
    by_bucket: dict[str, list[str]] = {}
    for path in s3:
        bucket, key = _split(path)
        by_bucket.setdefault(bucket, []).append(key)
    for bucket, keys in by_bucket.items():
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = {"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True}
            _s3_call(f"s3://{bucket}", "delete", lambda c, b=bucket, d=batch: c.delete_objects(Bucket=b, Delete=d))
    other = [p for p in paths if not is_local(p) and not is_s3(p)]
    if other:
        from apache_beam.io.filesystems import FileSystems

        FileSystems.delete(other)


def remove_tree(prefix: str) -> None:
    """Delete every file below a folder or prefix, and a local folder itself."""
    delete([f.path for f in list_tree(prefix)])
    if is_local(prefix) and os.path.isdir(prefix):
        shutil.rmtree(prefix)


def check_bucket(uri: str) -> None:
    """Fail now, with one clear line, if an S3 location cannot be reached: before a run, not in its middle."""
    if is_s3(uri):
        bucket, _ = _split(uri)
        _s3_call(uri, "reach", lambda c: c.head_bucket(Bucket=bucket))


# --- S3 --------------------------------------------------------------------------------------------------


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


@lru_cache(maxsize=8)
def _client(settings: S3Settings):
    import boto3
    from botocore.config import Config

    endpoint = settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
        connect_timeout=settings.connect_timeout,
        s3={"addressing_style": settings.addressing_style},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=settings.region, verify=settings.verify_tls, config=config
    )


def _endpoint() -> str:
    return _client(_settings).meta.endpoint_url


def _s3_call(uri: str, action: str, call):
    """Run one S3 request; every failure becomes one line that says what and where, without secrets."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    try:
        return call(_client(_settings))
    except (NoCredentialsError, PartialCredentialsError):
        raise StorageError(
            f"{uri}: no S3 credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
            "or run with an instance role)"
        ) from None
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError):
        raise StorageError(
            f"{uri}: S3 endpoint {_endpoint()} unreachable (gave up after {_settings.max_attempts} attempts)"
        ) from None
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        bucket = _split(uri)[0]
        if code in ("NoSuchBucket",) or (action == "reach" and status == 404):
            raise StorageError(f"{uri}: bucket {bucket} does not exist") from None
        if code in ("NoSuchKey", "404") or status == 404:
            raise StorageError(f"{uri}: no such object") from None
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"):
            raise StorageError(f"{uri}: S3 rejected the credentials ({code})") from None
        if code in ("AccessDenied", "403", "AllAccessDisabled") or status == 403:
            raise StorageError(f"{uri}: access denied (cannot {action} bucket {bucket})") from None
        raise StorageError(f"{uri}: S3 error {code or status} on {action}") from None


def _s3_list(bucket: str, prefix: str) -> list[StoredFile]:
    def list_all(client):
        files = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            files += [StoredFile(f"s3://{bucket}/{o['Key']}", o["Size"]) for o in page.get("Contents", [])]
        return files

    return sorted(_s3_call(f"s3://{bucket}/{prefix}", "list", list_all), key=lambda f: f.path)


class _S3Reader(io.RawIOBase):
    """An S3 object as a seekable stream: one GET from the current position, reopened after a seek."""

    def __init__(self, path: str):
        self.path = path
        self.bucket, self.key = _split(path)
        head = _s3_call(path, "read", lambda c: c.head_object(Bucket=self.bucket, Key=self.key))
        self.size = head["ContentLength"]
        self.position = 0
        self.body = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        if base + offset != self.position and self.body is not None:
            self.body.close()
            self.body = None
        self.position = base + offset
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= self.size:
            return 0
        if self.body is None:
            get = {"Bucket": self.bucket, "Key": self.key, "Range": f"bytes={self.position}-"}
            self.body = _s3_call(self.path, "read", lambda c: c.get_object(**get))["Body"]
        data = self.body.read(len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
        super().close()


def _beam_match(pattern: str) -> list[StoredFile]:
    from apache_beam.io.filesystems import FileSystems

    try:
        results = FileSystems.match([pattern])[0].metadata_list
    except Exception as error:  # Beam wraps every backend's failure in its own types
        raise StorageError(f"{pattern}: cannot list: {type(error).__name__}") from None
    return sorted((StoredFile(m.path, m.size_in_bytes) for m in results), key=lambda f: f.path)
