"""Names and schemas of the project's tables (the contract between stages and SQL users).

The schemas are written as short DDL strings and built by ``_schema`` / ``_fields``, a small parser in
pure Python: this module is imported where no SparkSession runs, so it cannot use
``StructType.fromDDL`` (which asks the JVM). The language is Spark's column list with the
nullability of array elements and map values spelled out:

- ``name type`` is a nullable column, ``name type not null`` a required one;
- ``array<type>`` holds null elements, ``array<type not null>`` does not;
- ``map<key, value>`` holds null values, ``map<key, value not null>`` does not (keys are never null);
- the types: string, timestamp, date, boolean, long (or bigint), int, double, float.

Anything else (another type, a ``struct<...>``, a stray token) raises ValueError at import.
"""

from __future__ import annotations

import re

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

_ATOMIC_TYPES: dict[str, type[DataType]] = {
    "string": StringType,
    "timestamp": TimestampType,
    "date": DateType,
    "boolean": BooleanType,
    "long": LongType,
    "bigint": LongType,
    "int": IntegerType,
    "double": DoubleType,
    "float": FloatType,
}
# A token: a word, or any other single character (the parser says which ones it expects where).
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\S")


class _Tokens:
    """The words and punctuation of one DDL string, read front to back."""

    def __init__(self, ddl: str) -> None:
        self.ddl = ddl
        self.items: list[str] = _TOKEN.findall(ddl)
        self.at = 0

    def error(self, problem: str) -> ValueError:
        return ValueError(f"{problem} in schema {self.ddl!r}")

    def peek(self) -> str | None:
        return self.items[self.at].lower() if self.at < len(self.items) else None

    def take(self, expected: str | None = None) -> str:
        found = self.peek()
        if found is None or (expected is not None and found != expected):
            wanted = repr(expected) if expected is not None else "a type or name"
            raise self.error(f"expected {wanted}, found {repr(found) if found is not None else 'the end'}")
        self.at += 1
        return self.items[self.at - 1]


def _data_type(tokens: _Tokens) -> DataType:
    word = tokens.take().lower()
    if word == "array":
        tokens.take("<")
        element, contains_null = _nullable_type(tokens)
        tokens.take(">")
        return ArrayType(element, contains_null)
    if word == "map":
        tokens.take("<")
        key = _data_type(tokens)
        tokens.take(",")
        value, value_contains_null = _nullable_type(tokens)
        tokens.take(">")
        return MapType(key, value, value_contains_null)
    if word not in _ATOMIC_TYPES:
        raise tokens.error(f"unknown type {word!r}")
    return _ATOMIC_TYPES[word]()


def _nullable_type(tokens: _Tokens) -> tuple[DataType, bool]:
    """A type and whether it may be null: nullable unless followed by ``not null``."""
    data_type = _data_type(tokens)
    if tokens.peek() != "not":
        return data_type, True
    tokens.take("not")
    tokens.take("null")
    return data_type, False


def _fields(ddl: str) -> list[StructField]:
    """The StructFields of a comma-separated column list such as ``"id string not null, tags array<string>"``."""
    tokens = _Tokens(ddl)
    fields = []
    while True:
        name = tokens.take()
        if not (name[0].isalpha() or name[0] == "_"):
            raise tokens.error(f"expected a column name, found {name!r}")
        data_type, nullable = _nullable_type(tokens)
        fields.append(StructField(name, data_type, nullable))
        if tokens.peek() is None:
            return fields
        tokens.take(",")


def _schema(ddl: str) -> StructType:
    """The StructType of a comma-separated column list (see ``_fields``)."""
    return StructType(_fields(ddl))


BRONZE_POSTINGS = "bronze_postings"
QUARANTINE_POSTINGS = "quarantine_postings"
ML_MODELS = "ml_models"
ML_THRESHOLDS = "ml_thresholds"
ML_METRICS = "ml_metrics"
GOLD_POSTING_TAGS = "gold_posting_tags"
GOLD_POSTING_TAG_VIEW = "gold_posting_tag"

# The canonical posting: every landing format is mapped onto these fields.
POSTING_FIELDS = _schema(
    "posting_id string not null, title string, description string, company string, location string,"
    " country string, language string, posted_at timestamp, source string, url string,"
    " labels array<string not null>"
)

# bronze.postings = canonical posting + ingest metadata; split is a corpus's own split
# (train/test), else null.
BRONZE_POSTINGS_SCHEMA = StructType(
    POSTING_FIELDS.fields
    + _fields(
        "run_date date not null, run_id string not null, source_file string not null,"
        " ingested_at timestamp not null, content_hash string not null,"
        " is_content_duplicate boolean not null, split string"
    )
)

# gold_posting_tags: one row per tagged posting, partitioned by run_date.
GOLD_POSTING_TAGS_SCHEMA = _schema(
    "posting_id string not null, run_date date not null, tags array<string> not null,"
    " tag_scores map<string, float> not null, candidate_scores map<string, float> not null,"
    " model_version string not null, run_id string not null, tagged_at timestamp not null"
)

# What the decision adds to posting_id and run_date, before the run columns (nullable while scoring).
GOLD_DECIDED_FIELDS = _fields("tags array<string>, tag_scores map<string, float>, candidate_scores map<string, float>")

# gold_posting_tag: one row per (posting, assigned tag); what analysts join on.
GOLD_POSTING_TAG_COLUMNS = ("posting_id", "tag", "score", "run_date", "model_version")

# ml_models: one row per model version with its status and why.
ML_MODELS_SCHEMA = _schema(
    "model_version string not null, created_at timestamp not null, run_id string not null,"
    " run_date date not null, training_table string, training_table_version long,"
    " config_fingerprint string not null, strategy string not null, threshold_strategy string not null,"
    " labels array<string not null> not null, label_count long not null, training_seconds double,"
    " micro_f1 double, macro_f1 double, metrics map<string, double>, status string not null,"
    " status_reason string not null, champion_version string, path string not null,"
    " updated_at timestamp not null"
)

# ml_metrics: one row per (model version, split, label or null, metric); a null label is a metric of
# the whole split.
ML_METRICS_SCHEMA = _schema(
    "model_version string not null, split string not null, label string, metric string not null, value double"
)

# ml_thresholds: one row per model version and label (jobtagger.calibration.Thresholds.to_frame).
# rule and rule_validation_f came with rule selection (older rows hold null): the rule followed, and
# with rule "select" each candidate rule's cross-fitted F on validation.
THRESHOLDS_SCHEMA = _schema(
    "model_version string not null, label string not null, threshold double not null,"
    " strategy string not null, fallback string, validation_positives long not null, best_f1 double,"
    " validation_f1 double, calibration string not null, rule string, rule_validation_f map<string, double>"
)
