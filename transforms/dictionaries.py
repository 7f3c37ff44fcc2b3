"""Columns carried dictionary-encoded: each distinct value held and hashed once, rows as integer codes.

Access logs repeat themselves: a chunk of 100,000 requests holds a few dozen user
agents, a few thousand clients, one source file and one run id. Work done per
distinct value (attack rules, scrubbing, anonymisation) already finds those values;
kept as a dictionary column, the result costs no copy per row, and Parquet's writer
takes the dictionary as it is where it would otherwise hash every row again.

    constant("20261124T120000Z-3f9a0c", 3)  ->  indices [0, 0, 0], dictionary ["20261124T120000Z-3f9a0c"]
    spread(pa.array(["10.0.0.0/24", "10.0.0.0/24", None]), codes=[0, 1, 2, 1])
        ->  indices [0, 0, null, 0], dictionary ["10.0.0.0/24"]

A dictionary built here holds each value once and no null (a null row has a null
index): the form Parquet's writer uses directly. Readers see plain columns; see
`transforms.write.parquet_bytes`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def constant(value: str | None, rows: int) -> pa.Array:
    """`rows` rows of one string: one dictionary entry, however many rows."""
    if value is None:
        return pa.nulls(rows, pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array([value], pa.string()))


def encoded(column: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """The column dictionary-encoded, nulls as null codes; a dictionary column as it is (no hashing)."""
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)


def codes(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(int64 code per row, the distinct values), null a value of its own (the last code)."""
    column = encoded(column)
    null = len(column.dictionary)
    row_codes = pc.fill_null(column.indices, null).to_numpy(zero_copy_only=False).astype(np.int64)
    values = column.dictionary
    if column.null_count:
        values = pa.concat_arrays([values, pa.nulls(1, values.type)])
    return row_codes, values


def spread(values: pa.Array, codes: np.ndarray | pa.Array) -> pa.Array:
    """`values.take(codes)` as a dictionary column: values may repeat or be null, codes may be null.

    Values computed once per distinct input (a client's network, a user agent scrubbed)
    go to the rows without being copied per row; repeated values become one entry.
    """
    unique = pc.dictionary_encode(values)  # repeats merged, nulls masked
    return pa.DictionaryArray.from_arrays(unique.indices.take(pa.array(codes)), unique.dictionary)


def plain(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The column with its values in each row (a dictionary column decoded), for kernels that need them."""
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


def concatenated(arrays: list[pa.Array]) -> pa.Array:
    """The arrays one after the other, dictionary-encoded if any of them is (their dictionaries merged)."""
    if not any(pa.types.is_dictionary(array.type) for array in arrays):
        return pa.concat_arrays(arrays)
    return pa.chunked_array([encoded(array) for array in arrays]).unify_dictionaries().combine_chunks()
