"""The table layer: ``open_table_store(spark, config.storage)`` returns the Delta engine to use.

``storage.engine``: ``delta-spark`` (Delta's own JVM writer; needs its jar on the classpath),
``delta-rs`` (Spark executors write the files, deltalake commits them), or ``auto``: delta-spark
when its classes load in the session, else delta-rs. Both engines implement :class:`TableStore`.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from jobtagger.config import StorageConfig
from jobtagger.errors import EnvironmentProblem
from jobtagger.session import JvmCapabilities, detect_capabilities
from jobtagger.tables.base import (
    ArrowBatchFunction,
    CommitResult,
    MappedRows,
    MergeSpec,
    SchemaMode,
    StagedWrite,
    TableStore,
    Txn,
    WriteMode,
    WriteOptions,
    WriteSpec,
)

__all__ = ["ArrowBatchFunction", "CommitResult", "MappedRows", "MergeSpec", "SchemaMode", "StagedWrite", "TableStore", "Txn",
           "WriteMode", "WriteOptions", "WriteSpec", "open_table_store", "choose_engine"]


def choose_engine(storage: StorageConfig, capabilities: JvmCapabilities) -> str:
    """The engine name ``storage.engine`` resolves to; fails fast when delta-spark is asked for
    but its jar is missing."""
    if storage.engine == "auto":
        return "delta-spark" if capabilities.delta_spark else "delta-rs"
    if storage.engine == "delta-spark" and not capabilities.delta_spark:
        from jobtagger.tables.delta_spark import ENABLE_HINT

        raise EnvironmentProblem(f"storage.engine=delta-spark but the Delta Lake jar is not on the classpath: {ENABLE_HINT}")
    return storage.engine


def open_table_store(
    spark: SparkSession, storage: StorageConfig, *, capabilities: JvmCapabilities | None = None
) -> TableStore:
    engine = choose_engine(storage, capabilities or detect_capabilities(spark))
    if engine == "delta-spark":
        from jobtagger.tables.delta_spark import DeltaSparkTableStore

        return DeltaSparkTableStore(spark, warehouse=str(storage.warehouse), database=storage.database)
    from jobtagger.tables.delta_rs import DeltaRsTableStore

    return DeltaRsTableStore(spark, warehouse=str(storage.warehouse), database=storage.database)
