"""The L2 strength chosen by validation: a warm-started path and the choice between candidates."""

from __future__ import annotations

import pytest

import numpy as np
from model_toys import LABELS, toy_rows

from jobtagger.config import CalibrationConfig
from jobtagger.models import MultiOutputSigmoid, OneVsRestLogistic
from jobtagger.models.reg_path import fit_reg_path
from jobtagger.reg_selection import select_reg_param

GRID = [1e-2, 1e-3]


def _scores(model, df):
    return np.array([r["scores"] for r in model.transform(df).orderBy("posting_id").select("scores").collect()])


@pytest.mark.slow  # fits every candidate cold as well
def test_warm_started_path_reaches_the_cold_fits_from_one_cached_copy(toy_df):
    estimator = OneVsRestLogistic(labelSpace=LABELS, maxIter=100, tol=1e-6)
    path = fit_reg_path(estimator, toy_df, GRID)
    assert [m.getRegParam() for m in path] == GRID
    assert [m.training_summary["warm_start"] for m in path] == [False, True]
    for reg, warm in zip(GRID, path):
        cold = estimator.copy({estimator.regParam: reg}).fit(toy_df)
        np.testing.assert_allclose(_scores(warm, toy_df), _scores(cold, toy_df), atol=2e-3)
    # The strengths give different models (the path is not one model copied).
    assert np.abs(_scores(path[0], toy_df) - _scores(path[1], toy_df)).max() > 1e-2


def test_other_estimators_are_fitted_once_per_strength(toy_df):
    path = fit_reg_path(MultiOutputSigmoid(labelSpace=LABELS, maxIter=2, batchSize=64), toy_df, GRID)
    assert [m.getRegParam() for m in path] == GRID


def _scored(spark, informative: bool, seed: int):
    """Held-out rows of the toy labels with scores that rank them (informative) or do not."""
    rng = np.random.default_rng(seed)
    rows = []
    for posting_id, _, labels in toy_rows(300, seed=seed):
        scores = [
            float(np.clip((0.7 if label in labels else 0.3) + rng.normal(0, 0.1), 0.01, 0.99)) if informative
            else float(rng.random())
            for label in LABELS
        ]
        rows.append((posting_id, labels, scores))
    return spark.createDataFrame(rows, "posting_id string, labels array<string>, scores array<double>").cache()


@pytest.mark.slow
def test_the_candidate_whose_held_out_scores_validate_best_is_chosen(spark):
    noise, signal = _scored(spark, False, 3), _scored(spark, True, 3)
    config = CalibrationConfig(min_positives=1, min_f1=0.0)
    # The better candidate second, so a rule that keeps the first (strongest) would fail.
    selection = select_reg_param([noise, signal], GRID, LABELS, config, held_out="validation", top_candidates=3)
    assert selection.chosen == 1 and selection.reg_param == GRID[1]
    worse, better = selection.candidates
    # (about half the toy postings have no label: the at-least-one rule caps micro-F1 near 0.7)
    assert better.micro_f1 > worse.micro_f1 + 0.1 and better.macro_f1 > worse.macro_f1 + 0.1
    assert better.log_loss < worse.log_loss
    # Swapped: the choice follows the scores, not the position.
    assert select_reg_param([signal, noise], GRID, LABELS, config, held_out="validation", top_candidates=3).chosen == 0
    metrics = selection.metrics()
    assert metrics["selection_reg_param"] == GRID[1]
    assert metrics["validation_reg_0.001_micro_f1"] == better.micro_f1
    assert any(key.startswith("reg_param 0.01: validation") for key in selection.facts())
