"""The plain Spark copy that ``jobtagger bench ingest`` compares ingest with.

Its own module, light to import, so that the copy timed as a whole process
(``python -m jobtagger.bench.plain_copy CONF FOLDER TARGET [KEY=VALUE ...]``) pays for Spark and
its session, not for the ingest stage's imports.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from jobtagger.config import load_config
from jobtagger.ingestion import TEXT_FIELDS
from jobtagger.landing import landing_files
from jobtagger.session import build_session

COPY_FIELDS = ("posting_id", *TEXT_FIELDS, "posted_at")


def plain_copy(spark: SparkSession, folder: Path, target: Path) -> None:
    """The landing files of ``folder`` read by Spark's own readers (posting fields as text, labels
    as an array of text; no validation) and written as one Parquet table."""
    files = landing_files(folder)
    text_schema = ", ".join(f"`{name}` STRING" for name in COPY_FIELDS)
    parts: list[DataFrame] = []
    if files["jsonl"]:
        parts.append(spark.read.schema(f"{text_schema}, labels ARRAY<STRING>").json([str(p) for p in files["jsonl"]]))
    if files["csv"]:
        csv = spark.read.options(header="true", multiLine="true", escape='"').csv([str(p) for p in files["csv"]])
        parts.append(csv.select(*_as_text(csv), F.split("labels", r"\|").alias("labels") if "labels" in csv.columns
                                else F.lit(None).cast("array<string>").alias("labels")))
    for path in files["parquet"]:
        frame = spark.read.parquet(str(path))
        labels = frame.schema["labels"].dataType if "labels" in frame.columns else None
        keep = isinstance(labels, ArrayType) and isinstance(labels.elementType, StringType)
        parts.append(frame.select(*_as_text(frame), (F.col("labels") if keep else F.lit(None).cast("array<string>")).alias("labels")))
    copied = parts[0]
    for part in parts[1:]:
        copied = copied.unionByName(part)
    copied.write.mode("overwrite").parquet(str(target))


def _as_text(frame: DataFrame) -> list:
    present = set(frame.columns)
    return [
        (F.col(f"`{name}`").cast("string") if name in present else F.lit(None).cast("string")).alias(name)
        for name in COPY_FIELDS
    ]


def main(argv: list[str]) -> None:
    """The copy as a process, with the same config (so the same session settings) as ingest."""
    conf, folder, target, *overrides = argv
    config = load_config(conf, overrides=overrides)
    plain_copy(build_session(config.spark, app_name="jobtagger-plain-copy"), Path(folder), Path(target))


if __name__ == "__main__":
    main(sys.argv[1:])
