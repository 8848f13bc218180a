"""The L2 strength chosen by validation: a warm-started path and the choice between candidates."""

from __future__ import annotations

import pytest

import datetime as dt
from pathlib import Path

import numpy as np
from model_toys import LABELS, labelled_postings, toy_rows

from jobtagger.config import CalibrationConfig, load_config
from jobtagger.models import MultiOutputSigmoid, OneVsRestLogistic
from jobtagger.models.reg_path import fit_reg_path
from jobtagger.reg_selection import RegCandidate, choose_reg_param, judge_reg_param, reg_param_beyond
from jobtagger.runlog import RunContext
from jobtagger.training import fit_and_evaluate

GRID = [1e-2, 1e-3]
REPO_ROOT = Path(__file__).resolve().parents[2]


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


def test_a_path_continued_from_its_last_model_reaches_the_path_fitted_in_one_go(toy_df):
    estimator = OneVsRestLogistic(labelSpace=LABELS, maxIter=100, tol=1e-6)
    whole = fit_reg_path(estimator, toy_df, GRID)
    first = fit_reg_path(estimator, toy_df, GRID[:1])[0]
    continued = fit_reg_path(estimator, toy_df, GRID[1:], initial=first)[0]
    assert continued.training_summary["warm_start"] and continued.getRegParam() == GRID[1]
    # Same start, same stopping scale (the cold fit's gradient norms): the same model.
    np.testing.assert_allclose(_scores(continued, toy_df), _scores(whole[1], toy_df), atol=1e-5)
    other = OneVsRestLogistic(labelSpace=LABELS[:2], maxIter=5)
    with pytest.raises(ValueError, match="other labels"):
        fit_reg_path(other, toy_df, GRID[1:], initial=first)


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
    judged = [judge_reg_param(frame, reg, LABELS, config, top_candidates=3) for frame, reg in zip([noise, signal], GRID)]
    selection = choose_reg_param(judged, held_out="validation")
    assert selection.chosen == 1 and selection.reg_param == GRID[1]
    worse, better = selection.candidates
    # (about half the toy postings have no label: the at-least-one rule caps micro-F1 near 0.7)
    assert better.micro_f1 > worse.micro_f1 + 0.1 and better.macro_f1 > worse.macro_f1 + 0.1
    assert better.log_loss < worse.log_loss
    # Swapped: the choice follows the scores, not the position.
    swapped = [judge_reg_param(frame, reg, LABELS, config, top_candidates=3) for frame, reg in zip([signal, noise], GRID)]
    assert choose_reg_param(swapped, held_out="validation").chosen == 0
    metrics = selection.metrics()
    assert metrics["selection_reg_param"] == GRID[1]
    assert metrics["validation_reg_0.001_micro_f1"] == better.micro_f1
    assert any(key.startswith("reg_param 0.01: validation") for key in selection.facts())


def _judged(*figures: tuple[float, float]) -> list[RegCandidate]:
    """Candidates 1e-3, 1e-4, ... (strongest first) with these (micro, macro) figures."""
    return [RegCandidate(reg_param=10.0 ** -(3 + n), micro_f1=micro, macro_f1=macro, log_loss=0.1)
            for n, (micro, macro) in enumerate(figures)]


def test_the_choice_records_candidates_strongest_first_and_a_tie_keeps_the_stronger():
    judged = _judged((0.5, 0.3), (0.6, 0.4), (0.6, 0.4))
    selection = choose_reg_param(list(reversed(judged)), held_out="validation")
    assert [c.reg_param for c in selection.candidates] == [1e-3, 1e-4, 1e-5]
    assert selection.reg_param == 1e-4  # tied with 1e-5: the stronger
    with pytest.raises(ValueError, match="at least one"):
        choose_reg_param([], held_out="validation")


@pytest.mark.parametrize(("figures", "beyond"), [
    ([(0.5, 0.3), (0.6, 0.4), (0.7, 0.5)], 1e-6),  # the weakest won: one step weaker
    ([(0.7, 0.5), (0.6, 0.4), (0.5, 0.3)], 1e-2),  # the strongest won: one step stronger
    ([(0.5, 0.3), (0.7, 0.5), (0.6, 0.4)], None),  # a strength inside won: the figures have turned
    ([(0.6, 0.4), (0.6, 0.4)], None),  # the strongest won only by the tie rule
    ([(0.6, 0.4)], None),  # one candidate: no step to take
])
def test_the_next_strength_lies_one_grid_step_past_the_edge_that_won(figures, beyond):
    got = reg_param_beyond(choose_reg_param(_judged(*figures), held_out="validation"))
    assert got == (None if beyond is None else pytest.approx(beyond))


@pytest.mark.parametrize(("weakest", "extended"), [((0.601, 0.4005), False), ((0.602, 0.4005), True)])
def test_an_edge_extends_only_when_it_wins_by_more_than_the_minimum_gain(weakest, extended):
    # The weakest wins by 0.0015 (flat: not worth a fit), then by 0.0025.
    selection = choose_reg_param(_judged((0.5, 0.3), (0.6, 0.4), weakest), held_out="validation")
    assert selection.reg_param == 1e-5
    assert (reg_param_beyond(selection, min_gain=0.002) is not None) == extended


@pytest.mark.slow  # two fit_and_evaluate runs with a grid each
@pytest.mark.parametrize("held_out", ["validation", "folds_average"])
def test_training_tries_strengths_past_the_edge_that_wins_and_keeps_the_best(spark, tmp_path, held_out):
    # 1e6 leaves weights below float32 resolution (every posting scores alike); 1e-3 learns the
    # labels, so the weak edge wins and one strength past it (1e-12) is fitted and judged.
    overrides = [
        f"storage.warehouse={tmp_path / 'warehouse'}", f"paths.landing={tmp_path / 'landing'}",
        f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'}", "spark.shuffle_partitions=2",
        "training.reg_grid=[1e6,1e-3]", "training.reg_extend=1", "training.max_iter=10",
        "features.min_doc_freq=1", "features.select_char_ngrams=never",
        *(["calibration.folds=0"] if held_out == "validation" else
          ["calibration.folds=3", "training.final_model=fold_average"]),
    ]
    config = load_config(REPO_ROOT / "conf" / "local.yaml", overrides=overrides)
    labelled = labelled_postings(spark, 150, "train", 1).unionByName(labelled_postings(spark, 40, "test", 2))
    outcome = fit_and_evaluate(spark, config, labelled, RunContext(job="evaluate", run_date=dt.date(2026, 11, 1)),
                               model_version="m1")
    try:
        selection = outcome.selection
        assert [c.reg_param for c in selection.candidates] == [1e6, 1e-3, pytest.approx(1e-12)]
        strong, grid_weak, beyond = selection.candidates
        assert grid_weak.micro_f1 + grid_weak.macro_f1 > strong.micro_f1 + strong.macro_f1
        sums = [c.micro_f1 + c.macro_f1 for c in selection.candidates]
        assert selection.chosen == max(range(3), key=lambda n: (sums[n], -n))
        # The kept classifier is the chosen strength's, whichever of grid or extension won.
        assert outcome.model.stages[-2].getRegParam() == pytest.approx(selection.reg_param)
        assert "reg_param 1e-12: " + selection.held_out in " ".join(outcome.card.facts)
        assert outcome.evaluation.headline.micro_f1 > 0.8
    finally:
        outcome.release()
