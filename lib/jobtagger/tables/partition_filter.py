"""Which files of a Delta table a predicate over partition columns selects, decided by Spark SQL.

Used for replace-where (the files a write replaces, and that every written file lies inside the
predicate) and for the conflict check of a commit (whether another commit touched what a write
read). A predicate over partition columns holds for each row of a file exactly when it holds for
the file's partition values, so files, not rows, are evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.errors import PySparkException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobtagger.errors import SchemaMismatchError

FileListing = Sequence[tuple[str, Mapping[str, str | None]]]  # (path, partition values as the log writes them)


def files_satisfying(spark: SparkSession, listing: FileListing, predicate: str, schema: StructType,
                     partitions: Sequence[str]) -> set[str]:
    """Paths of the files whose partition values satisfy ``predicate``. Spark evaluates it over the
    file list as an inline table, on the driver (a local relation runs no job)."""
    if not listing:
        return set()
    rows = ", ".join(
        "(" + ", ".join(sql_literal(value) for value in (path, *[partition.get(column) for column in partitions])) + ")"
        for path, partition in listing
    )
    names = ", ".join(["path", *[f"`{column}`" for column in partitions]])
    typed = ", ".join(["path", *[f"CAST(`{column}` AS {schema[column].dataType.simpleString()}) AS `{column}`"
                                 for column in partitions]])
    try:
        files = spark.sql(f"SELECT {typed} FROM VALUES {rows} AS listing({names})")
        return {row.path for row in files.where(F.expr(predicate)).select("path").collect()}
    except PySparkException as exc:
        raise SchemaMismatchError(
            f"replace_where must be a predicate over the partition columns {list(partitions)}: "
            f"{str(exc).splitlines()[0]}"
        ) from None


def sql_literal(value: str | None) -> str:
    return "NULL" if value is None else f"'{sql_text(value)}'"


def sql_text(value: str) -> str:
    """``value`` escaped for a single-quoted Spark SQL string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
