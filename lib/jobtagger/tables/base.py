"""The one table interface every stage uses; engines (delta-rs, delta-spark) implement it.

Tables are addressed by a short name (``bronze_postings``, ``gold_posting_tags``...) and live in
``<warehouse>/<name>``. Every write is ONE atomic Delta commit. Writes that carry a
:class:`Txn` are idempotent: a second write with the same app id and a version not above the
table's recorded version for that app id commits nothing and returns ``committed=False``.
A write can also be staged (:meth:`TableStore.stage`): its rows are validated before the commit.
Commits are optimistic: a write that read the table (replace_where, overwrite, merge) and finds
that another commit changed what it read since, or that carries its app id, raises
:class:`~jobtagger.errors.ConcurrentWriteError` and commits nothing.
Rows computed by a Python Arrow pass can be handed over as :class:`MappedRows`, so an engine that
writes data files from Python writes them in that pass.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypedDict, Unpack, get_args

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

WriteMode = Literal["error", "append", "overwrite", "replace_where"]
SchemaMode = Literal["enforce", "merge", "overwrite"]


@dataclass(frozen=True)
class Txn:
    """Idempotency key of a write: e.g. ``Txn("jobtagger.ingest", 20261101)``."""

    app_id: str
    version: int


@dataclass(frozen=True)
class CommitResult:
    table: str
    committed: bool
    version: int | None
    rows_written: int | None = None
    files_added: int = 0
    files_removed: int = 0
    metrics: Mapping[str, Any] = field(default_factory=dict)


ArrowBatchFunction = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


@dataclass(frozen=True)
class MappedRows:
    """Rows that ``function`` computes from each partition's Arrow batches of ``source``, i.e.
    ``source.mapInArrow(function, schema)``. Kept apart so that an engine writing data files from
    Python writes the batches in the pass that computes them, instead of handing every row back
    to the JVM and on to a writer."""

    source: DataFrame
    function: ArrowBatchFunction
    schema: StructType

    @classmethod
    def of(cls, frame: DataFrame) -> MappedRows:
        """The rows of ``frame`` as they are (the batches pass through unchanged)."""
        return cls(frame, _unchanged, frame.schema)

    def then(self, function: ArrowBatchFunction, schema: StructType) -> MappedRows:
        """These rows passed through one more batch function, in the same Python pass."""
        first = self.function
        return MappedRows(self.source, lambda batches: function(first(batches)), schema)

    def frame(self) -> DataFrame:
        return self.source.mapInArrow(self.function, self.schema)


def _unchanged(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    return batches


@dataclass(frozen=True, kw_only=True)
class WriteSpec:
    """How one write lands, checked here once so that every engine gets a consistent spec.

    ``mode``: ``error`` (the default) refuses to write into an existing table, as delta-rs's own
    ``write_deltalake`` does, so a write never appends or replaces by accident; ``append``,
    ``overwrite``, or ``replace_where`` (with the ``replace_where`` predicate, and only then).
    ``replace_keys`` belong to ``replace_where`` only. ``schema_mode``: ``enforce`` (a different
    schema is an error), ``merge`` (new nullable columns are added) or ``overwrite``.
    ``metadata`` lands in the commit info. An unknown mode is an error, never a silent append.
    """

    mode: WriteMode = "error"
    replace_where: str | None = None
    partition_by: Sequence[str] = ()
    txn: Txn | None = None
    schema_mode: SchemaMode = "enforce"
    metadata: Mapping[str, str] = field(default_factory=dict)
    replace_keys: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.mode not in get_args(WriteMode):
            raise ValueError(f"mode must be one of {get_args(WriteMode)}, got {self.mode!r}")
        if self.schema_mode not in get_args(SchemaMode):
            raise ValueError(f"schema_mode must be one of {get_args(SchemaMode)}, got {self.schema_mode!r}")
        if (self.mode == "replace_where") != (self.replace_where is not None):
            raise ValueError("replace_where is required with mode='replace_where' and only then")
        if self.replace_keys and self.mode != "replace_where":
            raise ValueError("replace_keys is only for mode='replace_where'")
        for option in ("partition_by", "replace_keys"):
            columns = getattr(self, option)
            if isinstance(columns, str):
                raise ValueError(f"{option} takes a list of column names, got the string {columns!r}")
            object.__setattr__(self, option, tuple(columns))
        object.__setattr__(self, "metadata", dict(self.metadata or {}))

    def with_metadata(self, extra: Mapping[str, str] | None) -> WriteSpec:
        """This spec with ``extra`` added to its commit metadata (e.g. counts known after staging)."""
        return replace(self, metadata={**self.metadata, **(extra or {})})


class WriteOptions(TypedDict, total=False):
    """The keyword options of :meth:`TableStore.write` and :meth:`TableStore.stage`, one per
    field of :class:`WriteSpec`, which holds their defaults and checks them (``metadata`` may
    also be None there)."""

    mode: WriteMode
    replace_where: str | None
    partition_by: Sequence[str]
    txn: Txn | None
    schema_mode: SchemaMode
    metadata: Mapping[str, str] | None
    replace_keys: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class MergeSpec:
    """How one merge lands: the key columns it matches rows on, its idempotency key and the
    metadata of its commit."""

    keys: Sequence[str]
    txn: Txn | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple(self.keys))
        object.__setattr__(self, "metadata", dict(self.metadata))


class StagedWrite(abc.ABC):
    """A write whose rows are materialized but not committed: validate :attr:`rows`, then
    :meth:`commit` or :meth:`discard`. Leaving a ``with`` block without committing discards it."""

    @property
    @abc.abstractmethod
    def rows(self) -> DataFrame:
        """The staged rows, exactly as the commit will publish them (cheap to read again)."""

    @abc.abstractmethod
    def commit(self, *, metadata: Mapping[str, str] | None = None) -> CommitResult:
        """Publish the staged rows in ONE commit (with the write's txn, mode and metadata, plus
        ``metadata`` known only once the rows were staged, e.g. what their pass counted)."""

    @abc.abstractmethod
    def discard(self) -> None:
        """Drop the staged rows unless they were committed (then it does nothing)."""

    def __enter__(self) -> StagedWrite:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


class PersistedWrite(StagedWrite):
    """Staging for engines that cannot commit files written earlier: the rows are persisted by
    Spark (memory, spilling to disk) and written by :meth:`TableStore.write` at commit."""

    def __init__(self, store: TableStore, df: DataFrame | MappedRows, name: str, spec: WriteSpec) -> None:
        self._store, self._name, self._spec = store, name, spec
        self._rows = (df.frame() if isinstance(df, MappedRows) else df).persist(StorageLevel.MEMORY_AND_DISK)
        self._rows.count()

    @property
    def rows(self) -> DataFrame:
        return self._rows

    def commit(self, *, metadata: Mapping[str, str] | None = None) -> CommitResult:
        try:
            return self._store._write(self._rows, self._name, self._spec.with_metadata(metadata))
        finally:
            self.discard()

    def discard(self) -> None:
        self._rows.unpersist()


class TableStore(abc.ABC):
    """Delta tables under one warehouse folder, registered as views in one SQL database."""

    engine_name: str

    def __init__(self, spark: SparkSession, *, warehouse: str, database: str) -> None:
        self.spark = spark
        self.warehouse = warehouse
        self.database = database

    def path(self, name: str) -> str:
        return f"{self.warehouse.rstrip('/')}/{name}"

    @abc.abstractmethod
    def exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def version(self, name: str) -> int:
        """Current table version; raises MissingInputError when the table does not exist."""

    @abc.abstractmethod
    def schema(self, name: str) -> StructType: ...

    @abc.abstractmethod
    def read(self, name: str, *, version: int | None = None) -> DataFrame:
        """The current snapshot (or ``version``) as a DataFrame read in parallel by executors."""

    def write(self, df: DataFrame, name: str, **options: Unpack[WriteOptions]) -> CommitResult:
        """Write ``df`` as one atomic commit; the options make a :class:`WriteSpec`.

        ``mode="replace_where"`` atomically replaces the rows matching ``replace_where`` (a SQL
        predicate over partition columns, e.g. ``run_date = '2026-11-01'``) with ``df``, whose
        rows must all match it. A schema that differs from the table's raises
        SchemaMismatchError before any data file is written, unless ``schema_mode`` asks for
        evolution. ``metadata`` lands in the commit info (visible in :meth:`history`).

        ``replace_keys`` (with ``replace_where`` only): the same commit also removes, from the rest
        of the table, every row whose key columns equal those of a written row, so each key is in
        the table once (e.g. a posting tagged again under a later date).

        Raises ConcurrentWriteError when another commit landed after this write read the table
        and changed what it read (or carries the same ``txn`` app id); nothing is committed then.
        """
        return self._write(df, name, WriteSpec(**options))

    def stage(self, df: DataFrame | MappedRows, name: str, **options: Unpack[WriteOptions]) -> StagedWrite:
        """:meth:`write` in two steps, for a gate between computing rows and publishing them:
        ``df`` is computed once now, its rows can be read and checked, and the commit (or
        discard) comes later. Engines that can write data files before committing them do so."""
        return self._stage(df, name, WriteSpec(**options))

    @abc.abstractmethod
    def _write(self, df: DataFrame, name: str, spec: WriteSpec) -> CommitResult:
        """The engine's :meth:`write` of a checked spec."""

    def _stage(self, df: DataFrame | MappedRows, name: str, spec: WriteSpec) -> StagedWrite:
        """The engine's :meth:`stage`; by default the rows are persisted by Spark and written at
        commit."""
        return PersistedWrite(self, df, name, spec)

    def merge(
        self,
        df: DataFrame,
        name: str,
        *,
        keys: Sequence[str],
        txn: Txn | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> CommitResult:
        """Upsert in one commit: rows of ``df`` replace table rows with the same ``keys``,
        new keys are inserted. ``df`` must be unique on ``keys``. Creates the table if absent
        (an append)."""
        spec = MergeSpec(keys=keys, txn=txn, metadata=metadata or {})
        if not self.exists(name):
            return self._write(df, name, WriteSpec(mode="append", txn=spec.txn, metadata=spec.metadata))
        return self._merge(df, name, spec)

    @abc.abstractmethod
    def _merge(self, df: DataFrame, name: str, spec: MergeSpec) -> CommitResult:
        """The engine's :meth:`merge` into the existing table ``name``."""

    def partition_values(self, name: str, column: str) -> set[Any]:
        """The values partition column ``column`` takes in the current snapshot (None for null),
        from a Spark query; engines that read them from the Delta log override it."""
        return {row[0] for row in self.read(name).select(column).distinct().collect()}

    @abc.abstractmethod
    def history(self, name: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits newest first, each with ``version``, ``operation``, ``timestamp`` and the
        custom metadata passed to the write."""

    @abc.abstractmethod
    def compact(self, name: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def vacuum(self, name: str, *, retention_hours: int = 168, dry_run: bool = False) -> list[str]: ...

    @abc.abstractmethod
    def register(self, name: str) -> str:
        """Make the table queryable as ``<database>.<name>`` in Spark SQL; returns that name."""

    def register_all(self) -> list[str]:
        """Register every table found in the warehouse folder."""
        return [self.register(name) for name in self.list_tables()]

    @abc.abstractmethod
    def list_tables(self) -> list[str]: ...
