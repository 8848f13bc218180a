"""Schema enforcement shared by both engines: decided on the driver before any task runs."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from jobtagger.errors import SchemaMismatchError
from jobtagger.tables.base import SchemaMode, WriteMode


def type_text(field: StructField) -> str:
    """The type without nullability (``simpleString`` drops it), so nullable vs not is no mismatch."""
    return field.dataType.simpleString()


def target_schema(
    name: str, df_schema: StructType, table_schema: StructType | None, *, mode: WriteMode, schema_mode: SchemaMode
) -> StructType:
    """The schema the table has after this write; raises SchemaMismatchError naming the columns."""
    if table_schema is None or (schema_mode == "overwrite" and mode == "overwrite"):
        return df_schema
    if schema_mode == "overwrite":
        raise SchemaMismatchError(f"{name}: schema_mode='overwrite' needs mode='overwrite', got mode={mode!r}")
    df_fields = {field.name: field for field in df_schema.fields}
    table_fields = {field.name: field for field in table_schema.fields}
    missing = [column for column in table_fields if column not in df_fields]
    extra = [column for column in df_fields if column not in table_fields]
    mistyped = [
        f"{column} ({type_text(df_fields[column])}, table has {type_text(table_fields[column])})"
        for column in df_fields
        if column in table_fields and type_text(df_fields[column]) != type_text(table_fields[column])
    ]
    if schema_mode == "merge":
        missing = [column for column in missing if not table_fields[column].nullable]
        extra_fields = [StructField(column, df_fields[column].dataType, True) for column in extra]
        extra = []
    else:
        extra_fields = []
    problems = [
        f"{label}: {', '.join(columns)}"
        for label, columns in (("missing columns", missing), ("extra columns", extra), ("mistyped columns", mistyped))
        if columns
    ]
    if problems:
        hint = "" if schema_mode == "merge" else " (schema_mode='merge' adds new columns)"
        raise SchemaMismatchError(f"{name}: the DataFrame does not match the table schema; {'; '.join(problems)}{hint}")
    return StructType(table_schema.fields + extra_fields)


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """``df`` with the columns of ``schema`` in its order; columns it lacks are typed nulls."""
    present = set(df.columns)
    return df.select(
        *[
            F.col(field.name) if field.name in present else F.lit(None).cast(field.dataType).alias(field.name)
            for field in schema.fields
        ]
    )


def check_partition_columns(name: str, schema: StructType, partition_by: Sequence[str], existing: Sequence[str] | None) -> list[str]:
    """The partition columns of the table: the existing ones, or ``partition_by`` for a new table."""
    if existing is not None:
        if partition_by and list(partition_by) != list(existing):
            raise SchemaMismatchError(
                f"{name}: partition_by={list(partition_by)} differs from the table's partition columns {list(existing)}"
            )
        return list(existing)
    unknown = [column for column in partition_by if column not in schema.fieldNames()]
    if unknown:
        raise SchemaMismatchError(f"{name}: partition columns {unknown} are not columns of the DataFrame")
    return list(partition_by)
