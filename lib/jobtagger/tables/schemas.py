"""Names and schemas of the project's tables (the contract between stages and SQL users)."""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

BRONZE_POSTINGS = "bronze_postings"
QUARANTINE_POSTINGS = "quarantine_postings"
ML_MODELS = "ml_models"
ML_THRESHOLDS = "ml_thresholds"
ML_METRICS = "ml_metrics"
GOLD_POSTING_TAGS = "gold_posting_tags"
GOLD_POSTING_TAG_VIEW = "gold_posting_tag"

# The canonical posting: every landing format is mapped onto these fields.
POSTING_FIELDS = StructType(
    [
        StructField("posting_id", StringType(), False),
        StructField("title", StringType(), True),
        StructField("description", StringType(), True),
        StructField("company", StringType(), True),
        StructField("location", StringType(), True),
        StructField("country", StringType(), True),
        StructField("language", StringType(), True),
        StructField("posted_at", TimestampType(), True),
        StructField("source", StringType(), True),
        StructField("url", StringType(), True),
        StructField("labels", ArrayType(StringType(), False), True),
    ]
)

# bronze.postings = canonical posting + ingest metadata.
BRONZE_POSTINGS_SCHEMA = StructType(
    POSTING_FIELDS.fields
    + [
        StructField("run_date", DateType(), False),
        StructField("run_id", StringType(), False),
        StructField("source_file", StringType(), False),
        StructField("ingested_at", TimestampType(), False),
        StructField("content_hash", StringType(), False),
        StructField("is_content_duplicate", BooleanType(), False),
        StructField("split", StringType(), True),  # a corpus's own split (train/test), else null
    ]
)

# ml_thresholds: one row per model version and label (jobtagger.calibration.Thresholds.to_frame).
THRESHOLDS_SCHEMA = StructType(
    [
        StructField("model_version", StringType(), False),
        StructField("label", StringType(), False),
        StructField("threshold", DoubleType(), False),
        StructField("strategy", StringType(), False),
        StructField("fallback", StringType(), True),
        StructField("validation_positives", LongType(), False),
        StructField("best_f1", DoubleType(), True),
        StructField("validation_f1", DoubleType(), True),
        StructField("calibration", StringType(), False),
        # added with rule selection (older rows hold null): the rule followed, and with rule
        # "select" each candidate rule's cross-fitted F on validation
        StructField("rule", StringType(), True),
        StructField("rule_validation_f", MapType(StringType(), DoubleType()), True),
    ]
)
