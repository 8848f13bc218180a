"""Multi-label pyspark.ml Estimators: same Params, same output, two training strategies.

``OneVsRestLogistic`` (one logistic regression per label, all labels optimised together) and
``MultiOutputSigmoid`` (one network with K sigmoid outputs). Both take ``features`` (SparseVector)
and ``labels`` (array<string>); their Models have ``.labels`` and write ``scores`` (array<double>,
K probabilities aligned with ``.labels``), save/load without pickle and fit inside a Pipeline.
``estimator_for(config.training)`` builds the configured one.
"""

from collections.abc import Callable
from typing import Any

from jobtagger.config import TrainingConfig
from jobtagger.errors import ConfigError
from jobtagger.models.common import MultiLabelModel, TrainingDataError
from jobtagger.models.multi_output import MultiOutputSigmoid, MultiOutputSigmoidModel
from jobtagger.models.one_vs_rest import OneVsRestLogistic, OneVsRestLogisticModel

# ``training.strategy`` -> the Estimator class and the Params it takes from the training config
# beyond the ones every strategy shares.
STRATEGIES: dict[str, tuple[type, Callable[[TrainingConfig], dict[str, Any]]]] = {
    "one_vs_rest": (OneVsRestLogistic, lambda training: dict(maxIter=training.max_iter)),
    "multi_output": (MultiOutputSigmoid, lambda training: dict(
        maxIter=training.epochs, hiddenUnits=training.hidden_units, learningRate=training.learning_rate,
        batchSize=training.batch_size, negativeSamples=training.negative_samples,
    )),
}


def estimator_for(training: TrainingConfig, *, label_space: list[str] | None = None):
    """The Estimator selected by ``training.strategy`` with the config's settings."""
    if training.strategy not in STRATEGIES:
        raise ConfigError(f"training.strategy: {training.strategy!r} is not one of {', '.join(STRATEGIES)}")
    estimator, own_params = STRATEGIES[training.strategy]
    common = dict(
        labelSpace=list(label_space or []), regParam=training.reg_param,
        tol=training.tolerance, classWeight=training.class_weight, seed=training.split.seed,
        passExchange=training.pass_exchange,
    )
    return estimator(**common, **own_params(training))

__all__ = [
    "MultiLabelModel", "MultiOutputSigmoid", "MultiOutputSigmoidModel", "OneVsRestLogistic",
    "OneVsRestLogisticModel", "STRATEGIES", "TrainingDataError", "estimator_for",
]
