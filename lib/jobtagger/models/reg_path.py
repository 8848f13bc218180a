"""Fits along a path of L2 strengths: one model per ``regParam``, from one cached training set.

``one_vs_rest`` fits the path itself (:meth:`OneVsRestLogistic.fitPath`: the training blocks are
cached once and each strength warm-starts from the previous one); any other Estimator is fitted
once per strength on the same (cached) dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.ml import Estimator, Model
from pyspark.sql import DataFrame


def fit_reg_path(
    estimator: Estimator, dataset: DataFrame, reg_params: Sequence[float], *, initial: Model | None = None,
) -> list[Model]:
    """Models fitted on ``dataset`` with each of ``reg_params``, in that order (strongest first
    makes the warm starts short). ``initial``, a model of the same estimator and labels, starts
    the path where it ended (one_vs_rest; other estimators fit cold)."""
    if not reg_params:
        raise ValueError("fit_reg_path needs at least one regParam")
    if hasattr(estimator, "fitPath"):
        return estimator.fitPath(dataset, list(reg_params), initialModel=initial)
    return [estimator.copy({estimator.regParam: float(reg)}).fit(dataset) for reg in reg_params]
