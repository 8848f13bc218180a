"""Multi-label evaluation as Spark aggregations: only sums and one row per label reach the driver.

Conventions (written out so they can be checked by hand):
- micro precision/recall/F1 pool every (posting, label) decision: tp = sum |T & P|.
- macro averages per-label precision, recall and F1 over the labels with test support (a label that
  is never predicted has precision 0); labels outside the model's label space that occur in the
  truth count too (their F1 is 0), so a dropped rare label cannot flatter the average.
- per-sample ("samples") precision |T & P| / |P|, recall |T & P| / |T|, F1 2|T & P| / (|T| + |P|),
  each 1.0 when both sets are empty and 0.0 when only the denominator is empty.
- Hamming loss = (FP + FN) / (postings x labels evaluated); subset accuracy = share with T == P.
- P@k = |top k labels by score & T| / k, averaged over postings with at least one true label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from jobtagger.tables.schemas import ML_METRICS_SCHEMA

PRECISION_AT = (1, 3, 5)
PER_LABEL_METRICS = ("support", "predicted", "tp", "fp", "fn", "precision", "recall", "f1", "threshold")


@dataclass(frozen=True)
class HeadlineMetrics:
    postings: int
    labels_evaluated: int
    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    samples_precision: float
    samples_recall: float
    samples_f1: float
    hamming_loss: float
    subset_accuracy: float
    label_cardinality_true: float
    label_cardinality_predicted: float
    precision_at_1: float | None
    precision_at_3: float | None
    precision_at_5: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


@dataclass(frozen=True)
class EvaluationResult:
    headline: HeadlineMetrics
    per_label: DataFrame  # label, support, predicted, tp, fp, fn, precision, recall, f1, threshold

    def per_label_rows(self) -> list[dict]:
        """One dict per label, most frequent first (K rows: small by construction)."""
        return [row.asDict() for row in self.per_label.orderBy(F.desc("support"), "label").collect()]

    def to_frame(self, spark: SparkSession, *, model_version: str, split: str) -> DataFrame:
        """Long rows of the ``ml_metrics`` table: overall metrics (label null), then per label."""
        overall = [
            (model_version, split, None, name, None if value is None else float(value))
            for name, value in self.headline.as_dict().items()
        ]
        overall_df = spark.createDataFrame(overall, ML_METRICS_SCHEMA)
        per_label = self.per_label.select(
            F.lit(model_version).alias("model_version"),
            F.lit(split).alias("split"),
            "label",
            F.explode(
                F.array(
                    *[
                        F.struct(F.lit(name).alias("metric"), F.col(name).cast("double").alias("value"))
                        for name in PER_LABEL_METRICS
                    ]
                )
            ).alias("m"),
        ).select("model_version", "split", "label", "m.metric", "m.value")
        return overall_df.unionByName(per_label)


def _sample_ratio(numerator: Column, denominator: Column) -> Column:
    """Per-posting ratio: 1.0 when truth and prediction are both empty, 0.0 on another empty denominator."""
    both_empty = (F.size("truth") == 0) & (F.size("predicted") == 0)
    return F.when(both_empty, F.lit(1.0)).when(denominator > 0, numerator / denominator).otherwise(F.lit(0.0))


def _top_k_hits(scores: Column, truth: Column, labels: Sequence[str], k: int) -> Column:
    label_array = F.array(*[F.lit(label) for label in labels])
    ranked = F.sort_array(
        F.transform(scores, lambda s, i: F.struct(s.alias("score"), F.element_at(label_array, i + 1).alias("label"))),
        asc=False,
    )
    top = F.slice(ranked, 1, k)
    return F.size(F.filter(top, lambda e: F.array_contains(truth, e["label"])))


def evaluate(
    predictions: DataFrame,
    labels: Sequence[str],
    *,
    thresholds: Mapping[str, float] | None = None,
    labels_col: str = "labels",
    tags_col: str = "tags",
    scores_col: str | None = "scores",
) -> EvaluationResult:
    """Metrics of ``tags`` (predicted) against ``labels`` (truth); P@k from ``scores`` if given."""
    spark = predictions.sparkSession
    empty = F.array().cast("array<string>")
    truth = F.array_distinct(F.coalesce(F.col(labels_col), empty))
    predicted = F.array_distinct(F.coalesce(F.col(tags_col), empty))
    columns = [truth.alias("truth"), predicted.alias("predicted")]
    if scores_col:
        columns.append(F.col(scores_col).alias("scores"))
    rows = predictions.select(*columns).withColumn(
        "hits", F.size(F.array_intersect("truth", "predicted"))
    ).persist()
    try:
        per_label = _per_label(spark, rows, labels, thresholds or {}).persist()
        headline = _headline(rows, per_label, labels, with_scores=bool(scores_col))
    finally:
        rows.unpersist()
    return EvaluationResult(headline=headline, per_label=per_label)


def _per_label(
    spark: SparkSession, rows: DataFrame, labels: Sequence[str], thresholds: Mapping[str, float]
) -> DataFrame:
    counted = (
        rows.select(F.explode(F.array_union("truth", "predicted")).alias("label"), "truth", "predicted")
        .groupBy("label")
        .agg(
            F.sum(F.array_contains("truth", F.col("label")).cast("long")).alias("support"),
            F.sum(F.array_contains("predicted", F.col("label")).cast("long")).alias("predicted"),
            F.sum(
                (F.array_contains("truth", F.col("label")) & F.array_contains("predicted", F.col("label"))).cast("long")
            ).alias("tp"),
        )
    )
    known = spark.createDataFrame(
        [(label, thresholds.get(label)) for label in labels],
        StructType([StructField("label", StringType(), False), StructField("threshold", DoubleType(), True)]),
    )
    zero = F.lit(0).cast(LongType())
    joined = counted.join(known, "label", "full_outer").select(
        "label",
        F.coalesce("support", zero).alias("support"),
        F.coalesce("predicted", zero).alias("predicted"),
        F.coalesce("tp", zero).alias("tp"),
        "threshold",
    )
    precision = F.when(F.col("predicted") > 0, F.col("tp") / F.col("predicted")).otherwise(F.lit(0.0))
    recall = F.when(F.col("support") > 0, F.col("tp") / F.col("support")).otherwise(F.lit(0.0))
    denominator = F.col("support") + F.col("predicted")
    return joined.select(
        "label",
        "support",
        "predicted",
        "tp",
        (F.col("predicted") - F.col("tp")).alias("fp"),
        (F.col("support") - F.col("tp")).alias("fn"),
        precision.alias("precision"),
        recall.alias("recall"),
        F.when(denominator > 0, 2 * F.col("tp") / denominator).otherwise(F.lit(0.0)).alias("f1"),
        "threshold",
    )


def _headline(rows: DataFrame, per_label: DataFrame, labels: Sequence[str], *, with_scores: bool) -> HeadlineMetrics:
    true_size, predicted_size, hits = F.size("truth"), F.size("predicted"), F.col("hits")
    has_truth = true_size > 0
    aggregates = [
        F.count(F.lit(1)).alias("postings"),
        F.sum(true_size).alias("true_total"),
        F.sum(predicted_size).alias("predicted_total"),
        F.sum(hits).alias("hits_total"),
        F.avg(_sample_ratio(hits, predicted_size)).alias("samples_precision"),
        F.avg(_sample_ratio(hits, true_size)).alias("samples_recall"),
        F.avg(_sample_ratio(2 * hits, true_size + predicted_size)).alias("samples_f1"),
        F.avg(
            (F.array_sort("truth") == F.array_sort("predicted")).cast("double")
        ).alias("subset_accuracy"),
        F.avg(true_size.cast("double")).alias("label_cardinality_true"),
        F.avg(predicted_size.cast("double")).alias("label_cardinality_predicted"),
    ]
    for k in PRECISION_AT:
        if with_scores:
            hit_share = _top_k_hits(F.col("scores"), F.col("truth"), labels, k) / F.lit(float(k))
            aggregates.append(F.avg(F.when(has_truth & F.col("scores").isNotNull(), hit_share)).alias(f"precision_at_{k}"))
        else:
            aggregates.append(F.lit(None).cast("double").alias(f"precision_at_{k}"))
    overall = rows.agg(*aggregates).first()
    supported = F.col("support") > 0
    label_row = per_label.agg(
        F.count(F.lit(1)).alias("labels_evaluated"),
        F.avg(F.when(supported, F.col("precision"))).alias("macro_precision"),
        F.avg(F.when(supported, F.col("recall"))).alias("macro_recall"),
        F.avg(F.when(supported, F.col("f1"))).alias("macro_f1"),
    ).first()
    postings = int(overall["postings"])
    true_total, predicted_total, hits_total = (
        int(overall["true_total"] or 0), int(overall["predicted_total"] or 0), int(overall["hits_total"] or 0)
    )
    labels_evaluated = int(label_row["labels_evaluated"])
    errors = predicted_total + true_total - 2 * hits_total
    values = {
        "postings": postings,
        "labels_evaluated": labels_evaluated,
        "micro_precision": hits_total / predicted_total if predicted_total else 0.0,
        "micro_recall": hits_total / true_total if true_total else 0.0,
        "micro_f1": 2 * hits_total / (true_total + predicted_total) if true_total + predicted_total else 0.0,
        "macro_precision": float(label_row["macro_precision"] or 0.0),
        "macro_recall": float(label_row["macro_recall"] or 0.0),
        "macro_f1": float(label_row["macro_f1"] or 0.0),
        "hamming_loss": errors / (postings * labels_evaluated) if postings and labels_evaluated else 0.0,
    }
    for field in fields(HeadlineMetrics):
        if field.name not in values:
            value = overall[field.name]
            values[field.name] = None if value is None else float(value)
    return HeadlineMetrics(**values)


def format_table(
    result: EvaluationResult, *, max_labels: int = 50, beside: Mapping[str, HeadlineMetrics] | None = None
) -> str:
    """Plain-text report: headline metrics (with a column per ``beside`` entry, e.g. a baseline
    fitted on the same split), then the per-label table (most frequent first)."""
    others = dict(beside or {})
    lines = [f"{'metric':<30}  {'value':<8}" + "".join(f"  {name:>10}" for name in others)]
    for name, value in result.headline.as_dict().items():
        shown = [_shown(value), *(_shown(other.as_dict()[name]) for other in others.values())]
        lines.append((f"{name:<30}  {shown[0]:<8}" + "".join(f"  {cell:>10}" for cell in shown[1:])).rstrip())
    lines.append("")
    lines.append(f"{'label':<40} {'support':>8} {'pred':>6} {'prec':>6} {'recall':>6} {'f1':>6} {'thresh':>7}")
    rows = result.per_label_rows()
    for row in rows[:max_labels]:
        threshold = "-" if row["threshold"] is None else f"{row['threshold']:.3f}"
        lines.append(
            f"{row['label'][:40]:<40} {row['support']:>8} {row['predicted']:>6} {row['precision']:>6.3f} "
            f"{row['recall']:>6.3f} {row['f1']:>6.3f} {threshold:>7}"
        )
    if len(rows) > max_labels:
        lines.append(f"... {len(rows) - max_labels} more labels (see the ml_metrics table or the model card)")
    return "\n".join(lines)


def _shown(value: float | int | None) -> str:
    return "-" if value is None else (f"{value:d}" if isinstance(value, int) else f"{value:.4f}")
