"""The fused tag scorer: bronze postings -> gold columns in ONE Python Arrow pass.

Per Arrow batch: text features (:mod:`jobtagger.fused.text_vectors`), one sparse x dense product with the
classifier's float32 arrays (the same functions its own Arrow UDF uses), the decision in numpy
(:mod:`jobtagger.fused.decision`), gold columns built as Arrow arrays. The JVM only concatenates
the text first, with the fitted SQL stage (and lower-cases the few texts the pass cannot, with the
very call RegexTokenizer makes). The plan (vocabulary, IDF, weights, thresholds...) is read once
on the driver and broadcast.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StructType

from jobtagger.fused.decision import BatchDecision
from jobtagger.fused.lowercase import jvm_lowercased
from jobtagger.fused.plan import FusedPlan, FusedScoring, NotFusable
from jobtagger.fused.product import probabilities
from jobtagger.fused.text_vectors import TextFeaturizer
from jobtagger.tables import MappedRows
from jobtagger.tables.schemas import GOLD_DECIDED_FIELDS

TEXT_COLUMN = "_fused_text"
_DECISION_CELLS = 1 << 22  # 32 MB per float64 score block


def fused_gold_columns(postings: DataFrame, plan: FusedPlan) -> MappedRows:
    """``posting_id, run_date, tags, tag_scores, candidate_scores`` of ``postings``, as the model's
    own transform would decide them. The rows stay a Python pass (:class:`MappedRows`): the gold
    columns are added to the same batches, and the table layer writes them there."""
    source = scoring_input(postings, plan)
    schema = StructType([source.schema["posting_id"], source.schema["run_date"], *GOLD_DECIDED_FIELDS])
    shared = postings.sparkSession.sparkContext.broadcast(plan.scoring)

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return score_batches(batches, shared.value)

    return MappedRows(source, score, schema)


def scoring_input(postings: DataFrame, plan: FusedPlan) -> DataFrame:
    """What the JVM hands the Python pass: posting_id, run_date and the text (lower-cased by the
    JVM where the pass does not, :func:`~jobtagger.fused.lowercase.jvm_lowercased`)."""
    text = plan.combine_text.transform(postings)
    if plan.text_column not in text.columns:
        raise NotFusable(f"the text stage does not produce the tokenizer's input {plan.text_column!r}")
    return text.select("posting_id", F.col("run_date").cast(DateType()).alias("run_date"),
                       jvm_lowercased(F.col(plan.text_column), plan.scoring.text.lowercase).alias(TEXT_COLUMN))


@functools.lru_cache(maxsize=1)
def batch_steps(scoring: FusedScoring) -> tuple[TextFeaturizer, BatchDecision]:
    """The featurizer and decision of a broadcast plan, built once per Python worker (the
    broadcast value stays one object there across tasks) instead of once per partition: building
    the vocabulary tables is not free, and a partition may be small."""
    return TextFeaturizer(scoring.text), BatchDecision(scoring.decision)


def score_batches(batches: Iterator[pa.RecordBatch], scoring: FusedScoring) -> Iterator[pa.RecordBatch]:
    """Gold columns of each batch of (posting_id, run_date, lower-cased text). Scores are decided
    in blocks of at most ``_DECISION_CELLS`` (rows x labels): the decision holds a few dense
    float64 copies of its block, which must stay small with thousands of labels."""
    featurizer, decision = batch_steps(scoring)
    arrays = scoring.model_arrays
    block = max(1, _DECISION_CELLS // len(scoring.decision.labels))
    for batch in batches:
        features = featurizer.features(batch.column(TEXT_COLUMN), width=scoring.width)
        for start in range(0, batch.num_rows, block):
            rows = batch.slice(start, block)
            scores = probabilities(arrays, features[start : start + block])
            decided = decision.decide(scores)
            yield pa.RecordBatch.from_arrays(
                [rows.column("posting_id"), rows.column("run_date"), decided.tags, decided.tag_scores,
                 decided.candidate_scores],
                names=["posting_id", "run_date", *[field.name for field in GOLD_DECIDED_FIELDS]],
            )
