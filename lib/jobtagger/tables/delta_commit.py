"""The commit protocol of the delta-rs engine: data files already written become ONE Delta commit,
or nothing.

Idempotency: a write carrying a :class:`~jobtagger.tables.base.Txn` whose app id the table has
recorded at that version or later commits nothing (checked again right before the commit).

Optimistic concurrency: a write records the table version it planned against (its read version)
and what it read: nothing for a blind append, the ``replace_where`` predicate, or the whole table
(overwrite, merge). Before committing it reads the commits that landed since from the Delta log
and raises :class:`ConcurrentWriteError` when one of them added or removed files where this write
read, removed a file this write removes, changed the table's metadata, or carries this write's
app-transaction id. delta-rs 1.6.6's own checker lets a concurrent append into a replaced
partition through (both commits land: duplicates), so the commit itself is made with
``max_commit_retries=0`` on the snapshot just checked: a commit landing in between makes it fail,
and the check runs again. Every file of a write that does not commit is deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.transaction import CommitProperties, RemoveAction, Transaction, create_table_with_add_actions
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from jobtagger.errors import ConcurrentWriteError
from jobtagger.tables.base import CommitResult, Txn
from jobtagger.tables.delta_log import (
    WrittenFile,
    add_action,
    already_applied,
    delete_files,
    delta_schema,
    log_entry,
    spark_schema,
)
from jobtagger.tables.partition_filter import files_satisfying

WRITE_ID_KEY = "jobtagger.write_id"
WHOLE_TABLE = "true"  # read predicate of writes that read every row (overwrite, merge)
COMMIT_ATTEMPTS = 5  # re-checks when other commits land between the check and the commit


@dataclass(frozen=True)
class ReadSet:
    """What a write read: the table version it planned against (None: no table yet) and a predicate
    over partition columns covering the rows it read (None: a blind append; ``WHOLE_TABLE``)."""

    version: int | None
    predicate: str | None


@dataclass
class CommitPlan:
    """Everything a commit needs besides the new files."""

    schema: StructType
    partitions: list[str]
    removes: list[RemoveAction]
    mode: str
    txn: Txn | None
    read: ReadSet
    replace_keys: tuple[str, ...] = ()


# For replace_keys: given the plan, the snapshot the commit goes on and the written files, the
# remove actions of other files holding a written key and the new files with their other rows.
KeyRewrite = Callable[[CommitPlan, DeltaTable | None, list[WrittenFile]], tuple[list[RemoveAction], list[WrittenFile]]]


class DeltaCommit:
    """Commits of written files into the Delta table ``name`` at ``path``."""

    def __init__(self, spark: SparkSession, name: str, path: str, *, rewrite: KeyRewrite) -> None:
        self.spark, self.name, self.path, self._rewrite = spark, name, path, rewrite

    def commit(self, plan: CommitPlan, files: list[WrittenFile], metadata: Mapping[str, str] | None) -> CommitResult:
        """ONE commit of ``files`` (and ``plan.removes``) after the optimistic-concurrency check;
        with ``plan.replace_keys`` also the rewrite of other files holding those keys, made
        against the snapshot the commit goes on. Every file of a write that does not commit is
        deleted."""
        name = self.name
        write_id = uuid.uuid4().hex
        adds = [add_action(file) for file in files]
        rewritten: list[WrittenFile] = []
        try:
            for _attempt in range(COMMIT_ATTEMPTS):
                table = self._current()
                if already_applied(table, plan.txn):  # a concurrent run of the same txn won the race
                    delete_files(self.path, files + rewritten)
                    return CommitResult(name, committed=False, version=table.version())
                self._check_conflicts(plan, table)
                delete_files(self.path, rewritten)
                extra_removes, rewritten = self._rewrite(plan, table, files)
                properties = CommitProperties(
                    custom_metadata={**(metadata or {}), WRITE_ID_KEY: write_id},
                    app_transactions=[Transaction(plan.txn.app_id, plan.txn.version)] if plan.txn else None,
                    max_commit_retries=0,
                )
                try:
                    if table is None:
                        create_table_with_add_actions(
                            self.path, delta_schema(plan.schema), adds, mode="error",
                            partition_by=plan.partitions or None, commit_properties=properties,
                        )
                    else:
                        table = _add_new_columns(table, plan, properties)
                        table.create_write_transaction(
                            [*plan.removes, *extra_removes, *adds, *[add_action(file) for file in rewritten]],
                            plan.mode, delta_schema(plan.schema), partition_by=plan.partitions or None,
                            commit_properties=properties,
                        )
                    break
                except (CommitFailedError, DeltaError):
                    if not self._moved_since(table):
                        raise
                    # another commit took the version: check it and try again on the new snapshot
            else:
                raise ConcurrentWriteError(
                    f"{name}: other writers committed during each of {COMMIT_ATTEMPTS} attempts; nothing was committed"
                )
        except BaseException:
            delete_files(self.path, files + rewritten)
            raise
        return CommitResult(
            name, committed=True, version=self._version_of(write_id), rows_written=sum(file["rows"] for file in files),
            files_added=len(adds) + len(rewritten), files_removed=len(plan.removes) + len(extra_removes),
        )

    def _current(self) -> DeltaTable | None:
        return DeltaTable(self.path) if DeltaTable.is_deltatable(self.path) else None

    def _moved_since(self, table: DeltaTable | None) -> bool:
        """True when the table got a version beyond ``table``'s (None: when it was created)."""
        current = self._current()
        if current is None:
            return False
        return table is None or current.version() > table.version()

    def _check_conflicts(self, plan: CommitPlan, table: DeltaTable | None) -> None:
        """Raise ConcurrentWriteError when a commit after ``plan.read.version`` (up to ``table``'s
        version) conflicts with this write (see the module docstring)."""
        if table is None:
            return  # still no table: nothing landed
        first = 0 if plan.read.version is None else plan.read.version + 1
        for version in range(first, table.version() + 1):
            reason = self._conflict_in(version, plan)
            if reason:
                read = "planned on an absent table" if plan.read.version is None else (
                    f"read version {plan.read.version}")
                raise ConcurrentWriteError(
                    f"{self.name}: another writer committed version {version} ({reason}) after this write {read}; "
                    "nothing of this write was committed"
                )

    def _conflict_in(self, version: int, plan: CommitPlan) -> str | None:
        """Why commit ``version`` conflicts with ``plan`` (None when it does not)."""
        actions = log_entry(self.path, version)
        if actions is None:
            return "its log entry is gone, so it cannot be checked"
        removed_here = {unquote(action.path) for action in plan.removes}
        changed: list[tuple[str, Mapping[str, str | None]]] = []
        for action in actions:
            if "txn" in action and plan.txn is not None and action["txn"].get("appId") == plan.txn.app_id:
                return f"the same transaction key {plan.txn.app_id}"
            if "metaData" in action:
                return "it changed the table's schema or properties" if version else "it created the table"
            for kind in ("add", "remove"):
                if kind in action:
                    file = action[kind]
                    if kind == "remove" and unquote(file["path"]) in removed_here:
                        return "it removed a file this write replaces"
                    changed.append((f"{len(changed)}", file.get("partitionValues") or {}))
        if not changed or plan.read.predicate is None:
            return None
        if plan.read.predicate == WHOLE_TABLE:
            return "it changed rows of the table this write read"
        if files_satisfying(self.spark, changed, plan.read.predicate, plan.schema, plan.partitions):
            return f"it changed rows where {plan.read.predicate}"
        return None

    def _version_of(self, write_id: str) -> int | None:
        """Our commit's version, found by its write id (others may have committed since)."""
        for entry in DeltaTable(self.path).history(20):
            if entry.get(WRITE_ID_KEY) == write_id:
                return entry["version"]
        return None


def _add_new_columns(table: DeltaTable, plan: CommitPlan, properties: CommitProperties) -> DeltaTable:
    """Schema evolution (schema_mode='merge'): a data commit of delta-rs cannot change the schema,
    so new nullable columns are added by a metadata-only commit just before it (then the data
    commit's conflict check starts after it)."""
    existing = set(spark_schema(table).fieldNames())
    new_fields = StructType([field for field in plan.schema.fields if field.name not in existing])
    if new_fields.fields:
        table.alter.add_columns(list(delta_schema(new_fields).fields), commit_properties=CommitProperties(
            custom_metadata={**properties.custom_metadata, "jobtagger.operation": "add columns"}))
        table.update_incremental()
        plan.read = ReadSet(table.version(), plan.read.predicate)
    return table
