"""Names and schemas of the project's tables (the contract between stages and SQL users)."""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    FloatType,
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

# gold_posting_tags: one row per tagged posting, partitioned by run_date.
GOLD_POSTING_TAGS_SCHEMA = StructType(
    [
        StructField("posting_id", StringType(), False),
        StructField("run_date", DateType(), False),
        StructField("tags", ArrayType(StringType()), False),
        StructField("tag_scores", MapType(StringType(), FloatType()), False),
        StructField("candidate_scores", MapType(StringType(), FloatType()), False),
        StructField("model_version", StringType(), False),
        StructField("run_id", StringType(), False),
        StructField("tagged_at", TimestampType(), False),
    ]
)

# What the decision adds to posting_id and run_date, before the run columns (nullable while scoring).
GOLD_DECIDED_FIELDS = [
    StructField("tags", ArrayType(StringType())),
    StructField("tag_scores", MapType(StringType(), FloatType())),
    StructField("candidate_scores", MapType(StringType(), FloatType())),
]

# gold_posting_tag: one row per (posting, assigned tag); what analysts join on.
GOLD_POSTING_TAG_COLUMNS = ("posting_id", "tag", "score", "run_date", "model_version")

# ml_models: one row per model version with its status and why.
ML_MODELS_SCHEMA = StructType(
    [
        StructField("model_version", StringType(), False),
        StructField("created_at", TimestampType(), False),
        StructField("run_id", StringType(), False),
        StructField("run_date", DateType(), False),
        StructField("training_table", StringType(), True),
        StructField("training_table_version", LongType(), True),
        StructField("config_fingerprint", StringType(), False),
        StructField("strategy", StringType(), False),
        StructField("threshold_strategy", StringType(), False),
        StructField("labels", ArrayType(StringType(), False), False),
        StructField("label_count", LongType(), False),
        StructField("training_seconds", DoubleType(), True),
        StructField("micro_f1", DoubleType(), True),
        StructField("macro_f1", DoubleType(), True),
        StructField("metrics", MapType(StringType(), DoubleType(), True), True),
        StructField("status", StringType(), False),
        StructField("status_reason", StringType(), False),
        StructField("champion_version", StringType(), True),
        StructField("path", StringType(), False),
        StructField("updated_at", TimestampType(), False),
    ]
)

# ml_metrics: one row per (model version, split, label or null, metric).
ML_METRICS_SCHEMA = StructType(
    [
        StructField("model_version", StringType(), False),
        StructField("split", StringType(), False),
        StructField("label", StringType(), True),  # null: a metric of the whole split
        StructField("metric", StringType(), False),
        StructField("value", DoubleType(), True),
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
