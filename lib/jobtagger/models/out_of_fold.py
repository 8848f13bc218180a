"""Out-of-fold scores: every training posting scored by a model that did not see it.

Thresholds fitted on one validation carve see only the few validation positives of a rare label
(Reuters ModApte: 48 of 90 labels have fewer than 3), so they fall back to one global threshold.
k-fold cross-fitting scores ALL training postings held out, so each label's threshold is chosen
on all of its training positives; the model that is kept is then fitted on all of train.
"""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.ml import Estimator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def out_of_fold_scores(
    estimator: Estimator, dataset: DataFrame, *, folds: int, fold_col: str = "fold", keep: tuple[str, ...] = ()
) -> DataFrame:
    """Rows of ``dataset`` scored by the model fitted on the other ``folds - 1`` folds (persisted).

    ``dataset`` holds ``fold_col`` (0..folds-1, e.g. from :func:`jobtagger.labels.assign_folds`),
    features and labels; the result has ``keep`` + the labels and scores columns of the
    estimator. The caller unpersists it.
    """
    columns = [*keep, estimator.getLabelsCol(), estimator.getScoresCol()]
    held_out = None
    for fold in range(folds):
        model = estimator.fit(dataset.where(F.col(fold_col) != fold))
        scored = model.transform(dataset.where(F.col(fold_col) == fold)).select(*columns)
        held_out = scored if held_out is None else held_out.unionByName(scored)
    held_out = held_out.persist(StorageLevel.MEMORY_AND_DISK)
    held_out.count()  # every fold scored once, in one job
    return held_out
