"""What a delta-rs write commits besides its new data files: the files it removes, the rows it
writes again and what it read (a :class:`~jobtagger.tables.delta_commit.CommitPlan`), planned
from the table's snapshot. The store writes the files; :mod:`jobtagger.tables.delta_commit`
commits them.

- append, overwrite, replace-where (:func:`plan_write`): an overwrite reads the whole table and
  replaces it; a replace-where reads and removes the files whose partition values satisfy its
  predicate, and every written file must satisfy it too (:func:`check_written`).
- merge (:func:`plan_merge`): a copy-on-write upsert. It looks its keys up in every file, so it
  reads the whole table; the files holding a key are removed and their other rows are written
  again together with the new rows.
- ``replace_keys`` (:func:`plan_key_rewrite`): the files outside the replaced partitions that
  hold a written key are removed and their other rows written again, in the same commit. It is
  planned against the snapshot the commit goes on, so a key committed meanwhile is replaced too.

Files are rewritten whole (copy-on-write), no deletion vectors; only file names and keys of
matching rows reach the driver (:mod:`jobtagger.tables.copy_on_write`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from deltalake import DeltaTable
from deltalake.transaction import RemoveAction
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from jobtagger.errors import DataQualityError, SchemaMismatchError
from jobtagger.tables.base import Txn, WriteSpec
from jobtagger.tables.copy_on_write import files_holding
from jobtagger.tables.delta_commit import WHOLE_TABLE, CommitPlan, ReadSet
from jobtagger.tables.delta_log import WrittenFile, add_actions, file_listing, remove_action, spark_schema
from jobtagger.tables.parquet_scan import scan_files, scan_table, table_root
from jobtagger.tables.partition_filter import files_satisfying
from jobtagger.tables.schema_check import check_partition_columns, conform, target_schema


def plan_write(spark: SparkSession, name: str, table: DeltaTable | None, schema: StructType,
               spec: WriteSpec) -> CommitPlan:
    """The plan of writing rows of ``schema`` into ``table`` (None: not created yet) by ``spec``;
    the schema and partition columns are checked before any file is written."""
    read = ReadSet(None if table is None else table.version(),
                   WHOLE_TABLE if spec.mode == "overwrite" else spec.replace_where)
    table_schema = spark_schema(table) if table is not None else None
    schema = target_schema(name, schema, table_schema, mode=spec.mode, schema_mode=spec.schema_mode)
    partitions = check_partition_columns(
        name, schema, spec.partition_by, None if table is None else table.metadata().partition_columns
    )
    removes: list[RemoveAction] = []
    if spec.replace_where is not None and table is not None:
        listing = file_listing(add_actions(table))
        matching = files_satisfying(spark, listing, spec.replace_where, spark_schema(table), partitions)
        removes = _removes(table, matching)
    commit_mode = "overwrite" if spec.mode == "overwrite" else "append"
    return CommitPlan(schema, partitions, removes, commit_mode, spec.txn, read, spec.replace_keys)


def check_written(spark: SparkSession, name: str, plan: CommitPlan, replace_where: str | None,
                  files: list[WrittenFile]) -> None:
    """The written ``files`` fit the plan: each file's partition values satisfy ``replace_where``
    (a predicate over partition columns holds for each row exactly when it holds for its file),
    and the ``replace_keys`` are columns."""
    if replace_where is not None:
        listing = [(file["path"], file["partition_values"]) for file in files]
        inside = files_satisfying(spark, listing, replace_where, plan.schema, plan.partitions)
        if len(inside) < len(files):
            raise DataQualityError(f"{name}: rows to write do not all match the replace_where predicate")
    missing = [key for key in plan.replace_keys if key not in plan.schema.fieldNames()]
    if missing:
        raise SchemaMismatchError(
            f"{name}: replace_keys {list(plan.replace_keys)} must be columns (missing {missing})")


@dataclass(frozen=True)
class MergePlan:
    """A merge: the rows to write (the new rows plus the other rows of the removed files) and the
    plan of their commit."""

    rows: DataFrame
    commit: CommitPlan


def plan_merge(spark: SparkSession, name: str, table: DeltaTable, df: DataFrame, keys: Sequence[str],
               txn: Txn | None) -> MergePlan:
    """Upsert ``df`` (unique on ``keys``) into the existing ``table``."""
    read = ReadSet(table.version(), WHOLE_TABLE)  # the keys are looked up in every file
    schema = target_schema(name, df.schema, spark_schema(table), mode="append", schema_mode="enforce")
    missing = [key for key in keys if key not in schema.fieldNames()]
    if not keys or missing:
        raise SchemaMismatchError(f"{name}: merge keys {list(keys)} must be columns of the table (missing {missing})")
    source = conform(df, schema)
    if source.groupBy(*keys).count().where("count > 1").limit(1).count():
        raise DataQualityError(f"{name}: the rows to merge are not unique on {list(keys)}")
    every_file = [action["path"] for action in add_actions(table)]
    removes, survivors = files_without_keys(spark, table, every_file, source.select(*keys))
    rows = source if survivors is None else survivors.unionByName(source)
    partitions = table.metadata().partition_columns
    return MergePlan(rows, CommitPlan(schema, partitions, removes, "append", txn, read))


def plan_key_rewrite(spark: SparkSession, plan: CommitPlan, table: DeltaTable | None, path: str,
                     files: list[WrittenFile]) -> tuple[list[RemoveAction], DataFrame | None]:
    """For ``plan.replace_keys``: the files of ``table`` outside the replaced partitions that hold
    a key of the written ``files`` (in the table folder ``path``), as remove actions, and their
    other rows to write again (None when there is nothing to rewrite)."""
    if not plan.replace_keys or table is None or not files:
        return [], None
    listing = file_listing(add_actions(table))
    inside = files_satisfying(spark, listing, plan.read.predicate, spark_schema(table), plan.partitions) \
        if plan.read.predicate else set()
    others = [file for file, _ in listing if file not in inside]
    if not others:
        return [], None
    written = scan_files(spark, plan.schema, path, [os.path.join(path, file["path"]) for file in files])
    return files_without_keys(spark, table, others, written.select(*plan.replace_keys).distinct())


def files_without_keys(spark: SparkSession, table: DeltaTable, paths: Sequence[str],
                       keys: DataFrame) -> tuple[list[RemoveAction], DataFrame | None]:
    """Of the files ``paths`` of ``table``: those holding a key of ``keys``, as remove actions,
    and their rows without those keys (None when no file holds one)."""
    touched = files_holding(_scan(spark, table, paths), keys, table_root(table))
    if not touched:
        return [], None
    survivors = _scan(spark, table, touched).join(keys, keys.columns, "left_anti")
    return _removes(table, touched), survivors


def _scan(spark: SparkSession, table: DeltaTable, paths: Sequence[str]) -> DataFrame:
    """The rows of the files ``paths`` (relative to the table folder) of ``table``."""
    root = table_root(table)
    return scan_table(spark, table, [os.path.join(root, path) for path in paths])


def _removes(table: DeltaTable, paths: Collection[str]) -> list[RemoveAction]:
    """Remove actions of the current files ``paths`` of ``table``."""
    by_path = {action["path"]: action for action in add_actions(table)}
    return [remove_action(by_path[path]) for path in sorted(paths)]
