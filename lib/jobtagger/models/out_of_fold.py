"""Out-of-fold scores: every training posting scored by a model that did not see it.

Thresholds fitted on one validation carve see only the few validation positives of a rare label
(Reuters ModApte: 48 of 90 labels have fewer than 3), so they fall back to one global threshold.
k-fold cross-fitting scores ALL training postings held out, so each label's threshold is chosen
on all of its training positives. The model that is kept is then either fitted on all of train
(``training.final_model: refit``) or the average of the k fold models (``fold_average``): for a
linear model averaging weights, biases and logit offsets averages the logits, so the kept model
is one model of the same size, and its scores on new postings are distributed like the
out-of-fold scores the thresholds were fitted on (a refit on all of train, with a weak L2, scores
more postings high than the fold models did).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyspark import StorageLevel
from pyspark.ml import Estimator, Model
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.models.common import MultiLabelModel
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
    return out_of_fold_path(
        estimator, dataset, reg_params=reg_params, folds=folds, fold_col=fold_col, keep=keep
    ).scores


@dataclass
class OutOfFold:
    """Out-of-fold scores per strength (persisted; the caller unpersists them) and, when asked
    for, the average of the fold models per strength (same order)."""

    scores: list[DataFrame]
    averaged: list[MultiLabelModel] | None = None
    # The fold models (one per fold) of the strongest and of the weakest strength: a path
    # continued past either end starts from them (``initial``).
    strongest: list[Model] | None = None
    weakest: list[Model] | None = None


def averages_linearly(estimator: Estimator) -> bool:
    """Whether averaging the estimator's fitted arrays averages its logits: true for a linear
    model; a hidden ReLU layer's units are not aligned across fits, so its weights do not average."""
    return not (estimator.hasParam("hiddenUnits") and estimator.getOrDefault("hiddenUnits") > 0)


def out_of_fold_path(
    estimator: Estimator, dataset: DataFrame, *, reg_params: Sequence[float], folds: int,
    fold_col: str = "fold", keep: tuple[str, ...] = (), average: bool = False,
    initial: Sequence[Model] | None = None,
) -> OutOfFold:
    """:func:`out_of_fold_path_scores`, and with ``average`` also one model per strength whose
    arrays are the mean of the ``folds`` fold models' arrays (see :func:`average_models`).
    ``initial`` (one model per fold, e.g. an earlier call's ``weakest``) starts each fold's path
    from that fold's model (see :func:`jobtagger.models.reg_path.fit_reg_path`).

    Of the fold models only the two ends of the path are kept; a running sum of their arrays is
    (one model's arrays per strength, d x K floats each), and divided by ``folds`` at the end."""
    if initial is not None and len(initial) != folds:
        raise ValueError(f"{len(initial)} initial models for {folds} folds")
    if average and not averages_linearly(estimator):
        raise ValueError("fold models average only when linear (hiddenUnits = 0)")
    columns = [*keep, estimator.getLabelsCol(), estimator.getScoresCol()]
    held_out: list[DataFrame | None] = [None] * len(reg_params)
    sums: list[MultiLabelModel | None] = [None] * len(reg_params)
    strongest, weakest = [], []
    for fold in range(folds):
        models = fit_reg_path(estimator, dataset.where(F.col(fold_col) != fold), reg_params,
                              initial=None if initial is None else initial[fold])
        strongest.append(models[0])
        weakest.append(models[-1])
        rows = dataset.where(F.col(fold_col) == fold)
        for n, model in enumerate(models):
            scored = model.transform(rows).select(*columns)
            held_out[n] = scored if held_out[n] is None else held_out[n].unionByName(scored)
            if average:
                sums[n] = _accumulate(sums[n], model)
        del models
    frames = [frame.persist(StorageLevel.MEMORY_AND_DISK) for frame in held_out]
    for frame in frames:
        frame.count()  # every fold scored once, in one job
    averaged = [_divide(total, folds) for total in sums] if average else None
    return OutOfFold(frames, averaged, strongest=strongest, weakest=weakest)


def average_models(models: Sequence[MultiLabelModel]) -> MultiLabelModel:
    """One model whose every array is the mean of ``models``' arrays (same labels, same array
    names and shapes): for linear models its logits are the mean of their logits. Params are
    those of the first model."""
    if not models:
        raise ValueError("average_models needs at least one model")
    total = None
    for model in models:
        total = _accumulate(total, model)
    return _divide(total, len(models))


def _accumulate(total: MultiLabelModel | None, model: MultiLabelModel) -> MultiLabelModel:
    """``total`` with ``model``'s arrays added in place, or a new model holding a copy of them
    when ``total`` is None. Sums keep the arrays' own dtype (float32 weights): a sum of a few
    folds loses nothing that matters, and float64 sums would double the memory held."""
    if total is None:
        total = type(model)(labels=model.labels, arrays={name: array.copy() for name, array in model.arrays.items()})
        model._copyValues(total)
        total.training_summary = {"fold_summaries": [model.training_summary]}
        return total
    if list(model.labels) != list(total.labels):
        raise ValueError("fold models differ in their labels: set labelSpace to average them")
    if sorted(model.arrays) != sorted(total.arrays):
        raise ValueError(f"fold models differ in their arrays: {sorted(model.arrays)} vs {sorted(total.arrays)}")
    for name, array in model.arrays.items():
        if array.shape != total.arrays[name].shape:
            raise ValueError(f"fold models differ in the shape of {name!r}: {array.shape} vs {total.arrays[name].shape}")
        total.arrays[name] += array
    total.training_summary["fold_summaries"].append(model.training_summary)
    return total


def _divide(total: MultiLabelModel, count: int) -> MultiLabelModel:
    """The mean model from the sum of ``count`` models."""
    for name, array in total.arrays.items():
        if np.issubdtype(array.dtype, np.floating):
            array /= count
        else:
            total.arrays[name] = array / count
    total.training_summary = {"final_model": "fold_average", "models": count, **total.training_summary}
    return total
