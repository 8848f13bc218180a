"""The bronze suite on small batches: the batch-share limits, the summary it validates, and one
critical and one warning rule through GX."""

from __future__ import annotations

import datetime as dt

from jobtagger.quality import run_suite
from jobtagger.quality.bronze import (
    BRONZE_SUITE,
    batch_share_failures,
    bronze_expectations,
    bronze_summary_columns,
    bronze_summary_frame,
)

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


def summary(postings, config):
    return bronze_summary_frame(postings.agg(*bronze_summary_columns(config, run_date=RUN_DATE)).first().asDict())


def test_the_summary_counts_what_each_rule_checks_nulls_aside(spark, make_config):
    config = make_config("ingest.max_text_chars=100", "quality.max_title_chars=5")
    postings = spark.createDataFrame(
        [
            ("p1", "Data", "Spark", "en", dt.datetime(2026, 11, 1)),
            ("p1", "Data engineer", None, "xx", dt.datetime(2030, 1, 1)),  # a duplicate id, a long title
            (None, None, None, None, None),  # no id, no text
            ("p3", "Analyst", "x" * 194, "de", dt.datetime(1900, 1, 1)),  # 201 chars: over 2 x 100
        ],
        POSTINGS_DDL,
    )
    frame = summary(postings, config)
    assert frame.to_dict("records") == [{
        "rows": 4, "null_ids": 1, "duplicate_ids": 1, "texts_outside_size_limit": 2,
        "allowed_language_share": 2 / 3, "titles_over_length": 2, "posted_at_outside_window": 2,
    }]
    assert summary(postings.limit(0), config).to_dict("records")[0]["rows"] == 0


def test_duplicate_ids_block_and_a_future_posting_only_warns(spark, make_config, tmp_path):
    config = make_config()
    future = dt.datetime(2030, 1, 1)
    postings = spark.createDataFrame(
        [("p1", "Data engineer", "Spark", "en", dt.datetime(2026, 11, 1)), ("p1", "Analyst", "SQL", "en", future)],
        POSTINGS_DDL,
    )
    report = run_suite(summary(postings, config), suite_name=BRONZE_SUITE, expectations=bronze_expectations(config),
                       results_dir=tmp_path / "gx", run_id="r1", data_docs=False)

    assert not report.passed
    assert [(o.expectation, o.column) for o in report.critical_failures] == [
        ("expect_column_values_to_be_between", "duplicate_ids")
    ]
    assert [(o.expectation, o.column) for o in report.warnings] == [
        ("expect_column_values_to_be_between", "posted_at_outside_window")
    ]
