"""Parquet files of a Delta table, written and read by Spark executors; no row passes through
the driver.

Writing: :class:`DeltaFilesWriter` runs inside a Python Arrow pass (``mapInArrow``): each task
writes one Parquet file per partition value straight into the table folder and returns the file
descriptions; the caller (``DeltaRsTableStore``) then makes the ONE Delta commit with deltalake,
where it can check idempotency and map conflicts to our errors. Files of a write that is never
committed are invisible to every Delta reader (and removed by a full vacuum).

Reading: the Spark Python data source ``jobtagger_delta`` gives one input partition per file of
the snapshot, partition values taken from the Delta log (not parsed from folder names), so a
catalog table ``USING jobtagger_delta`` always shows the table's current snapshot (or
``version``) in Spark SQL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import fs as pafs
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.types import StructType

SOURCE_NAME = "jobtagger_delta"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Marker word in task errors, recognised by the driver to raise a clean one-line error.
NULL_VIOLATION = "JOBTAGGER_NOT_NULL_VIOLATION"
# Characters Spark escapes in partition folder names (ExternalCatalogUtils.escapePathName).
_ESCAPED = set('"#%\'*/:=?\\\x7f{[]^') | {chr(code) for code in range(0x20)}


def escape_partition_value(value: str) -> str:
    return "".join(f"%{ord(char):02X}" if char in _ESCAPED else char for char in value)


def partition_value_text(value: Any) -> str | None:
    """A partition value as the Delta log serialises it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def filesystem_for(table_uri: str) -> tuple[pafs.FileSystem, str]:
    if "://" in table_uri:
        return pafs.FileSystem.from_uri(table_uri)
    return pafs.LocalFileSystem(), os.path.abspath(table_uri)


@dataclass
class WrittenFiles:
    files: list[dict[str, Any]]


class DeltaFilesSource(DataSource):
    """Reads a Delta table's snapshot. Options: ``table_uri`` and optional ``version``."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> StructType:
        from pyspark.sql.pandas.types import from_arrow_schema

        return from_arrow_schema(pa.schema(_snapshot(self.options).schema().to_arrow()))

    def reader(self, schema: StructType) -> DeltaSnapshotReader:
        return DeltaSnapshotReader(self.options, schema)


class DeltaFilesWriter:
    """Writes a task's Arrow batches as Parquet files of a table. Options: ``table_uri``,
    ``partition_by`` (JSON list), ``file_schema`` (Arrow IPC schema, hex), ``write_id`` (in every
    file name) and ``not_null`` (JSON list)."""

    def __init__(self, options: Mapping[str, str]) -> None:
        self.table_uri = options["table_uri"]
        self.partition_by: list[str] = json.loads(options.get("partition_by", "[]"))
        self.file_schema_hex = options["file_schema"]
        self.write_id = options["write_id"]
        self.not_null: list[str] = json.loads(options.get("not_null", "[]"))

    def write(self, iterator: Iterator[pa.RecordBatch]) -> WrittenFiles:
        from pyspark import TaskContext

        context = TaskContext.get()
        task = f"{context.partitionId():05d}-{context.attemptNumber()}" if context else "00000-0"
        file_schema = pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(self.file_schema_hex)))
        filesystem, root = filesystem_for(self.table_uri)
        open_files: dict[tuple, _OpenFile] = {}
        try:
            for batch in iterator:
                table = self._checked(pa.Table.from_batches([batch]))
                for key, part in self._split(table):
                    if key not in open_files:
                        open_files[key] = _OpenFile.create(
                            filesystem, root, self._folder(key), f"part-{task}-{self.write_id}-{uuid.uuid4().hex[:8]}.parquet",
                            file_schema, dict(zip(self.partition_by, key)),
                        )
                    open_files[key].write(part.drop_columns(self.partition_by).select(file_schema.names).cast(file_schema))
            return WrittenFiles([handle.close() for handle in open_files.values()])
        except BaseException:
            for handle in open_files.values():
                handle.discard()
            raise

    def _checked(self, table: pa.Table) -> pa.Table:
        for column in self.not_null:
            if table.column(column).null_count:
                raise ValueError(f"{NULL_VIOLATION}: column {column!r} is NOT NULL in the table but has nulls")
        return table

    def _split(self, table: pa.Table) -> Iterator[tuple[tuple, pa.Table]]:
        """(partition key, rows) per partition value present in ``table``."""
        if not self.partition_by:
            yield (), table
            return
        keys = table.select(self.partition_by).group_by(self.partition_by).aggregate([]).to_pylist()
        if len(keys) == 1:  # a batch of one partition (the usual case) is written as it is, not copied
            yield tuple(partition_value_text(keys[0][column]) for column in self.partition_by), table
            return
        for key in keys:
            mask = None
            for column, value in key.items():
                match = pc.is_null(table.column(column)) if value is None else pc.equal(table.column(column), value)
                mask = match if mask is None else pc.and_(mask, match)
            yield tuple(partition_value_text(key[column]) for column in self.partition_by), table.filter(mask)

    def _folder(self, key: tuple) -> str:
        return "/".join(
            f"{column}={HIVE_NULL if value is None else escape_partition_value(value)}"
            for column, value in zip(self.partition_by, key)
        )


def dictionary_encoded_columns(schema: pa.Schema) -> list[str]:
    """The Parquet leaf columns to dictionary-encode: all but floating-point ones, whose values
    rarely repeat (gold's scores: dictionary pages cost a third of the writing time and made the
    files a third larger)."""
    def leaves(path: str, data_type: pa.DataType) -> Iterator[tuple[str, pa.DataType]]:
        if pa.types.is_map(data_type):
            yield from leaves(f"{path}.key_value.key", data_type.key_type)
            yield from leaves(f"{path}.key_value.value", data_type.item_type)
        elif pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
            yield from leaves(f"{path}.list.element", data_type.value_type)
        elif pa.types.is_struct(data_type):
            for field in data_type:
                yield from leaves(f"{path}.{field.name}", field.type)
        else:
            yield path, data_type

    return [path for field in schema for path, data_type in leaves(field.name, field.type)
            if not pa.types.is_floating(data_type)]


class _OpenFile:
    """One Parquet file being written by a task, described for the Delta log when closed."""

    def __init__(self, filesystem: pafs.FileSystem, full_path: str, relative_path: str,
                 schema: pa.Schema, partition_values: dict[str, str | None]) -> None:
        self.filesystem = filesystem
        self.full_path = full_path
        self.relative_path = relative_path
        self.partition_values = partition_values
        self.rows = 0
        self.writer = pq.ParquetWriter(full_path, schema, filesystem=filesystem, compression="snappy",
                                       use_dictionary=dictionary_encoded_columns(schema))

    @classmethod
    def create(cls, filesystem: pafs.FileSystem, root: str, folder: str, file_name: str,
               schema: pa.Schema, partition_values: dict[str, str | None]) -> _OpenFile:
        relative = f"{folder}/{file_name}" if folder else file_name
        filesystem.create_dir(f"{root}/{folder}" if folder else root, recursive=True)
        return cls(filesystem, f"{root}/{relative}", relative, schema, partition_values)

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> dict[str, Any]:
        self.writer.close()
        info = self.filesystem.get_file_info(self.full_path)
        return {
            "path": self.relative_path,
            "size": info.size,
            "partition_values": self.partition_values,
            "modification_time": int(time.time() * 1000),
            "rows": self.rows,
        }

    def discard(self) -> None:
        try:
            self.writer.close()
        finally:
            _delete_quietly(self.filesystem, self.full_path)


def delete_write(table_uri: str, write_id: str) -> None:
    """Delete every data file a write left in the table folder (found by its write id): what a
    failed job's tasks wrote (a Spark job over ``mapInArrow`` has no abort step of its own)."""
    filesystem, root = filesystem_for(table_uri)
    if filesystem.get_file_info(root).type != pafs.FileType.Directory:
        return
    for info in filesystem.get_file_info(pafs.FileSelector(root, recursive=True)):
        if info.type == pafs.FileType.File and f"-{write_id}-" in info.base_name:
            _delete_quietly(filesystem, info.path)


def _delete_quietly(filesystem: pafs.FileSystem, path: str) -> None:
    try:
        filesystem.delete_file(path)
    except (FileNotFoundError, OSError):
        pass


def _snapshot(options: Mapping[str, str]):
    from deltalake import DeltaTable

    version = options.get("version")
    return DeltaTable(options["table_uri"], version=int(version) if version not in (None, "") else None)


def table_source(source_name: str, table_uri: str) -> type[DeltaFilesSource]:
    """A data source class bound to one table: Spark drops the OPTIONS of a catalog table over a
    Python data source, so the location travels in the (cloudpickled) class instead."""

    class BoundTableSource(DeltaFilesSource):
        @classmethod
        def name(cls) -> str:
            return source_name

        def __init__(self, options: dict[str, str]) -> None:
            super().__init__({**options, "table_uri": table_uri})

    BoundTableSource.__qualname__ = BoundTableSource.__name__ = f"BoundTableSource_{source_name}"
    return BoundTableSource


class DeltaSnapshotReader(DataSourceReader):
    def __init__(self, options: Mapping[str, str], schema: StructType) -> None:
        from pyspark.sql.pandas.types import to_arrow_schema

        self.options = dict(options)
        self.arrow_schema = to_arrow_schema(schema)

    def partitions(self) -> list[InputPartition]:
        actions = pa.table(_snapshot(self.options).get_add_actions(flatten=False)).to_pylist()
        return [InputPartition((action["path"], action.get("partition") or {})) for action in actions]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        relative_path, partition_values = partition.value
        filesystem, root = filesystem_for(self.options["table_uri"])
        parquet = pq.ParquetFile(f"{root}/{relative_path}", filesystem=filesystem)
        for batch in parquet.iter_batches():
            yield conform_batch(batch, self.arrow_schema, partition_values)


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema, partition_values: Mapping[str, Any]) -> pa.RecordBatch:
    """``batch`` with the partition columns added and every column of ``schema`` in order (columns
    absent from an older file, after schema evolution, are null)."""
    columns = []
    for field in schema:
        if field.name in partition_values:
            value = partition_values[field.name]
            columns.append(pa.array([value] * batch.num_rows, type=pa.string()).cast(field.type)
                           if isinstance(value, str) else pa.array([value] * batch.num_rows, type=field.type))
        elif field.name in batch.schema.names:
            columns.append(batch.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(batch.num_rows, type=field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema.remove_metadata())


def list_table_names(warehouse: str) -> list[str]:
    """Folders of ``warehouse`` holding a ``_delta_log`` (folders starting with ``_`` are ours)."""
    filesystem, root = filesystem_for(warehouse)
    if filesystem.get_file_info(root).type != pafs.FileType.Directory:
        return []
    names = []
    for info in filesystem.get_file_info(pafs.FileSelector(root)):
        if info.type == pafs.FileType.Directory and not info.base_name.startswith(("_", ".")):
            if filesystem.get_file_info(f"{info.path}/_delta_log").type == pafs.FileType.Directory:
                names.append(info.base_name)
    return sorted(names)
