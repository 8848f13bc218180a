"""The delta-rs engine on real Delta tables in ``tmp_path``: every assertion reads the table back,
through Spark and through deltalake's own reader where it matters."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable, QueryBuilder, write_deltalake

from jobtagger.errors import (
    ConcurrentWriteError,
    DataQualityError,
    MissingInputError,
    SchemaMismatchError,
    TableExistsError,
)
from jobtagger.tables import MappedRows, TableStore, Txn, WriteSpec
from jobtagger.tables.base import PersistedWrite
from jobtagger.tables.delta_rs import DeltaRsTableStore

SCHEMA = "id long, name string, run_date date"
NOV1, NOV2, NOV3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)


def frame(spark, rows, schema=SCHEMA):
    return spark.createDataFrame(rows, schema)


def rows_of(df, order="id"):
    return [tuple(row) for row in df.orderBy(order).collect()]


def parquet_files(folder: str) -> set[str]:
    return {str(path) for path in Path(folder).rglob("*.parquet")}


def test_spark_write_is_read_identically_by_deltalake_and_its_sql(spark, store):
    rows = [(1, "a", NOV1), (2, "b", NOV2), (3, None, NOV2)]
    result = store.write(frame(spark, rows), "postings", partition_by=["run_date"])

    assert (result.committed, result.version, result.rows_written, result.files_added) == (True, 0, 3, 2)
    table = DeltaTable(store.path("postings"))
    assert table.metadata().partition_columns == ["run_date"]
    assert sorted(pa.table(table.scan()).to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "name": "a", "run_date": NOV1},
        {"id": 2, "name": "b", "run_date": NOV2},
        {"id": 3, "name": None, "run_date": NOV2},
    ]
    sql = pa.table(QueryBuilder().register("p", table).execute(
        "SELECT run_date, count(*) AS n FROM p GROUP BY run_date ORDER BY run_date"
    ))
    assert sql.to_pylist() == [{"run_date": NOV1, "n": 1}, {"run_date": NOV2, "n": 2}]
    assert rows_of(store.read("postings")) == rows


def test_table_written_by_deltalake_is_read_by_spark(spark, store):
    data = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "name": ["x", "y", "z"],
        "run_date": pa.array([NOV1, NOV1, NOV2], pa.date32()),
    })
    write_deltalake(store.path("external"), data, partition_by=["run_date"])
    write_deltalake(store.path("external"), data.slice(0, 1), mode="overwrite", predicate="run_date = '2026-11-01'")

    assert store.exists("external") and store.version("external") == 1
    assert rows_of(store.read("external")) == [(1, "x", NOV1), (3, "z", NOV2)]
    assert rows_of(store.read("external", version=0)) == [(1, "x", NOV1), (2, "y", NOV1), (3, "z", NOV2)]


def test_rerun_of_the_same_txn_adds_nothing(spark, store):
    df = frame(spark, [(1, "a", NOV1)])
    first = store.write(df, "bronze", mode="append", txn=Txn("jobtagger.ingest", 20261101))
    again = store.write(df, "bronze", mode="append", txn=Txn("jobtagger.ingest", 20261101))
    older = store.write(df, "bronze", mode="append", txn=Txn("jobtagger.ingest", 20261031))
    newer = store.write(df, "bronze", mode="append", txn=Txn("jobtagger.ingest", 20261102))

    assert first.committed and not again.committed and not older.committed and newer.committed
    assert (again.version, newer.version) == (0, 1)
    assert store.read("bronze").count() == 2
    assert DeltaTable(store.path("bronze")).transaction_version("jobtagger.ingest") == 20261102


def test_replace_where_replaces_exactly_one_partition(spark, store):
    store.write(frame(spark, [(1, "a", NOV1), (2, "b", NOV2), (3, "c", NOV2), (4, "d", NOV3)]), "t",
                partition_by=["run_date"])
    nov2_files = [uri for uri in DeltaTable(store.path("t")).file_uris() if "run_date=2026-11-02" in uri]
    result = store.write(frame(spark, [(9, "new", NOV2)]), "t", mode="replace_where",
                         replace_where="run_date = DATE'2026-11-02'")

    assert (result.files_added, result.files_removed) == (1, len(nov2_files))
    assert rows_of(store.read("t")) == [(1, "a", NOV1), (4, "d", NOV3), (9, "new", NOV2)]
    assert len(store.history("t")) == 2  # one atomic commit


def test_replace_where_rejects_rows_outside_the_predicate_and_commits_nothing(spark, store):
    store.write(frame(spark, [(1, "a", NOV1)]), "t", partition_by=["run_date"])
    before = parquet_files(store.path("t"))

    with pytest.raises(DataQualityError, match="replace_where"):
        store.write(frame(spark, [(2, "b", NOV1), (3, "c", NOV3)]), "t", mode="replace_where",
                    replace_where="run_date = DATE'2026-11-01'")
    assert store.version("t") == 0
    assert rows_of(store.read("t")) == [(1, "a", NOV1)]
    assert parquet_files(store.path("t")) == before  # the written files were deleted
    with pytest.raises(SchemaMismatchError, match="partition columns"):
        store.write(frame(spark, [(2, "b", NOV1)]), "t", mode="replace_where", replace_where="name = 'b'")


@pytest.mark.parametrize(
    ("schema", "row", "message"),
    [
        ("id long, run_date date", (1, NOV1), "missing columns: name"),
        ("id long, name string, run_date date, extra int", (1, "a", NOV1, 7), "extra columns: extra"),
        ("id int, name string, run_date date", (1, "a", NOV1), r"mistyped columns: id \(int, table has bigint\)"),
    ],
)
def test_schema_mismatch_fails_before_any_file_is_written(spark, store, schema, row, message):
    store.write(frame(spark, [(1, "a", NOV1)]), "t")
    before = parquet_files(store.path("t"))

    with pytest.raises(SchemaMismatchError, match=message):
        store.write(frame(spark, [row], schema), "t", mode="append")
    assert parquet_files(store.path("t")) == before and store.version("t") == 0


def test_schema_merge_adds_a_column_and_old_rows_read_null(spark, store):
    store.write(frame(spark, [(1, "a", NOV1)]), "t")
    store.write(frame(spark, [(2, "b", NOV2, 0.5)], SCHEMA + ", score double"), "t", mode="append", schema_mode="merge")

    assert store.schema("t").fieldNames() == ["id", "name", "run_date", "score"]
    assert rows_of(store.read("t")) == [(1, "a", NOV1, None), (2, "b", NOV2, 0.5)]


def test_modes_error_overwrite_and_not_null(spark, store):
    store.write(frame(spark, [(1, "a", NOV1)]), "t")
    with pytest.raises(TableExistsError):
        store.write(frame(spark, [(2, "b", NOV1)]), "t")
    store.write(frame(spark, [(2, "b", NOV1)]), "t", mode="overwrite")
    assert rows_of(store.read("t")) == [(2, "b", NOV1)]

    store.write(frame(spark, [("k1", 1)], "key string not null, n int"), "strict")
    with pytest.raises(SchemaMismatchError, match="NOT NULL"):
        store.write(frame(spark, [(None, 2)], "key string, n int"), "strict", mode="append")
    assert store.version("strict") == 0
    with pytest.raises(MissingInputError):
        store.read("absent")


def test_empty_dataframes_create_a_table_and_append_nothing(spark, store):
    empty = frame(spark, [])
    created = store.write(empty, "t", partition_by=["run_date"])
    appended = store.write(empty, "t", mode="append")

    assert created.committed and created.files_added == 0 and appended.committed
    assert store.read("t").count() == 0 and store.schema("t").fieldNames() == ["id", "name", "run_date"]
    assert DeltaTable(store.path("t")).version() == 1


def test_time_travel_and_history_with_commit_metadata(spark, store):
    store.write(frame(spark, [(1, "a", NOV1)]), "t", metadata={"jobtagger.run_id": "run-1", "jobtagger.job": "ingest"})
    store.write(frame(spark, [(2, "b", NOV2)]), "t", mode="append", metadata={"jobtagger.run_id": "run-2"})

    history = store.history("t")
    assert [entry["version"] for entry in history] == [1, 0]
    assert history[0]["jobtagger.run_id"] == "run-2" and history[0]["operation"] == "WRITE"
    assert (history[1]["jobtagger.run_id"], history[1]["jobtagger.job"]) == ("run-1", "ingest")
    assert isinstance(history[0]["timestamp"], dt.datetime)
    assert rows_of(store.read("t", version=0)) == [(1, "a", NOV1)]
    assert rows_of(store.read("t")) == [(1, "a", NOV1), (2, "b", NOV2)]


def test_merge_upserts_in_one_commit_and_leaves_untouched_files(spark, store):
    store.write(frame(spark, [(1, "a", NOV1), (2, "b", NOV2), (3, "c", NOV3)]), "t", partition_by=["run_date"])
    result = store.merge(frame(spark, [(2, "B", NOV2), (4, "d", NOV3)]), "t", keys=["id"],
                         metadata={"jobtagger.run_id": "m1"})

    assert rows_of(store.read("t")) == [(1, "a", NOV1), (2, "B", NOV2), (3, "c", NOV3), (4, "d", NOV3)]
    assert (result.version, result.files_removed) == (1, 1)  # only the file holding id 2 was rewritten
    assert store.history("t", limit=1)[0]["jobtagger.run_id"] == "m1"
    with pytest.raises(DataQualityError, match="not unique"):
        store.merge(frame(spark, [(5, "x", NOV1), (5, "y", NOV1)]), "t", keys=["id"])
    created = store.merge(frame(spark, [(1, "a", NOV1)]), "fresh", keys=["id"])
    assert created.committed and store.read("fresh").count() == 1


def test_concurrent_appends_both_land_or_fail_retryably(spark, store):
    store.write(frame(spark, [(0, "seed", NOV1)]), "t")
    errors: list[BaseException] = []

    def append(first_id: int) -> None:
        rows = [(first_id + offset, "x", NOV1) for offset in range(3)]
        for _attempt in range(3):
            try:
                store.write(frame(spark, rows), "t", mode="append")
                return
            except ConcurrentWriteError:
                continue
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
                return

    threads = [threading.Thread(target=append, args=(first,)) for first in (100, 200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(row.id for row in store.read("t").collect()) == [0, 100, 101, 102, 200, 201, 202]
    assert store.version("t") == 2


def test_compaction_and_vacuum(spark, store):
    for index in range(3):
        store.write(frame(spark, [(index, "x", NOV1)]), "t", mode="append")
    files_before = parquet_files(store.path("t"))

    metrics = store.compact("t")
    assert metrics["numFilesAdded"] == 1 and metrics["numFilesRemoved"] == 3
    assert len(DeltaTable(store.path("t")).file_uris()) == 1
    assert store.vacuum("t", retention_hours=0, dry_run=True)
    removed = store.vacuum("t", retention_hours=0)
    assert len(removed) == 3 and not files_before & parquet_files(store.path("t"))
    assert sorted(row.id for row in store.read("t").collect()) == [0, 1, 2]


def test_register_makes_the_current_snapshot_queryable_in_sql(spark, store):
    store.write(frame(spark, [(1, "a", NOV1), (2, "b", NOV2)]), "gold", partition_by=["run_date"])
    assert store.register_all() == ["jobtagger.gold"]
    assert spark.sql("SELECT name FROM jobtagger.gold WHERE run_date = DATE'2026-11-02'").collect()[0].name == "b"

    store.write(frame(spark, [(3, "c", NOV2)]), "gold", mode="replace_where", replace_where="run_date = DATE'2026-11-02'")
    assert rows_of(spark.sql("SELECT * FROM jobtagger.gold")) == [(1, "a", NOV1), (3, "c", NOV2)]
    assert store.list_tables() == ["gold"]


def test_data_sources_are_registered_once_per_session_and_table(spark, store, tmp_path):
    """Spark warns on every registration that replaces a data source: opening the store again or
    registering the same table again keeps the registered source; another warehouse rebinds it.
    Opening a store registers nothing (the first registration costs a Python process)."""
    manager = spark._jsparkSession.sessionState().dataSourceManager()

    def registered(name):
        return spark._jvm.System.identityHashCode(manager.lookupDataSource(name))

    store.write(frame(spark, [(1, "a", NOV1)]), "gold_sources", partition_by=["run_date"])
    assert not manager.dataSourceExists("jobtagger_delta_jobtagger_gold_sources")
    store.register("gold_sources")
    bound = registered("jobtagger_delta_jobtagger_gold_sources")
    again = DeltaRsTableStore(spark, warehouse=store.warehouse, database=store.database)
    again.register("gold_sources")
    assert registered("jobtagger_delta_jobtagger_gold_sources") == bound

    other = DeltaRsTableStore(spark, warehouse=str(tmp_path / "other"), database=store.database)
    other.write(frame(spark, [(2, "b", NOV2)]), "gold_sources", partition_by=["run_date"])
    other.register("gold_sources")
    assert registered("jobtagger_delta_jobtagger_gold_sources") != bound
    assert rows_of(spark.sql("SELECT * FROM jobtagger.gold_sources")) == [(2, "b", NOV2)]


def test_read_is_a_parallel_scan_of_the_snapshot_files(spark, store):
    store.write(spark.range(0, 100, numPartitions=4).selectExpr("id", "'x' AS name", "DATE'2026-11-01' AS run_date"), "t")
    store.write(frame(spark, [(1000, "y", NOV1)]), "t", mode="overwrite")
    leftovers = parquet_files(store.path("t"))

    df = store.read("t")
    assert len(leftovers) == 5  # removed files stay on disk until vacuum...
    assert rows_of(df) == [(1000, "y", NOV1)]  # ...but are not read
    assert "FileScan parquet" in df._jdf.queryExecution().executedPlan().toString()  # noqa: SLF001
    assert_df_equality(df, frame(spark, [(1000, "y", NOV1)]), ignore_nullable=True)


def test_staged_rows_are_readable_but_invisible_until_the_commit(spark, store):
    store.write(frame(spark, [(1, "a", NOV1), (2, "b", NOV2)]), "t", partition_by=["run_date"])
    staged = store.stage(frame(spark, [(8, "x", NOV2), (9, "y", NOV2)]), "t", mode="replace_where",
                         replace_where="run_date = DATE'2026-11-02'", txn=Txn("jobtagger.tag", 1),
                         metadata={"jobtagger.run_id": "run-2"})

    assert rows_of(staged.rows) == [(8, "x", NOV2), (9, "y", NOV2)]
    assert rows_of(store.read("t")) == [(1, "a", NOV1), (2, "b", NOV2)]
    assert DeltaTable(store.path("t")).version() == 0
    with staged:
        result = staged.commit(metadata={"jobtagger.rows": "2"})  # known once the rows were staged
    assert (result.committed, result.version, result.rows_written) == (True, 1, 2)
    assert {key: store.history("t")[0][key] for key in ("jobtagger.run_id", "jobtagger.rows")} == {
        "jobtagger.run_id": "run-2", "jobtagger.rows": "2"}
    assert rows_of(store.read("t")) == [(1, "a", NOV1), (8, "x", NOV2), (9, "y", NOV2)]
    assert rows_of(store.read("t", version=0)) == [(1, "a", NOV1), (2, "b", NOV2)]  # exit did not delete files


def test_a_staged_write_left_uncommitted_deletes_its_files(spark, store):
    store.write(frame(spark, [(1, "a", NOV1)]), "t", partition_by=["run_date"])
    before = parquet_files(store.path("t"))

    with pytest.raises(RuntimeError, match="gate failed"):
        with store.stage(frame(spark, [(2, "b", NOV2)]), "t", mode="append") as staged:
            assert staged.rows.count() == 1 and len(parquet_files(store.path("t"))) == len(before) + 1
            raise RuntimeError("gate failed")
    with store.stage(frame(spark, [(3, "c", NOV3)]), "new_table", partition_by=["run_date"]) as unused:
        assert unused.rows.count() == 1

    assert parquet_files(store.path("t")) == before and store.version("t") == 0
    assert not store.exists("new_table") and parquet_files(store.path("new_table")) == set()
    with pytest.raises(RuntimeError, match="already committed or discarded"):
        staged.commit()


def test_persisted_staging_of_engines_without_file_staging_commits_at_the_end(spark, store):
    """The base class's staging (what delta-spark uses), run on top of this engine's write."""
    staged = PersistedWrite(store, frame(spark, [(1, "a", NOV1)]), "t",
                            WriteSpec(partition_by=["run_date"], metadata={"jobtagger.run_id": "run-1"}))

    assert staged.rows.is_cached and rows_of(staged.rows) == [(1, "a", NOV1)]
    assert not store.exists("t")
    result = staged.commit(metadata={"jobtagger.rows": "1"})
    assert result.committed and rows_of(store.read("t")) == [(1, "a", NOV1)]
    assert {key: store.history("t")[0][key] for key in ("jobtagger.run_id", "jobtagger.rows")} == {
        "jobtagger.run_id": "run-1", "jobtagger.rows": "1"}
    assert not staged.rows.is_cached


def doubling():
    """A Python pass computing new rows: ids doubled, names upper-cased (made inside a function, so
    that Spark ships it by value to workers that cannot import this test module)."""
    def doubled_ids(batches):
        for batch in batches:
            yield pa.RecordBatch.from_arrays(
                [pc.multiply(batch.column("id"), 2), pc.utf8_upper(batch.column("name")), batch.column("run_date")],
                names=["id", "name", "run_date"])
    return doubled_ids


def mapped(spark, rows):
    source = frame(spark, rows).repartition(2)
    return MappedRows(source, doubling(), source.schema)


def test_mapped_rows_are_written_by_their_own_pass(spark, store):
    store.write(frame(spark, [(1, "a", NOV1), (2, "b", NOV2)]), "t", partition_by=["run_date"])
    rows = mapped(spark, [(4, "x", NOV2), (5, "y", NOV2), (6, None, NOV2)])

    with store.stage(rows, "t", mode="replace_where", replace_where="run_date = DATE'2026-11-02'") as staged:
        assert rows_of(staged.rows) == [(8, "X", NOV2), (10, "Y", NOV2), (12, None, NOV2)]
        assert rows_of(store.read("t")) == [(1, "a", NOV1), (2, "b", NOV2)]
        result = staged.commit()

    assert (result.committed, result.rows_written, result.files_removed) == (True, 3, 1)
    assert rows_of(store.read("t")) == [(1, "a", NOV1), (8, "X", NOV2), (10, "Y", NOV2), (12, None, NOV2)]
    assert rows_of(rows.frame()) == rows_of(store.read("t").where("run_date = DATE'2026-11-02'"))
    assert sorted(DeltaTable(store.path("t")).to_pyarrow_dataset().to_table().column("id").to_pylist()) == [1, 8, 10, 12]


def test_mapped_rows_take_the_table_column_order_and_its_checks(spark, store):
    store.write(frame(spark, [("k1", 1, NOV1)], "key string not null, n int, run_date date"), "strict",
                partition_by=["run_date"])
    reordered = frame(spark, [(2, "k2", NOV1)], "n int, key string, run_date date")
    store.stage(MappedRows.of(reordered), "strict", mode="append").commit()
    assert rows_of(store.read("strict"), order="n") == [("k1", 1, NOV1), ("k2", 2, NOV1)]

    before = parquet_files(store.path("strict"))
    with pytest.raises(SchemaMismatchError, match="NOT NULL"):
        store.stage(MappedRows.of(frame(spark, [(None, 3, NOV1)], "key string, n int, run_date date")), "strict",
                    mode="append")
    with pytest.raises(DataQualityError, match="replace_where"):
        store.stage(MappedRows.of(frame(spark, [("k4", 4, NOV1), ("k5", 5, NOV3)], "key string, n int, run_date date")),
                    "strict", mode="replace_where", replace_where="run_date = DATE'2026-11-01'")
    assert parquet_files(store.path("strict")) == before and store.version("strict") == 1


def test_a_failing_pass_leaves_no_file_behind(spark, store):
    """One task writes its file and succeeds, the other fails later: the job's files are deleted."""
    doubled_ids = doubling()

    def fails_on_id_1(batches):
        for batch in doubled_ids(batches):
            if 2 in batch.column("id").to_pylist():
                time.sleep(2)  # the other task has finished its file by now
                raise ValueError("scoring failed on posting 1")
            yield batch

    store.write(frame(spark, [(1, "a", NOV1)]), "t", partition_by=["run_date"])
    before = parquet_files(store.path("t"))
    source = spark.range(2, numPartitions=2).selectExpr("id", "'x' AS name", "DATE'2026-11-02' AS run_date")
    with pytest.raises(Exception, match="scoring failed on posting 1"):
        store.stage(MappedRows(source, fails_on_id_1, frame(spark, []).schema), "t", mode="append")
    assert parquet_files(store.path("t")) == before and store.version("t") == 0


def test_persisted_staging_takes_mapped_rows(spark, store):
    staged = PersistedWrite(store, mapped(spark, [(1, "a", NOV1)]), "t", WriteSpec(partition_by=["run_date"]))
    assert rows_of(staged.rows) == [(2, "A", NOV1)]
    staged.commit()
    assert rows_of(store.read("t")) == [(2, "A", NOV1)]


def test_floating_point_columns_are_not_dictionary_encoded(spark, store):
    """Scores rarely repeat: dictionary pages for them cost time and space; the rest keep them."""
    schema = "id long, tag string, score double, scores map<string, float>, tags array<string>, run_date date"
    rows = [(i, "python", i / 7, {"sql": i / 3}, ["a", "b"], NOV1) for i in range(50)]
    store.write(frame(spark, rows, schema), "scored", partition_by=["run_date"])

    encodings = {}
    for path in parquet_files(store.path("scored")):
        metadata = pq.ParquetFile(path).metadata
        for group in range(metadata.num_row_groups):
            for column in range(metadata.num_columns):
                chunk = metadata.row_group(group).column(column)
                encodings.setdefault(chunk.path_in_schema, set()).update(chunk.encodings)

    dictionary = {path for path, used in encodings.items() if "RLE_DICTIONARY" in used}
    assert dictionary == {"id", "tag", "scores.key_value.key", "tags.list.element"}
    assert encodings.keys() == dictionary | {"score", "scores.key_value.value"}


def test_partition_values_come_from_the_log_as_spark_reads_them(spark, store):
    schema = "id long, run_date date, source string, shard int"
    rows = [(1, NOV1, "a", 1), (2, NOV2, None, 1), (3, NOV2, "b", None)]
    store.write(frame(spark, rows, schema), "parts", partition_by=["run_date", "source", "shard"])
    store.write(frame(spark, [(4, NOV3, "a", 2)], schema), "parts", mode="append")

    for column in ("run_date", "source", "shard"):
        expected = {row[0] for row in store.read("parts").select(column).distinct().collect()}
        assert store.partition_values("parts", column) == expected == TableStore.partition_values(store, "parts", column)
    assert store.partition_values("parts", "run_date") == {NOV1, NOV2, NOV3}
    assert store.partition_values("parts", "source") == {"a", "b", None}
    with pytest.raises(ValueError, match="not a partition column"):
        store.partition_values("parts", "id")
