"""Copy-on-write by key (jobtagger.tables.copy_on_write): which files hold some of a set of keys."""

from __future__ import annotations

from jobtagger.tables.copy_on_write import files_holding, relative_path


def test_relative_path_of_a_file_uri_and_of_a_plain_path():
    assert relative_path("/wh/t", "file:///wh/t/run_date=2026-11-03/part%20a.parquet") == "run_date=2026-11-03/part a.parquet"
    assert relative_path("/wh/t", "/wh/t/part-1.parquet") == "part-1.parquet"


def test_only_the_files_holding_a_key_are_named(spark, tmp_path):
    root = tmp_path / "table"
    for name, rows in {"a": [("x", 1), ("y", 2)], "b": [("z", 3)], "c/d": [("x", 4), ("w", 5)]}.items():
        spark.createDataFrame(rows, "id string, n int").coalesce(1).write.parquet(str(root / name))
    current = spark.read.schema("id string, n int").parquet(str(root / "a"), str(root / "b"), str(root / "c/d"))
    keys = spark.createDataFrame([("x",), ("q",)], "id string")
    touched = files_holding(current, keys, str(root))
    assert [path.split("/part-")[0] for path in touched] == ["a", "c/d"]
    assert all(path.endswith(".parquet") for path in touched)
    assert files_holding(current, spark.createDataFrame([("q",)], "id string"), str(root)) == []
