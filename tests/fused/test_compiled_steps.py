"""The compiled steps of the fused scorer against the numpy they replaced, bit for bit, without
Spark (the Spark comparisons are in test_text*.py, test_decision.py and test_scorer.py)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from jobtagger.calibration import MultiLabelDecision
from jobtagger.fused.decision import BatchDecision, DecisionParams
from jobtagger.fused.product import affine, probabilities
from jobtagger.fused.text_vectors import TextFeatureParams, TextFeaturizer
from jobtagger.models.common import forward_logits, sigmoid
from jobtagger.text.features import sublinear_counts

VOCABULARY = 700


def featurizer(*, sublinear: bool) -> TextFeaturizer:
    idf = np.random.default_rng(3).uniform(0.0, 6.0, VOCABULARY)
    idf[::50] = 0.0  # terms in every document: a row of only those is a zero vector
    return TextFeaturizer(TextFeatureParams(letter_ranges=((0x61, 0x7A),), min_token_length=1, stop_words=(),
                                            ngram_sizes=(), vocabulary=tuple(f"t{i}" for i in range(VOCABULARY)),
                                            sublinear=sublinear, idf=idf))


def numpy_vectors(params: TextFeatureParams, rows, terms, n, width) -> sp.csr_matrix:
    """Counts, tf, idf and the L2 norm as scipy/numpy arrays (the featurizer's former form)."""
    counts = sp.csr_matrix((np.ones(len(terms)), (rows, terms)), shape=(n, VOCABULARY))
    counts.sum_duplicates()
    entry_rows = np.repeat(np.arange(n), np.diff(counts.indptr))
    values = sublinear_counts(counts.data) if params.sublinear else counts.data
    values = values * params.idf[counts.indices]
    norms = np.sqrt(np.bincount(entry_rows, weights=values * values, minlength=n))
    values = values / np.where(norms != 0.0, norms, 1.0)[entry_rows]
    inside = counts.indices < width
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(entry_rows[inside], minlength=n), out=indptr[1:])
    return sp.csr_matrix((values[inside].astype(np.float32), counts.indices[inside], indptr), shape=(n, width))


def occurrences(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, term) pairs in row order, each row's terms in no order: skewed terms (many repeats),
    empty rows, one long row."""
    rng = np.random.default_rng(seed)
    rows = np.concatenate([rng.integers(0, n, 40 * n), np.full(5000, n // 2)])
    terms = np.minimum(rng.zipf(1.3, len(rows)) - 1, VOCABULARY - 1)
    keep = rows % 7 != 3
    order = np.argsort(rows[keep], kind="stable")
    return rows[keep][order], terms[keep][order]


def test_vectors_equal_the_numpy_form_bit_for_bit():
    for sublinear in (True, False):
        features = featurizer(sublinear=sublinear)
        for seed, width in ((1, VOCABULARY), (2, VOCABULARY // 3)):
            rows, terms = occurrences(300, seed)
            got = features.vectors(rows, terms, 300, width=width)
            expected = numpy_vectors(features.params, rows, terms, 300, width)
            assert np.array_equal(got.indptr, expected.indptr) and np.array_equal(got.indices, expected.indices)
            assert got.data.dtype == np.float32 and got.data.tobytes() == expected.data.tobytes()


def test_pairs_out_of_row_order_are_refused():
    with pytest.raises(ValueError, match="row order"):
        featurizer(sublinear=False).vectors(np.array([1, 0]), np.array([3, 4]), 2, width=VOCABULARY)


def test_the_tf_lookup_is_sublinear_counts_of_each_count():
    counts = np.random.default_rng(4).permutation(np.arange(1, 200_001))
    one_row_of_200k_terms = np.zeros(200_000, np.int64)
    looked_up = featurizer(sublinear=True)._tf_values(one_row_of_200k_terms, 1)[counts]
    assert looked_up.tobytes() == sublinear_counts(counts.astype(np.float64)).tobytes()


def test_probabilities_equal_the_models_own_scoring_bit_for_bit():
    rng = np.random.default_rng(5)
    X = featurizer(sublinear=True).vectors(*occurrences(400, 6), 400, width=VOCABULARY)
    linear = {"weights": rng.normal(size=(VOCABULARY, 37)).astype(np.float32),
              "bias": rng.normal(size=37).astype(np.float32), "logit_offset": rng.normal(size=37).astype(np.float32)}
    hidden = {"hidden_weights": rng.normal(size=(VOCABULARY, 9)).astype(np.float32),
              "hidden_bias": rng.normal(size=9).astype(np.float32),
              "weights": rng.normal(size=(9, 37)).astype(np.float32), "bias": linear["bias"],
              "logit_offset": linear["logit_offset"]}
    for arrays in (linear, hidden):
        expected = sigmoid(forward_logits(arrays, X) + arrays["logit_offset"])
        got = probabilities(arrays, X)
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()
    wide_bias = linear["bias"].astype(np.float64)  # promotes the product: numpy adds it
    expected = X @ linear["weights"] + linear["logit_offset"] + wide_bias
    assert affine(X, linear["weights"], linear["logit_offset"], wide_bias).tobytes() == expected.tobytes()


def test_float32_scores_decide_as_their_float64_values():
    labels = [f"skill:{i}" for i in range(12)]
    decision = BatchDecision(DecisionParams.of(MultiLabelDecision(
        labels=labels, thresholds=[0.3, 0.5, 0.7] * 4, topCandidates=4, maxLabels=3,
        parents={"skill:1": "skill:0", "skill:2": "area:x", "skill:0": "area:x"})))
    scores = np.round(np.random.default_rng(7).uniform(0, 1, (200, 12)), 2).astype(np.float32)
    narrow, wide = decision.decide(scores), decision.decide(scores.astype(np.float64))
    for column in ("tags", "tag_scores", "candidate_scores"):
        assert getattr(narrow, column).equals(getattr(wide, column)), column
