"""What the training benchmarks share: generated labelled postings through the feature pipeline."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobtagger.config import JobtaggerConfig
from jobtagger.session import detect_capabilities
from jobtagger.synthetic import generate_postings
from jobtagger.taxonomy import load_taxonomy
from jobtagger.text.features import build_feature_pipeline

POSTED_DATE = dt.date(2026, 11, 1)


def labelled_generate_overrides(*, labels: int) -> list[str]:
    """Config overrides so generated postings are all good, all labelled and span ``labels`` labels."""
    return [f"generate.skills={labels + 100}", "generate.bad_records.rate=0.0", "generate.labelled_fraction=1.0"]


def featurized_postings(spark: SparkSession, config: JobtaggerConfig, *, rows: int) -> DataFrame:
    """``posting_id, features, labels`` of ``rows`` generated postings, feature pipeline fitted on them."""
    postings = generate_postings(
        spark, config.generate, load_taxonomy(config.paths.taxonomy), first_id=0, end_id=rows,
        posted_date=POSTED_DATE, num_partitions=spark.sparkContext.defaultParallelism,
    ).filter(~F.col("bad_record") & F.col("labels").isNotNull())
    pipeline = build_feature_pipeline(config.features, capabilities=detect_capabilities(spark)).fit(postings)
    return pipeline.transform(postings).select("posting_id", "features", "labels")
