"""Spark's own Parquet reader over exactly the data files a Delta snapshot (or a staged write)
lists, never the bare table folder: it also holds removed and uncommitted files."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote, urlparse

from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from jobtagger.tables.delta_log import spark_schema


def table_root(table: DeltaTable) -> str:
    """The table's folder: a plain path for a local table, else its URI."""
    uri = table.table_uri
    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri


def scan_files(spark: SparkSession, schema: StructType, root: str, uris: Sequence[str]) -> DataFrame:
    """The rows of the files ``uris``; partition values come from the folder names below ``root``,
    typed by ``schema``."""
    if not uris:
        return spark.createDataFrame([], schema)
    frame = spark.read.schema(schema).option("basePath", root).parquet(*uris)
    return frame.select(*schema.fieldNames())


def scan_table(spark: SparkSession, table: DeltaTable, uris: Sequence[str]) -> DataFrame:
    """The rows of the files ``uris`` of ``table``, in its schema."""
    return scan_files(spark, spark_schema(table), table_root(table), uris)
