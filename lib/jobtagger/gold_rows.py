"""Pure logic of the tag job: postings -> gold rows (fused scorer or the model's transform).

Nothing here reads or writes a table. Gold rows come as :class:`MappedRows` (a Python Arrow pass
the table layer writes in place); the rest are ``DataFrame -> DataFrame``. The tag stage chains
them around the data-quality gate.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyspark import Accumulator
from pyspark.ml import PipelineModel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DateType,
    FloatType,
    MapType,
    StringType,
    StructType,
    TimestampType,
)
from pyspark.sql.window import Window

from jobtagger.fused import NotFusable, fused_gold_columns, read_plan
from jobtagger.quality.gold_profile import GoldProfile, gold_profile_accumulator, profiling
from jobtagger.tables import ArrowBatchFunction, MappedRows
from jobtagger.tables.schemas import GOLD_POSTING_TAGS_SCHEMA

LOGGER = logging.getLogger("jobtagger.tag")


def latest_posting_rows(bronze: DataFrame) -> DataFrame:
    """One row per posting_id, the most recently ingested one (backfill tags each posting once)."""
    newest_first = Window.partitionBy("posting_id").orderBy(
        F.col("run_date").desc(), F.col("ingested_at").desc(), F.col("run_id").desc()
    )
    return (
        bronze.withColumn("_rank", F.row_number().over(newest_first))
        .where(F.col("_rank") == 1)
        .drop("_rank")
    )


def _float_map(column: str) -> Column:
    return F.coalesce(
        F.col(column).cast(MapType(StringType(), FloatType())),
        F.create_map().cast(MapType(StringType(), FloatType())),
    )


def to_gold_rows(
    decided: DataFrame,
    *,
    model_version: str,
    run_id: str,
    tagged_at: dt.datetime,
) -> DataFrame:
    """Shape the decision output (posting_id, run_date, tags, tag_scores, candidate_scores) as gold.

    ``run_date`` is the posting's bronze partition, so a backfill keeps every posting under the
    date it was ingested and a daily rerun replaces exactly one partition.
    """
    return decided.select(
        F.col("posting_id"),
        F.col("run_date").cast(DateType()).alias("run_date"),
        F.coalesce(F.col("tags"), F.array().cast(ArrayType(StringType()))).alias("tags"),
        _float_map("tag_scores").alias("tag_scores"),
        _float_map("candidate_scores").alias("candidate_scores"),
        F.lit(model_version).alias("model_version"),
        F.lit(run_id).alias("run_id"),
        F.lit(_utc(tagged_at)).cast(TimestampType()).alias("tagged_at"),
    )


def with_run_columns(*, model_version: str, run_id: str, tagged_at: dt.datetime) -> ArrowBatchFunction:
    """The batch function appending gold's run columns to decided batches (what ``to_gold_rows``
    adds in Spark, for the fused scorer, whose decided columns are never null)."""
    constants = {
        "model_version": pa.scalar(model_version, pa.string()),
        "run_id": pa.scalar(run_id, pa.string()),
        "tagged_at": pa.scalar(_utc(tagged_at), pa.timestamp("us", tz="UTC")),
    }

    def append(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, *[pa.repeat(value, batch.num_rows) for value in constants.values()]],
                names=[*batch.schema.names, *constants],
            )

    return append


def _utc(moment: dt.datetime) -> dt.datetime:
    """A naive time is UTC (Spark would read it in the Python process's local time zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class ScoredGold:
    """Gold rows, which scorer made them (``fused``, or ``spark`` with the reason), and the
    accumulator their computation fills with the rows' :class:`GoldProfile`."""

    rows: MappedRows
    scorer: str
    profile_accumulator: Accumulator
    fallback_reason: str | None = None

    @property
    def profile(self) -> GoldProfile:
        """What the rows' computation measured: read it after the rows were computed ONCE."""
        return self.profile_accumulator.value


def score_gold_rows(
    postings: DataFrame,
    model: PipelineModel,
    *,
    model_version: str,
    run_id: str,
    tagged_at: dt.datetime,
) -> ScoredGold:
    """Gold rows of ``postings`` scored by ``model``: in one fused Arrow pass where the fused scorer
    reproduces every stage of the model exactly, else (logged with the reason) through
    ``model.transform``. Both give the same rows; the fused pass is the faster one. Either way
    the rows are profiled for the gold gate in the Python pass that hands them to the writer."""
    profile = gold_profile_accumulator(postings.sparkSession.sparkContext)
    try:
        plan = read_plan(model, postings.sparkSession)
    except NotFusable as reason:
        LOGGER.warning("tag: scoring through model.transform, the fused scorer cannot reproduce this model: %s", reason)
        gold = to_gold_rows(model.transform(postings), model_version=model_version, run_id=run_id, tagged_at=tagged_at)
        rows = MappedRows.of(gold).then(profiling(profile), gold.schema)
        return ScoredGold(rows, "spark", profile, str(reason))
    decided = fused_gold_columns(postings, plan)
    schema = StructType([decided.schema["posting_id"], decided.schema["run_date"], *GOLD_POSTING_TAGS_SCHEMA.fields[2:]])
    run_columns = with_run_columns(model_version=model_version, run_id=run_id, tagged_at=tagged_at)
    rows = decided.then(run_columns, schema).then(profiling(profile), schema)
    return ScoredGold(rows, "fused", profile)
