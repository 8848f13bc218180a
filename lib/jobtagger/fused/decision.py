"""MultiLabelDecision's rules on a dense batch of scores, compiled: the fused scorer's decision.

The rules and their tie order are those of :class:`jobtagger.calibration.MultiLabelDecision`,
whose Spark expressions define them: calibrate each label's score; shortlist the labels that pass
their threshold or score at least the ``top``-th best score; order the shortlist by score, then
label, descending; keep the passing ones (or, with at-least-one and none passing, the label with
the best score / threshold ratio, ties by score then label), at most ``maxLabels``; append each
kept label's ancestors (first occurrence order), scored with their own score when they are a model
label, else with their best kept child's; candidates are the first ``top`` shortlist entries.

Calibration is numpy (Platt's ``exp``/``log`` stay numpy's). The rules then run row by row in one
numba pass: they only compare, select and copy scores read as float64, so they are exact, and a
row's K scores stay in cache instead of passing through n x K temporaries. Ties and NaN follow
the numpy array form the pass replaced (``partition``, ``lexsort``, ``minimum``, ``maximum``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
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
    """Built once per Python worker from :class:`DecisionParams` (read-only after); decides whole
    score matrices."""

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
        the last knot <= s (the first value below every knot). With no calibrated label, the
        scores themselves (the rules read every score as float64)."""
        if not self.platt.size and not self.isotonic:
            return scores
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
        top = min(max(params.top_candidates, 1), len(params.labels))
        tag_offsets, tags, tag_values, candidate_offsets, candidates, candidate_values = _decided(
            self.calibrated(scores), params.thresholds, np.maximum(params.thresholds, EPSILON), self.label_rank,
            top, params.top_candidates > 0, params.max_labels, params.at_least_one,
            self.chain_offsets, self.chain_parents, self.own_column,
        )
        tag_names = self.tag_names.take(tags)
        return DecidedBatch(
            tags=pa.ListArray.from_arrays(tag_offsets, tag_names),
            tag_scores=pa.MapArray.from_arrays(tag_offsets, tag_names, tag_values),
            candidate_scores=pa.MapArray.from_arrays(candidate_offsets, self.tag_names.take(candidates), candidate_values),
        )


@numba.njit(cache=True, nogil=True)
def _decided(scores, thresholds, ratio_floors, label_rank, top, with_candidates, max_labels, at_least_one,
             chain_offsets, chain_parents, own_column):
    """Row by row: (tag offsets, tag ids, their float32 scores, candidate offsets, candidate
    label ids, their float32 scores). Scores are read as float64; ties and NaN as numpy's
    ``partition``, ``lexsort``, ``minimum`` and ``maximum`` treat them in the rules' array form."""
    n, K = scores.shape
    tag_count = len(own_column)
    longest_chain = 0
    for label in range(K):
        longest_chain = max(longest_chain, chain_offsets[label + 1] - chain_offsets[label])
    kept_most = max(min(max_labels, K), 0)
    tags_most = min(tag_count, kept_most * (1 + longest_chain))
    tag_offsets = np.zeros(n + 1, np.int32)
    tags = np.empty(n * tags_most, np.int64)
    tag_values = np.empty(n * tags_most, np.float32)
    candidate_offsets = np.zeros(n + 1, np.int32)
    candidates = np.empty(n * top if with_candidates else 0, np.int64)
    candidate_values = np.empty(len(candidates), np.float32)
    highest = np.empty(top, np.float64)  # the row's top highest scores, descending (NaN highest)
    shortlist = np.empty(K, np.int64)
    shortlist_values = np.empty(K, np.float64)
    kept = np.empty(K, np.int64)
    kept_values = np.empty(K, np.float64)
    kept_in_row = np.full(tag_count, -1, np.int64)  # the row a tag was last kept in
    implied_in_row = np.full(tag_count, -1, np.int64)  # the row a parent was last implied in
    best_child = np.empty(tag_count, np.float64)
    parents = np.empty(tag_count, np.int64)
    tag_count_so_far, candidate_count = 0, 0
    for row in range(n):
        ranked = 0
        for label in range(K):
            value = np.float64(scores[row, label])
            if ranked == top and not _after_in_partition(value, highest[top - 1]):
                continue
            place = min(ranked, top - 1)
            while place > 0 and _after_in_partition(value, highest[place - 1]):
                highest[place] = highest[place - 1]
                place -= 1
            highest[place] = value
            ranked = min(ranked + 1, top)
        cutoff = highest[top - 1]
        listed = 0
        for label in range(K):
            value = np.float64(scores[row, label])
            if value >= _minimum(thresholds[label], cutoff):
                place = listed
                while place > 0 and _precedes(value, label_rank[label], shortlist_values[place - 1],
                                              label_rank[shortlist[place - 1]]):
                    shortlist[place] = shortlist[place - 1]
                    shortlist_values[place] = shortlist_values[place - 1]
                    place -= 1
                shortlist[place] = label
                shortlist_values[place] = value
                listed += 1
        passed, kept_count = 0, 0
        for position in range(listed):
            label, value = shortlist[position], shortlist_values[position]
            if value >= thresholds[label]:
                passed += 1
                if passed <= max_labels:
                    kept[kept_count] = label
                    kept_values[kept_count] = value
                    kept_count += 1
            if with_candidates and position < top:
                candidates[candidate_count] = label
                candidate_values[candidate_count] = np.float32(value)
                candidate_count += 1
        candidate_offsets[row + 1] = candidate_count
        if at_least_one and max_labels > 0 and passed == 0:
            best = _closest_to_passing(scores[row], ratio_floors, label_rank)
            kept[0] = best
            kept_values[0] = np.float64(scores[row, best])
            kept_count = 1
        implied = 0
        for i in range(kept_count):
            kept_in_row[kept[i]] = row
        for i in range(kept_count):
            for parent in chain_parents[chain_offsets[kept[i]] : chain_offsets[kept[i] + 1]]:
                if kept_in_row[parent] == row:
                    continue
                if implied_in_row[parent] != row:
                    implied_in_row[parent] = row
                    best_child[parent] = kept_values[i]
                    parents[implied] = parent
                    implied += 1
                else:
                    best_child[parent] = _maximum(best_child[parent], kept_values[i])
        for i in range(kept_count):
            tags[tag_count_so_far] = kept[i]
            tag_values[tag_count_so_far] = np.float32(kept_values[i])
            tag_count_so_far += 1
        for i in range(implied):
            parent = parents[i]
            own = own_column[parent]
            value = np.float64(scores[row, own]) if own >= 0 else best_child[parent]
            tags[tag_count_so_far] = parent
            tag_values[tag_count_so_far] = np.float32(value)
            tag_count_so_far += 1
        tag_offsets[row + 1] = tag_count_so_far
    return (tag_offsets, tags[:tag_count_so_far], tag_values[:tag_count_so_far],
            candidate_offsets, candidates[:candidate_count], candidate_values[:candidate_count])


@numba.njit(cache=True, nogil=True)
def _closest_to_passing(scores, ratio_floors, label_rank):
    """The label with the highest score / threshold ratio, ties by score then label; the first
    label when a ratio is NaN (as numpy's ``max``/``argmax`` over the tie masks then find no tie)."""
    best = -1
    best_ratio, best_score = 0.0, 0.0
    for label in range(len(scores)):
        score = np.float64(scores[label])
        ratio = score / ratio_floors[label]
        if np.isnan(ratio):
            return 0
        if (best < 0 or ratio > best_ratio or (ratio == best_ratio and (
                score > best_score or (score == best_score and label_rank[label] > label_rank[best])))):
            best, best_ratio, best_score = label, ratio, score
    return best


@numba.njit(cache=True, nogil=True)
def _after_in_partition(value, other):
    """Whether ``value`` sorts after ``other`` ascending, NaN last, as ``np.partition`` orders."""
    return value > other or (np.isnan(value) and not np.isnan(other))


@numba.njit(cache=True, nogil=True)
def _precedes(value, rank, other_value, other_rank):
    """The shortlist's order: score descending, then label descending."""
    return value > other_value or (value == other_value and rank > other_rank)


@numba.njit(cache=True, nogil=True)
def _minimum(a, b):
    """``np.minimum``: NaN when either is, else ``b`` unless ``a`` is less (so min(-0.0, 0.0) is 0.0)."""
    if np.isnan(a) or np.isnan(b):
        return np.nan
    if a < b:
        return a
    return b


@numba.njit(cache=True, nogil=True)
def _maximum(a, b):
    """``np.maximum``: NaN when either is, else ``b`` unless ``a`` is greater (so max(0.0, -0.0) is -0.0)."""
    if np.isnan(a) or np.isnan(b):
        return np.nan
    if a > b:
        return a
    return b
