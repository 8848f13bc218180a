"""MultiLabelDecision's rules on a dense batch of scores with numpy: the fused scorer's decision.

The rules and their tie order are those of :class:`jobtagger.calibration.MultiLabelDecision`,
whose Spark expressions define them: calibrate each label's score; shortlist the labels that pass
their threshold or score at least the ``top``-th best score; order the shortlist by score, then
label, descending; keep the passing ones (or, with at-least-one and none passing, the label with
the best score / threshold ratio, ties by score then label), at most ``maxLabels``; append each
kept label's ancestors (first occurrence order), scored with their own score when they are a model
label, else with their best kept child's; candidates are the first ``top`` shortlist entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from jobtagger.calibration import (
    EPSILON,
    MultiLabelDecision,
    ScoreCalibration,
    ancestors,
)


@dataclass(frozen=True, eq=False)
class DecisionParams:
    """A decision stage's Params as plain values (shipped to the executors)."""

    labels: tuple[str, ...]
    thresholds: np.ndarray  # float64, one per label
    calibration: ScoreCalibration
    at_least_one: bool
    max_labels: int
    top_candidates: int
    chains: dict[str, list[str]]  # label -> its ancestors, nearest first

    @classmethod
    def of(cls, decision: MultiLabelDecision) -> DecisionParams:
        return cls(
            labels=tuple(decision.getOrDefault(decision.labels)),
            thresholds=np.asarray(decision.getOrDefault(decision.thresholds), np.float64),
            calibration=decision.score_calibration(),
            at_least_one=decision.getOrDefault(decision.atLeastOne),
            max_labels=decision.getOrDefault(decision.maxLabels),
            top_candidates=decision.getOrDefault(decision.topCandidates),
            chains=ancestors(decision.getOrDefault(decision.parents) or {}),
        )


@dataclass(frozen=True)
class DecidedBatch:
    """Gold columns of one batch: ``tags`` list<string>, the two maps<string, float>."""

    tags: pa.Array
    tag_scores: pa.Array
    candidate_scores: pa.Array


class BatchDecision:
    """Built once per partition from :class:`DecisionParams`; decides whole score matrices."""

    def __init__(self, params: DecisionParams) -> None:
        self.params = params
        labels = list(params.labels)
        extra_parents = sorted({p for chain in params.chains.values() for p in chain} - set(labels))
        self.tag_names = pa.array(labels + extra_parents, pa.string())  # tag id -> name
        tag_ids = {name: i for i, name in enumerate(labels + extra_parents)}
        self.label_rank = np.argsort(np.argsort(np.array(labels, dtype=object)))  # string order
        # A parent's own score column (-1: not a model label), and each label's chain as tag ids.
        self.own_column = np.array([i if i < len(labels) else -1 for i in range(len(tag_ids))], np.int64)
        chains = [[tag_ids[p] for p in params.chains.get(label, [])] for label in labels]
        self.chain_offsets = np.concatenate([[0], np.cumsum([len(c) for c in chains])]).astype(np.int64)
        self.chain_parents = np.array([p for c in chains for p in c], np.int64)
        calibration = params.calibration
        methods = np.array(calibration.methods)
        self.platt = np.flatnonzero(methods == "platt")
        self.platt_a = np.array([calibration.platt[k][0] for k in self.platt], np.float64)
        self.platt_b = np.array([calibration.platt[k][1] for k in self.platt], np.float64)
        self.isotonic = [
            (k, np.array(calibration.isotonic[k][0], np.float64), np.array(calibration.isotonic[k][1], np.float64))
            for k in np.flatnonzero(methods == "isotonic")
        ]

    def calibrated(self, scores: np.ndarray) -> np.ndarray:
        """Platt: ``1 / (1 + exp(-(a logit(s) + b)))`` on the clipped score; isotonic: the value of
        the last knot <= s (the first value below every knot)."""
        calibrated = scores.astype(np.float64)
        if self.platt.size:
            clipped = np.minimum(np.maximum(calibrated[:, self.platt], EPSILON), 1.0 - EPSILON)
            logit = np.log(clipped / (1.0 - clipped))
            calibrated[:, self.platt] = 1.0 / (1.0 + np.exp(-(self.platt_a * logit + self.platt_b)))
        for k, knots, values in self.isotonic:
            passed = np.searchsorted(knots, calibrated[:, k], side="right") - 1
            calibrated[:, k] = values[np.maximum(passed, 0)]
        return calibrated

    def decide(self, scores: np.ndarray) -> DecidedBatch:
        """Tags, tag scores and candidates of an n x K matrix of model probabilities."""
        params = self.params
        S = self.calibrated(scores)
        n, K = S.shape
        thresholds = params.thresholds
        top = min(max(params.top_candidates, 1), K)
        cutoff = np.partition(S, K - top, axis=1)[:, K - top]  # the top-th highest score
        rows, cols = np.nonzero(S >= np.minimum(thresholds, cutoff[:, None]))
        values = S[rows, cols]
        order = np.lexsort((-self.label_rank[cols], -values, rows))
        rows, cols, values = rows[order], cols[order], values[order]
        first = np.searchsorted(rows, np.arange(n))  # each row's first shortlist entry
        position = np.arange(len(rows)) - first[rows]

        passing = values >= thresholds[cols]
        passed_before = np.concatenate([[0], np.cumsum(passing)])
        rank = passed_before[1:] - passed_before[first[rows]]  # 1-based among the row's passing labels
        kept = passing & (rank <= params.max_labels)
        kept_rows, kept_cols, kept_values = rows[kept], cols[kept], values[kept]
        if params.at_least_one and params.max_labels > 0:
            none = np.flatnonzero(np.bincount(rows[passing], minlength=n) == 0)
            best = self._closest_to_passing(S[none])
            kept_rows = np.concatenate([kept_rows, none])
            kept_cols = np.concatenate([kept_cols, best])
            kept_values = np.concatenate([kept_values, S[none, best]])
            order = np.argsort(kept_rows, kind="stable")
            kept_rows, kept_cols, kept_values = kept_rows[order], kept_cols[order], kept_values[order]
        tag_rows, tags, tag_values = self._with_ancestors(S, kept_rows, kept_cols, kept_values)

        candidate = position < top if params.top_candidates > 0 else np.zeros(len(rows), bool)
        return DecidedBatch(
            tags=pa.ListArray.from_arrays(_offsets(tag_rows, n), self.tag_names.take(tags)),
            tag_scores=_map(tag_rows, self.tag_names.take(tags), tag_values, n),
            candidate_scores=_map(rows[candidate], self.tag_names.take(cols[candidate]), values[candidate], n),
        )

    def _closest_to_passing(self, S: np.ndarray) -> np.ndarray:
        """Per row, the label with the highest score / threshold ratio (ties: score, then label)."""
        ratio = S / np.maximum(self.params.thresholds, EPSILON)
        tie = ratio == ratio.max(axis=1, keepdims=True)
        scores = np.where(tie, S, -np.inf)
        tie &= scores == scores.max(axis=1, keepdims=True)
        return np.where(tie, self.label_rank, -1).argmax(axis=1)

    def _with_ancestors(self, S, rows, cols, values):
        """Kept labels, then the ancestors they imply (once, in order, none already kept)."""
        if self.chain_parents.size == 0 or rows.size == 0:
            return rows, cols, values
        lengths = self.chain_offsets[cols + 1] - self.chain_offsets[cols]
        child = np.repeat(np.arange(len(rows)), lengths)
        within = np.arange(len(child)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        parents = self.chain_parents[self.chain_offsets[cols[child]] + within]
        width = len(self.tag_names)
        keys = rows[child] * width + parents
        implied = ~np.isin(keys, rows * width + cols)
        child, parents, keys = child[implied], parents[implied], keys[implied]
        unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        best_child = np.full(len(unique_keys), -np.inf)
        np.maximum.at(best_child, inverse, values[child])
        order = np.argsort(first)  # first occurrence order
        parent_rows, parent_ids = rows[child[first[order]]], parents[first[order]]
        own = self.own_column[parent_ids]
        parent_values = np.where(own >= 0, S[parent_rows, np.maximum(own, 0)], best_child[order])
        all_rows = np.concatenate([rows, parent_rows])
        merged = np.argsort(all_rows * 2 + np.repeat([0, 1], [len(rows), len(parent_rows)]), kind="stable")
        return (all_rows[merged], np.concatenate([cols, parent_ids])[merged],
                np.concatenate([values, parent_values])[merged])


def _offsets(rows: np.ndarray, n: int) -> pa.Array:
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    return pa.array(offsets)


def _map(rows: np.ndarray, keys: pa.Array, values: np.ndarray, n: int) -> pa.Array:
    """map<string, float> rows (Spark's double -> float cast rounds to nearest, as astype does)."""
    return pa.MapArray.from_arrays(_offsets(rows, n), keys, pa.array(values.astype(np.float32)))
