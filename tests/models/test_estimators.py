"""Both strategies: learn a separable toy problem, probabilities aligned with labels, save/load,
Pipeline use, and the logit corrections for class weights and negative sampling."""

import typing

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.linalg import SparseVector

from jobtagger.config import TrainingConfig
from jobtagger.errors import ConfigError
from jobtagger.models import STRATEGIES, MultiOutputSigmoid, OneVsRestLogistic, OneVsRestLogisticModel, estimator_for
from model_toys import DIM, LABELS, micro_f1, toy_rows

ESTIMATORS = {
    "one_vs_rest": lambda **kw: OneVsRestLogistic(regParam=1e-3, maxIter=30, **kw),
    "multi_output": lambda **kw: MultiOutputSigmoid(maxIter=15, learningRate=0.1, batchSize=64, regParam=1e-5, **kw),
    "multi_output_hidden_sampled": lambda **kw: MultiOutputSigmoid(
        maxIter=15, learningRate=0.05, batchSize=64, hiddenUnits=8, negativeSamples=1, regParam=1e-5, **kw
    ),
}


# one_vs_rest and multi_output in the default suite; the hidden-layer variant with -m slow
@pytest.fixture(scope="module", params=[name if name in ("one_vs_rest", "multi_output") else pytest.param(name, marks=pytest.mark.slow)
                                        for name in sorted(ESTIMATORS)])
def fitted(request, toy_df):
    return request.param, ESTIMATORS[request.param](labelSpace=["c", "a", "b"]).fit(toy_df)


def test_learns_a_separable_problem_with_probabilities_aligned_with_labels(fitted, toy_df):
    _, model = fitted
    assert model.labels == ["c", "a", "b"]
    rows = model.transform(toy_df).select("labels", "scores").collect()
    assert all(len(r["scores"]) == 3 and all(0.0 < s < 1.0 for s in r["scores"]) for r in rows)
    assert micro_f1(rows, model.labels) > 0.95
    top = model.top_features("c", 3)
    assert top[0][0] == LABELS.index("c")  # the evidence feature of label c


def test_save_and_load_give_identical_scores_without_pickle(fitted, toy_df, tmp_path):
    name, model = fitted
    model.write().save(str(tmp_path / name))
    saved = sorted(p.name for p in (tmp_path / name / "data").iterdir())
    assert saved and all(p.endswith(".npy") for p in saved)
    for p in (tmp_path / name / "data").iterdir():
        np.load(p, allow_pickle=False)  # raises if any array needed pickle
    loaded = type(model).load(str(tmp_path / name))
    assert loaded.labels == model.labels
    before = [r["scores"] for r in model.transform(toy_df).orderBy("posting_id").collect()]
    after = [r["scores"] for r in loaded.transform(toy_df).orderBy("posting_id").collect()]
    assert before == after


def test_one_vs_rest_fits_inside_a_pipeline_that_saves_and_loads(spark, toy_df, tmp_path, make_config):
    config = make_config("training.strategy=one_vs_rest", "training.max_iter=20", "training.reg_param=0.001")
    estimator = estimator_for(config.training, label_space=LABELS)
    model = Pipeline(stages=[estimator]).fit(toy_df)
    model.write().save(str(tmp_path / "pipeline"))
    loaded = PipelineModel.load(str(tmp_path / "pipeline"))
    assert isinstance(loaded.stages[0], OneVsRestLogisticModel)
    rows = loaded.transform(toy_df).collect()
    assert micro_f1(rows, LABELS) > 0.95


def _noisy_rows(n, seed=1):
    """Label 'x' has probability 0.6 with feature 0 and 0.05 without; labels 'y', 'z' are filler."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        has = rng.random() < 0.3
        labels = ["x"] if rng.random() < (0.6 if has else 0.05) else []
        labels += ["y"] if rng.random() < 0.5 else []
        labels += ["z"] if rng.random() < 0.5 else []
        indices = [0, 1] if has else [1]
        rows.append((f"n{i}", SparseVector(2, indices, [1.0] * len(indices)), labels, bool(has)))
    return rows


@pytest.mark.parametrize("name", ["one_vs_rest", "multi_output_hidden_sampled"])
@pytest.mark.slow  # 3,000 rows per estimator
def test_class_weight_and_negative_sampling_corrections_keep_probabilities_calibrated(spark, name):
    df = spark.createDataFrame(_noisy_rows(3000), ["posting_id", "features", "labels", "has"]).cache()
    model = ESTIMATORS[name](labelSpace=["x", "y", "z"], classWeight="balanced").fit(df)
    k = model.labels.index("x")
    rows = model.transform(df).select("has", "scores").collect()
    with_feature = np.mean([r["scores"][k] for r in rows if r["has"]])
    without = np.mean([r["scores"][k] for r in rows if not r["has"]])
    assert abs(with_feature - 0.6) < 0.08 and abs(without - 0.05) < 0.04
    raw = 1.0 / (1.0 + np.exp(-(np.log(without / (1 - without)) - model.arrays["logit_offset"][k])))
    assert raw > 0.12  # uncorrected, balanced weights (and sampling) would inflate the probability


@pytest.mark.slow  # a reference optimum per label
def test_one_vs_rest_reaches_each_labels_regularised_optimum(spark):
    """Each label's objective at the fitted weights is within 1e-4 of scipy's float64 optimum, and
    labels stop before maxIter once their objective stalls (the tail of tiny steps is skipped)."""
    from scipy.optimize import minimize

    rows = toy_rows(600, seed=3, rates=(0.3, 0.2, 0.1))
    reg = 1e-3
    df = spark.createDataFrame(rows, ["posting_id", "features", "labels"])
    model = OneVsRestLogistic(labelSpace=LABELS, classWeight="none", regParam=reg, maxIter=200).fit(df)
    X = np.array([r[1].toArray() for r in rows])

    def objective(theta, y):
        z = X @ theta[:-1] + theta[-1]
        loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * reg * theta[:-1] @ theta[:-1]
        grad = np.append(X.T @ (1 / (1 + np.exp(-z)) - y) / len(y) + reg * theta[:-1], np.mean(1 / (1 + np.exp(-z)) - y))
        return loss, grad

    for k, label in enumerate(model.labels):
        y = np.array([label in r[2] for r in rows], dtype=float)
        best = minimize(objective, np.zeros(DIM + 1), args=(y,), jac=True, method="L-BFGS-B", tol=1e-12)
        fitted = np.append(model.arrays["weights"][:, k], model.arrays["bias"][k]).astype(float)
        assert objective(fitted, y)[0] <= best.fun * (1 + 1e-4)
    assert model.training_summary["mean_iterations"] < 200


def test_every_configurable_strategy_has_an_estimator_and_no_other(spark):
    configurable = typing.get_args(TrainingConfig.model_fields["strategy"].annotation)
    assert set(STRATEGIES) == set(configurable)
    for name in configurable:
        training = TrainingConfig(strategy=name)
        assert isinstance(estimator_for(training), STRATEGIES[name][0])


def test_an_unknown_strategy_fails_loudly_instead_of_meaning_multi_output():
    training = TrainingConfig().model_copy(update={"strategy": "gradient_boosting"})
    with pytest.raises(ConfigError, match="gradient_boosting"):
        estimator_for(training)


def test_the_config_names_every_pass_exchange_and_hands_it_to_the_estimator():
    from jobtagger.models.common import EXCHANGES

    assert typing.get_args(TrainingConfig.model_fields["pass_exchange"].annotation) == EXCHANGES
    for name in STRATEGIES:
        estimator = estimator_for(TrainingConfig(strategy=name, pass_exchange="driver"))
        assert estimator.getOrDefault("passExchange") == "driver"
