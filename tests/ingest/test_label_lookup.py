"""The broadcast label lookup: arrays of keys to arrays of ids, in one Arrow pass per batch."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobtagger.ingestion import broadcast_lookup


def test_keys_resolve_in_place_unknown_keys_are_null_and_null_arrays_stay_null(spark):
    lookup = {"skill:python": "skill:python", "skill:python3": "skill:python", "seniority:jr": "seniority:junior"}
    rows = [
        (1, ["skill:python3", "nonsense:x", "seniority:jr"]),
        (2, []),
        (3, None),
        (4, ["skill:python", "skill:python"]),
        (5, ["", "Skill:Python"]),  # keys are matched as they are: normalizing them is the caller's job
    ]
    frame = spark.createDataFrame(rows, "id int, keys array<string>").repartition(2)
    resolved = frame.select("id", broadcast_lookup(spark, lookup)(F.col("keys")).alias("ids"))
    expected = spark.createDataFrame(
        [
            (1, ["skill:python", None, "seniority:junior"]),
            (2, []),
            (3, None),
            (4, ["skill:python", "skill:python"]),
            (5, [None, None]),
        ],
        "id int, ids array<string>",
    )
    assert_df_equality(resolved, expected, ignore_row_order=True, ignore_nullable=True)


def test_an_empty_lookup_resolves_nothing(spark):
    frame = spark.createDataFrame([(1, ["skill:python"])], "id int, keys array<string>")
    row = frame.select(broadcast_lookup(spark, {})(F.col("keys")).alias("ids")).first()
    assert row["ids"] == [None]
