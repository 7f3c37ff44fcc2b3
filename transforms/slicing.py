"""Cutting string arrays out of byte buffers with numpy: the vectorised core of reading and parsing.

A chunk of lines is one buffer of bytes and an array of offsets. Finding delimiter
bytes there (`np.flatnonzero(raw == ord('"'))`) and cutting fields as string views
into the same buffer costs a few numpy operations per field for the whole chunk,
where Python would spend microseconds per line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# A string_view element holds up to 12 bytes inline; longer ones point into a buffer.
_INLINE = 12
# Zero bytes after a chunk's data: the widest fixed read past a position (a
# string_view's inline bytes, a CLF time) never leaves the array.
PADDING = 32
_NEWLINE, _RETURN = ord("\n"), ord("\r")
# Bytes tested at a time when searching a chunk. The test's mask of a piece stays in
# the CPU's cache, and its memory is reused for the next piece: a mask of a whole
# chunk (tens of MB) would be memory mapped and zeroed afresh by the kernel each time.
PIECE_BYTES = 1 << 20


def padded(data: bytes | pa.Buffer | None) -> tuple[pa.Buffer, np.ndarray]:
    """The bytes copied with `PADDING` zeros after them, as a buffer and as uint8."""
    size = 0 if data is None else len(data)
    raw = np.zeros(size + PADDING, dtype=np.uint8)
    if size:
        raw[:size] = np.frombuffer(data, dtype=np.uint8)
    return pa.py_buffer(raw), raw


@dataclass
class Positions:
    """Where each line of a chunk lies: line i is `raw[starts[i]:ends[i]]`, line end excluded."""

    buffer: pa.Buffer  # the bytes, zero-padded (see `padded`)
    raw: np.ndarray  # the same bytes as uint8
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64, before any `\r\n` or `\n`
    data_start: int  # where the first line starts (a slice of a block starts inside it)
    data_end: int  # where the lines' bytes end and the padding begins
    found: dict = field(default_factory=dict, repr=False)  # byte values -> their positions (see find_bytes), read-only

    @property
    def data(self) -> np.ndarray:
        """The lines' bytes, line ends included: `raw[data_start:data_end]`."""
        return self.raw[self.data_start : self.data_end]


def line_positions(lines: pa.Array) -> Positions:
    """The positions of a string array's lines, in its own buffer when that is padded.

    The reader builds its arrays over padded buffers, so for them this copies
    nothing; any other array (a slice's tail, a test's) is copied once into one.
    """
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1].astype(np.int64)
    if len(lines) == 0 or data is None:
        buffer, raw = padded(None)
        return Positions(buffer, raw, bounds[:-1] * 0, bounds[1:] * 0, 0, 0)
    if data.size >= bounds[-1] + PADDING:
        buffer, raw = data, np.frombuffer(data, dtype=np.uint8)
    else:
        buffer, raw = padded(data.slice(int(bounds[0]), int(bounds[-1] - bounds[0])))
        bounds = bounds - bounds[0]
    starts, ends = bounds[:-1], bounds[1:].copy()
    for line_end in (_NEWLINE, _RETURN):
        ends -= (ends > starts) & (raw[np.maximum(ends - 1, 0)] == line_end)
    return Positions(buffer, raw, starts, ends, int(bounds[0]), int(bounds[-1]))


def lines_holding(at: Positions, positions: np.ndarray) -> np.ndarray:
    """Boolean per line: does it hold one of these byte positions (line ends not counted)?"""
    held = np.zeros(len(at.starts), dtype=bool)
    if len(positions) and len(at.starts):
        line = np.searchsorted(at.starts, positions, side="right") - 1
        inside = (line >= 0) & (positions < at.ends[np.maximum(line, 0)])
        held[line[inside]] = True
    return held


def find_bytes(at: Positions, *values: int) -> np.ndarray:
    """Sorted positions of any of these byte values in the lines' bytes; each search is made once per chunk."""

    def test(piece: np.ndarray) -> np.ndarray:
        mask = piece == values[0]
        for value in values[1:]:
            mask |= piece == value
        return mask

    if values not in at.found:
        _keep(at, values, where(at.data, test) + at.data_start)
    return at.found[values]


_TAB = 9
_UNWRITTEN = "unwritten"  # the key of unwritten_bytes' positions in Positions.found


def unwritten_bytes(at: Positions) -> np.ndarray:
    """Positions of bytes no web server writes raw (it escapes them): C0 controls but tab, and DEL.

    Made once per chunk; the tabs found on the way are kept for `find_bytes(at, 9)`.
    """
    if _UNWRITTEN not in at.found:
        found = where(at.data, lambda piece: (piece < 32) | (piece == 127))  # mostly line ends: few to sort out
        tab = at.data[found] == _TAB
        _keep(at, (_TAB,), found[tab] + at.data_start)
        _keep(at, _UNWRITTEN, found[~tab] + at.data_start)
    return at.found[_UNWRITTEN]


def _keep(at: Positions, key, positions: np.ndarray) -> None:
    """Remember positions for the chunk, read-only: every caller shares the one array."""
    positions.flags.writeable = False
    at.found.setdefault(key, positions)


def where(data: np.ndarray, test: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Sorted positions (int64) in `data` where `test`, given a piece of it, holds: `PIECE_BYTES` at a time."""
    found = [np.zeros(0, dtype=np.int64)]
    for start in range(0, len(data), PIECE_BYTES):
        hits = np.flatnonzero(test(data[start : start + PIECE_BYTES]))
        hits += start
        found.append(hits)
    return np.concatenate(found)


def count_bytes(data: np.ndarray, value: int) -> int:
    """How many bytes of `data` are `value`, counted `PIECE_BYTES` at a time."""
    return sum(int(np.count_nonzero(data[start : start + PIECE_BYTES] == value))
               for start in range(0, len(data), PIECE_BYTES))  # fmt: skip


def slices(data: pa.Buffer, raw: np.ndarray, starts: np.ndarray, ends: np.ndarray,
           present: np.ndarray | None = None) -> pa.Array:  # fmt: skip
    """A string array of `data[starts[i]:ends[i]]`: built as views into `data`, then copied once.

    Cutting fields out of lines this way is a few numpy operations per field rather
    than a Python step per line; rows where `present` is False are null. The bytes
    must be valid UTF-8 (the reader guarantees it for whole lines, and fields are
    cut at ASCII delimiters).
    """
    n = len(starts)
    lengths = np.maximum(ends - starts, 0)
    # A view is two 8-byte words: the length and the first 4 bytes; then the next 8
    # bytes (a string of up to 12 bytes is held inline), or buffer 0 and the offset.
    # Bytes past an inline string's end are left as they are: the cast below copies
    # `length` bytes of each view and reads no further.
    views = np.empty((n, 2), dtype=np.uint64)
    if n:
        words = unaligned_words(raw)
        at = np.clip(starts, 0, len(raw) - _INLINE)  # rows left null may point anywhere
        views[:, 0] = lengths.astype(np.uint64) | (words[at] << np.uint64(32))
        long = lengths > _INLINE  # held in the buffer, where the short ones hold 8 more bytes inline
        if np.count_nonzero(long) > n // 2:  # read the 8 bytes only where they are needed
            views[:, 1] = starts.astype(np.uint64) << np.uint64(32)
            short = np.flatnonzero(~long)
            views[short, 1] = words[at[short] + 4]
        else:
            views[:, 1] = words[at + 4]
            long = np.flatnonzero(long)
            views[long, 1] = starts[long].astype(np.uint64) << np.uint64(32)
    validity = None
    if present is not None and not present.all():
        validity = pa.array(present).buffers()[1]
    # Built as binary views and cast to binary, then only relabelled as string: a
    # string_view -> string cast would validate UTF-8 again, many times slower.
    array = pa.Array.from_buffers(pa.binary_view(), n, [validity, pa.py_buffer(views), data])
    return array.cast(pa.binary()).view(pa.string())


# The bytes of a string of 0 to 8 bytes, as the low bytes of its first word.
_LOW_BYTES = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def short_strings(data: pa.Buffer, raw: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  present: np.ndarray | None = None) -> pa.DictionaryArray:  # fmt: skip
    """`slices`, dictionary-encoded, for fields of a few bytes (methods, protocols): hashed as integers.

    A field of up to 8 bytes is its first word with the bytes past its end masked off, so
    the distinct fields are the distinct integers, and only those become strings: a field
    is its word's bytes up to the first zero. A field longer than 8 bytes or holding a NUL
    byte (lines with one are quarantined, so only when called on others), and the column is
    cut and encoded as strings.
    """
    lengths = np.maximum(ends - starts, 0)
    if len(lengths) == 0 or lengths.max() > 8:
        return pc.dictionary_encode(slices(data, raw, starts, ends, present))
    masks = _LOW_BYTES[lengths]
    words = unaligned_words(raw)[np.clip(starts, 0, len(raw) - 8)]
    if _holds_zero_byte(words | ~masks)[slice(None) if present is None else present].any():
        return pc.dictionary_encode(slices(data, raw, starts, ends, present))
    keys = words & masks
    found = pc.dictionary_encode(pa.array(keys, mask=None if present is None else ~present))
    words = found.dictionary.to_numpy(zero_copy_only=False).astype("<u8")
    texts = [word.tobytes().rstrip(b"\0").decode() for word in words]
    return pa.DictionaryArray.from_arrays(found.indices, pa.array(texts, pa.string()))


_ONES, _HIGHS = np.uint64(0x0101010101010101), np.uint64(0x8080808080808080)


def _holds_zero_byte(words: np.ndarray) -> np.ndarray:
    """Per 8-byte word: is one of its bytes zero? (The borrow of subtracting 1 from each byte.)"""
    return ((words - _ONES) & ~words & _HIGHS) != 0


def unaligned_words(raw: np.ndarray) -> np.ndarray:
    """The 8 bytes at each position of `raw` as one little-endian integer: a view, nothing copied.

    A string view reads them at its start and 4 bytes on; `PADDING` past the data
    keeps both reads inside the array.
    """
    return np.ndarray(shape=(len(raw) - 7,), dtype="<u8", buffer=raw, strides=(1,))
