"""The DDL parser behind tables.schemas: the StructTypes it builds, without Spark, and what it refuses."""

from __future__ import annotations

import pytest
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from jobtagger.tables.schemas import _fields, _schema


def test_columns_are_nullable_unless_not_null_and_every_type_maps_to_its_class():
    ddl = (
        "id string not null, at timestamp, day date not null, ok boolean, n long not null,"
        " big bigint, small int, ratio double not null, score float"
    )

    assert _schema(ddl) == StructType(
        [
            StructField("id", StringType(), False),
            StructField("at", TimestampType(), True),
            StructField("day", DateType(), False),
            StructField("ok", BooleanType(), True),
            StructField("n", LongType(), False),
            StructField("big", LongType(), True),
            StructField("small", IntegerType(), True),
            StructField("ratio", DoubleType(), False),
            StructField("score", FloatType(), True),
        ]
    )


def test_array_elements_and_map_values_hold_null_unless_marked_not_null():
    built = _schema(
        "a array<string>, b array<string not null> not null,"
        " m map<string, float>, n map<string, double not null> not null,"
        " nested array<map<string, array<long not null>>>"
    )

    assert built == StructType(
        [
            StructField("a", ArrayType(StringType(), True), True),
            StructField("b", ArrayType(StringType(), False), False),
            StructField("m", MapType(StringType(), FloatType(), True), True),
            StructField("n", MapType(StringType(), DoubleType(), False), False),
            StructField("nested", ArrayType(MapType(StringType(), ArrayType(LongType(), False), True), True), True),
        ]
    )
    # the same flags one by one, so that a failure names the one that is off
    assert [field.nullable for field in built] == [True, False, True, False, True]
    assert [built["a"].dataType.containsNull, built["b"].dataType.containsNull] == [True, False]
    assert [built["m"].dataType.valueContainsNull, built["n"].dataType.valueContainsNull] == [True, False]


def test_fields_keep_order_case_of_names_and_empty_metadata_and_ignore_spacing():
    fields = _fields("  Posting_ID   STRING  NOT NULL ,\n  tags\tARRAY< STRING >  ")

    assert fields == [
        StructField("Posting_ID", StringType(), False),
        StructField("tags", ArrayType(StringType(), True), True),
    ]
    assert [field.metadata for field in fields] == [{}, {}]


@pytest.mark.parametrize(
    ("ddl", "message"),
    [
        ("id varchar", "unknown type 'varchar'"),
        ("id decimal(10,2)", "unknown type 'decimal'"),
        ("s struct<a: string>", "unknown type 'struct'"),
        ("tags array<text>", "unknown type 'text'"),
        ("m map<string not null, float>", "expected ','"),
        ("id string not", "expected 'null', found the end"),
        ("id string,", "found the end"),
        ("id", "found the end"),
        ("", "found the end"),
        ("a string b string", "expected ','"),
        ("tags array<string", "expected '>'"),
        ("id string; drop", "expected ',', found ';'"),
        (", id string", "expected a column name"),
    ],
)
def test_anything_else_raises_value_error_naming_the_schema(ddl, message):
    with pytest.raises(ValueError, match="in schema") as raised:
        _schema(ddl)

    assert message in str(raised.value)
