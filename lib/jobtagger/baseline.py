"""The scikit-learn baseline of ``jobtagger evaluate --baseline``: is the Spark model worth it?

A plain single-machine reference fitted on the same train rows and scored on the same test rows
as the model: ``TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)`` on
title + text, one-vs-rest ``LogisticRegression(C=10)``, and per-label F1-best thresholds chosen
on a 20% carve of train (the vectorizer and classifier fitted on the other 80%; 0.5 for a label
with fewer than 5 positives in the carve). The kept classifier is then refitted on all of train
with those thresholds. Its tags go through :func:`jobtagger.metrics.evaluate`, so micro- and
macro-F1 follow exactly the model's conventions (a label never seen in train counts as F1 0).

Single machine on purpose: train and test rows are collected to the driver. That is acceptable
only here, in this optional comparison on a corpus a user can hold in memory; nothing in the
production path calls it. scikit-learn is an optional extra (``pip install 'jobtagger[baseline]'``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from jobtagger.errors import EnvironmentProblem
from jobtagger.metrics import EvaluationResult, evaluate

CARVE = 0.2
MIN_CARVE_POSITIVES = 5
DEFAULT_THRESHOLD = 0.5
C = 10.0

TAGS_SCHEMA = StructType([
    StructField("posting_id", StringType(), False),
    StructField("labels", ArrayType(StringType()), True),
    StructField("tags", ArrayType(StringType()), False),
])


@dataclass(frozen=True)
class BaselineOutcome:
    evaluation: EvaluationResult
    labels: list[str]  # the labels it was fitted on (every label with a positive in train)
    thresholds: dict[str, float]

    def release(self) -> None:
        self.evaluation.per_label.unpersist()


def require_scikit_learn() -> None:
    """Fail in one line, before any training, when the optional extra is not installed."""
    if importlib.util.find_spec("sklearn") is None:
        raise EnvironmentProblem(
            "--baseline needs scikit-learn, an optional extra: pip install 'jobtagger[baseline]'"
        )


def fit_and_evaluate_baseline(train: DataFrame, test: DataFrame, *, seed: int) -> BaselineOutcome:
    """Fit the baseline on ``train`` and evaluate its tags on ``test``.

    Both frames hold ``posting_id``, ``title``, ``description`` and ``labels`` (array<string>);
    both are collected to the driver (see the module docstring).
    """
    require_scikit_learn()
    train_rows = _collect(train)
    test_rows = _collect(test)
    labels = sorted({label for _, _, row_labels in train_rows for label in row_labels})
    if not labels or not test_rows:
        raise EnvironmentProblem("the scikit-learn baseline needs labelled train rows and test rows")
    texts = [text for _, text, _ in train_rows]
    targets = _indicator([row_labels for _, _, row_labels in train_rows], labels)

    rng = np.random.default_rng(seed)
    carve = rng.random(len(texts)) < CARVE
    fit_part, carve_part = np.flatnonzero(~carve), np.flatnonzero(carve)
    thresholds = np.full(len(labels), DEFAULT_THRESHOLD)
    if len(fit_part) and len(carve_part):
        vectorizer, classifier = _fit([texts[i] for i in fit_part], targets[fit_part])
        carve_scores = _scores(vectorizer, classifier, [texts[i] for i in carve_part], len(labels))
        thresholds = _f1_best_thresholds(carve_scores, targets[carve_part])

    vectorizer, classifier = _fit(texts, targets)
    test_scores = _scores(vectorizer, classifier, [text for _, text, _ in test_rows], len(labels))
    predicted = test_scores >= thresholds
    tagged = [
        (posting_id, list(row_labels), [labels[k] for k in np.flatnonzero(predicted[i])])
        for i, (posting_id, _, row_labels) in enumerate(test_rows)
    ]
    frame = test.sparkSession.createDataFrame(tagged, TAGS_SCHEMA)
    evaluation = evaluate(frame, labels, thresholds=dict(zip(labels, thresholds.tolist())), scores_col=None)
    return BaselineOutcome(evaluation=evaluation, labels=labels, thresholds=dict(zip(labels, thresholds.tolist())))


def _collect(df: DataFrame) -> list[tuple[str, str, list[str]]]:
    """(posting_id, title + text, labels) per row, in posting_id order (reproducible carves)."""
    rows = df.select("posting_id", "title", "description", "labels").orderBy("posting_id").collect()
    return [
        (row["posting_id"], f"{row['title'] or ''} {row['description'] or ''}", list(row["labels"] or []))
        for row in rows
    ]


def _indicator(row_labels: list[list[str]], labels: list[str]) -> np.ndarray:
    index = {label: k for k, label in enumerate(labels)}
    targets = np.zeros((len(row_labels), len(labels)), np.int8)
    for i, names in enumerate(row_labels):
        for name in names:
            if name in index:
                targets[i, index[name]] = 1
    return targets


def _fit(texts: list[str], targets: np.ndarray):
    """TF-IDF + one logistic regression per label; a label constant in ``targets`` gets none
    (its score is then that constant: 1.0 or 0.0)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    # min_df=2 needs two documents; a tiny carve falls back to min_df=1.
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2 if len(texts) > 2 else 1)
    X = vectorizer.fit_transform(texts)
    classifier: list[object] = []
    for k in range(targets.shape[1]):
        y = targets[:, k]
        if y.min() == y.max():
            classifier.append(float(y[0]) if len(y) else 0.0)
        else:
            classifier.append(LogisticRegression(C=C, solver="liblinear").fit(X, y))
    return vectorizer, classifier


def _scores(vectorizer, classifier: list[object], texts: list[str], n_labels: int) -> np.ndarray:
    X = vectorizer.transform(texts)
    scores = np.empty((len(texts), n_labels))
    for k, model in enumerate(classifier):
        scores[:, k] = model if isinstance(model, float) else model.predict_proba(X)[:, 1]
    return scores


def _f1_best_thresholds(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per label the score threshold (tag when score >= it) with the best F1 on the carve;
    ``DEFAULT_THRESHOLD`` for a label with fewer than ``MIN_CARVE_POSITIVES`` carve positives."""
    thresholds = np.full(scores.shape[1], DEFAULT_THRESHOLD)
    for k in range(scores.shape[1]):
        positives = int(targets[:, k].sum())
        if positives < MIN_CARVE_POSITIVES:
            continue
        order = np.argsort(-scores[:, k], kind="stable")
        ranked, hits = scores[order, k], np.cumsum(targets[order, k])
        # Only the last position of a run of equal scores is a threshold one can set.
        last = np.append(ranked[1:] != ranked[:-1], True)
        predicted = np.arange(1, len(ranked) + 1)
        f1 = np.where(last, 2.0 * hits / (predicted + positives), -1.0)
        thresholds[k] = ranked[int(np.argmax(f1))]
    return thresholds
