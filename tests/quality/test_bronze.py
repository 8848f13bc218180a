"""The bronze suite on small batches: the batch-share limits, the narrow check frame, and one
critical and one warning rule through GX."""

from __future__ import annotations

import datetime as dt

from jobtagger.quality import run_suite
from jobtagger.quality.bronze import BRONZE_SUITE, batch_share_failures, bronze_check_frame, bronze_expectations

RUN_DATE = dt.date(2026, 11, 2)
POSTINGS_DDL = "posting_id string, title string, description string, language string, posted_at timestamp"


def test_batch_share_failures_name_each_limit_that_is_exceeded(make_config):
    config = make_config("ingest.max_quarantine_share=0.5", "ingest.max_dropped_label_share=0.2")

    assert batch_share_failures(bad_record_share=0.5, dropped_label_share=0.2, config=config) == []
    failures = batch_share_failures(bad_record_share=0.75, dropped_label_share=0.25, config=config)
    assert failures == [
        "records quarantined as bad: 75.0% > ingest.max_quarantine_share 50.0%",
        "labels dropped as unknown: 25.0% > ingest.max_dropped_label_share 20.0%",
    ]


def test_the_check_frame_holds_derived_lengths_not_the_texts(spark):
    postings = spark.createDataFrame(
        [("p1", "Data engineer", "Spark and SQL", "en", None), ("p2", None, None, "de", None)], POSTINGS_DDL
    )
    frame = bronze_check_frame(postings)
    assert frame.columns == ["posting_id", "text_length", "title_length", "language", "posted_at"]
    assert {row.posting_id: (row.text_length, row.title_length) for row in frame.collect()} == {
        "p1": (26, 13), "p2": (0, None),
    }


def test_duplicate_ids_block_and_a_future_posting_only_warns(spark, make_config, tmp_path):
    config = make_config()
    future = dt.datetime(2030, 1, 1)
    postings = spark.createDataFrame(
        [("p1", "Data engineer", "Spark", "en", dt.datetime(2026, 11, 1)), ("p1", "Analyst", "SQL", "en", future)],
        POSTINGS_DDL,
    )
    report = run_suite(bronze_check_frame(postings), suite_name=BRONZE_SUITE,
                       expectations=bronze_expectations(config, run_date=RUN_DATE),
                       results_dir=tmp_path / "gx", run_id="r1", data_docs=False)

    assert not report.passed
    assert [(o.expectation, o.column) for o in report.critical_failures] == [
        ("expect_column_values_to_be_unique", "posting_id")
    ]
    assert [(o.expectation, o.column) for o in report.warnings] == [("expect_column_values_to_be_between", "posted_at")]
