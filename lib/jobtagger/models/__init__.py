"""Multi-label pyspark.ml Estimators: same Params, same output, two training strategies.

``OneVsRestLogistic`` (one logistic regression per label, all labels optimised together) and
``MultiOutputSigmoid`` (one network with K sigmoid outputs). Both take ``features`` (SparseVector)
and ``labels`` (array<string>); their Models have ``.labels`` and write ``scores`` (array<double>,
K probabilities aligned with ``.labels``), save/load without pickle and fit inside a Pipeline.
``estimator_for(config.training)`` builds the configured one.
"""

from jobtagger.config import TrainingConfig
from jobtagger.models.common import MultiLabelModel, TrainingDataError
from jobtagger.models.multi_output import MultiOutputSigmoid, MultiOutputSigmoidModel
from jobtagger.models.one_vs_rest import OneVsRestLogistic, OneVsRestLogisticModel


def estimator_for(training: TrainingConfig, *, label_space: list[str] | None = None):
    """The Estimator selected by ``training.strategy`` with the config's settings."""
    common = dict(
        labelSpace=list(label_space or []), regParam=training.reg_param,
        tol=training.tolerance, classWeight=training.class_weight, seed=training.split.seed,
    )
    if training.strategy == "one_vs_rest":
        return OneVsRestLogistic(**common, maxIter=training.max_iter)
    return MultiOutputSigmoid(
        **common, maxIter=training.epochs, hiddenUnits=training.hidden_units, learningRate=training.learning_rate,
        batchSize=training.batch_size, negativeSamples=training.negative_samples,
    )


__all__ = [
    "MultiLabelModel", "MultiOutputSigmoid", "MultiOutputSigmoidModel", "OneVsRestLogistic",
    "OneVsRestLogisticModel", "TrainingDataError", "estimator_for",
]
