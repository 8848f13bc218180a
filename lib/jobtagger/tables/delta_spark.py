"""Delta tables through Delta Lake's own Spark connector (delta-spark), for clusters that have it.

Enabling it on a cluster (the jar cannot be fetched on the development machine):

    spark-submit \\
      --packages io.delta:delta-spark_4.1_2.13:4.4.1 \\
      --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \\
      --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \\
      ...

(or put the jar in ``spark.jars`` / the cluster image and the two confs in ``spark.conf`` of the
environment YAML), then keep ``storage.engine: auto`` (it picks delta-spark when the classes
load) or set ``storage.engine: delta-spark`` to fail fast when the jar is missing. The artifact's
Scala and Spark suffixes must match the cluster (Spark 4.1, Scala 2.13 here).

Semantics mirror the delta-rs engine: the same schema check runs before the write, idempotency
uses Delta's ``txnAppId``/``txnVersion`` (a rerun commits nothing), replace-where is
``replaceWhere``, merge is ``DeltaTable.merge`` and commit metadata is ``userMetadata`` (a JSON
object, flattened back by :meth:`history`). Concurrency is Delta's own optimistic check (its
``ConcurrentAppendException`` family becomes ConcurrentWriteError): the write's snapshot is taken
when it starts, and a replace-where or merge conflicts with commits into what it read. Replace-where
with ``replace_keys`` is one MERGE: matched keys are updated (moved into the replaced partition),
new keys inserted, and rows of the replaced partition not in the source deleted
(``whenNotMatchedBySource``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql.types import StructType

from jobtagger.errors import ConcurrentWriteError, MissingInputError, TableExistsError
from jobtagger.tables.base import CommitResult, MergeSpec, TableStore, WriteSpec
from jobtagger.tables.delta_files import list_table_names
from jobtagger.tables.schema_check import check_partition_columns, conform, target_schema

ENABLE_HINT = (
    "add --packages io.delta:delta-spark_4.1_2.13:4.4.1 "
    "--conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension "
    "--conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog "
    "(or set storage.engine=delta-rs)"
)
SESSION_TXN = ("spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion")
SESSION_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


class DeltaSparkTableStore(TableStore):
    engine_name = "delta-spark"

    def _delta(self, name: str):
        from delta.tables import DeltaTable

        if not self.exists(name):
            raise MissingInputError(f"table {name!r} does not exist at {self.path(name)}")
        return DeltaTable.forPath(self.spark, self.path(name))

    def exists(self, name: str) -> bool:
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(self.spark, self.path(name))

    def version(self, name: str) -> int:
        return self._delta(name).history(1).select("version").first()[0]

    def schema(self, name: str) -> StructType:
        return self._delta(name).toDF().schema

    def read(self, name: str, *, version: int | None = None) -> DataFrame:
        self._delta(name)
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.path(name))

    def _write(self, df: DataFrame, name: str, spec: WriteSpec) -> CommitResult:
        exists = self.exists(name)
        if spec.replace_keys and exists:
            return self._replace_with_keys(df, name, spec)
        if exists and spec.mode == "error":
            raise TableExistsError(f"table {name!r} already exists (mode='error'); choose append, overwrite or replace_where")
        table_schema = self.schema(name) if exists else None
        schema = target_schema(name, df.schema, table_schema, mode=spec.mode, schema_mode=spec.schema_mode)
        partitions = check_partition_columns(
            name, schema, spec.partition_by, self._partition_columns(name) if exists else None
        )
        before = self.version(name) if exists else None
        writer = (
            conform(df, schema).write.format("delta")
            .mode("overwrite" if spec.mode in ("overwrite", "replace_where") else "append")
            .option("userMetadata", json.dumps(spec.metadata))
        )
        if partitions and not exists:
            writer = writer.partitionBy(*partitions)
        if spec.replace_where is not None:
            writer = writer.option("replaceWhere", spec.replace_where)
        if spec.schema_mode == "merge":
            writer = writer.option("mergeSchema", "true")
        if spec.schema_mode == "overwrite":
            writer = writer.option("overwriteSchema", "true")
        if spec.txn is not None:
            writer = writer.option("txnAppId", spec.txn.app_id).option("txnVersion", spec.txn.version)
        with _conflicts_as(name):
            writer.save(self.path(name))
        return self._result(name, before)

    def _replace_with_keys(self, df: DataFrame, name: str, spec: WriteSpec) -> CommitResult:
        """Replace the rows where ``spec.replace_where`` holds with ``df`` and drop ``df``'s keys
        from the rest of the table, as ONE MERGE commit."""
        merge = MergeSpec(keys=spec.replace_keys, txn=spec.txn, metadata=spec.metadata)
        return self._merge(df, name, merge, delete_unmatched_where=spec.replace_where)

    def _merge(self, df: DataFrame, name: str, spec: MergeSpec, *,
               delete_unmatched_where: str | None = None) -> CommitResult:
        """MERGE on ``spec.keys``: matched rows updated, new ones inserted and, with
        ``delete_unmatched_where``, target rows satisfying it that no source row matched deleted."""
        schema = target_schema(name, df.schema, self.schema(name), mode="append", schema_mode="enforce")
        before = self.version(name)
        condition = " AND ".join(f"t.`{key}` <=> s.`{key}`" for key in spec.keys)
        settings = {SESSION_METADATA: json.dumps(dict(spec.metadata))}
        if spec.txn is not None:
            settings.update(dict(zip(SESSION_TXN, (spec.txn.app_id, str(spec.txn.version)))))
        with _session_conf(self.spark, settings), _conflicts_as(name):
            builder = (self._delta(name).alias("t").merge(conform(df, schema).alias("s"), condition)
                       .whenMatchedUpdateAll().whenNotMatchedInsertAll())
            if delete_unmatched_where is not None:  # only the target's columns are in scope here
                builder = builder.whenNotMatchedBySourceDelete(condition=delete_unmatched_where)
            builder.execute()
        return self._result(name, before)

    def _result(self, name: str, before: int | None) -> CommitResult:
        """Delta skips a write whose txn version it has seen: no new version means no commit."""
        after = self.version(name)
        return CommitResult(name, committed=after != before, version=after)

    def _partition_columns(self, name: str) -> list[str]:
        return list(self._delta(name).detail().select("partitionColumns").first()[0])

    def history(self, name: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        entries = []
        for row in self._delta(name).history(limit).collect():
            entry = {
                "version": row["version"],
                "operation": row["operation"],
                "timestamp": row["timestamp"],
                "operation_parameters": dict(row["operationParameters"] or {}),
            }
            entry.update(json.loads(row["userMetadata"]) if row["userMetadata"] else {})
            entries.append(entry)
        return entries

    def compact(self, name: str) -> dict[str, Any]:
        return self._delta(name).optimize().executeCompaction().first()["metrics"].asDict(recursive=True)

    def vacuum(self, name: str, *, retention_hours: int = 168, dry_run: bool = False) -> list[str]:
        self._delta(name)
        self.spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
        query = f"VACUUM delta.`{self.path(name)}` RETAIN {int(retention_hours)} HOURS{' DRY RUN' if dry_run else ''}"
        return [row[0] for row in self.spark.sql(query).collect()]

    def register(self, name: str) -> str:
        """An external catalog table over the folder: Delta's catalog always reads the snapshot."""
        self._delta(name)
        qualified = f"{self.database}.{name}"
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        self.spark.sql(f"CREATE TABLE IF NOT EXISTS {qualified} USING DELTA LOCATION '{self.path(name)}'")
        return qualified

    def list_tables(self) -> list[str]:
        return list_table_names(self.warehouse)


@contextmanager
def _session_conf(spark, settings: Mapping[str, str]) -> Iterator[None]:
    """Delta reads txn and user metadata of MERGE from the session; restore them afterwards."""
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            spark.conf.unset(key) if value is None else spark.conf.set(key, value)


@contextmanager
def _conflicts_as(name: str) -> Iterator[None]:
    """Delta's concurrent-modification exceptions become ConcurrentWriteError."""
    try:
        yield
    except Exception as exc:
        if "ConcurrentAppendException" in str(exc) or "ConcurrentModificationException" in str(exc) or "Concurrent" in type(exc).__name__:
            raise ConcurrentWriteError(f"{name}: another writer committed first; retry ({str(exc).splitlines()[0]})") from None
        raise
