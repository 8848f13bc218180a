"""Training speed: each strategy vs a loop of pyspark.ml LogisticRegression (one fit per label),
and multi_output at K=1,000 vs K=10 on the same postings.

``jobtagger bench train_speed --conf conf/local.yaml --rows 100000 [--option loop_labels=3]
[--option k=100] [--option k_small=10] [--option k_large=1000] [--option hidden_units=64]
[--option negative_samples=20] [--option epochs=5]``

Postings come from :mod:`jobtagger.synthetic` (taxonomy labels: categories, seniorities and
``generate.skills`` skills) and go through the configured feature pipeline once, cached; only
model fitting is timed. The label space is the K most frequent labels (``build_label_space``).

The LogisticRegression loop is measured on ``loop_labels`` labels after one untimed warm-up fit
and extrapolated linearly to K (every fit has the same fixed cost and rescans the data about
maxIter times; the extrapolation is stated in the output). Targets: each strategy >= 20x faster
than the loop at K=100; multi_output(K=1,000) <= 3x multi_output(K=10).
"""

from __future__ import annotations

import argparse
import time

from pyspark.ml.classification import LogisticRegression
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobtagger.bench import options
from jobtagger.bench.common import featurized_postings, labelled_generate_overrides
from jobtagger.config import JobtaggerConfig
from jobtagger.labels import build_label_space
from jobtagger.models import estimator_for

DEFAULT_ROWS = 100_000


def run(spark: SparkSession, config: JobtaggerConfig, args: argparse.Namespace) -> dict:
    opts = options(args)
    rows = args.rows or DEFAULT_ROWS
    k, k_small, k_large = int(opts.get("k", 100)), int(opts.get("k_small", 10)), int(opts.get("k_large", 1000))
    loop_labels = int(opts.get("loop_labels", 3))
    config = config.with_overrides([
        *labelled_generate_overrides(labels=max(100, k_large)),
        f"training.hidden_units={opts.get('hidden_units', 64)}",
        f"training.negative_samples={opts.get('negative_samples', 20)}",
        f"training.epochs={opts.get('epochs', 5)}",
    ])
    started = time.perf_counter()
    data = featurized_postings(spark, config, rows=rows).cache()
    n = data.count()
    report = build_label_space(data, min_support=config.training.min_support, max_labels=max(k, k_large))
    prepare_seconds = time.perf_counter() - started
    labels = report.labels[:k]

    timings = {}
    for strategy in ("one_vs_rest", "multi_output"):
        training = config.training.model_copy(update={"strategy": strategy})
        timings[strategy] = _timed_fit(training, labels, data)
    loop = _lr_loop(config, labels, data, loop_labels)
    multi = config.training.model_copy(update={"strategy": "multi_output"})
    small = _timed_fit(multi, report.labels[:k_small], data)
    large = _timed_fit(multi, report.labels[:k_large], data)
    return {
        "rows": n, "features": data.first()["features"].size,
        "prepare_seconds": round(prepare_seconds, 1), "k": len(labels),
        "training": config.training.model_dump(mode="json"),
        "strategies": timings,
        "lr_loop": loop,
        "speedup_vs_lr_loop": {s: round(loop["extrapolated_seconds"] / t["seconds"], 1) for s, t in timings.items()},
        "multi_output_k_ratio": {
            f"k={len(report.labels[:k_small])}": small, f"k={len(report.labels[:k_large])}": large,
            "ratio": round(large["seconds"] / small["seconds"], 2),
        },
    }


def _timed_fit(training, labels, data) -> dict:
    started = time.perf_counter()
    model = estimator_for(training, label_space=labels).fit(data)
    return {"seconds": round(time.perf_counter() - started, 1), "labels": len(model.labels),
            "summary": model.training_summary}


def _lr_loop(config: JobtaggerConfig, labels: list[str], data, measured: int) -> dict:
    """One pyspark.ml LogisticRegression per label on ``measured`` labels, extrapolated to all."""
    def fit(label: str) -> None:
        target = data.select("features", F.array_contains("labels", label).cast("double").alias("label"))
        LogisticRegression(maxIter=config.training.max_iter, regParam=config.training.reg_param).fit(target)

    fit(labels[-1])  # warm-up, not timed
    seconds = []
    for label in labels[:measured]:
        started = time.perf_counter()
        fit(label)
        seconds.append(time.perf_counter() - started)
    per_fit = sum(seconds) / len(seconds)
    return {
        "measured_labels": len(seconds), "seconds_per_fit": round(per_fit, 2),
        "extrapolated_seconds": round(per_fit * len(labels), 1),
        "method": (f"all {len(labels)} labels fitted and timed (after one warm-up fit)" if len(seconds) == len(labels)
                   else f"mean of {len(seconds)} warm fits x {len(labels)} labels (linear extrapolation)"),
    }
