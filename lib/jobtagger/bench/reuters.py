"""Reuters-21578 ModApte (90 labels): features + each strategy + per-label thresholds, test F1.

``jobtagger bench reuters --conf conf/local.yaml [--option strategies=one_vs_rest,multi_output]
[--option folds=5] [--option training.reg_param=...] ...``

The corpus file is read directly (``../shared/data/reuters21578/reuters21578_modapte90.jsonl``;
the ingest stage is not involved). Its ModApte train/test split is kept. Thresholds per label
come from ``jobtagger.calibration.fit_thresholds`` (F1-best; below ``calibration.min_f1`` a
threshold above every score, as SCutFBR) on held-out scores of the training documents: either a
validation carve of train (``folds=0``, the model is then trained on the rest) or out-of-fold
scores of ``folds`` models (the final model is trained on all of train); ``folds`` defaults to
``calibration.folds`` of the config. Targets: micro-F1 >= 0.87,
macro-F1 >= 0.53 on test.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobtagger.bench import options
from jobtagger.calibration import fit_thresholds
from jobtagger.config import JobtaggerConfig
from jobtagger.labels import assign_folds, assign_split, build_label_space
from jobtagger.models import estimator_for
from jobtagger.models.out_of_fold import out_of_fold_scores
from jobtagger.session import detect_capabilities
from jobtagger.text.features import build_feature_pipeline

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "reuters21578" / "reuters21578_modapte90.jsonl"
# Settings that suit this corpus (small, long texts, 90 skewed labels); --option overrides.
DEFAULTS = {
    "strategies": "one_vs_rest,multi_output",
    "features.min_doc_freq": "2",
    "features.ngram_max": "2",
    "features.title_weight": "1",
    "training.reg_param": "1e-5",
    "training.max_iter": "100",
    "training.epochs": "20",
    "training.tolerance": "1e-4",
    "training.class_weight": "balanced",
    "training.learning_rate": "0.02",
    "training.batch_size": "64",
}


def run(spark: SparkSession, config: JobtaggerConfig, args: argparse.Namespace) -> dict:
    settings = {**DEFAULTS, **options(args)}
    overrides = [f"{k}={v}" for k, v in settings.items() if "." in k]
    config = config.with_overrides(overrides)
    corpus = read_corpus(spark, Path(settings.get("corpus", CORPUS)))
    report = build_label_space(corpus.filter(F.col("split") == "train"), min_support=1, max_labels=1000)
    split = assign_split(corpus, report, config.training.split).cache()
    train_all = split.filter(F.col("split") != "test")
    test = split.filter(F.col("split") == "test")
    started = time.perf_counter()
    features = build_feature_pipeline(config.features, capabilities=detect_capabilities(spark)).fit(train_all)
    train_all, test = features.transform(train_all).cache(), features.transform(test).cache()
    feature_seconds = time.perf_counter() - started
    labels = report.labels
    results = {"corpus": str(CORPUS), "labels": len(labels), "train_docs": train_all.count(),
               "test_docs": test.count(), "feature_seconds": round(feature_seconds, 1),
               "settings": settings}
    # This bench fits on all of train with no carve of its own: "auto" means out-of-fold here.
    bench_folds = AUTO_FOLDS if config.calibration.folds == "auto" else config.calibration.folds
    for strategy in settings["strategies"].split(","):
        training = config.training.model_copy(update={"strategy": strategy})
        results[strategy] = evaluate_strategy(
            training, config, report, train_all, test, folds=int(settings.get("folds", bench_folds))
        )
    return results


def read_corpus(spark: SparkSession, path: Path) -> DataFrame:
    return spark.read.json(str(path)).select(
        F.col("id").cast("string").alias("posting_id"), "split", "title",
        F.col("text").alias("description"), "labels",
    )


def evaluate_strategy(training, config, report, train_all: DataFrame, test: DataFrame, *, folds: int) -> dict:
    labels = report.labels
    started = time.perf_counter()
    if folds:
        folded = assign_folds(train_all, report, folds, seed=training.split.seed)
        held_out = out_of_fold_scores(estimator_for(training, label_space=labels), folded, folds=folds)
        model = estimator_for(training, label_space=labels).fit(train_all)
    else:
        model = estimator_for(training, label_space=labels).fit(train_all.filter(F.col("split") == "train"))
        held_out = model.transform(train_all.filter(F.col("split") == "validation"))
    thresholds = fit_thresholds(held_out, labels, config.calibration)
    held_out.unpersist()
    cut = np.array([entry.threshold for entry in thresholds.entries])
    rows = model.transform(test).select("labels", "scores").collect()
    truth = np.array([[label in set(r["labels"] or []) for label in labels] for r in rows])
    scores = np.array([r["scores"] for r in rows])
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "training_summary": model.training_summary,
        "tuned": f1_scores(truth, scores >= cut),
        "at_0.5": f1_scores(truth, scores >= 0.5),
    }


def f1_scores(truth: np.ndarray, predicted: np.ndarray) -> dict:
    tp = (truth & predicted).sum(axis=0)
    fp = (~truth & predicted).sum(axis=0)
    fn = (truth & ~predicted).sum(axis=0)
    per_label = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    micro = 2 * tp.sum() / max(1, 2 * tp.sum() + fp.sum() + fn.sum())
    return {"micro_f1": round(float(micro), 4), "macro_f1": round(float(per_label.mean()), 4)}
