"""Tiny separable multi-label data for the model tests."""

from __future__ import annotations

import numpy as np
from pyspark.ml.linalg import SparseVector

LABELS = ["a", "b", "c"]
DIM = 40
# Words of each label; a labelled posting's title holds its labels' words plus filler.
WORDS = {"category:data": "python sql", "category:hospitality": "barista cafe", "skill:java": "java spring"}
FILLER = ["team", "office", "remote", "growth", "people", "role", "great", "city"]


def toy_rows(n: int, *, seed: int = 0, rates=(0.3, 0.2, 0.1)) -> list[tuple]:
    """Feature k (k < 3) is present exactly when label k is; features 3.. are noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        labels = [label for label, rate in zip(LABELS, rates) if rng.random() < rate]
        active = {LABELS.index(label) for label in labels}
        active.update(rng.choice(np.arange(3, DIM), 4, replace=False).tolist())
        indices = sorted(active)
        rows.append((f"p{i}", SparseVector(DIM, indices, [1.0] * len(indices)), labels))
    return rows


def micro_f1(rows, labels, threshold=0.5) -> float:
    tp = fp = fn = 0
    for row in rows:
        truth = set(row["labels"])
        predicted = {label for label, score in zip(labels, row["scores"]) if score >= threshold}
        tp += len(truth & predicted)
        fp += len(predicted - truth)
        fn += len(truth - predicted)
    return 2 * tp / max(1, 2 * tp + fp + fn)


def labelled_postings(spark, n: int, split: str, seed: int):
    """Postings (the columns ``fit_and_evaluate`` reads) whose titles name their labels' words."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        labels = [label for label in WORDS if rng.random() < 0.4] or [list(WORDS)[i % len(WORDS)]]
        words = " ".join(WORDS[label] for label in labels).split()
        words += list(rng.choice(FILLER, 3))
        rng.shuffle(words)
        rows.append((f"{split}-{i}", " ".join(words), None, None, None, "en", labels, split))
    return spark.createDataFrame(
        rows, "posting_id string, title string, description string, company string, country string, "
        "language string, labels array<string>, split string")
