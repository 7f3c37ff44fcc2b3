"""Reading access logs into chunks of lines: Arrow string arrays of up to `chunk_lines` lines.

A file is read as one stream, decompressed by its suffix (`.gz`, `.bz2`, `.zst`;
concatenated gzip members and bzip2 streams and multi-frame zstd all read whole),
and cut at newlines, so every chunk knows the number of its first line.

Bytes are decoded as UTF-8 with U+FFFD for what is not, so no line can fail a
bundle. A damaged stream (a truncated `.gz`, say) keeps every line before the
damage: the bytes after the last newline become a final line marked as the
damaged tail, and the damage itself is described on the chunk for the manifest.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import apache_beam as beam
import numpy as np
import pyarrow as pa
import zstandard
from apache_beam.metrics import Metrics

from transforms import storage
from transforms.slicing import padded, slices

# Decompressed bytes read per call: big enough to amortise Python's per-call cost,
# small enough to keep the reader's own buffer a rounding error next to a chunk.
_READ_BYTES = 4 * 1024 * 1024
# A chunk is closed at this many bytes even before `chunk_lines` lines, so a log of
# very long lines still yields chunks of bounded size.
_CHUNK_BYTES = 64 * 1024 * 1024

_NEWLINE = ord("\n")
_STREAM_ERRORS = (EOFError, OSError, zlib.error, zstandard.ZstdError)


@dataclass
class LogChunk:
    source: str
    index: int  # 0, 1, ... within the source
    first_line: int  # 1-based number of the chunk's first line in the source
    lines: pa.Array  # string, one element per line, without the line end
    last: bool = False  # the source's final chunk
    damage: str | None = None  # on the final chunk: what broke the stream, if anything
    damaged_tail: bool = False  # the final line is the cut-off bytes before the damage

    @property
    def source_id(self) -> str:
        return source_id(self.source)


def source_id(source: str) -> str:
    """A stable short name for an input, used in output file names so re-runs replace their files."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def open_log(path: str) -> BinaryIO:
    raw = storage.open_read(path)
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if path.endswith(".bz2"):
        return bz2.BZ2File(raw, mode="rb")
    if path.endswith(".zst"):
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
    return raw


def _describe(error: Exception, offset: int) -> str:
    kind = type(error).__name__
    text = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{kind} after {offset} decompressed bytes" + (f": {text}" if text else "")


class _DamagedStream(Exception):
    def __init__(self, cause: Exception, partial: bytes):
        self.cause, self.partial = cause, partial


def _read_block(stream: BinaryIO) -> bytes:
    """About `_READ_BYTES` of decompressed bytes; b"" at the end.

    `read1` hands over what each step decompressed, so when a stream breaks the
    bytes before the break are still ours (`read(n)` would drop them with the error).
    """
    read = getattr(stream, "read1", stream.read)
    parts: list[bytes] = []
    size = 0
    while size < _READ_BYTES:
        try:
            part = read(_READ_BYTES - size)
        except _STREAM_ERRORS as error:
            raise _DamagedStream(error, b"".join(parts)) from None
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def valid_utf8(complete: bytes) -> bytes:
    """The block with each line that is no UTF-8 decoded with U+FFFD for its bad bytes.

    Only the lines holding an error are re-coded; the rest is checked at the
    decoder's full speed (a 'replace' decode of a whole block is many times slower).
    """
    view = memoryview(complete)
    fixed: list[bytes] = []
    position = 0
    while True:
        try:
            str(view[position:], "utf-8")
        except UnicodeDecodeError as error:
            bad = position + error.start
            start = complete.rfind(b"\n", 0, bad) + 1
            end = complete.find(b"\n", bad)
            end = len(complete) if end < 0 else end
            fixed += [complete[position:start], complete[start:end].decode("utf-8", "replace").encode()]
            position = end
            continue
        if not fixed:
            return complete
        fixed.append(complete[position:])
        return b"".join(fixed)


def split_lines(complete: bytes) -> pa.Array:
    """Lines of a block that ends in a newline, as a string array, without the newlines.

    Cut with numpy at the newline bytes; bytes that are no UTF-8 (rare) are first
    replaced with U+FFFD, so the array is valid and no line can fail a bundle.
    """
    complete = valid_utf8(complete)
    raw = np.frombuffer(complete, dtype=np.uint8)
    ends = np.flatnonzero(raw == _NEWLINE)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return slices(*padded(complete), starts, ends)


def read_chunks(path: str, chunk_lines: int) -> Iterator[LogChunk]:
    """Yield the file's lines as chunks; always at least one chunk (empty for an empty file)."""
    index = 0
    first_line = 1
    pending: list[pa.Array] = []  # lines split but not yet emitted
    pending_lines = pending_bytes = 0
    carry = b""  # bytes after the last newline seen
    offset = 0
    damage = None
    with open_log(path) as stream:
        while not damage:
            try:
                block = _read_block(stream)
            except _DamagedStream as error:
                damage = _describe(error.cause, offset + len(error.partial))
                block = error.partial
            if not block:
                break
            offset += len(block)
            cut = block.rfind(b"\n")
            if cut < 0:
                carry += block
                continue
            complete, carry = carry + block[: cut + 1], block[cut + 1 :]
            lines = split_lines(complete)
            pending.append(lines)
            pending_lines += len(lines)
            pending_bytes += len(complete)
            while pending_lines >= chunk_lines or pending_bytes >= _CHUNK_BYTES:
                joined = pa.concat_arrays(pending)
                take = min(chunk_lines, len(joined))
                yield LogChunk(path, index, first_line, joined.slice(0, take))
                index += 1
                first_line += take
                rest = joined.slice(take)
                pending, pending_lines = [rest], len(rest)
                # Proportional estimate: the byte cap bounds memory, it need not be exact.
                pending_bytes = pending_bytes * len(rest) // len(joined)
    if carry:
        pending.append(split_lines(carry + b"\n"))
    yield LogChunk(
        path,
        index,
        first_line,
        pa.concat_arrays(pending) if pending else pa.array([], pa.string()),
        last=True,
        damage=damage,
        damaged_tail=damage is not None and bool(carry),
    )


class ReadLogChunks(beam.DoFn):
    """Input file path -> LogChunk elements."""

    def __init__(self, chunk_lines: int):
        self.chunk_lines = chunk_lines
        self.files = Metrics.counter("read", "files")
        self.damaged = Metrics.counter("read", "damaged_files")

    def process(self, path: str) -> Iterator[LogChunk]:
        self.files.inc()
        for chunk in read_chunks(path, self.chunk_lines):
            if chunk.damage:
                self.damaged.inc()
            yield chunk
