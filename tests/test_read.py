"""Reading: ranges of plain files, chunks, line numbers, and bytes that are no UTF-8."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pytest

from transforms.read import Range, count_lines, first_lines, plan_ranges, read_chunks, split_lines, valid_utf8
from transforms.slicing import count_bytes, where
from transforms.storage import StoredFile


def read_all(path: Path, range_bytes: int, chunk_lines: int = 1000) -> list[tuple[int, str]]:
    """(line number, line) of every line, read range by range the way the pipeline does."""
    ranges = plan_ranges([StoredFile(str(path), path.stat().st_size)], range_bytes)
    numbers = first_lines({(r.path, r.index): count_lines(r) for r in ranges if r.end is not None})
    lines = []
    for rng in ranges:
        for chunk in read_chunks(str(path), chunk_lines, rng, numbers.get((rng.path, rng.index), 1)):
            texts = [t.rstrip("\r\n") for t in chunk.lines.to_pylist()]
            lines += [(chunk.first_line + i, t) for i, t in enumerate(texts)]
    return lines


def edge_cases(range_bytes: int) -> dict[str, bytes]:
    """Files whose line ends fall exactly on, one before and one after each range edge.

    Each file is four ranges long, so its ranges are `range_bytes` each and the edges lie
    at its multiples.
    """

    def lines_ending_at(offset: int) -> bytes:
        # Lines of 10 bytes ("lineNNNNN\n"), then one line sized so that a newline ends at byte `offset`.
        body = b"".join(b"line%05d\n" % i for i in range(offset // 10))
        pad = offset - len(body)
        return body + (b"x" * (pad - 1) + b"\n" if pad else b"")

    files = {}
    for shift in (-1, 0, 1):
        data = b""
        for edge in (1, 2, 3):
            target = edge * range_bytes + shift
            data += lines_ending_at(target - len(data)) if target > len(data) else b""
        files[f"newline-ends-at-edge{shift:+d}"] = data + b"tail line without newline".ljust(
            4 * range_bytes - len(data), b"!"
        )
    return files


@pytest.mark.parametrize("shift", ["-1", "+0", "+1"], ids=["one-before", "on", "one-after"])
@pytest.mark.parametrize("range_bytes", [97, 1000])
def test_every_line_exactly_once_across_range_edges(tmp_path: Path, range_bytes: int, shift: str) -> None:
    data = edge_cases(range_bytes)[f"newline-ends-at-edge{int(shift):+d}"]
    path = tmp_path / "edges.log"
    path.write_bytes(data)
    expected = list(enumerate(data.decode().split("\n"), start=1))
    got = read_all(path, range_bytes, chunk_lines=7)
    ranges = plan_ranges([StoredFile(str(path), len(data))], range_bytes)
    assert [(r.start, r.end) for r in ranges] == [(i * range_bytes, (i + 1) * range_bytes) for i in range(4)]
    assert got == expected


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"a\n", b"a", b"\n\n\n", b"a\nb\n", b"a\r\nb\r\n", b"ab\ncd\nef"],
    ids=["empty", "one-empty-line", "one-line", "no-newline", "empty-lines", "two-lines", "crlf", "tail"],
)
@pytest.mark.parametrize("range_bytes", [1, 2, 3, 1000])
def test_small_files_at_every_range_size(tmp_path: Path, data: bytes, range_bytes: int) -> None:
    path = tmp_path / "small.log"
    path.write_bytes(data)
    lines = data.decode().split("\n")
    if lines[-1] == "":
        lines.pop()
    got = read_all(path, range_bytes, chunk_lines=2)
    assert got == [(i, t.rstrip("\r")) for i, t in enumerate(lines, start=1)]


@pytest.mark.parametrize(
    "size, range_bytes, edges",
    [(20, 10, [0, 10, 20]), (11, 10, [0, 5, 11]), (100, 30, [0, 25, 50, 75, 100]), (233, 64, [0, 58, 116, 174, 233])],
)
def test_plain_files_split_into_equal_ranges_of_at_most_range_bytes(size: int, range_bytes: int, edges: list) -> None:
    ranges = plan_ranges([StoredFile("a.log", size)], range_bytes)
    assert [(r.index, r.start, r.end) for r in ranges] == [(i, *e) for i, e in enumerate(itertools.pairwise(edges))]


def test_compressed_files_are_one_range(tmp_path: Path) -> None:
    path = tmp_path / "a.log.gz"
    path.write_bytes(gzip.compress(b"x\n" * 1000))
    assert plan_ranges([StoredFile(str(path), 10**9)], 100) == [Range(str(path), 0)]


def test_chunks_hold_at_most_chunk_lines_and_number_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"".join(b"%d\n" % i for i in range(1, 1001)))
    chunks = list(read_chunks(str(path), 300))
    assert [len(c.lines) for c in chunks] == [300, 300, 300, 100]
    assert [c.first_line for c in chunks] == [1, 301, 601, 901]
    assert [c.last for c in chunks] == [False, False, False, True]
    assert len({c.part for c in chunks}) == 4
    assert "1\n" not in repr(chunks[0])


def test_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    whole = gzip.compress(b"".join(b"line %d\n" % i for i in range(100_000)))
    path = tmp_path / "cut.log.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    chunks = list(read_chunks(str(path), 1_000_000))
    lines = [t for c in chunks for t in c.lines.to_pylist()]
    assert chunks[-1].damage and "EOFError" in chunks[-1].damage
    assert len(lines) > 10_000
    assert lines[:-1] == [f"line {i}\n" for i in range(len(lines) - 1)]
    assert f"line {len(lines) - 1}\n".startswith(lines[-1].rstrip("\n"))  # the cut-off tail, marked as such
    assert chunks[-1].damaged_tail


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"plain\n", b"plain\n"),
        (b"caf\xc3\xa9\n", b"caf\xc3\xa9\n"),
        (b"ok\nbad \xff\xfe\nok\n", "ok\nbad \ufffd\ufffd\nok\n".encode()),
        (b"\xc3\n\xc3\xa9\n", "\ufffd\n\u00e9\n".encode()),
        (b"a\xffb\xffc\n", "a\ufffdb\ufffdc\n".encode()),
    ],
    ids=["ascii", "utf8", "bad-line-between-good", "cut-character", "two-errors-one-line"],
)
def test_valid_utf8_recodes_only_bad_lines(raw: bytes, expected: bytes) -> None:
    assert valid_utf8(raw) == expected


@pytest.mark.parametrize("bad_line", [None, 0, 2500, 4999])
def test_valid_utf8_of_a_block_of_many_non_ascii_lines(bad_line: int | None) -> None:
    """Past a few thousand non-ASCII lines the block is checked whole first: the same result."""
    lines = [f"/caf\u00e9/{i} \u00fc\n".encode() for i in range(5000)]
    expected = list(lines)
    if bad_line is not None:
        lines[bad_line] = b"/bad\xff/" + lines[bad_line]
        expected[bad_line] = "/bad\ufffd/".encode() + expected[bad_line]
    block = b"".join(lines)
    checked = valid_utf8(block)
    assert checked == b"".join(expected)
    assert (checked is block) == (bad_line is None)  # a good block is passed on, not copied
    assert split_lines(block).to_pylist() == [line.decode() for line in expected]


@pytest.mark.parametrize(
    "block",
    [
        b"ok\nbad \xff\xfe\nmid \xc3\ncaf\xc3\xa9\n\xff\n\n\xfe last\n",
        b"\xff\xff\xff\n" * 3 + b"plain\n",
        b"caf\xc3\xa9 \xff\n" * 3000,  # many suspect lines: the block is decoded whole first
    ],
    ids=["bad-lines-among-good", "every-line-bad", "many-suspects-all-bad"],
)
def test_split_lines_moves_each_line_by_what_the_bad_lines_before_it_grew(block: bytes) -> None:
    expected = [line.decode("utf-8", "replace") + "\n" for line in block.split(b"\n")[:-1]]
    assert split_lines(block).to_pylist() == expected
    padded_block = block + bytes(32)  # as the reader reads it
    assert split_lines(padded_block, len(block)).to_pylist() == expected


@pytest.mark.parametrize("piece_bytes", [1, 3, 64, 1 << 20])
def test_byte_searches_piece_by_piece_find_what_one_pass_finds(monkeypatch, piece_bytes: int) -> None:
    raw = np.frombuffer(b'a\nbb\x00\n"ccc" \x7f\n' * 9 + b"\n", dtype=np.uint8)
    monkeypatch.setattr("transforms.slicing.PIECE_BYTES", piece_bytes)
    for test in (lambda piece: piece == 10, lambda piece: (piece < 32) | (piece == 127), lambda piece: piece > 200):
        assert where(raw, test).tolist() == np.flatnonzero(test(raw)).tolist()
    assert count_bytes(raw, 10) == int(np.count_nonzero(raw == 10))
    assert where(raw[:0], lambda piece: piece == 10).dtype == np.int64
