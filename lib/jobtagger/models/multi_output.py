"""One model with K sigmoid outputs trained with binary cross-entropy; every pass serves all labels.

Model: ``logits = X W + b`` (``hiddenUnits=0``) or ``logits = relu(X W1 + b1) W2 + b2``
(one hidden layer). Training: per epoch the current weights are broadcast, every partition runs
mini-batch Adam over its cached blocks (see :mod:`jobtagger.models.common`) starting from them,
and the driver averages the partitions' weights (model averaging, weighted by rows). The loss of
each epoch is logged with the elapsed time.

Rare labels and large K:
- ``classWeight="balanced"`` weights positives and negatives of each label so each class carries
  half the total weight.
- ``negativeSamples=S`` > 0: per posting, its positive labels plus about S random labels are
  scored and trained instead of all K (each other label kept with probability q = S/K; draws are
  with replacement, so the exact keep probability is q_eff = 1 - (1 - q/K)^K). The cost of a
  batch then grows with S and the number of positives, not with K. Training on negatives kept
  with probability q multiplies the odds by 1/q, so the fitted model adds log(q_eff) to every
  logit (``logit_offset``), together with log(w_neg/w_pos) for class weights: scores stay
  probabilities.

Memory: the linear model holds d x K float32 weights (vocabulary d = 2^16, K = 1,000: 256 MB, the
ceiling; the Adam state of a partition doubles that on the executors). The hidden-layer model
holds d x h + h x K (h = 128: 32 MB + 0.5 MB), independent of K in practice, which is the
choice for very large K. Adam updates only the rows (features) a batch touches ("lazy" Adam, L2
applied to those rows), so a batch costs O(nnz x h) or O(nnz x labels scored), never O(d x K).

Fitted model arrays: ``weights``/``bias`` (output layer), ``hidden_weights``/``hidden_bias``
(when hiddenUnits > 0) and ``logit_offset``. ``top_features`` is documented on the base model.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pyspark.ml.param import Param, Params, TypeConverters

from jobtagger.models.common import MultiLabelEstimator, MultiLabelModel, MultiLabelParams, finish_model
from jobtagger.models.common import Progress, TrainingBlocks, sigmoid, softplus

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


class MultiOutputParams(MultiLabelParams):
    hiddenUnits = Param(Params._dummy(), "hiddenUnits", "hidden ReLU units (0: linear)", TypeConverters.toInt)
    learningRate = Param(Params._dummy(), "learningRate", "Adam step size", TypeConverters.toFloat)
    batchSize = Param(Params._dummy(), "batchSize", "rows per mini-batch", TypeConverters.toInt)
    negativeSamples = Param(
        Params._dummy(), "negativeSamples", "negative labels sampled per row (0: all)", TypeConverters.toInt
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(hiddenUnits=0, learningRate=0.05, batchSize=256, negativeSamples=0, maxIter=10)


class MultiOutputSigmoid(MultiLabelEstimator, MultiOutputParams):
    """Estimator: ``MultiOutputSigmoid(maxIter=epochs, hiddenUnits=0, negativeSamples=0, ...)``."""

    def _fit(self, dataset) -> "MultiOutputSigmoidModel":
        blocks = TrainingBlocks(dataset, self)
        try:
            arrays, summary = self._train(dataset.sparkSession.sparkContext, blocks)
        finally:
            blocks.unpersist()
        model = finish_model(MultiOutputSigmoidModel(labels=blocks.labels, arrays=arrays), self)
        model.training_summary = summary
        return model

    def _train(self, sc, blocks: TrainingBlocks):
        K, d = len(blocks.labels), blocks.dim
        hidden = self.getOrDefault(self.hiddenUnits)
        rng = np.random.default_rng(self.getSeed())
        w_pos, w_neg = blocks.class_weights(self.getOrDefault(self.classWeight))
        prior = np.log(np.clip(w_pos * blocks.positives, 1e-12, None) / np.clip(w_neg * (blocks.rows - blocks.positives), 1e-12, None))
        if hidden:
            params = {
                "hidden_weights": (rng.standard_normal((d, hidden)) * 0.1).astype(np.float32),
                "hidden_bias": np.full(hidden, 0.01, np.float32),
                "weights": (rng.standard_normal((hidden, K)) / np.sqrt(hidden)).astype(np.float32),
                "bias": prior.astype(np.float32),
            }
        else:
            params = {"weights": np.zeros((d, K), np.float32), "bias": prior.astype(np.float32)}
        samples = self.getOrDefault(self.negativeSamples)
        keep = min(1.0, samples / K) if samples else 1.0
        keep_eff = 1.0 - (1.0 - keep / K) ** K if keep < 1.0 else 1.0
        settings = {
            "lr": self.getOrDefault(self.learningRate), "batch": self.getOrDefault(self.batchSize),
            "reg": self.getRegParam(), "keep": keep, "w_pos": w_pos.astype(np.float32),
            "w_neg": w_neg.astype(np.float32),
        }
        progress = Progress("multi_output", K)
        previous = np.inf
        epochs = 0
        for epoch in range(self.getMaxIter()):
            shared = sc.broadcast(params)
            seed = self.getSeed() * 1000 + epoch
            try:
                results = blocks.rdd.mapPartitionsWithIndex(
                    lambda index, part: [_train_partition(part, shared.value, settings, seed + 7919 * index)]
                ).collect()
            finally:
                shared.destroy()
            results = [r for r in results if r[2] > 0]
            rows = sum(r[2] for r in results)
            params = {name: sum(r[0][name] * (r[2] / rows) for r in results).astype(np.float32) for name in params}
            loss = sum(r[1] for r in results) / rows
            epochs = epoch + 1
            progress.log(epochs, loss=loss, labels_done=K if epochs == self.getMaxIter() else 0, epoch=epochs)
            if abs(previous - loss) <= self.getTol() * max(1.0, abs(loss)):
                progress.log(epochs, loss=loss, labels_done=K, epoch=epochs, converged=True)
                break
            previous = loss
        params["logit_offset"] = (np.log(w_neg / w_pos) + np.log(keep_eff)).astype(np.float32)
        summary = {"epochs": epochs, "keep_probability": keep_eff, "seconds": progress.history[-1]["elapsed_s"]}
        return params, summary


class MultiOutputSigmoidModel(MultiLabelModel, MultiOutputParams):
    """Fitted :class:`MultiOutputSigmoid`: ``scores`` aligned with ``labels``."""


class _LazyAdam:
    """Adam whose moments are updated only where a batch has a gradient (rows or entries)."""

    def __init__(self, params: dict[str, np.ndarray], lr: float) -> None:
        self.params, self.lr, self.t = params, lr, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self) -> None:
        self.t += 1
        b1, b2 = ADAM_BETAS
        self.rate = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)

    def update(self, name: str, grad: np.ndarray, where=slice(None)) -> None:
        b1, b2 = ADAM_BETAS
        m, v = self.m[name], self.v[name]
        m[where] = b1 * m[where] + (1 - b1) * grad
        v[where] = b2 * v[where] + (1 - b2) * grad * grad
        self.params[name][where] -= self.rate * m[where] / (np.sqrt(v[where]) + ADAM_EPS)


def _train_partition(blocks, params, settings, seed):
    """Mini-batch Adam over one partition's blocks; returns (weights, loss sum, rows)."""
    params = {name: array.copy() for name, array in params.items()}
    adam = _LazyAdam(params, settings["lr"])
    rng = np.random.default_rng(seed)
    loss_sum, rows = 0.0, 0
    for X, Y in blocks:
        order = rng.permutation(X.shape[0])
        for start in range(0, len(order), settings["batch"]):
            batch = order[start : start + settings["batch"]]
            loss_sum += _batch_step(X[batch], Y[batch], params, adam, settings, rng)
            rows += len(batch)
    return params, loss_sum, rows


def _batch_step(X, Y, params, adam, settings, rng) -> float:
    """One Adam step on a batch; all K outputs, or positives plus sampled negatives."""
    B, K = Y.shape
    hidden = "hidden_weights" in params
    A = np.maximum(X @ params["hidden_weights"] + params["hidden_bias"], 0.0) if hidden else X
    W = params["weights"]
    if settings["keep"] >= 1.0:
        Z = A @ W + params["bias"]
        T = Y.toarray()
        C = np.where(T > 0, settings["w_pos"], settings["w_neg"])
        loss = float((C * (softplus(Z) - T * Z)).sum())
        G = (C * (sigmoid(Z) - T) / B).astype(np.float32)
        grad_bias = G.sum(axis=0)
    else:
        rows, cols, T = _sample_pairs(Y, settings["keep"], rng)
        if hidden:
            z = np.einsum("ph,ph->p", A[rows], W.T[cols]) + params["bias"][cols]
        else:
            Xp = X[rows]
            owner = np.repeat(np.arange(len(rows)), np.diff(Xp.indptr))
            z = np.bincount(owner, Xp.data * W[Xp.indices, cols[owner]], minlength=len(rows)) + params["bias"][cols]
        C = np.where(T > 0, settings["w_pos"][cols], settings["w_neg"][cols])
        loss = float((C * (softplus(z) - T * z)).sum())
        g = (C * (sigmoid(z) - T) / B).astype(np.float32)
        G = sp.csr_matrix((g, (rows, cols)), shape=(B, K))
        grad_bias = np.bincount(cols, g, minlength=K).astype(np.float32)
    adam.step()
    if hidden:
        grad_hidden = np.asarray(G @ W.T) * (A > 0)
        adam.update("weights", np.asarray((G.T @ A).T) + settings["reg"] * W)
        touched = np.unique(X.indices)
        W1 = params["hidden_weights"]
        adam.update("hidden_weights", X[:, touched].T @ grad_hidden + settings["reg"] * W1[touched], touched)
        adam.update("hidden_bias", grad_hidden.sum(axis=0))
    else:
        touched = np.unique(X.indices)
        grad = X[:, touched].T @ G
        if sp.issparse(grad):
            grad = grad.tocoo()
            r, c = touched[grad.row], grad.col
            adam.update("weights", grad.data + settings["reg"] * W[r, c], (r, c))
        else:
            adam.update("weights", grad + settings["reg"] * W[touched], touched)
    adam.update("bias", grad_bias)
    return loss


def _sample_pairs(Y: sp.csr_matrix, keep: float, rng):
    """(row, label, target) pairs: every positive, plus each other label with probability ~keep."""
    B, K = Y.shape
    pos = Y.tocoo()
    drawn = rng.binomial(K, keep, size=B)
    neg_rows = np.repeat(np.arange(B), drawn)
    neg_cols = rng.integers(0, K, size=neg_rows.size)
    keys = np.unique(neg_rows.astype(np.int64) * K + neg_cols)
    keys = keys[~np.isin(keys, pos.row.astype(np.int64) * K + pos.col)]
    rows = np.concatenate([pos.row, keys // K]).astype(np.int64)
    cols = np.concatenate([pos.col, keys % K]).astype(np.int64)
    targets = np.concatenate([np.ones(pos.nnz, np.float32), np.zeros(keys.size, np.float32)])
    return rows, cols, targets
