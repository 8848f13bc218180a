"""What the gold gate validates, measured while the gold rows are produced instead of by reading
them again: a second Spark pass over the tag maps, a join with bronze and a distinct count
would cost more than scoring itself on a large run.

Executors profile every Arrow batch of gold columns they emit (:func:`profiled_batches`) into a
Spark accumulator (:class:`GoldProfile`: row count, id fingerprint, untagged rows, score range,
postings per tag, tags named in the score maps, and the ids' hashes). The input side is observed
by Spark on the bronze rows as the same pass reads them, before any model stage
(:func:`observed_input`: no pass of its own). Ids are compared through a fingerprint: the exact
sum of Spark's ``xxhash64`` of every id (computed alike in the pass,
:mod:`jobtagger.quality.spark_hash`). Gold ids are unique when their 64-bit hashes are (sorting 8
bytes per row on the driver is much cheaper than Spark's distinct count, which decides only when
hashes repeat or a run holds more than :data:`ID_HASHES_MAX_ROWS` rows, whose hashes the
accumulator stops keeping, see :func:`count_duplicate_ids`). With equal row counts, unique gold
ids and equal fingerprints, gold holds exactly the input's ids, each once (a lost or altered id
changes the sum unless 64-bit hashes collide). An accumulator counts a retried task twice: the
gate then fails on the row count, it never passes wrongly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import Accumulator, SparkContext
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from jobtagger.quality.spark_hash import xxhash64
from jobtagger.tables.base import ArrowBatchFunction

ID_HASHES_MAX_ROWS = 20_000_000  # id hashes kept for the uniqueness check: at most 160 MB on the driver
_SCORE_ENTRY = pa.list_(pa.struct([("key", pa.string()), ("value", pa.float64())]))


def hash_sum(hashes: np.ndarray) -> int:
    """Exact sum of int64 hashes (high and low 32-bit halves summed apart: no overflow)."""
    return (int(np.sum(hashes >> 32)) << 32) + int(np.sum(hashes & 0xFFFFFFFF))


@dataclass
class GoldProfile:
    """Counts over gold rows (posting_id, tags, tag_scores, candidate_scores); merges by adding."""

    rows: int = 0
    null_ids: int = 0
    id_fingerprint: int = 0
    untagged: int = 0
    scores: int = 0
    non_finite_scores: int = 0  # null, NaN or infinite
    score_min: float = math.inf
    score_max: float = -math.inf
    tag_postings: Counter = field(default_factory=Counter)  # entries of ``tags`` per tag
    scored_tags: Counter = field(default_factory=Counter)  # entries of both score maps per tag
    id_hash_parts: list[np.ndarray] | None = field(default_factory=list)  # of the non-null ids; None: not kept

    @property
    def duplicate_id_hashes(self) -> int | None:
        """Ids whose hash another id has too (0 proves the ids unique); None when not kept."""
        if self.id_hash_parts is None:
            return None
        hashes = np.sort(np.concatenate(self.id_hash_parts)) if self.id_hash_parts else np.empty(0, np.int64)
        return int(np.count_nonzero(hashes[1:] == hashes[:-1]))

    @classmethod
    def of_batch(cls, batch: pa.RecordBatch) -> GoldProfile:
        ids = batch.column("posting_id")
        hashes = xxhash64(ids)
        tags = batch.column("tags")
        tag_counts = pc.fill_null(pc.list_value_length(tags), 0).to_numpy()
        entries = [pc.list_flatten(batch.column(name).cast(_SCORE_ENTRY)) for name in ("tag_scores", "candidate_scores")]
        values = np.concatenate([entry.field("value").to_numpy(zero_copy_only=False) for entry in entries])
        finite = values[np.isfinite(values)]  # nulls arrive as NaN
        return cls(
            rows=batch.num_rows,
            null_ids=ids.null_count,
            id_fingerprint=hash_sum(hashes),
            untagged=int(np.count_nonzero(tag_counts == 0)),
            scores=len(values),
            non_finite_scores=len(values) - len(finite),
            score_min=float(finite.min()) if len(finite) else math.inf,
            score_max=float(finite.max()) if len(finite) else -math.inf,
            tag_postings=_value_counts(pc.list_flatten(tags)),
            scored_tags=_value_counts(pa.concat_arrays([entry.field("key") for entry in entries])),
            id_hash_parts=[hashes],
        )

    def merged(self, other: GoldProfile, *, max_id_hashes: int) -> GoldProfile:
        """Both profiles added up; the id hashes kept while the rows stay within ``max_id_hashes``."""
        rows = self.rows + other.rows
        kept = self.id_hash_parts is not None and other.id_hash_parts is not None and rows <= max_id_hashes
        return GoldProfile(
            rows=rows,
            null_ids=self.null_ids + other.null_ids,
            id_fingerprint=self.id_fingerprint + other.id_fingerprint,
            untagged=self.untagged + other.untagged,
            scores=self.scores + other.scores,
            non_finite_scores=self.non_finite_scores + other.non_finite_scores,
            score_min=min(self.score_min, other.score_min),
            score_max=max(self.score_max, other.score_max),
            tag_postings=self.tag_postings + other.tag_postings,
            scored_tags=self.scored_tags + other.scored_tags,
            id_hash_parts=self.id_hash_parts + other.id_hash_parts if kept else None,
        )


def _value_counts(values: pa.Array) -> Counter:
    counts = pc.value_counts(values)
    return Counter(dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())))


class GoldProfileParam(AccumulatorParam):
    def __init__(self, max_id_hashes: int) -> None:
        self.max_id_hashes = max_id_hashes

    def zero(self, value: GoldProfile) -> GoldProfile:
        return GoldProfile()

    def addInPlace(self, value1: GoldProfile, value2: GoldProfile) -> GoldProfile:
        return value1.merged(value2, max_id_hashes=self.max_id_hashes)


def gold_profile_accumulator(context: SparkContext, *, max_id_hashes: int = ID_HASHES_MAX_ROWS) -> Accumulator:
    """A profile accumulator keeping the id hashes of at most ``max_id_hashes`` rows (8 bytes each
    on the driver); past that the uniqueness check is Spark's count."""
    return context.accumulator(GoldProfile(), GoldProfileParam(max_id_hashes))


def profiled_batches(batches: Iterator[pa.RecordBatch], profile: Accumulator) -> Iterator[pa.RecordBatch]:
    """Pass the batches through, adding each one's :class:`GoldProfile` to ``profile``."""
    for batch in batches:
        profile.add(GoldProfile.of_batch(batch))
        yield batch


def profiling(profile: Accumulator) -> ArrowBatchFunction:
    """The batch function passing gold batches through :func:`profiled_batches` into ``profile``."""
    def profile_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return profiled_batches(batches, profile)

    return profile_partition


def count_duplicate_ids(profile: GoldProfile, rows: DataFrame) -> int:
    """Gold ids beyond the first of their value, exactly: 0 when the profile's id hashes are all
    distinct, else (hashes not kept, or repeated: a duplicate or a 64-bit collision) counted by
    Spark over the gold ``rows``."""
    if profile.duplicate_id_hashes == 0:
        return 0
    counted = rows.agg(F.count("posting_id").alias("ids"), F.count_distinct("posting_id").alias("distinct_ids")).first()
    return counted.ids - counted.distinct_ids


@dataclass(frozen=True)
class InputSummary:
    """The scored bronze rows, as Spark observed them: count, null ids, id fingerprint."""

    rows: int
    null_ids: int
    id_fingerprint: int

    @classmethod
    def of_observation(cls, observation: Observation) -> InputSummary:
        """The summary :func:`observed_input` collected (waits for the first action over its rows)."""
        metrics = observation.get
        high, low = metrics["id_hash_high"] or 0, metrics["id_hash_low"] or 0
        return cls(rows=metrics["rows"], null_ids=metrics["null_ids"], id_fingerprint=(high << 32) + low)


def observed_input(postings: DataFrame) -> tuple[DataFrame, Observation]:
    """``postings`` with their :class:`InputSummary` observed by Spark while the first action over
    them (the scoring pass) reads them. The fingerprint is summed as :func:`hash_sum` does, high
    and low 32 bits apart (exact in a long up to 2^31 rows)."""
    observation = Observation()
    hashed = F.when(F.col("posting_id").isNotNull(), F.xxhash64("posting_id"))
    observed = postings.observe(
        observation,
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col("posting_id").isNull()).alias("null_ids"),
        F.sum(F.shiftright(hashed, 32)).alias("id_hash_high"),
        F.sum(hashed.bitwiseAND(0xFFFFFFFF)).alias("id_hash_low"),
    )
    return observed, observation
