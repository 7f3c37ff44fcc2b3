"""One storage helper for local folders and object storage URIs (`s3://`, `gs://`).

Everything goes through Beam's `FileSystems`, so a zone or an input is just a URI
and the same code lists, reads, writes, moves and deletes on every backend.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.errors import LogshroudError


class StorageError(LogshroudError):
    pass


@dataclass(frozen=True)
class StoredFile:
    path: str
    size: int


def is_local(uri: str) -> bool:
    return "://" not in uri


def absolute(uri: str) -> str:
    """A local path made absolute (workers may run elsewhere); URIs as they are."""
    return os.path.abspath(uri) if is_local(uri) else uri.rstrip("/")


def join(base: str, *parts: str) -> str:
    return FileSystems.join(base.rstrip("/"), *parts)


def match(pattern: str) -> list[StoredFile]:
    """Files matching a path or glob, sorted by path; empty if none."""
    try:
        results = FileSystems.match([pattern])[0].metadata_list
    except Exception as error:  # Beam wraps every backend's failure in its own types
        raise StorageError(f"{pattern}: cannot list: {_reason(error)}") from None
    return sorted((StoredFile(m.path, m.size_in_bytes) for m in results), key=lambda f: f.path)


def list_tree(prefix: str) -> list[StoredFile]:
    """Every file below a folder or prefix, at any depth."""
    if is_local(prefix) and not os.path.isdir(prefix):
        return []
    return match(join(prefix, "**"))


def open_read(path: str) -> BinaryIO:
    """The stored bytes as they are; decompression is the reader's choice, by suffix."""
    try:
        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    except Exception as error:
        raise StorageError(f"{path}: cannot open: {_reason(error)}") from None


def write_bytes(path: str, data: bytes) -> StoredFile:
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as out:
        out.write(data)
    return StoredFile(path, len(data))


def read_bytes(path: str) -> bytes:
    with open_read(path) as source:
        return source.read()


def move(pairs: list[tuple[str, str]]) -> None:
    """Move files into place (a rename on local disk, copy and delete on object storage)."""
    if not pairs:
        return
    for _, destination in pairs:
        if is_local(destination):
            os.makedirs(os.path.dirname(destination), exist_ok=True)
    FileSystems.rename([s for s, _ in pairs], [d for _, d in pairs])


def delete(paths: list[str]) -> None:
    if paths:
        FileSystems.delete(paths)


def remove_tree(prefix: str) -> None:
    """Delete every file below a folder or prefix, and a local folder itself."""
    delete([f.path for f in list_tree(prefix)])
    if is_local(prefix) and os.path.isdir(prefix):
        shutil.rmtree(prefix)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _reason(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:300]
