"""The Delta log as the delta-rs engine reads and writes it: schemas, add and remove actions,
app-transaction versions and the JSON entry of one commit."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.transaction import AddAction, RemoveAction
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import StructType

from jobtagger.tables.base import Txn
from jobtagger.tables.delta_files import filesystem_for, partition_value_text
from jobtagger.tables.partition_filter import FileListing

WrittenFile = Mapping[str, Any]  # a data file's description from the writer: path, size, rows, partition values


def delta_schema(schema: StructType) -> DeltaSchema:
    return DeltaSchema.from_arrow(to_arrow_schema(schema))


def spark_schema(table: DeltaTable) -> StructType:
    return from_arrow_schema(pa.schema(table.schema().to_arrow()))


def already_applied(table: DeltaTable | None, txn: Txn | None) -> bool:
    """True when ``table`` recorded ``txn``'s app id at ``txn``'s version or later (a rerun)."""
    if table is None or txn is None:
        return False
    recorded = table.transaction_version(txn.app_id)
    return recorded is not None and recorded >= txn.version


def add_actions(table: DeltaTable) -> list[dict[str, Any]]:
    """The add actions of ``table``'s current snapshot, one dict per data file."""
    return pa.table(table.get_add_actions(flatten=False)).to_pylist()


def file_listing(actions: list[dict[str, Any]]) -> FileListing:
    """(path, partition values as the log writes them) of each add action."""
    return [(action["path"], {column: partition_value_text(value) for column, value in (action.get("partition") or {}).items()})
            for action in actions]


def add_action(file: WrittenFile) -> AddAction:
    return AddAction(file["path"], file["size"], file["partition_values"], file["modification_time"], True,
                     json.dumps({"numRecords": file["rows"]}))


def remove_action(action: Mapping[str, Any]) -> RemoveAction:
    partition = action.get("partition") or {}
    return RemoveAction(
        action["path"], True, int(time.time() * 1000), action.get("size_bytes"),
        {column: None if value is None else partition_value_text(value) for column, value in partition.items()},
    )


def log_entry(table_path: str, version: int) -> list[dict[str, Any]] | None:
    """The actions of commit ``version``, from its JSON file in ``_delta_log`` (None when gone)."""
    filesystem, root = filesystem_for(table_path)
    try:
        with filesystem.open_input_stream(f"{root}/_delta_log/{version:020d}.json") as handle:
            text = handle.read().decode("utf-8")
    except (FileNotFoundError, OSError):
        return None
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def delete_files(table_path: str, files: list[WrittenFile]) -> None:
    """Delete written data files that no commit references (a failed or discarded write)."""
    for file in files:
        target = os.path.join(table_path, file["path"])
        if os.path.exists(target):
            os.remove(target)
