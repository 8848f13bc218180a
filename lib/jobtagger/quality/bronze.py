"""The bronze suite: what must hold for a batch of postings before ingest commits it.

Critical (blocks the commit): at least one row, ids present and unique, some text within the size
limit, languages allowed (for ``quality.language_mostly`` of the rows). Warnings (reported):
title length, posted_at inside the plausible window. Validation runs on a narrow frame of derived
columns (:func:`bronze_check_frame`), so GX never scans the long description texts.

Before the suite, the batch as a whole (:func:`batch_share_failures`): a batch that is mostly
garbage (quarantined records, or labels dropped as unknown, above ``ingest.max_quarantine_share``
/ ``ingest.max_dropped_label_share``) fails the gate, even if its few good rows pass the suite.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.config import JobtaggerConfig
from jobtagger.quality import great_expectations

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


def bronze_check_frame(postings: DataFrame) -> DataFrame:
    return postings.select(
        "posting_id",
        (F.coalesce(F.length("title"), F.lit(0)) + F.coalesce(F.length("description"), F.lit(0))).alias("text_length"),
        F.length("title").alias("title_length"),
        "language",
        "posted_at",
    )


def bronze_expectations(config: JobtaggerConfig, *, run_date: dt.date) -> list[gx.expectations.Expectation]:
    gx = great_expectations()
    ingest, quality = config.ingest, config.quality
    latest = dt.datetime.combine(run_date + dt.timedelta(days=ingest.max_future_days + 1), dt.time())
    earliest = dt.datetime.combine(ingest.min_posted_at, dt.time())
    return [
        gx.expectations.ExpectTableRowCountToBeBetween(min_value=1),
        gx.expectations.ExpectColumnValuesToNotBeNull(column="posting_id"),
        gx.expectations.ExpectColumnValuesToBeUnique(column="posting_id"),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="text_length", min_value=1, max_value=2 * ingest.max_text_chars
        ),
        gx.expectations.ExpectColumnValuesToBeInSet(
            column="language", value_set=list(ingest.allowed_languages), mostly=quality.language_mostly
        ),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="title_length", max_value=quality.max_title_chars, severity="warning"
        ),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="posted_at", min_value=earliest, max_value=latest, severity="warning"
        ),
    ]
