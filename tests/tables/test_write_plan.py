"""What a delta-rs write removes, rewrites and read (jobtagger.tables.write_plan), planned on real
Delta tables in ``tmp_path``."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobtagger.errors import DataQualityError, SchemaMismatchError
from jobtagger.tables import WriteSpec
from jobtagger.tables.delta_commit import WHOLE_TABLE, ReadSet
from jobtagger.tables.write_plan import check_written, plan_key_rewrite, plan_merge, plan_write

SCHEMA = "id long, name string, run_date date"
NOV1, NOV2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
ON_NOV2 = "run_date = '2026-11-02'"


@pytest.fixture
def table(spark, store) -> DeltaTable:
    """Version 0: ids 1 and 2 in the 1 November file, id 3 in the 2 November file."""
    rows = [(1, "a", NOV1), (2, "b", NOV1), (3, "c", NOV2)]
    store.write(spark.createDataFrame(rows, SCHEMA).coalesce(1), "t", partition_by=["run_date"])
    return DeltaTable(store.path("t"))


def folders(removes) -> list[str]:
    return [os.path.dirname(action.path) for action in removes]


def test_replace_where_removes_and_reads_the_matching_partitions_and_overwrite_the_whole_table(spark, table):
    schema = spark.createDataFrame([], SCHEMA).schema

    replace = plan_write(spark, "t", table, schema, WriteSpec(mode="replace_where", replace_where=ON_NOV2))
    assert (folders(replace.removes), replace.mode, replace.read) == (["run_date=2026-11-02"], "append",
                                                                      ReadSet(0, ON_NOV2))
    overwrite = plan_write(spark, "t", table, schema, WriteSpec(mode="overwrite"))
    assert (overwrite.removes, overwrite.mode, overwrite.read) == ([], "overwrite", ReadSet(0, WHOLE_TABLE))
    create = plan_write(spark, "new", None, schema, WriteSpec(partition_by=["run_date"]))
    assert (create.partitions, create.read) == (["run_date"], ReadSet(None, None))


def test_written_files_must_lie_inside_the_predicate_and_replace_keys_be_columns(spark, table):
    schema = spark.createDataFrame([], SCHEMA).schema
    spec = WriteSpec(mode="replace_where", replace_where=ON_NOV2, replace_keys=["posting_id"])
    plan = plan_write(spark, "t", table, schema, spec)
    inside = [{"path": "run_date=2026-11-02/x.parquet", "partition_values": {"run_date": "2026-11-02"}}]
    outside = [{"path": "run_date=2026-11-01/y.parquet", "partition_values": {"run_date": "2026-11-01"}}]

    with pytest.raises(DataQualityError, match="replace_where"):
        check_written(spark, "t", plan, ON_NOV2, inside + outside)
    with pytest.raises(SchemaMismatchError, match="posting_id"):
        check_written(spark, "t", plan, ON_NOV2, inside)


def test_a_merge_rewrites_only_the_files_holding_a_key_and_keeps_their_other_rows(spark, table):
    plan = plan_merge(spark, "t", table, spark.createDataFrame([(2, "B", NOV1), (4, "d", NOV2)], SCHEMA),
                      ["id"], None)

    assert (folders(plan.commit.removes), plan.commit.read) == (["run_date=2026-11-01"], ReadSet(0, WHOLE_TABLE))
    assert sorted(tuple(row) for row in plan.rows.collect()) == [(1, "a", NOV1), (2, "B", NOV1), (4, "d", NOV2)]
    with pytest.raises(DataQualityError, match="not unique"):
        plan_merge(spark, "t", table, spark.createDataFrame([(5, "x", NOV1), (5, "y", NOV1)], SCHEMA), ["id"], None)
    with pytest.raises(SchemaMismatchError, match="merge keys"):
        plan_merge(spark, "t", table, spark.createDataFrame([(5, "x", NOV1)], SCHEMA), ["posting_id"], None)


def test_replace_keys_rewrite_the_files_outside_the_replaced_partitions_holding_a_written_key(spark, table, tmp_path):
    written_root = tmp_path / "written"  # the rows a replace-where of 2 November wrote, as the table lays them out
    spark.createDataFrame([(2, "b again", NOV2)], SCHEMA).coalesce(1).write.partitionBy("run_date").parquet(
        str(written_root))
    files = [{"path": str(path.relative_to(written_root))} for path in Path(written_root).rglob("*.parquet")]
    schema = spark.createDataFrame([], SCHEMA).schema
    plan = plan_write(spark, "t", table, schema, WriteSpec(mode="replace_where", replace_where=ON_NOV2,
                                                           replace_keys=["id"]))

    removes, rows = plan_key_rewrite(spark, plan, table, str(written_root), files)
    assert folders(removes) == ["run_date=2026-11-01"]
    assert [tuple(row) for row in rows.collect()] == [(1, "a", NOV1)]
    without_keys = plan_write(spark, "t", table, schema, WriteSpec(mode="replace_where", replace_where=ON_NOV2))
    assert plan_key_rewrite(spark, without_keys, table, str(written_root), files) == ([], None)
