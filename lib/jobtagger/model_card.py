"""Model card: one HTML page per model version with PNG plots (matplotlib, Agg backend).

Curves are computed in Spark (:func:`card_curves`); only curve points (a few hundred per plotted
label) and reliability bins reach the driver. :func:`write_model_card` renders the page from small
Python values, so it can be re-rendered without Spark.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from pyspark.sql import DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from jobtagger.calibration import (  # noqa: E402
    MultiLabelDecision,
    Thresholds,
    calibrated_scores,
    cumulative_counts,
    explode_scores,
)
from jobtagger.metrics import HeadlineMetrics  # noqa: E402

CURVE_POINTS = 200
RELIABILITY_BINS = 10
PER_LABEL_ROWS_SHOWN = 300


@dataclass(frozen=True)
class PrCurve:
    label: str
    support: int
    recall: list[float]
    precision: list[float]
    chosen: tuple[float, float] | None  # (recall, precision) at the label's threshold


@dataclass(frozen=True)
class ReliabilityBin:
    mean_score: float
    positive_rate: float
    count: int


@dataclass(frozen=True)
class CardData:
    model_version: str
    headline: HeadlineMetrics
    per_label: list[dict]
    thresholds: Thresholds
    curves: list[PrCurve]
    reliability: list[ReliabilityBin]
    top_terms: Mapping[str, list[tuple[str, float]]] | None = None
    facts: Mapping[str, str] = field(default_factory=dict)  # strategy, data version, status...


def curve_labels(per_label: Sequence[dict], *, each_end: int = 3) -> list[str]:
    """The most and least frequent labels with test support (most frequent first)."""
    supported = sorted((r for r in per_label if r["support"] > 0), key=lambda r: (-r["support"], r["label"]))
    chosen = supported[:each_end] + supported[-each_end:]
    return list(dict.fromkeys(r["label"] for r in chosen))


def card_curves(
    scored_test: DataFrame,
    decision: MultiLabelDecision,
    *,
    labels_for_curves: Sequence[str],
    labels_col: str = "labels",
    scores_col: str = "scores",
) -> tuple[list[PrCurve], list[ReliabilityBin]]:
    """Precision-recall curves of a few labels and the reliability bins of all, on calibrated scores."""
    labels = decision.getOrDefault(decision.labels)
    thresholds = dict(zip(labels, decision.getOrDefault(decision.thresholds)))
    calibrated = scored_test.withColumn(
        scores_col, calibrated_scores(F.col(scores_col), decision.score_calibration())
    )
    exploded = explode_scores(calibrated, labels, labels_col=labels_col, scores_col=scores_col)
    reliability = [
        ReliabilityBin(float(r["mean_score"]), float(r["positive_rate"]), int(r["count"]))
        for r in exploded.groupBy(
            F.least(F.floor(F.col("score") * RELIABILITY_BINS), F.lit(RELIABILITY_BINS - 1)).alias("bin")
        )
        .agg(
            F.avg("score").alias("mean_score"),
            F.avg(F.col("is_positive").cast("double")).alias("positive_rate"),
            F.count(F.lit(1)).alias("count"),
        )
        .orderBy("bin")
        .collect()
    ]
    wanted = [label for label in labels_for_curves if label in thresholds]
    if not wanted:
        return [], reliability
    counts = cumulative_counts(exploded.where(F.col("label").isin(wanted))).where(F.col("positives") > 0)
    precision = F.col("tp") / (F.col("tp") + F.col("fp"))
    recall = F.col("tp") / F.col("positives")
    threshold_of = F.element_at(
        F.create_map(*[x for label in wanted for x in (F.lit(label), F.lit(float(thresholds[label])))]), F.col("label")
    )
    rows = (
        counts.groupBy("label", F.round(recall * CURVE_POINTS).alias("cell"))
        .agg(F.max(recall).alias("recall"), F.max(precision).alias("precision"), F.first("positives").alias("support"))
        .collect()
    )
    chosen = {
        r["label"]: r["point"]
        for r in counts.where(F.col("score") >= threshold_of)
        .groupBy("label")
        .agg(F.max_by(F.struct(recall.alias("recall"), precision.alias("precision")), -F.col("score")).alias("point"))
        .collect()
    }
    curves = []
    for label in wanted:
        points = sorted((r["recall"], r["precision"], r["support"]) for r in rows if r["label"] == label)
        if not points:
            continue
        point = chosen.get(label)
        curves.append(
            PrCurve(
                label=label,
                support=int(points[0][2]),
                recall=[p[0] for p in points],
                precision=[p[1] for p in points],
                chosen=(float(point["recall"]), float(point["precision"])) if point else None,
            )
        )
    return curves, reliability


def top_terms(classifier, vocabulary: Sequence[str] | None, labels: Sequence[str], *, n: int = 8) -> dict | None:
    """Strongest positive terms per label, or None when features are hashed (no vocabulary)."""
    if vocabulary is None or not hasattr(classifier, "top_features"):
        return None
    terms = {}
    for label in labels:
        terms[label] = [
            (vocabulary[index], weight) for index, weight in classifier.top_features(label, n) if index < len(vocabulary)
        ]
    return terms


def write_model_card(folder: str | Path, data: CardData) -> Path:
    """Write ``model_card.html`` and its PNGs into ``folder``; returns the HTML path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = {
        "pr_curves.png": _plot_pr_curves(data.curves),
        "reliability.png": _plot_reliability(data.reliability),
        "frequency_vs_f1.png": _plot_frequency_vs_f1(data.per_label),
        "thresholds.png": _plot_thresholds(data.thresholds),
    }
    for name, figure in images.items():
        figure.savefig(folder / name, dpi=90, bbox_inches="tight")
        plt.close(figure)
    target = folder / "model_card.html"
    target.write_text(_html(data), encoding="utf-8")
    return target


# ---------------------------------------------------------------------------------------------
# Plots


def _plot_pr_curves(curves: list[PrCurve]):
    columns = 3
    rows = max(1, (len(curves) + columns - 1) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(12, 3.6 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_visible(False)
    for axis, curve in zip(axes.flat, curves):
        axis.set_visible(True)
        axis.step(curve.recall, curve.precision, where="post", color="#1f77b4")
        if curve.chosen:
            axis.plot(*curve.chosen, "o", color="#d62728", markersize=8, label="chosen threshold")
            axis.legend(loc="lower left", fontsize=8)
        else:
            axis.text(0.5, 0.5, "threshold above every test score", ha="center", fontsize=9, color="#d62728")
        axis.set_title(f"{curve.label} (support {curve.support})", fontsize=10)
        axis.set_xlim(0, 1.02)
        axis.set_ylim(0, 1.05)
        axis.set_xlabel("recall")
        axis.set_ylabel("precision")
        axis.grid(alpha=0.3)
    if not curves:
        axes.flat[0].set_visible(True)
        axes.flat[0].text(0.5, 0.5, "no label with test support", ha="center")
    figure.suptitle("Precision-recall on the test split (most and least frequent labels)")
    figure.tight_layout()
    return figure


def _plot_reliability(bins: list[ReliabilityBin]):
    figure, axis = plt.subplots(figsize=(5.5, 5))
    axis.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    if bins:
        total = sum(b.count for b in bins)
        axis.scatter(
            [b.mean_score for b in bins], [b.positive_rate for b in bins],
            s=[30 + 400 * b.count / total for b in bins], color="#1f77b4", label="score bins (size = share)",
        )
        axis.plot([b.mean_score for b in bins], [b.positive_rate for b in bins], color="#1f77b4")
    axis.set_xlabel("mean score in bin")
    axis.set_ylabel("share of true labels")
    axis.set_title("Reliability (all labels, test split)")
    axis.legend(loc="upper left", fontsize=8)
    axis.grid(alpha=0.3)
    return figure


def _plot_frequency_vs_f1(per_label: list[dict]):
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    supported = [r for r in per_label if r["support"] > 0]
    axis.scatter([r["support"] for r in supported], [r["f1"] for r in supported], alpha=0.6, color="#2ca02c")
    if supported:
        axis.set_xscale("log")
    axis.set_xlabel("test support (postings, log scale)")
    axis.set_ylabel("F1")
    axis.set_ylim(-0.02, 1.02)
    axis.set_title("Label frequency vs F1")
    axis.grid(alpha=0.3)
    return figure


def _plot_thresholds(thresholds: Thresholds):
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    groups: dict[str, list[float]] = {}
    for entry in thresholds.entries:
        groups.setdefault(entry.fallback or "searched", []).append(min(entry.threshold, 1.0))
    axis.hist(list(groups.values()), bins=20, range=(0, 1), stacked=True, label=list(groups))
    axis.set_xlabel("threshold (fallbacks above 1 shown at 1)")
    axis.set_ylabel("labels")
    axis.set_title(f"Threshold distribution ({thresholds.strategy})")
    axis.legend(fontsize=8)
    return figure


# ---------------------------------------------------------------------------------------------
# HTML

_STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.headline { display: flex; flex-wrap: wrap; gap: 10px; }
.metric { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.metric .v { font-size: 1.5em; font-weight: 600; } .metric .n { color: #666; font-size: 0.85em; }
img { max-width: 100%; border: 1px solid #eee; } .pair { display: flex; flex-wrap: wrap; gap: 16px; }
.muted { color: #666; }
"""


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _html(data: CardData) -> str:
    h = data.headline
    cards = [
        ("micro-F1", h.micro_f1), ("macro-F1", h.macro_f1), ("samples-F1", h.samples_f1),
        ("micro precision", h.micro_precision), ("micro recall", h.micro_recall), ("P@1", h.precision_at_1),
        ("Hamming loss", h.hamming_loss), ("subset accuracy", h.subset_accuracy),
    ]
    headline = "".join(
        f'<div class="metric"><div class="v">{_fmt(v)}</div><div class="n">{html.escape(n)}</div></div>' for n, v in cards
    )
    all_metrics = "".join(f"<tr><td class=l>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in h.as_dict().items())
    facts = "".join(f"<tr><td class=l>{html.escape(k)}</td><td class=l>{_fmt(v)}</td></tr>" for k, v in data.facts.items())
    by_label = data.thresholds.by_label()
    rows = sorted(data.per_label, key=lambda r: (-r["support"], r["label"]))
    label_rows = "".join(
        "<tr>"
        f"<td class=l>{html.escape(r['label'])}</td><td>{r['support']}</td><td>{r['predicted']}</td>"
        f"<td>{_fmt(r['precision'])}</td><td>{_fmt(r['recall'])}</td><td>{_fmt(r['f1'])}</td>"
        f"<td>{_fmt(r['threshold'])}</td>"
        f"<td class=l>{_fmt(by_label[r['label']].rule) if r['label'] in by_label else ''}</td>"
        f"<td class=l>{_fmt(by_label[r['label']].fallback) if r['label'] in by_label else 'not a model label'}</td>"
        "</tr>"
        for r in rows[:PER_LABEL_ROWS_SHOWN]
    )
    more = (
        f"<p class=muted>{len(rows) - PER_LABEL_ROWS_SHOWN} more labels: see the ml_metrics table.</p>"
        if len(rows) > PER_LABEL_ROWS_SHOWN else ""
    )
    if data.top_terms:
        shown = [r["label"] for r in rows if r["label"] in data.top_terms][:PER_LABEL_ROWS_SHOWN]
        terms = "<table><tr><th class=l>label</th><th class=l>strongest terms (weight)</th></tr>" + "".join(
            f"<tr><td class=l>{html.escape(label)}</td><td class=l>"
            + ", ".join(f"{html.escape(term)} ({weight:.2f})" for term, weight in data.top_terms[label])
            + "</td></tr>"
            for label in shown
        ) + "</table>"
    else:
        terms = "<p class=muted>Not available: the features are hashed (no vocabulary) or the classifier has no per-term weights.</p>"
    fallbacks = data.thresholds.fallback_counts()
    fallback_text = ", ".join(f"{k}: {v}" for k, v in sorted(fallbacks.items())) or "none"
    rule_text = ", ".join(f"{k}: {v}" for k, v in sorted(data.thresholds.rule_counts().items())) or "none"
    per_posting_text = "; ".join(
        f"{k} label{'s' if k > 1 else ''}: {_fmt(t)}" for k, t in sorted(data.thresholds.labels_per_posting.items())
    ) or "not available"
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Model card {html.escape(data.model_version)}</title>
<style>{_STYLE}</style></head><body>
<h1>Model card: {html.escape(data.model_version)}</h1>
<p class=muted>Generated {generated}. Multi-label job-posting tagger: one probability per label, one threshold per label.</p>
<h2>Headline metrics (test split)</h2>
<div class="headline">{headline}</div>
<h2>Model</h2><table>{facts}</table>
<p>Thresholds: strategy <b>{html.escape(data.thresholds.strategy)}</b>; rules: {html.escape(rule_text)};
fallbacks: {html.escape(fallback_text)}; global micro-F1 threshold {_fmt(data.thresholds.global_threshold)};
threshold shared by the labels with few validation positives {_fmt(data.thresholds.few_positives_threshold)}.</p>
<p>Labels per posting: one threshold for all labels that gives on average {per_posting_text}
(validation postings, before the at-least-one and max-labels rules).</p>
<h2>Precision-recall curves</h2><img src="pr_curves.png" alt="precision-recall curves">
<h2>Calibration, frequency and thresholds</h2>
<div class="pair"><img src="reliability.png" alt="reliability diagram">
<img src="frequency_vs_f1.png" alt="label frequency vs F1"><img src="thresholds.png" alt="threshold distribution"></div>
<h2>All metrics</h2><table>{all_metrics}</table>
<h2>Per label</h2>
<table><tr><th class=l>label</th><th>support</th><th>predicted</th><th>precision</th><th>recall</th><th>F1</th>
<th>threshold</th><th class=l>rule</th><th class=l>fallback</th></tr>{label_rows}</table>{more}
<h2>Why a posting gets a tag: top terms per label</h2>{terms}
</body></html>
"""
