"""The bronze suite: what must hold for a batch of postings before ingest commits it.

Critical (blocks the commit): at least one row, ids present and unique, some text within the size
limit, languages allowed (for ``quality.language_mostly`` of the rows that name one). Warnings
(reported): title length, posted_at inside the plausible window.

The suite validates a one-row summary of the batch (:func:`bronze_summary_frame`), whose counts
Spark computes as aggregates of the query that counts the upsert plan's actions
(:func:`bronze_summary_columns`): no pass of its own. Validated row by row in Spark, the same
rules cost GX about thirty small jobs per batch (each column rule counts its unexpected rows, lists
some, and the id rule's window query is refused and retried another way), longer than the
commit of the batch itself. The counts are those GX counted: nulls are not checked against a
range or a set, a range includes both ends.

Before the suite, the batch as a whole (:func:`batch_share_failures`): a batch that is mostly
garbage (quarantined records, or labels dropped as unknown, above ``ingest.max_quarantine_share``
/ ``ingest.max_dropped_label_share``) fails the gate, even if its few good rows pass the suite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F

from jobtagger.config import JobtaggerConfig
from jobtagger.ingestion import longer_than
from jobtagger.quality import expect_zero, great_expectations

if TYPE_CHECKING:
    import great_expectations as gx

BRONZE_SUITE = "bronze_postings"


def batch_share_failures(*, bad_record_share: float, dropped_label_share: float, config: JobtaggerConfig) -> list[str]:
    """What is over its limit in a batch (empty when the batch may be committed)."""
    limits = [
        ("records quarantined as bad", bad_record_share, config.ingest.max_quarantine_share, "ingest.max_quarantine_share"),
        ("labels dropped as unknown", dropped_label_share, config.ingest.max_dropped_label_share,
         "ingest.max_dropped_label_share"),
    ]
    return [
        f"{what}: {share:.1%} > {key} {limit:.1%}" for what, share, limit, key in limits if share > limit
    ]


def bronze_summary_columns(config: JobtaggerConfig, *, run_date: dt.date) -> list[Column]:
    """Aggregates over a batch of bronze postings, for :func:`bronze_summary_frame`."""
    ingest, quality = config.ingest, config.quality
    earliest, latest = _posted_at_window(config, run_date)
    text_bytes = F.coalesce(F.octet_length("title"), F.lit(0)) + F.coalesce(F.octet_length("description"), F.lit(0))
    text_length = F.coalesce(F.length("title"), F.lit(0)) + F.coalesce(F.length("description"), F.lit(0))
    text_limit = 2 * ingest.max_text_chars
    return [
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col("posting_id").isNull()).alias("null_ids"),
        F.count_distinct("posting_id").alias("distinct_ids"),
        # characters are counted only past the limit in bytes (no text has fewer bytes than characters)
        F.count_if((text_bytes < 1) | ((text_bytes > text_limit) & (text_length > text_limit))).alias("texts_outside_size_limit"),
        F.count("language").alias("languages_named"),
        F.count_if(F.col("language").isin(*ingest.allowed_languages)).alias("languages_allowed"),
        F.count_if(longer_than("title", quality.max_title_chars)).alias("titles_over_length"),
        F.count_if((F.col("posted_at") < F.lit(earliest)) | (F.col("posted_at") > F.lit(latest)))
        .alias("posted_at_outside_window"),
    ]


def bronze_summary_frame(row: Mapping[str, Any]) -> pd.DataFrame:
    """The one-row frame the suite validates, from the aggregates of :func:`bronze_summary_columns`."""
    named = row["languages_named"]
    return pd.DataFrame([{
        "rows": row["rows"],
        "null_ids": row["null_ids"],
        "duplicate_ids": row["rows"] - row["null_ids"] - row["distinct_ids"],
        "texts_outside_size_limit": row["texts_outside_size_limit"],
        "allowed_language_share": row["languages_allowed"] / named if named else 1.0,
        "titles_over_length": row["titles_over_length"],
        "posted_at_outside_window": row["posted_at_outside_window"],
    }])


def _posted_at_window(config: JobtaggerConfig, run_date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    latest = dt.datetime.combine(run_date + dt.timedelta(days=config.ingest.max_future_days + 1), dt.time())
    return dt.datetime.combine(config.ingest.min_posted_at, dt.time()), latest


def bronze_expectations(config: JobtaggerConfig) -> list[gx.expectations.Expectation]:
    """Expectations over :func:`bronze_summary_frame`."""
    gx = great_expectations()
    return [
        gx.expectations.ExpectColumnValuesToBeBetween(column="rows", min_value=1),
        expect_zero("null_ids"),
        expect_zero("duplicate_ids"),
        expect_zero("texts_outside_size_limit"),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="allowed_language_share", min_value=config.quality.language_mostly, max_value=1.0
        ),
        expect_zero("titles_over_length", severity="warning"),
        expect_zero("posted_at_outside_window", severity="warning"),
    ]
