"""Delta tables written by Spark executors and committed by the driver with delta-rs (deltalake).

A write runs one Spark job whose tasks write Parquet files into the table folder from a Python
Arrow pass (``mapInArrow``) and return only the files' descriptions; the driver then commits all
files as ONE Delta transaction. Not Spark's Python data source write: that starts a Python
process on the driver to plan each write and another to commit it. This module is the store:
it opens tables, reads them, writes and stages data files and hands them to the commit. What
delta-rs leaves to the application lives beside it: schema enforcement before
any task runs and the plan of what a write removes, rewrites and read (replace-where, merge,
replace_keys: :mod:`jobtagger.tables.write_plan`), and idempotency by app id/version (checked
before the job and again right before the commit) and optimistic concurrency
(:mod:`jobtagger.tables.delta_commit`). Rows computed by a Python Arrow pass
(:class:`MappedRows`) are written by that pass itself, with no second pass.
Reads are native Spark Parquet scans over the snapshot's file list
(:mod:`jobtagger.tables.parquet_scan`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from deltalake.transaction import CommitProperties, RemoveAction
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import ByteType, DateType, IntegerType, LongType, ShortType, StringType, StructType

from jobtagger.errors import MissingInputError, SchemaMismatchError, TableExistsError
from jobtagger.tables.base import CommitResult, MappedRows, MergeSpec, StagedWrite, TableStore, WriteMode, WriteSpec
from jobtagger.tables.delta_commit import CommitPlan, DeltaCommit
from jobtagger.tables.delta_files import (
    NULL_VIOLATION,
    SOURCE_NAME,
    DeltaFilesWriter,
    conform_batch,
    delete_write,
    list_table_names,
    table_source,
)
from jobtagger.tables.delta_log import WrittenFile, already_applied, delete_files, spark_schema
from jobtagger.tables.parquet_scan import scan_files, scan_table
from jobtagger.tables.partition_filter import sql_text
from jobtagger.tables.schema_check import conform
from jobtagger.tables.write_plan import check_written, plan_key_rewrite, plan_merge, plan_write


class DeltaRsTableStore(TableStore):
    engine_name = "delta-rs"

    def __init__(self, spark, *, warehouse: str, database: str) -> None:
        super().__init__(spark, warehouse=os.path.abspath(warehouse) if "://" not in warehouse else warehouse,
                         database=database)

    # ---- reading -------------------------------------------------------------------------
    def _table(self, name: str, version: int | None = None) -> DeltaTable:
        try:
            return DeltaTable(self.path(name), version=version)
        except TableNotFoundError:
            raise MissingInputError(f"table {name!r} does not exist at {self.path(name)}") from None

    def exists(self, name: str) -> bool:
        return DeltaTable.is_deltatable(self.path(name))

    def version(self, name: str) -> int:
        return self._table(name).version()

    def schema(self, name: str) -> StructType:
        return spark_schema(self._table(name))

    def read(self, name: str, *, version: int | None = None) -> DataFrame:
        table = self._table(name, version)
        return scan_table(self.spark, table, table.file_uris())

    def partition_values(self, name: str, column: str) -> set[Any]:
        """From the Delta log's add actions, without reading a data file (dates, strings and
        integers; other types through Spark)."""
        table = self._table(name)
        if column not in table.metadata().partition_columns:
            raise ValueError(f"{name}: {column!r} is not a partition column")
        data_type = spark_schema(table)[column].dataType
        parse = _PARTITION_VALUE_PARSERS.get(type(data_type))
        if parse is None:
            return super().partition_values(name, column)
        return {None if value is None else parse(value) for value in (entry[column] for entry in table.partitions())}

    def history(self, name: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        return [_history_entry(entry) for entry in self._table(name).history(limit)]

    def list_tables(self) -> list[str]:
        return list_table_names(self.warehouse)

    def register(self, name: str) -> str:
        """A catalog table over the ``jobtagger_delta`` reader: Spark SQL sees the current snapshot
        at query time (a temporary view cannot live in a database). Only this registers a Python
        data source: the first registration in a session makes Spark look for data sources among
        the installed Python packages, in a Python process of its own (seconds)."""
        qualified = f"{self.database}.{name}"
        columns = spark_schema(self._table(name)).toDDL()  # given, so Spark need not ask the source
        location = os.path.join(self.warehouse, "_catalog", f"{self.database}.db")
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {self.database} LOCATION '{sql_text(location)}'")
        self.spark.sql(f"DROP TABLE IF EXISTS {qualified}")
        source_name = f"{SOURCE_NAME}_{self.database}_{name}"
        register_source(self.spark, table_source(source_name, self.path(name)), bound_to=self.path(name))
        self.spark.sql(f"CREATE TABLE {qualified} ({columns}) USING {source_name}")
        return qualified

    # ---- maintenance ---------------------------------------------------------------------
    def compact(self, name: str) -> dict[str, Any]:
        return self._table(name).optimize.compact(
            commit_properties=CommitProperties(custom_metadata={"jobtagger.operation": "compact"})
        )

    def vacuum(self, name: str, *, retention_hours: int = 168, dry_run: bool = False) -> list[str]:
        """Deletes files no snapshot younger than ``retention_hours`` needs, including files of
        writes that never committed (``full`` vacuum)."""
        return self._table(name).vacuum(
            retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False, full=True
        )

    # ---- writing -------------------------------------------------------------------------
    def _write(self, df: DataFrame, name: str, spec: WriteSpec) -> CommitResult:
        table = self._writable(name, spec.mode)
        if already_applied(table, spec.txn):  # a rerun: not even the data files are written again
            return CommitResult(name, committed=False, version=table.version())
        return self._stage(df, name, spec).commit()

    def _stage(self, df: DataFrame | MappedRows, name: str, spec: WriteSpec) -> StagedFiles:
        """Executors write the data files into the table folder now; they stay invisible to every
        Delta reader until :meth:`StagedFiles.commit` (a discard deletes them)."""
        plan = plan_write(self.spark, name, self._writable(name, spec.mode), df.schema, spec)
        files = self._write_files(df, name, plan.schema, plan.partitions)
        try:
            check_written(self.spark, name, plan, spec.replace_where, files)
        except BaseException:
            self._delete_files(name, files)
            raise
        return StagedFiles(self, name, plan, files, spec.metadata)

    def _writable(self, name: str, mode: WriteMode) -> DeltaTable | None:
        """The existing table (None when there is none); refuses mode='error' on an existing one."""
        table = self._table(name) if self.exists(name) else None
        if table is not None and mode == "error":
            raise TableExistsError(f"table {name!r} already exists (mode='error'); choose append, overwrite or replace_where")
        return table

    def _merge(self, df: DataFrame, name: str, spec: MergeSpec) -> CommitResult:
        """Copy-on-write upsert: the files holding a matching key are rewritten (their other rows
        plus the new rows) and swapped in the same commit that adds the new keys."""
        table = self._table(name)
        if already_applied(table, spec.txn):
            return CommitResult(name, committed=False, version=table.version())
        plan = plan_merge(self.spark, name, table, df, spec.keys, spec.txn)
        files = self._write_files(plan.rows, name, plan.commit.schema, plan.commit.partitions)
        return self._commit(name, plan.commit, files, spec.metadata)

    def _commit(self, name: str, plan: CommitPlan, files: list[WrittenFile],
                metadata: Mapping[str, str] | None) -> CommitResult:
        """ONE commit of ``files`` by the commit protocol (:mod:`jobtagger.tables.delta_commit`)."""
        rewrite = functools.partial(self._rewrite_keys, name)
        return DeltaCommit(self.spark, name, self.path(name), rewrite=rewrite).commit(plan, files, metadata)

    def _rewrite_keys(self, name: str, plan: CommitPlan, table: DeltaTable | None,
                      files: list[WrittenFile]) -> tuple[list[RemoveAction], list[WrittenFile]]:
        """For ``plan.replace_keys``: the other files holding a written key, as remove actions, and
        the files newly written with their other rows (:func:`plan_key_rewrite`)."""
        removes, rows = plan_key_rewrite(self.spark, plan, table, self.path(name), files)
        if rows is None:
            return [], []
        return removes, self._write_files(rows, name, plan.schema, plan.partitions)

    def _delete_files(self, name: str, files: list[WrittenFile]) -> None:
        delete_files(self.path(name), files)

    def _write_files(self, rows: DataFrame | MappedRows, name: str, schema: StructType,
                     partitions: list[str]) -> list[WrittenFile]:
        """Run the Spark job whose tasks write the data files; returns their descriptions. A frame is
        written by a pass that hands its batches on unchanged."""
        data_schema = StructType([field for field in schema.fields if field.name not in partitions])
        options = {
            "table_uri": self.path(name),
            "partition_by": json.dumps(partitions),
            "file_schema": to_arrow_schema(data_schema).serialize().to_pybytes().hex(),
            "write_id": uuid.uuid4().hex[:12],
            "not_null": json.dumps([field.name for field in schema.fields if not field.nullable]),
        }
        try:
            mapped = rows if isinstance(rows, MappedRows) else MappedRows.of(conform(rows, schema))
            return _write_in_pass(mapped, schema, options)
        except (Py4JJavaError, PySparkException) as exc:
            text = str(exc)
            if NULL_VIOLATION in text:
                column = text.split(NULL_VIOLATION, 1)[1].split("\n", 1)[0]
                raise SchemaMismatchError(f"{name}: null values in a NOT NULL column{column}") from None
            raise


# (Spark session, data source name) -> the table a source registered there is bound to ("": none)
_REGISTERED_SOURCES: dict[tuple[str, str], str] = {}


def register_source(spark: SparkSession, source: type[DataSource], *, bound_to: str = "") -> None:
    """Register a Python data source in ``spark`` unless this session already has it, bound to the
    same table: Spark logs a warning for every registration that replaces another."""
    key = (spark._jsparkSession.sessionUUID(), source.name())
    manager = spark._jsparkSession.sessionState().dataSourceManager()
    if _REGISTERED_SOURCES.get(key) == bound_to and manager.dataSourceExists(source.name()):
        return
    spark.dataSource.register(source)
    _REGISTERED_SOURCES[key] = bound_to


class StagedFiles(StagedWrite):
    """Data files written into the table folder and not yet in its Delta log."""

    def __init__(self, store: DeltaRsTableStore, name: str, plan: CommitPlan, files: list[dict[str, Any]],
                 metadata: Mapping[str, str] | None) -> None:
        self._store, self._name, self._plan, self._files, self._metadata = store, name, plan, files, metadata
        self._settled = False

    @property
    def read_version(self) -> int | None:
        """The table version this write planned against (None: the table did not exist)."""
        return self._plan.read.version

    @property
    def rows(self) -> DataFrame:
        root = self._store.path(self._name)
        return scan_files(self._store.spark, self._plan.schema, root,
                          [os.path.join(root, file["path"]) for file in self._files])

    def commit(self, *, metadata: Mapping[str, str] | None = None) -> CommitResult:
        if self._settled:
            raise RuntimeError(f"{self._name}: this staged write was already committed or discarded")
        self._settled = True  # a failed commit deletes the files itself
        return self._store._commit(self._name, self._plan, self._files, {**(self._metadata or {}), **(metadata or {})})

    def discard(self) -> None:
        if not self._settled:
            self._settled = True
            self._store._delete_files(self._name, self._files)


def _write_in_pass(rows: MappedRows, schema: StructType, options: dict[str, str]) -> list[dict[str, Any]]:
    """Each task runs ``rows.function`` and writes its batches (in ``schema``'s column order, absent
    columns null) with :class:`DeltaFilesWriter`; only the file descriptions are collected.
    A failed job's files are deleted by write id."""
    writer = DeltaFilesWriter(options)
    arrow_schema = to_arrow_schema(schema)
    function = rows.function

    def write_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        written = writer.write(conform_batch(batch, arrow_schema, {}) for batch in function(batches))
        yield pa.RecordBatch.from_arrays([pa.array([json.dumps(file) for file in written.files], pa.string())],
                                         names=["file"])

    try:
        described = rows.source.mapInArrow(write_partition, "file string").collect()
    except BaseException:
        delete_write(options["table_uri"], options["write_id"])
        raise
    return [json.loads(row.file) for row in described]


_PARTITION_VALUE_PARSERS = {DateType: dt.date.fromisoformat, StringType: str, ByteType: int, ShortType: int,
                            IntegerType: int, LongType: int}


def _history_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    timestamp = entry.get("timestamp")
    result = {
        "version": entry.get("version"),
        "operation": entry.get("operation"),
        "timestamp": dt.datetime.fromtimestamp(timestamp / 1000, dt.timezone.utc) if timestamp else None,
        "operation_parameters": entry.get("operationParameters", {}),
    }
    skip = {"version", "operation", "timestamp", "operationParameters", "clientVersion", "engineInfo",
            "operationMetrics", "readVersion", "isBlindAppend", "isolationLevel", "userMetadata"}
    result.update({key: value for key, value in entry.items() if key not in skip})
    return result
