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
import itertools
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import zstandard
from apache_beam.metrics import Metrics

from transforms import storage
from transforms.schema import ArrowElementCoder
from transforms.slicing import PADDING, count_bytes, padded, where

# Decompressed bytes read and cut into lines at a time; a chunk never spans two
# reads, so this also bounds a chunk's size. Big enough that per-chunk costs vanish.
_READ_BYTES = 16 * 1024 * 1024
# Bytes a range scan reads at a time, into the one buffer it keeps.
_SCAN_BYTES = 4 * 1024 * 1024
_NEWLINE, _HASH = ord("\n"), ord("#")
_STREAM_ERRORS = (EOFError, OSError, zlib.error, zstandard.ZstdError)
# W3C extended logs name their columns in a directive line, and may do so again mid-file:
# every chunk is handed the last one before it (see `LogChunk.fields_directive`).
FIELDS_DIRECTIVE = "#Fields:"
_FIELDS_LINE = b"\n" + FIELDS_DIRECTIVE.encode()
_DIRECTIVE_BYTES = 64 * 1024  # far beyond any real `#Fields:` line
_PADDING_BYTES = bytes(PADDING)


@dataclass
class LogChunk:
    source: str
    range_index: int  # which range of the source (0 for a source read whole)
    index: int  # 0, 1, ... within the range
    first_line: int  # 1-based number of the chunk's first line in the source
    lines: pa.Array  # string, one element per line, each with its line end (`\n`, `\r\n`) if it had one
    last: bool = False  # the range's final chunk
    damage: str | None = None  # on the final chunk: what broke the stream, if anything
    damaged_tail: bool = False  # the final line is the cut-off bytes before the damage
    fields_directive: str | None = None  # the last `#Fields:` line before the chunk (W3C logs name their columns)

    @property
    def source_id(self) -> str:
        return source_id(self.source)

    @property
    def part(self) -> str:
        """The chunk's name in output file names: unique within its source, the same on every run."""
        return f"{self.range_index:04d}-{self.index:05d}"

    @property
    def nbytes(self) -> int:
        return self.lines.nbytes

    def __repr__(self) -> str:  # never the lines: they hold client addresses
        return f"LogChunk({self.source_id}, {self.part}, {len(self.lines)} lines)"


beam.coders.registry.register_coder(LogChunk, ArrowElementCoder)


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
    """The block with each line that is no UTF-8 decoded with U+FFFD for its bad bytes."""
    fixes = _utf8_fixes(complete)
    return _recoded(complete, fixes).tobytes() if fixes else complete


Block = bytes | np.ndarray  # a block of lines: as read, or joined (uint8, see `joined`)


def joined(*parts: Block | memoryview) -> np.ndarray:
    """The parts one after the other, as one new uint8 array.

    numpy copies without Python's GIL, where `bytes.join` holds it: joining a 16 MB block
    (and taking the kernel's faults on its fresh memory) no longer stops the other worker
    threads, which a sample of an ingest found holding the GIL for 0.3 s of 1,000,000 lines.
    """
    return np.concatenate([np.frombuffer(part, dtype=np.uint8) for part in parts])


def _utf8_fixes(complete: Block, line_ends: np.ndarray | None = None) -> list[tuple[int, int, bytes]]:
    """(start, end, the line re-coded) of each line of the block that is no UTF-8, in order.

    Only lines holding non-ASCII bytes can be bad. When they are few (the usual case, even
    in a log with a stray byte in every block), each is checked on its own; when they are
    many, the block is first checked whole at the decoder's full speed. Bad lines are
    re-coded one by one (a 'replace' decode of a whole block is many times slower).
    """
    raw = np.frombuffer(complete, dtype=np.uint8)
    if raw.max(initial=0) < 0x80:  # the usual case, checked at memory speed
        return []
    ends = line_ends if line_ends is not None else _line_ends(raw)
    line_starts = np.r_[0, ends[ends < len(complete)], len(complete)]
    suspects = np.unique(np.searchsorted(line_starts, where(raw, lambda piece: piece >= 0x80), side="right") - 1)
    whole = memoryview(complete)
    if len(suspects) > _FEW_SUSPECT_LINES:
        try:
            str(whole, "utf-8")
            return []
        except UnicodeDecodeError:
            pass
    fixes = []
    for start, end in zip(line_starts[suspects].tolist(), line_starts[suspects + 1].tolist(), strict=True):
        line = bytes(whole[start:end])
        try:
            str(line, "utf-8")
        except UnicodeDecodeError:
            fixes.append((start, end, line.decode("utf-8", "replace").encode()))
    return fixes


def _recoded(complete: Block, fixes: list[tuple[int, int, bytes]]) -> Block:
    """The block with its bad lines replaced; the block itself when there are none."""
    if not fixes:
        return complete
    whole = memoryview(complete)  # slices of it copy nothing: the join copies each byte once
    parts, position = [], 0
    for start, end, line in fixes:
        parts += [whole[position:start], line]
        position = end
    parts.append(whole[position:])
    return joined(*parts)


def _moved(ends: np.ndarray, fixes: list[tuple[int, int, bytes]]) -> np.ndarray:
    """Line ends once the fixes are made: each moves by what the re-coded lines before it grew."""
    fixed_ends = np.array([end for _, end, _ in fixes], dtype=np.int64)
    growth = np.cumsum([0] + [len(line) - (end - start) for start, end, line in fixes])
    return ends + growth[np.searchsorted(fixed_ends, ends, side="right")]


# Non-ASCII lines checked one by one, at most; more and the whole block is decoded first.
_FEW_SUSPECT_LINES = 2048


def _line_ends(raw: np.ndarray) -> np.ndarray:
    """Positions just after each newline byte, ascending (int64)."""
    ends = where(raw, lambda piece: piece == _NEWLINE)
    ends += 1
    return ends


def split_lines(complete: Block, size: int | None = None) -> pa.Array:
    """Lines of a block that ends in a newline, each with its line end, as a string array.

    The block is `complete[:size]` (all of it without `size`). When `PADDING` bytes follow
    it there (the reader reads blocks so), the array points into `complete` itself, else
    into a padded copy (see `transforms.slicing`): parsing reads it in place. Bytes that
    are no UTF-8 (rare) are first replaced with U+FFFD, so the array is valid and no line
    can fail a bundle.
    """
    size = len(complete) if size is None else size
    ends = _line_ends(np.frombuffer(complete, dtype=np.uint8, count=size))
    fixes = _utf8_fixes(complete, ends)  # what follows the block is ASCII padding, or nothing
    if fixes:  # replacement characters moved the lines; the padding stays at the end
        valid = _recoded(complete, fixes)
        size += len(valid) - len(complete)
        complete, ends = valid, _moved(ends, fixes)
    buffer = pa.py_buffer(complete) if len(complete) - size >= PADDING else padded(complete[:size])[0]
    offsets = np.concatenate([[0], ends]).astype(np.int32)
    return pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets), buffer)


@dataclass(frozen=True)
class Range:
    """The part of an input one worker reads: the lines that *start* in [start, end).

    Plain files above `input.range_bytes` are split into equal ranges of at most that
    size, so workers share them; a compressed file is one range (`end` None), since it
    can only be read from its beginning.
    """

    path: str
    index: int
    start: int = 0
    end: int | None = None


_COMPRESSED = (".gz", ".bz2", ".zst")


def plan_ranges(inputs: list[storage.StoredFile], range_bytes: int) -> list[Range]:
    ranges = []
    for stored in inputs:
        if stored.path.endswith(_COMPRESSED) or stored.size <= range_bytes:
            ranges.append(Range(stored.path, 0))
            continue
        count = -(-stored.size // range_bytes)  # ranges of equal size, so that workers finish together
        edges = [stored.size * i // count for i in range(count + 1)]
        ranges += [Range(stored.path, i, s, e) for i, (s, e) in enumerate(itertools.pairwise(edges))]
    return ranges


class RangeScan(NamedTuple):
    lines: int  # lines starting in the range
    fields_directive: str | None  # the last `#Fields:` line starting in it


def count_lines(rng: Range) -> int:
    """How many lines start inside the range."""
    return scan_range(rng).lines


def scan_range(rng: Range, directives: bool = True) -> RangeScan:
    """Lines starting inside the range, and the last `#Fields:` directive among them, in one pass.

    A line starts at 0 and after each newline but the last byte, so the newlines in
    [start - 1, end - 1) start the range's lines; a few bytes more are read to see
    whether the last of them starts a directive. Without `directives` (a format that
    has none: only W3C logs do) the lines are only counted.
    """
    with storage.open_read(rng.path) as stream:
        begin = max(rng.start - 1, 0)
        stream.seek(begin)
        counted = rng.end - 1 - begin
        count = 1 if rng.start == 0 and rng.end > 0 else 0
        tail = b"" if rng.start else b"\n"  # a directive on the file's first line has no newline before it
        directive_at = None  # file offset of the newline before the last directive
        position = begin
        overlap = len(_FIELDS_LINE) - 1  # bytes a directive can have in the block before
        stop = rng.end - 1 + (overlap if directives else 0)  # a directive whose newline is in the range is read whole
        buffer = bytearray(min(_SCAN_BYTES, max(stop - position, 0)))  # read into again and again
        while position < stop:
            size = _read_into(stream, memoryview(buffer)[: stop - position])
            if not size:
                break
            raw = np.frombuffer(buffer, np.uint8, count=size)
            count += count_bytes(raw[: max(counted - (position - begin), 0)], _NEWLINE)
            if directives:
                # The last directive: in the block, else across the joint with the block before. Only
                # a `#` that starts a line can start one: most blocks have none and need no search.
                # (numpy rather than bytes methods: it lets other worker threads run meanwhile.)
                hashes = where(raw, lambda piece: piece == _HASH)
                line_start = (hashes == 0) | (raw[np.maximum(hashes - 1, 0)] == _NEWLINE)
                found = buffer.rfind(_FIELDS_LINE, 0, size) if line_start.any() else -1
                if found >= 0:
                    directive_at = position + found
                elif (found := (tail + buffer[: min(overlap, size)]).rfind(_FIELDS_LINE)) >= 0:
                    directive_at = position - len(tail) + found
                tail = (tail + buffer[max(size - overlap, 0) : size])[-overlap:]
            position += size
        if directive_at is None:
            return RangeScan(count, None)
        stream.seek(directive_at + 1)
        return RangeScan(
            count, stream.read(_DIRECTIVE_BYTES).split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
        )


def _read_into(stream: BinaryIO, target: memoryview) -> int:
    """Bytes read into `target` (fewer at the end); one buffer serves every block of a scan."""
    if hasattr(stream, "readinto"):
        return stream.readinto(target) or 0
    data = stream.read(len(target))
    target[: len(data)] = data
    return len(data)


def _first_owned_line(stream: BinaryIO, start: int) -> int:
    """Position of the first line starting at or after `start`, the stream left there."""
    if start == 0:
        return 0
    stream.seek(start - 1)
    position = start - 1
    while True:
        block = stream.read(64 * 1024)
        if not block:
            return position
        newline = block.find(b"\n")
        if newline >= 0:
            position += newline + 1
            stream.seek(position)
            return position
        position += len(block)


def read_chunks(path: str, chunk_lines: int, rng: Range | None = None, first_line: int = 1,
                fields_directive: str | None = None, directives: bool = True) -> Iterator[LogChunk]:  # fmt: skip
    """Yield the lines of a file, or of one range of it, as chunks; always at least one chunk.

    `fields_directive` is the `#Fields:` line in force where the range starts. Without
    `directives` (a format that has none) no chunk is searched for `#Fields:` lines.
    """
    rng = rng or Range(path, 0)
    index = 0
    carry = b""  # bytes after the last newline seen
    offset = 0  # bytes read from the (decompressed) stream so far
    damage = None
    pending: pa.Array | None = None
    with open_log(path) if rng.end is None else storage.open_read(path) as stream:
        limit = None
        if rng.end is not None:
            offset = _first_owned_line(stream, rng.start)
            limit = rng.end - offset  # lines starting before this many bytes from here are ours
        consumed = 0
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
            # One copy, with the padding that lets the lines' array point into it.
            complete, carry = joined(carry, memoryview(block)[: cut + 1], _PADDING_BYTES), block[cut + 1 :]
            size = len(complete) - PADDING
            lines = split_lines(complete, size)
            range_ends = limit is not None and consumed + size >= limit
            if range_ends:  # keep the lines that start before the range's end, then stop
                starts = np.frombuffer(lines.buffers()[1], dtype=np.int32)[: len(lines)]
                lines = lines.slice(0, int(np.searchsorted(starts, limit - consumed)))
                carry = b""
            consumed += size
            if pending is not None:  # held back one block, so the last can carry the damage
                fields_directive = yield from _emit(path, rng, pending, chunk_lines, first_line, index,
                                                    fields_directive, directives)  # fmt: skip
                first_line, index = first_line + len(pending), index + _chunk_count(pending, chunk_lines)
            pending = lines
            if range_ends:
                break
    if carry and (limit is None or consumed < limit):  # a last line without newline, if it starts in the range
        tail = split_lines(carry + b"\n")
        pending = tail if pending is None else pa.concat_arrays([pending, tail])
    if pending is None:
        pending = pa.array([], pa.string())
    yield from _emit(path, rng, pending, chunk_lines, first_line, index, last=True, damage=damage,
                     damaged_tail=damage is not None and bool(carry), fields_directive=fields_directive,
                     directives=directives)  # fmt: skip


def _chunk_count(lines: pa.Array, chunk_lines: int) -> int:
    return max(1, -(-len(lines) // chunk_lines))


def _emit(path: str, rng: Range, lines: pa.Array, chunk_lines: int, first_line: int, index: int,
          fields_directive: str | None = None, directives: bool = True, last: bool = False,
          damage: str | None = None, damaged_tail: bool = False) -> Generator[LogChunk, None, str | None]:  # fmt: skip
    """The lines of one block as chunks of at most `chunk_lines` lines (zero-copy slices).

    Returns the `#Fields:` directive in force after the block.
    """
    count = _chunk_count(lines, chunk_lines)
    for k in range(count):
        final = last and k == count - 1
        chunk = lines.slice(k * chunk_lines, chunk_lines)
        yield LogChunk(
            path, rng.index, index + k, first_line + k * chunk_lines, chunk,
            last=final, damage=damage if final else None, damaged_tail=damaged_tail and final,
            fields_directive=fields_directive,
        )  # fmt: skip
        if directives:
            fields_directive = last_fields_directive(chunk, fields_directive)
    return fields_directive


def last_fields_directive(lines: pa.Array, before: str | None) -> str | None:
    """The last `#Fields:` line among the lines, without its line end; `before` if there is none."""
    found = np.flatnonzero(pc.starts_with(lines, FIELDS_DIRECTIVE).to_numpy(zero_copy_only=False))
    return lines[int(found[-1])].as_py().rstrip("\r\n") if len(found) else before


def fields_in_force(last_directives: dict[tuple[str, int], str | None]) -> dict[tuple[str, int], str | None]:
    """(path, range index) -> the `#Fields:` line in force where the range starts, from each range's last one."""
    in_force: dict[tuple[str, int], str | None] = {}
    for path, index in sorted(last_directives):
        previous = (path, index - 1)
        in_force[(path, index)] = (last_directives.get(previous) or in_force.get(previous)) if index else None
    return in_force


def first_lines(line_counts: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """(path, range index) -> number of the range's first line, from each range's line count."""
    numbers = {}
    for path, index in sorted(line_counts):
        previous = (path, index - 1)
        numbers[(path, index)] = numbers[previous] + line_counts[previous] if index else 1
    return numbers


def range_start(scans: dict[tuple[str, int], RangeScan], rng: Range) -> tuple[int, str | None]:
    """(number of the range's first line, the `#Fields:` line in force there), from the scans of its file's ranges."""
    if rng.end is None:  # a file read whole
        return 1, None
    key = (rng.path, rng.index)
    mine = {k: scan for k, scan in scans.items() if k[0] == rng.path}
    numbers = first_lines({k: scan.lines for k, scan in mine.items()})
    directives = fields_in_force({k: scan.fields_directive for k, scan in mine.items()})
    return numbers[key], directives[key]


class ScanRanges(beam.DoFn):
    """Range of a split file -> ((path, range index), RangeScan): its lines and its last `#Fields:` line.

    A whole file (`end` None) has nothing to scan: no range follows it. `directives`: whether
    the format has `#Fields:` lines to look for (W3C logs).
    """

    def __init__(self, s3: storage.S3Settings, directives: bool = True):
        self.s3 = s3
        self.directives = directives

    def setup(self) -> None:
        storage.configure(self.s3)

    def process(self, rng: Range):
        if rng.end is not None:
            yield (rng.path, rng.index), scan_range(rng, self.directives)


class ReadLogChunks(beam.DoFn):
    """Range -> LogChunk elements.

    `scans` holds the scan of every range of the split files (see `range_start`): where
    each starts in line numbers, and which `#Fields:` line is in force there.
    `directives`: whether the format has `#Fields:` lines (W3C logs).
    """

    def __init__(self, chunk_lines: int, s3: storage.S3Settings, directives: bool = True):
        self.chunk_lines = chunk_lines
        self.s3 = s3
        self.directives = directives
        self.ranges = Metrics.counter("read", "ranges")
        self.damaged = Metrics.counter("read", "damaged_files")

    def setup(self) -> None:
        storage.configure(self.s3)

    def process(self, rng: Range, scans: dict[tuple[str, int], RangeScan]) -> Iterator[LogChunk]:
        self.ranges.inc()
        first, fields = range_start(scans, rng)
        for chunk in read_chunks(rng.path, self.chunk_lines, rng, first, fields, self.directives):
            if chunk.damage:
                self.damaged.inc()
            yield chunk
