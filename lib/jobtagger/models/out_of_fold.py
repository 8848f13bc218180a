"""Out-of-fold scores: every training posting scored by a model that did not see it.

Thresholds fitted on one validation carve see only the few validation positives of a rare label
(Reuters ModApte: 48 of 90 labels have fewer than 3), so they fall back to one global threshold.
k-fold cross-fitting scores ALL training postings held out, so each label's threshold is chosen
on all of its training positives; the model that is kept is then fitted on all of train.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark import StorageLevel
from pyspark.ml import Estimator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.models.reg_path import fit_reg_path


def out_of_fold_scores(
    estimator: Estimator, dataset: DataFrame, *, folds: int, fold_col: str = "fold", keep: tuple[str, ...] = ()
) -> DataFrame:
    """Rows of ``dataset`` scored by the model fitted on the other ``folds - 1`` folds (persisted).

    ``dataset`` holds ``fold_col`` (0..folds-1, e.g. from :func:`jobtagger.labels.assign_folds`),
    features and labels; the result has ``keep`` + the labels and scores columns of the
    estimator. The caller unpersists it.
    """
    return out_of_fold_path_scores(
        estimator, dataset, reg_params=[estimator.getRegParam()], folds=folds, fold_col=fold_col, keep=keep
    )[0]


def out_of_fold_path_scores(
    estimator: Estimator, dataset: DataFrame, *, reg_params: Sequence[float], folds: int,
    fold_col: str = "fold", keep: tuple[str, ...] = (),
) -> list[DataFrame]:
    """:func:`out_of_fold_scores` for each of ``reg_params`` (one persisted frame each, same
    order): per fold the whole path is fitted on the other folds (see
    :func:`jobtagger.models.reg_path.fit_reg_path`), so a fold's data are cached once for all
    strengths."""
    columns = [*keep, estimator.getLabelsCol(), estimator.getScoresCol()]
    held_out: list[DataFrame | None] = [None] * len(reg_params)
    for fold in range(folds):
        models = fit_reg_path(estimator, dataset.where(F.col(fold_col) != fold), reg_params)
        rows = dataset.where(F.col(fold_col) == fold)
        for n, model in enumerate(models):
            scored = model.transform(rows).select(*columns)
            held_out[n] = scored if held_out[n] is None else held_out[n].unionByName(scored)
    frames = [frame.persist(StorageLevel.MEMORY_AND_DISK) for frame in held_out]
    for frame in frames:
        frame.count()  # every fold scored once, in one job
    return frames
