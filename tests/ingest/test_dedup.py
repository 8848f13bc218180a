"""Dedup of a batch (jobtagger.ingestion): record ids, older versions of an id, and content seen under
another id."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobtagger.ingestion import (
    CONTENT_DUPLICATE,
    RECORD_ID,
    SURPLUS,
    content_duplicate_ids,
    dedup_marks,
    duplicate_versions,
    flag_content_duplicates,
    surplus_versions,
    with_record_id,
)

DAY = dt.datetime(2026, 11, 3)


def test_every_version_but_the_latest_of_an_id_is_surplus(spark):
    good = spark.createDataFrame(
        [
            (0, "a", DAY, "1.jsonl", "h1"),
            (1, "a", DAY + dt.timedelta(days=1), "1.jsonl", "h2"),  # latest posted_at: kept
            (2, "a", None, "2.jsonl", "h3"),
            (3, "b", DAY, "1.jsonl", "h4"),
            (4, "b", DAY, "2.jsonl", "h4"),  # same time, later file: kept
            (5, "c", DAY, "1.jsonl", "h5"),
            (6, "c", DAY, "1.jsonl", "h5"),  # identical: the first record read is kept
            (7, "d", DAY, "1.jsonl", "h6"),
        ],
        f"{RECORD_ID} long, posting_id string, posted_at timestamp, source_file string, content_hash string",
    )
    assert sorted(row[RECORD_ID] for row in surplus_versions(good).collect()) == [0, 2, 3, 6]


def test_content_first_seen_under_another_id_is_flagged_bronze_first(spark):
    batch = spark.createDataFrame(
        [("b", "h1"), ("a", "h1"), ("c", "h2"), ("d", "h3"), ("e", "h3")], "posting_id string, content_hash string"
    )
    existing = spark.createDataFrame([("z", "h3"), ("c", "h9")], "posting_id string, content_hash string")
    flagged = flag_content_duplicates(batch, content_duplicate_ids(batch, existing))
    expected = spark.createDataFrame(
        [("a", "h1", False), ("b", "h1", True), ("c", "h2", False), ("d", "h3", True), ("e", "h3", True)],
        "posting_id string, content_hash string, is_content_duplicate boolean",
    )
    assert_df_equality(flagged, expected, ignore_row_order=True, ignore_nullable=True)
    broadcast = flag_content_duplicates(batch, F.broadcast(content_duplicate_ids(batch, None)))
    assert sorted(row["posting_id"] for row in broadcast.where("is_content_duplicate").collect()) == ["b", "e"]


@pytest.mark.slow  # against the two-pass reference
def test_dedup_marks_name_what_the_two_separate_passes_name(spark):
    good = spark.createDataFrame(
        [
            (0, "a", DAY, "1.jsonl", "h1"),
            (1, "a", DAY + dt.timedelta(days=1), "1.jsonl", "h2"),  # kept; h2 first seen under "c" (bronze)
            (2, "b", DAY, "1.jsonl", "h1"),  # kept; its content h1 is first kept under "b" ("a"'s h1 is surplus)
            (3, "d", DAY, "1.jsonl", "h3"),
            (4, "e", DAY, "1.jsonl", "h3"),  # content of "d"
            (5, "e", None, "2.jsonl", "h3"),  # surplus, and its content too
            (6, "f", DAY, "1.jsonl", "h4"),
            (7, "f", DAY, "1.jsonl", "h4"),  # identical: surplus
            (8, "g", DAY, "1.jsonl", "h5"),  # h5 only in bronze under "g" itself: not a duplicate
        ],
        f"{RECORD_ID} long, posting_id string, posted_at timestamp, source_file string, content_hash string",
    )
    existing = spark.createDataFrame([("c", "h2"), ("g", "h5"), ("z", "h9")], "posting_id string, content_hash string")
    for bronze in (None, existing):
        surplus = surplus_versions(good)
        batch = good.join(surplus, RECORD_ID, "left_anti")
        expected = {(row[RECORD_ID], SURPLUS) for row in surplus.collect()} | {
            (row[RECORD_ID], CONTENT_DUPLICATE)
            for row in batch.join(content_duplicate_ids(batch, bronze), "posting_id", "left_semi").collect()
        }
        marks = {(row[RECORD_ID], row["mark"]) for row in dedup_marks(good, bronze).collect()}
        assert marks == expected
    assert marks == {(0, SURPLUS), (5, SURPLUS), (7, SURPLUS), (1, CONTENT_DUPLICATE), (4, CONTENT_DUPLICATE)}


def test_older_versions_keep_their_normalized_posting_as_the_payload(spark):
    older = spark.createDataFrame(
        [(dt.date(2026, 11, 3), "r1", "1.jsonl", "a", "Title", DAY, ["it"], "train")],
        "run_date date, run_id string, source_file string, posting_id string, title string,"
        " posted_at timestamp, labels array<string>, split string",
    )
    for name in ("description", "company", "location", "country", "language", "source", "url"):
        older = older.withColumn(name, F.lit(None).cast("string"))
    row = duplicate_versions(older).first()
    assert (row["reason"], row["source_file"]) == ("duplicate_version", "1.jsonl")
    assert row["raw_payload"].startswith('{"posting_id":"a","title":"Title"')
    assert '"labels":["it"]' in row["raw_payload"]


def test_record_ids_keep_later_projections_above_the_readers_union(spark):
    # Spark pushes a deterministic projection into every branch of a union; the record id (not
    # deterministic) keeps the validation above it, written once in the plan.
    jsonl = spark.createDataFrame([("a", "x")], "posting_id string, title string")
    csv = spark.createDataFrame([("b", "y")], "posting_id string, title string")
    union = jsonl.unionByName(csv)
    cleaned = F.upper(F.regexp_replace("title", "x", "z")).alias("title")
    plan = lambda df: df._jdf.queryExecution().optimizedPlan().toString()  # noqa: E731
    assert plan(union.select("posting_id", cleaned)).count("regexp_replace") == 2  # one per branch
    with_ids = with_record_id(union).select("posting_id", cleaned, RECORD_ID)
    assert plan(with_ids).count("regexp_replace") == 1
    ids = [row[RECORD_ID] for row in with_ids.collect()]
    assert len(set(ids)) == len(ids) == 2
