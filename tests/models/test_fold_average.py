"""``training.final_model: fold_average``: the kept model is the mean of the out-of-fold models.

Averaging a linear model's arrays averages its logits, so the kept model scores new postings the
way the fold models scored the held-out ones the thresholds were fitted on.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from model_toys import LABELS, labelled_postings as corpus, toy_rows
from jobtagger.config import TrainingConfig, load_config
from jobtagger.gold_rows import score_gold_rows, to_gold_rows
from jobtagger.fused import read_plan
from jobtagger.labels import assign_folds, build_label_space
from jobtagger.models import MultiOutputSigmoid, OneVsRestLogistic, OneVsRestLogisticModel
from jobtagger.models import out_of_fold as oof
from jobtagger.models.common import sigmoid
from jobtagger.models.reg_path import fit_reg_path
from jobtagger.runlog import RunContext
from jobtagger.training import fit_and_evaluate, resolve_final_model

# k fold models per test (an option, not the default): run with -m slow.
pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN = dict(model_version="m1", run_id="run1", tagged_at=dt.datetime(2026, 11, 2, 8, 30))
DAY = dt.date(2026, 11, 1)


def csr(rows) -> sp.csr_matrix:
    vectors = [row["features"] for row in rows]
    data = sp.lil_matrix((len(vectors), vectors[0].size), dtype=np.float32)
    for i, vector in enumerate(vectors):
        for j, value in zip(vector.indices, vector.values):
            data[i, j] = value
    return data.tocsr()


def mean_logit_scores(fold_arrays: list[dict[str, np.ndarray]], X) -> np.ndarray:
    logits = [X @ a["weights"] + a["bias"] + a["logit_offset"] for a in fold_arrays]
    return sigmoid(np.mean(logits, axis=0))


def recorder():
    """A ``fit_reg_path`` that also records a copy of every fitted model's arrays, per call."""
    recorded: list[list[dict[str, np.ndarray]]] = []

    def recording(estimator, dataset, reg_params, *, initial=None):
        models = fit_reg_path(estimator, dataset, reg_params, initial=initial)
        recorded.append([{name: array.copy() for name, array in model.arrays.items()} for model in models])
        return models

    return recording, recorded


def test_averaged_arrays_are_the_mean_of_the_fold_models(spark, monkeypatch):
    df = spark.createDataFrame(toy_rows(120, seed=3), ["posting_id", "features", "labels"])
    report = build_label_space(df, min_support=1, max_labels=10)
    folded = assign_folds(df, report, 2, seed=7).cache()
    estimator = OneVsRestLogistic(labelSpace=LABELS, maxIter=8)
    grid = [1e-2, 1e-3]
    recording, recorded = recorder()
    monkeypatch.setattr(oof, "fit_reg_path", recording)
    fitted = oof.out_of_fold_path(estimator, folded, reg_params=grid, folds=2, keep=("posting_id",), average=True)
    try:
        assert len(recorded) == 2
        for n, reg in enumerate(grid):
            averaged = fitted.averaged[n]
            assert type(averaged) is OneVsRestLogisticModel and averaged.labels == LABELS
            assert averaged.getRegParam() == reg
            assert sorted(averaged.arrays) == ["bias", "logit_offset", "weights"]
            for name, array in averaged.arrays.items():
                assert array.dtype == recorded[0][n][name].dtype
                np.testing.assert_allclose(
                    array, np.mean([path[n][name] for path in recorded], axis=0), rtol=1e-5, atol=1e-6)
            assert averaged.training_summary["final_model"] == "fold_average"
            assert len(averaged.training_summary["fold_summaries"]) == 2
        assert fitted.scores[0].count() == 120  # each posting held out once
    finally:
        for frame in fitted.scores:
            frame.unpersist()
        folded.unpersist()


def test_average_models_refuses_models_that_do_not_line_up():
    one = OneVsRestLogisticModel(labels=["a", "b"], arrays={"weights": np.ones((4, 2), np.float32),
                                                            "bias": np.zeros(2, np.float32)})
    other = OneVsRestLogisticModel(labels=["b", "a"], arrays={name: a.copy() for name, a in one.arrays.items()})
    with pytest.raises(ValueError, match="labels"):
        oof.average_models([one, other])
    two = OneVsRestLogisticModel(labels=["a", "b"], arrays={"weights": np.full((4, 2), 3, np.float32),
                                                            "bias": np.ones(2, np.float32)})
    mean = oof.average_models([one, two])
    np.testing.assert_array_equal(mean.arrays["weights"], np.full((4, 2), 2, np.float32))
    np.testing.assert_array_equal(one.arrays["weights"], np.ones((4, 2), np.float32))  # inputs untouched


def test_the_final_model_is_refit_without_folds_or_with_a_hidden_layer(make_config):
    config = make_config("training.final_model=fold_average")
    linear = OneVsRestLogistic()
    assert resolve_final_model(config, linear, 5)[0] == "fold_average"
    kind, fact = resolve_final_model(config, linear, 0)
    assert kind == "refit" and "only with calibration folds" in fact
    kind, fact = resolve_final_model(config, MultiOutputSigmoid(hiddenUnits=4), 5)
    assert kind == "refit" and "linear" in fact
    assert resolve_final_model(make_config(), linear, 5) == ("refit", "refitted on all of train at the chosen reg_param")
    assert TrainingConfig().final_model == "refit"
    with pytest.raises(Exception, match="final_model"):
        make_config("training.final_model=mean")


@pytest.fixture(scope="module")
def averaged_outcome(spark, tmp_path_factory):
    """fit_and_evaluate with 3 folds, a 2-strength grid and fold_average; the fold models' arrays
    of every strength are recorded as they are fitted."""
    tmp = tmp_path_factory.mktemp("fold_average")
    config = load_config(REPO_ROOT / "conf" / "local.yaml", overrides=[
        f"storage.warehouse={tmp / 'warehouse'}", f"paths.landing={tmp / 'landing'}",
        f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'}",
        "spark.shuffle_partitions=2", "training.reg_grid=[1e-2,1e-3]", "training.reg_extend=0", "training.max_iter=10",
        "features.min_doc_freq=1", "calibration.folds=3", "training.final_model=fold_average",
        "features.select_char_ngrams=never",  # one feature candidate: the paths recorded are its folds'
    ])
    recording, recorded = recorder()
    labelled = corpus(spark, 150, "train", 1).unionByName(corpus(spark, 40, "test", 2))
    run = RunContext(job="evaluate", run_date=DAY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(oof, "fit_reg_path", recording)
        outcome = fit_and_evaluate(spark, config, labelled, run, model_version="m1")
    yield outcome, recorded, run
    outcome.release()


@pytest.mark.slow  # k fold paths, thresholds and the card data
def test_fit_and_evaluate_keeps_the_mean_logit_of_the_chosen_strengths_fold_models(averaged_outcome):
    outcome, recorded, run = averaged_outcome
    assert len(recorded) == 3  # one path per fold, no refit on all of train
    chosen = outcome.selection.chosen
    features = PipelineModel(stages=outcome.model.stages[:-2])
    rows = features.transform(outcome.test_rows).select("posting_id", "features").collect()
    expected = mean_logit_scores([path[chosen] for path in recorded], csr(rows))
    scores = {row["posting_id"]: row["scores"] for row in outcome.test_predictions.collect()}
    got = np.array([scores[row["posting_id"]] for row in rows])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    classifier = outcome.model.stages[-2]
    assert list(classifier.labels) == outcome.labels
    assert classifier.getRegParam() == outcome.selection.reg_param
    assert outcome.card.facts["final model"].startswith("average of the 3 fold models")
    step = next(step for step in run.steps if step["step"] == "fit_classifier")
    assert step["final_model"] == "fold_average"
    assert outcome.evaluation.headline.micro_f1 > 0.8


@pytest.mark.slow  # shares the fit above
def test_the_averaged_model_saves_loads_and_tags_fused_like_spark(spark, averaged_outcome, tmp_path):
    outcome, _, _ = averaged_outcome
    outcome.model.write().save(str(tmp_path / "model"))
    loaded = PipelineModel.load(str(tmp_path / "model"))
    for name, array in outcome.model.stages[-2].arrays.items():
        np.testing.assert_array_equal(loaded.stages[-2].arrays[name], array)
    assert loaded.stages[-2].training_summary["final_model"] == "fold_average"

    postings = corpus(spark, 30, "new", 3).select(
        "posting_id", "title", "description", "labels", F.lit(DAY).alias("run_date")).repartition(3)
    read_plan(loaded, spark)  # the fused scorer reproduces it
    fused = score_gold_rows(postings, loaded, **RUN)
    assert fused.scorer == "fused" and fused.fallback_reason is None
    found = {row.posting_id: row for row in fused.rows.frame().collect()}
    wanted = {row.posting_id: row for row in to_gold_rows(outcome.model.transform(postings), **RUN).collect()}
    assert found.keys() == wanted.keys()
    for posting_id, row in wanted.items():
        assert found[posting_id].tags == row.tags, posting_id
        assert found[posting_id].candidate_scores == pytest.approx(row.candidate_scores, abs=1e-5), posting_id
