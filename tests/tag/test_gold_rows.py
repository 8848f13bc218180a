"""Pure tag logic on tiny DataFrames shaped like the decision output."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from jobtagger.tables.catalog import posting_tag_view_sql
from jobtagger.tables.schemas import GOLD_POSTING_TAG_COLUMNS, GOLD_POSTING_TAGS_SCHEMA
from jobtagger.gold_rows import latest_posting_rows, to_gold_rows

DAY = dt.date(2026, 11, 2)
TAGGED_AT = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.timezone.utc)
DECIDED_DDL = (
    "posting_id string, run_date date, tags array<string>, "
    "tag_scores map<string,double>, candidate_scores map<string,double>"
)


@pytest.fixture
def decided(spark):
    return spark.createDataFrame(
        [
            ("p1", DAY, ["skill:python", "seniority:senior"], {"skill:python": 0.9, "seniority:senior": 0.75},
             {"skill:python": 0.9, "seniority:senior": 0.75, "skill:java": 0.4}),
            ("p2", DAY, ["skill:java"], {"skill:java": 0.6}, {"skill:java": 0.6}),
            ("p3", DAY, [], {}, {"skill:sql": 0.2}),
        ],
        DECIDED_DDL,
    )


def test_gold_rows_follow_the_gold_schema(spark, decided):
    gold = to_gold_rows(decided, model_version="m7", run_id="r1", tagged_at=TAGGED_AT)

    assert [(f.name, f.dataType) for f in gold.schema] == [
        (f.name, f.dataType) for f in GOLD_POSTING_TAGS_SCHEMA
    ]
    row = gold.where("posting_id = 'p1'").first()
    assert row.tags == ["skill:python", "seniority:senior"]
    assert row.tag_scores == pytest.approx({"skill:python": 0.9, "seniority:senior": 0.75})
    assert (row.model_version, row.run_id, row.run_date) == ("m7", "r1", DAY)
    assert row.tagged_at.replace(tzinfo=dt.timezone.utc) == TAGGED_AT.replace(tzinfo=None).replace(
        tzinfo=dt.timezone.utc
    )


def test_null_decision_columns_become_empty(spark):
    decided = spark.createDataFrame([("p9", DAY, None, None, None)], DECIDED_DDL)
    row = to_gold_rows(decided, model_version="m", run_id="r", tagged_at=TAGGED_AT).first()
    assert (row.tags, row.tag_scores, row.candidate_scores) == ([], {}, {})


def test_posting_tag_view_gives_one_row_per_assigned_tag(spark, decided):
    gold = to_gold_rows(decided, model_version="m7", run_id="r1", tagged_at=TAGGED_AT)
    expected = spark.createDataFrame(
        [
            ("p1", "seniority:senior", 0.75, DAY, "m7"),
            ("p1", "skill:python", 0.9, DAY, "m7"),
            ("p2", "skill:java", 0.6, DAY, "m7"),
        ],
        "posting_id string, tag string, score float, run_date date, model_version string",
    )
    gold.createOrReplaceTempView("gold_for_view_test")
    exploded = spark.sql(posting_tag_view_sql("gold_for_view_test"))
    assert tuple(exploded.columns) == GOLD_POSTING_TAG_COLUMNS
    assert_df_equality(exploded, expected, ignore_row_order=True, ignore_nullable=True)


def test_latest_posting_rows_keeps_the_newest_ingest(spark):
    bronze = spark.createDataFrame(
        [
            ("p1", dt.date(2026, 11, 1), dt.datetime(2026, 11, 1, 1), "r1", "old"),
            ("p1", dt.date(2026, 11, 2), dt.datetime(2026, 11, 2, 1), "r2", "new"),
            ("p2", dt.date(2026, 11, 1), dt.datetime(2026, 11, 1, 1), "r1", "only"),
        ],
        "posting_id string, run_date date, ingested_at timestamp, run_id string, title string",
    )
    titles = {row.posting_id: row.title for row in latest_posting_rows(bronze).collect()}
    assert titles == {"p1": "new", "p2": "only"}
