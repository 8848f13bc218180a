"""Thresholds for all labels at once, searched on the pooled validation scores of every label.

Scores of all labels are counted per cell of a fine score grid in ONE Spark aggregation
(:func:`pooled_cells`); only the cell counts (at most ``GLOBAL_GRID_STEPS + 1`` rows) reach the
driver. From them come the global micro-F1 threshold (the fallback of rare labels and the
``global`` rule) and the thresholds that give on average 1, 2 or 3 labels per posting (the answer
to "what threshold gives me k labels per posting?"; exact: the k * n-th highest pooled score).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

# Resolution of the pooled score grid used for the one global (micro-F1) fallback threshold.
GLOBAL_GRID_STEPS = 10_000
LABELS_PER_POSTING = (1, 2, 3)


@dataclass(frozen=True)
class PooledCells:
    """Validation (label, posting) pairs per grid cell: ``cell = floor(score * GLOBAL_GRID_STEPS)``."""

    positives: np.ndarray
    total: np.ndarray


def _cell(score: Column) -> Column:
    return F.floor(F.greatest(F.least(score, F.lit(1.0)), F.lit(0.0)) * GLOBAL_GRID_STEPS).cast("int")


def pooled_cells(exploded: DataFrame) -> PooledCells:
    """Count the exploded (label, score, is_positive) rows per score cell."""
    rows = (
        exploded.groupBy(_cell(F.col("score")).alias("cell"))
        .agg(F.sum(F.col("is_positive").cast("long")).alias("pos"), F.count(F.lit(1)).alias("n"))
        .collect()
    )
    positives = np.zeros(GLOBAL_GRID_STEPS + 1)
    total = np.zeros(GLOBAL_GRID_STEPS + 1)
    for row in rows:
        positives[row["cell"]] += row["pos"]
        total[row["cell"]] += row["n"]
    return PooledCells(positives, total)


def global_micro_f1_threshold(cells: PooledCells) -> float:
    """One threshold for all labels maximizing pooled (micro) F1, searched on the score grid."""
    positives = cells.positives.sum()
    if positives == 0:
        return 0.5
    tp = np.cumsum(cells.positives[::-1])[::-1]  # predicted positive when score >= cell / steps
    predicted = np.cumsum(cells.total[::-1])[::-1]
    f1 = 2 * tp / (predicted + positives)
    best = int(np.flatnonzero(f1 == f1.max()).max())
    return best / GLOBAL_GRID_STEPS


def labels_per_posting_thresholds(
    exploded: DataFrame, cells: PooledCells, *, n_labels: int, counts: Sequence[int] = LABELS_PER_POSTING
) -> dict[int, float]:
    """For each k in ``counts``: the one threshold under which validation postings get k labels on average.

    It is the (k * n)-th highest pooled score (n postings), so ``score >= threshold`` passes exactly
    k * n (label, posting) pairs when scores do not tie. The grid cell holding that rank is found
    from ``cells``; only the few highest scores of that one cell are then read. The at-least-one
    and max-labels rules of the decision stage come on top.
    """
    if n_labels < 1:
        raise ValueError("labels_per_posting_thresholds needs at least one label")
    above = np.cumsum(cells.total[::-1])[::-1]  # pairs scoring in this cell or higher
    postings = int(round(above[0] / n_labels)) if above.size else 0
    found: dict[int, float] = {}
    for k in counts:
        rank = k * postings
        if postings == 0 or rank > above[0]:
            continue  # fewer than k labels per posting exist: no threshold gives k
        cell = int(np.flatnonzero(above >= rank).max())
        higher = int(above[cell + 1]) if cell + 1 < above.size else 0
        in_cell = (
            exploded.where(_cell(F.col("score")) == cell)
            .select("score")
            .orderBy(F.desc("score"))
            .limit(rank - higher)
            .collect()
        )
        found[k] = float(in_cell[-1]["score"])
    return found
