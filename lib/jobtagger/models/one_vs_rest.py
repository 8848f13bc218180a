"""One binary logistic regression per label, all labels trained together (not K Spark ML fits).

How: the training rows are cached once as CSR blocks (see :mod:`jobtagger.models.common`). Each
label k minimises its own objective

    f_k(w, b) = (1/N) sum_i c_ik * logloss(y_ik, x_i.w + b) + (regParam/2) ||w||^2

(c_ik = the label's positive or negative class weight) with its own L-BFGS state (memory
``lbfgsMemory``, initial inverse Hessian a diagonal preconditioner from the features' mean
squares, which does what standardisation does for Spark's LogisticRegression) and its own
backtracking line search (quadratic interpolation). One pass over the cached blocks evaluates
loss and gradient ``X^T (c * (sigmoid(XW + b) - Y))`` at the current trial point of EVERY active
label at once (a matrix product over the block, summed per partition, then over partitions by ``TrainingBlocks.sum_partitions``);
each label then accepts its step or backtracks, independently. A label whose gradient norm fell
below ``tol`` times its initial norm, whose objective fell by less than ``tol`` (relative) over
its last 5 iterations, that reached ``maxIter`` iterations, or whose line search failed
``MAX_BACKTRACKS`` times in a row (no progress left at float32 precision), is done and drops out
of later passes, so the work per pass shrinks as labels converge ("labels_done" in the progress
lines).

Memory: the driver holds, per label trained at the same time, (2 * lbfgsMemory + 6) float32
vectors of length d + 1. Labels are trained in groups sized so that this stays under
``memoryBudgetMB`` (default 1024 MB: with d = 2^16 about 260 labels per group), so K = 5,000 just
means more groups. The final model is a dense float32 d x K matrix: with a vocabulary of d = 2^16
terms and K = 1,000 that is 256 MB, which is why features use a vocabulary, not 2^18 hash buckets.

Fitted model arrays: ``weights`` (d x K float32), ``bias`` (K), ``logit_offset`` (K) =
log(w_neg / w_pos), which removes the intercept shift of class weighting so scores stay roughly
calibrated probabilities. ``model.top_features(label, n)`` lists the strongest positive features.
"""

from __future__ import annotations

import numpy as np
from pyspark.ml.param import Param, Params, TypeConverters

from jobtagger.models.common import MultiLabelEstimator, MultiLabelModel, MultiLabelParams, finish_model
from jobtagger.models.common import Progress, TrainingBlocks, sigmoid, softplus

ARMIJO = 1e-4
FVAL_WINDOW = 5  # iterations over which the objective must still fall by more than ``tol`` (relative)
# Lower bound of the preconditioner's diagonal: with a weak regParam (1e-5) rare terms would
# otherwise get steps 10^5 times the gradient and the frequent ones converge more slowly.
PRECONDITIONER_FLOOR = 1e-4
MAX_BACKTRACKS = 12  # more halvings in a row: no progress left at float32 precision


class OneVsRestParams(MultiLabelParams):
    lbfgsMemory = Param(Params._dummy(), "lbfgsMemory", "L-BFGS history per label", TypeConverters.toInt)
    memoryBudgetMB = Param(
        Params._dummy(), "memoryBudgetMB", "driver memory for optimizer state", TypeConverters.toInt
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(lbfgsMemory=5, memoryBudgetMB=1024)


class OneVsRestLogistic(MultiLabelEstimator, OneVsRestParams):
    """Estimator: ``OneVsRestLogistic(labelSpace=[...], regParam=..., classWeight="balanced")``."""

    def _fit(self, dataset) -> "OneVsRestLogisticModel":
        return self.fitPath(dataset, [self.getRegParam()])[0]

    def fitPath(
        self, dataset, regParams: list[float], initialModel: "OneVsRestLogisticModel | None" = None,
    ) -> list["OneVsRestLogisticModel"]:
        """One model per L2 strength in ``regParams``, in that order, from ONE cached copy of the
        training blocks. Each fit after the first starts from the previous one's weights (a warm
        start: give the strongest first, the path then moves a short way each time) and keeps the
        cold fit's convergence scale (gradient norms at zero), so it stops where a cold fit would.
        ``initialModel`` (same labels) starts the first strength from its weights too: a path
        continued past an earlier one's end, at the cost of one more pass for that scale."""
        blocks = TrainingBlocks(dataset, self)
        try:
            if initialModel is not None and list(initialModel.labels) != list(blocks.labels):
                raise ValueError("initialModel has other labels than the labelSpace fitted")
            fitted = self._train(blocks, list(regParams), initialModel)
        finally:
            blocks.unpersist()
        models = []
        for reg, (arrays, summary) in zip(regParams, fitted):
            model = finish_model(OneVsRestLogisticModel(labels=blocks.labels, arrays=arrays), self)
            model._set(regParam=float(reg))
            model.training_summary = summary
            models.append(model)
        return models

    def _train(self, blocks: TrainingBlocks, regs: list[float], initial=None):
        K, d = len(blocks.labels), blocks.dim
        memory = self.getOrDefault(self.lbfgsMemory)
        budget = self.getOrDefault(self.memoryBudgetMB) * 2**20
        group = max(1, min(K, int(budget // ((2 * memory + 6) * (d + 1) * 4))))
        w_pos, w_neg = blocks.class_weights(self.getOrDefault(self.classWeight))
        weights = [np.zeros((d, K), np.float32) for _ in regs]
        bias = [np.zeros(K, np.float32) for _ in regs]
        progress = [Progress("one_vs_rest", K) for _ in regs]
        iterations = [np.zeros(K, np.int32) for _ in regs]
        done_before = 0
        for start in range(0, K, group):
            cols = np.arange(start, min(K, start + group))
            previous = None if initial is None else (
                np.hstack([initial.arrays["weights"][:, cols].T, initial.arrays["bias"][cols, None]]), None)
            for n, reg in enumerate(regs):
                solver = _PerLabelLbfgs(
                    blocks, cols, w_pos[cols], w_neg[cols], memory=memory,
                    reg=reg, tol=self.getTol(), max_iter=self.getMaxIter(), warm_start=previous,
                )
                solver.run(progress[n], done_before)
                weights[n][:, cols] = solver.W[:, :-1].T
                bias[n][cols] = solver.W[:, -1]
                iterations[n][cols] = solver.iterations
                previous = (solver.W, solver.g_norm0)  # not the solver: its history would double the memory
                del solver
            done_before += len(cols)
        offset = np.log(w_neg / w_pos).astype(np.float32)
        return [
            (
                {"weights": weights[n], "bias": bias[n], "logit_offset": offset},
                {
                    "passes": len(progress[n].history), "label_groups": int(np.ceil(K / group)),
                    "mean_iterations": float(iterations[n].mean()),
                    "seconds": progress[n].history[-1]["elapsed_s"], "warm_start": n > 0 or initial is not None,
                },
            )
            for n in range(len(regs))
        ]


class OneVsRestLogisticModel(MultiLabelModel, OneVsRestParams):
    """Fitted :class:`OneVsRestLogistic`: ``scores`` aligned with ``labels``."""


def _partition_loss_and_gradient(blocks, W_labels, cols, w_pos, w_neg):
    """Weighted log-loss per label (K_a) and its gradient (K_a x (d + 1), label-major like the
    driver's optimizer state) summed over a partition's blocks in place (one result per
    partition, not one array per block). The products run on feature-major copies: a CSR
    product gathers whole rows of W, so each task transposes once, in parallel, not the driver."""
    W = np.ascontiguousarray(W_labels.T)
    loss = np.zeros(len(cols), np.float64)
    G = np.zeros(W.shape, W.dtype)
    for X, Y in blocks:
        Z = X @ W[:-1] + W[-1]
        T = Y[:, _rows(cols, Y.shape[1])].toarray()
        C = np.where(T > 0, w_pos, w_neg).astype(np.float32)
        loss += (C * (softplus(Z) - T * Z)).sum(axis=0, dtype=np.float64)
        R = C * (sigmoid(Z) - T)
        G[:-1] += X.T @ R
        G[-1] += R.sum(axis=0)
    return loss, np.ascontiguousarray(G.T)


def _backtrack(step, f0, f_trial, slope):
    """Next trial step after a rejected one: the minimiser of the quadratic through f(0), f'(0)
    and f(step), kept within [0.1, 0.5] x step. Halving alone costs a data pass per halving;
    the quadratic usually lands on an acceptable step at the first retry."""
    curvature = (f_trial - f0 - slope * step) / (step * step)
    with np.errstate(divide="ignore", invalid="ignore"):
        minimiser = np.where(curvature > 0, -slope / (2.0 * curvature), 0.5 * step)
    return np.clip(np.nan_to_num(minimiser, nan=0.1 * step), 0.1 * step, 0.5 * step)


def _rows(selection: np.ndarray, size: int, *, mask: bool = False):
    """A slice (a view, no copy) when ``selection`` picks every one of ``size`` labels, else the
    selection itself: the common pass, where every label is active and accepts its step,
    then moves no d x K data it does not have to."""
    every = selection.all() if mask else len(selection) == size
    return slice(None) if every else selection


class _PerLabelLbfgs:
    """Vectorised L-BFGS: one optimizer state per label (a row of each array), one data pass per evaluation."""

    def __init__(self, blocks, cols, w_pos, w_neg, *, memory, reg, tol, max_iter, warm_start=None) -> None:
        self.blocks, self.cols = blocks, cols
        self.w_pos, self.w_neg = w_pos.astype(np.float32), w_neg.astype(np.float32)
        self.reg, self.tol, self.max_iter, self.m = reg, tol, max_iter, memory
        D, Kg = blocks.dim + 1, len(cols)
        # Every array of the optimizer is label-major (labels x D): a label's weights, gradient,
        # direction and history are contiguous rows, so selecting labels and the two-loop
        # recursion never transpose d x K data on the driver.
        self.W = np.zeros((Kg, D), np.float32)
        pos = blocks.positives[cols]
        prior = (w_pos * pos) / np.clip(w_neg * (blocks.rows - pos), 1e-12, None)
        self.W[:, -1] = np.log(np.clip(prior, 1e-12, None))
        # A warm start ``(W, g_norm0)`` of the previous L2 strength on the same labels: its weights,
        # and its initial gradient norms, so the relative stopping test stays the cold fit's
        # (g_norm0 None: measured at the cold start above, one pass, before moving to W).
        self.g_norm0, self.cold_start = None, None
        if warm_start is not None:
            if warm_start[1] is None:
                self.cold_start = self.W.copy()
            self.W[:] = warm_start[0]
            self.g_norm0 = warm_start[1]
        # History per label in a ring of ``memory`` slots (label-major, so a label's vectors are
        # contiguous): ``head`` is the newest slot; shifting whole arrays per pass cost more than
        # the data pass itself at d = 2^16.
        self.S = np.zeros((Kg, memory, D), np.float32)
        self.Yh = np.zeros((Kg, memory, D), np.float32)
        self.rho = np.zeros((Kg, memory), np.float64)
        self.head = np.zeros(Kg, np.int64)
        self.count = np.zeros(Kg, np.int32)
        self.iterations = np.zeros(Kg, np.int32)
        self.f_history = np.full((Kg, FVAL_WINDOW), np.inf)  # objective after each of the last iterations
        # Diagonal preconditioner: the inverse of the objective's Hessian diagonal at the start,
        # ~ 1 / (0.25 * mean(x_j^2) + max(reg, PRECONDITIONER_FLOOR)) (balanced weights put the
        # weighted curvature p(1-p) near 0.25). It does for L-BFGS what standardising features does for Spark's
        # LogisticRegression: rare and frequent terms get steps of comparable effect.
        curvature = np.append(0.25 * blocks.feature_mean_squares + max(reg, PRECONDITIONER_FLOOR), 0.25)
        self.precondition = (1.0 / curvature).astype(np.float32)

    def evaluate(self, W_active, active):
        """Objective and gradient for the labels ``active`` at ``W_active`` (one data pass)."""
        cols, wp, wn = self.cols[active], self.w_pos[active], self.w_neg[active]
        loss, G = self.blocks.sum_partitions(
            lambda blocks, W: _partition_loss_and_gradient(blocks, W, cols, wp, wn), W_active
        )
        weights = W_active[:, :-1]  # the bias is not regularised
        f = loss / self.blocks.rows + 0.5 * self.reg * np.einsum("kd,kd->k", weights, weights, dtype=np.float64)
        G /= np.float32(self.blocks.rows)
        G[:, :-1] += np.float32(self.reg) * weights
        return f, G

    def run(self, progress: Progress, done_before: int) -> None:
        Kg = len(self.cols)
        all_labels = np.arange(Kg)
        if self.cold_start is not None:
            _, g_cold = self.evaluate(self.cold_start, all_labels)
            self.g_norm0, self.cold_start = np.maximum(np.linalg.norm(g_cold, axis=1), 1e-12), None
        f, g = self.evaluate(self.W, all_labels)
        if self.g_norm0 is None:
            self.g_norm0 = np.maximum(np.linalg.norm(g, axis=1), 1e-12)
        g_norm0 = self.g_norm0
        p = -self.precondition * g
        step = 1.0 / np.maximum(np.linalg.norm(p, axis=1), 1e-12)
        gp = np.einsum("kd,kd->k", g, p, dtype=np.float64)
        active = np.linalg.norm(g, axis=1) > self.tol * g_norm0
        passes = 1
        backtracks = np.zeros(Kg, np.int32)
        progress.log(passes, loss=f.mean(), labels_done=done_before + int((~active).sum()), group_labels=Kg)
        while active.any():
            idx = all_labels[active]
            trying = _rows(idx, Kg)
            trial = self.W[trying] + step[idx, None] * p[trying]
            f_t, g_t = self.evaluate(trial, idx)
            passes += 1
            accept = f_t <= f[idx] + ARMIJO * step[idx] * gp[idx]
            acc = idx[accept]
            if acc.size:
                accepted, acc_rows = _rows(accept, len(idx), mask=True), _rows(acc, Kg)
                self._accept(acc, acc_rows, trial[accepted], g[acc_rows], g_t[accepted])
                f[acc], g[acc_rows] = f_t[accept], g_t[accepted]
                self.iterations[acc] += 1
                converged = (
                    (np.linalg.norm(g[acc_rows], axis=1) <= self.tol * g_norm0[acc])
                    | self._stalled(acc, f[acc])
                    | (self.iterations[acc] >= self.max_iter)
                )
                active[acc[converged]] = False
                moving = acc[~converged]
                if moving.size:
                    moving_rows = _rows(moving, Kg)
                    moving_g = g[moving_rows]
                    p[moving_rows] = self._direction(moving, moving_g)
                    step[moving] = 1.0
                    gp[moving] = np.einsum("kd,kd->k", moving_g, p[moving_rows], dtype=np.float64)
                    uphill = moving[gp[moving] >= 0]
                    if uphill.size:  # lost curvature: restart from steepest descent
                        self.count[uphill] = 0
                        p[uphill] = -self.precondition * g[uphill]
                        step[uphill] = 1.0 / np.maximum(np.linalg.norm(p[uphill], axis=1), 1e-12)
                        gp[uphill] = np.einsum("kd,kd->k", g[uphill], p[uphill], dtype=np.float64)
            rejected = idx[~accept]
            step[rejected] = _backtrack(step[rejected], f[rejected], f_t[~accept], gp[rejected])
            backtracks[acc] = 0
            backtracks[rejected] += 1
            active[rejected[backtracks[rejected] > MAX_BACKTRACKS]] = False
            progress.log(
                passes, loss=f.mean(), labels_done=done_before + int((~active).sum()),
                group_labels=Kg, active=int(active.sum()),
            )

    def _stalled(self, labels, f_new) -> np.ndarray:
        """True where the objective fell by at most ``tol`` (relative) over the last FVAL_WINDOW
        iterations: Spark's LogisticRegression (breeze) stops on the same kind of test. Without
        it the last labels spend dozens of passes on steps too small to change the objective."""
        slot = self.iterations[labels] % FVAL_WINDOW
        before = self.f_history[labels, slot]
        self.f_history[labels, slot] = f_new
        return (before - f_new) <= self.tol * np.maximum(np.abs(f_new), 1e-12)

    def _accept(self, acc, rows, W_new, g_old, g_new) -> None:
        """Take the accepted labels' steps (``rows``: ``acc`` as a slice or index) into W and history."""
        s = W_new - self.W[rows]
        y = g_new - g_old
        sy = np.einsum("kd,kd->k", s, y, dtype=np.float64)
        self.W[rows] = W_new
        good = sy > 1e-10
        keep = acc[good]
        if keep.size:
            self.head[keep] = (self.head[keep] + 1) % self.m
            slots = self.head[keep]
            self.S[keep, slots] = s[good]
            self.Yh[keep, slots] = y[good]
            self.rho[keep, slots] = 1.0 / sy[good]
            self.count[keep] = np.minimum(self.count[keep] + 1, self.m)

    def _direction(self, labels, g) -> np.ndarray:
        """Two-loop recursion per label on its contiguous history (views, no copies of the
        labels x memory x D history: gathering it per slot cost more than the data pass)."""
        q = np.array(g, dtype=np.float32, order="C")  # always a copy: g must not change
        for row, label in enumerate(labels):
            q[row] = self._two_loop(label, q[row])
        return np.negative(q, out=q)

    def _two_loop(self, label, q) -> np.ndarray:
        S, Y, rho = self.S[label], self.Yh[label], self.rho[label]
        slots = [(self.head[label] - j) % self.m for j in range(self.count[label])]  # newest first
        diagonal = self.precondition
        alphas = []
        for slot in slots:
            alpha = rho[slot] * float(np.dot(S[slot], q))
            q -= np.float32(alpha) * Y[slot]
            alphas.append(alpha)
        gamma = 1.0
        if slots:
            newest = Y[slots[0]]
            gamma = 1.0 / max(rho[slots[0]] * float(np.dot(newest * diagonal, newest)), 1e-30)
        r = q * (np.float32(gamma) * diagonal)
        for slot, alpha in zip(reversed(slots), reversed(alphas)):
            beta = rho[slot] * float(np.dot(Y[slot], r))
            r += np.float32(alpha - beta) * S[slot]
        return r
