"""Dictionary columns: values held once, rows as codes; and Parquet parts written from them read back plain."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.dictionaries import codes, concatenated, constant, encoded, plain, spread
from transforms.schema import DATASETS
from transforms.write import conformed, parquet_bytes

STRING_DICTIONARY = pa.dictionary(pa.int32(), pa.string())


@pytest.mark.parametrize(
    "value, rows, expected",
    [
        ("20261124T120000Z-3f9a0c", 3, ["20261124T120000Z-3f9a0c"] * 3),
        ("one row", 1, ["one row"]),
        ("no rows", 0, []),
        (None, 2, [None, None]),
    ],
    ids=["repeated", "one", "empty", "null"],
)
def test_constant(value: str | None, rows: int, expected: list) -> None:
    column = constant(value, rows)
    assert column.to_pylist() == expected
    if value is not None:
        assert column.type == STRING_DICTIONARY and column.dictionary.to_pylist() == [value]


@pytest.mark.parametrize(
    "values, codes_, expected, dictionary",
    [
        (["a", "b"], [1, 0, 1], ["b", "a", "b"], ["a", "b"]),
        (["192.0.2.0/24", "192.0.2.0/24", "198.51.100.0/24"], [0, 1, 2, 1], ["192.0.2.0/24"] * 2 + ["198.51.100.0/24", "192.0.2.0/24"], ["192.0.2.0/24", "198.51.100.0/24"]),
        (["a", None], [0, 1, 1], ["a", None, None], ["a"]),
        (["a"], pa.array([0, None, 0]), ["a", None, "a"], ["a"]),
        (["a"], [], [], ["a"]),
    ],
    ids=["taken", "repeated values become one entry", "null value", "null code", "no rows"],
)  # fmt: skip
def test_spread(values: list, codes_: list | pa.Array, expected: list, dictionary: list) -> None:
    column = spread(
        pa.array(values, pa.string()), codes_ if isinstance(codes_, pa.Array) else np.array(codes_, np.int64)
    )
    assert column.to_pylist() == expected
    assert column.dictionary.to_pylist() == dictionary  # each value once, no null: what Parquet takes as it is


@pytest.mark.parametrize(
    "column",
    [pa.array(["x", None, "y", "x"]), pa.chunked_array([["x", None], ["y", "x"]]), pa.array(["x", None, "y", "x"]).dictionary_encode()],
    ids=["plain", "chunked", "dictionary"],
)  # fmt: skip
def test_codes_give_null_a_code_of_its_own(column) -> None:
    row_codes, values = codes(column)
    assert values.take(pa.array(row_codes)).to_pylist() == ["x", None, "y", "x"]
    assert row_codes[0] == row_codes[3] and len(set(row_codes.tolist())) == 3


def test_a_dictionary_column_is_encoded_as_it_is() -> None:
    column = pa.array(["x", "y"]).dictionary_encode()
    assert encoded(column) is column
    assert plain(column).type == pa.string() and plain(column).to_pylist() == ["x", "y"]
    assert plain(pa.array(["x"])).type == pa.string()


@pytest.mark.parametrize(
    "arrays, dictionary",
    [
        ([pa.array(["a", None]), pa.array(["b"])], False),
        ([pa.array(["a", "b"]).dictionary_encode(), pa.array(["b", None, "c"])], True),
        ([pa.array(["a"]).dictionary_encode(), pa.array(["c", "a"]).dictionary_encode()], True),
    ],
    ids=["plain stays plain", "plain joins a dictionary", "dictionaries merged"],
)
def test_concatenated(arrays: list[pa.Array], dictionary: bool) -> None:
    joined = concatenated(arrays)
    assert joined.to_pylist() == [value for array in arrays for value in array.to_pylist()]
    assert pa.types.is_dictionary(joined.type) == dictionary
    if dictionary:
        assert sorted(joined.dictionary.to_pylist()) == sorted(set(joined.to_pylist()) - {None})


def _rows_of(schema: pa.Schema) -> pa.Table:
    """Two rows of every dataset column: strings 'value 0', 'value 1', numbers 0 and 1, one time."""
    values = {
        pa.types.is_string: lambda i: f"value {i}",
        pa.types.is_integer: lambda i: i,
        pa.types.is_boolean: lambda i: bool(i),
        pa.types.is_timestamp: lambda i: dt.datetime(2026, 11, 24, 10, i, tzinfo=dt.timezone.utc),
        pa.types.is_list: lambda i: [f"item {i}"],
        pa.types.is_floating: lambda i: i / 2,
    }
    columns = {}
    for field in schema:
        make = next(make for test, make in values.items() if test(field.type))
        columns[field.name] = pa.array([make(0), make(1)], field.type)
    return pa.table(columns, schema=schema)


@pytest.mark.parametrize("dataset", sorted(DATASETS), ids="/".join)
def test_parts_written_from_dictionary_columns_read_back_as_the_datasets_schema(tmp_path, dataset) -> None:
    schema = DATASETS[dataset]
    table = _rows_of(schema)
    strings = [f.name for f in schema if pa.types.is_string(f.type)]
    in_flight = table
    for name in strings:
        in_flight = in_flight.set_column(schema.get_field_index(name), name, table[name].dictionary_encode())
    written = conformed(in_flight, schema)
    assert all(pa.types.is_dictionary(written.schema.field(name).type) for name in strings)
    part = tmp_path / "part.parquet"
    part.write_bytes(parquet_bytes(written))

    back = pq.read_table(part)
    assert back.schema == schema and back.equals(table)
    described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{part}')").fetchall()
    assert {row[0] for row in described if row[1] == "VARCHAR"} == set(strings)


def test_schema_metadata_is_kept_in_the_part(tmp_path) -> None:
    table = pa.table({"client_net": constant("192.0.2.0/24", 2)}).replace_schema_metadata({"marker": "kept"})
    part = tmp_path / "part.parquet"
    part.write_bytes(parquet_bytes(table))
    back = pq.read_table(part)
    assert back.schema.metadata == {b"marker": b"kept"}
    assert back["client_net"].type == pa.string()
