"""WriteSpec: the options of a write, checked once for every engine; bad options fail loudly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from jobtagger.tables import Txn, WriteSpec


def test_defaults_refuse_an_existing_table_and_options_are_normalised():
    spec = WriteSpec(partition_by=["run_date"], metadata={"jobtagger.run_id": "r1"}, txn=Txn("app", 3))

    assert (spec.mode, spec.schema_mode, spec.replace_where, spec.replace_keys) == ("error", "enforce", None, ())
    assert spec.partition_by == ("run_date",)
    assert spec.with_metadata({"jobtagger.rows": "7"}).metadata == {"jobtagger.run_id": "r1", "jobtagger.rows": "7"}
    assert spec.metadata == {"jobtagger.run_id": "r1"}  # with_metadata makes a new spec
    assert WriteSpec(mode="replace_where", replace_where="run_date = '2026-11-01'",
                     replace_keys=["id"]).replace_keys == ("id",)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "upsert"}, "mode must be one of"),
        ({"schema_mode": "evolve"}, "schema_mode must be one of"),
        ({"mode": "replace_where"}, "replace_where is required"),
        ({"mode": "append", "replace_where": "x = 1"}, "replace_where is required"),
        ({"mode": "append", "replace_keys": ["id"]}, "replace_keys is only"),
        ({"partition_by": "run_date"}, "list of column names"),
    ],
)
def test_bad_options_are_errors(options, message):
    with pytest.raises(ValueError, match=message):
        WriteSpec(**options)


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        WriteSpec("append")  # type: ignore[misc]


def test_a_store_write_with_a_bad_mode_writes_nothing(spark, store):
    frame = spark.createDataFrame([(1, dt.date(2026, 11, 1))], "id long, run_date date")

    with pytest.raises(ValueError, match="mode must be one of"):
        store.write(frame, "t", mode="upsert")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="replace_keys is only"):
        store.stage(frame, "t", mode="append", replace_keys=["id"])
    assert not store.exists("t") and not Path(store.path("t")).exists()
