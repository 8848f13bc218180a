"""The numpy decision against MultiLabelDecision's Spark expressions on the same score matrices."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import functions as F

from jobtagger.calibration import MultiLabelDecision, calibrated_scores
from jobtagger.fused.decision import BatchDecision, DecisionParams

from fused_world import gold_maps_as_floats

LABELS = ["category:x", "skill:a", "skill:b", "skill:c", "skill:d", "skill:e", "skill:f", "language:g"]
THRESHOLDS = [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.9, 0.35]
# Two levels, a parent that is a model label (category:x) and one that is not (skill:group).
PARENTS = {"skill:a": "skill:group", "skill:b": "skill:a", "skill:c": "category:x", "skill:d": "skill:group",
           "skill:group": "category:x"}
CALIBRATION = dict(
    calibrationMethods=["none", "platt", "isotonic", "none", "platt", "isotonic", "none", "platt"],
    plattCoefficients=[[1.0, 0.0], [1.7, -0.4], [1.0, 0.0], [1.0, 0.0], [0.6, 0.9], [1.0, 0.0], [1.0, 0.0],
                       [2.5, 0.3]],
    isotonicKnots=[[[], []], [[], []], [[0.0, 0.3, 0.5, 0.5, 0.8], [0.05, 0.2, 0.4, 0.6, 0.9]], [[], []], [[], []],
                   [[0.2, 0.4], [0.25, 0.7]], [[], []], [[], []]],
)


def score_rows(seed: int, n: int = 120) -> list[tuple[str, list[float]]]:
    """Scores rounded to 1 or 2 decimals (many ties, exact 0 and 1) and some raw ones."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        values = rng.uniform(0, 1, len(LABELS))
        if i % 3 < 2:
            values = np.round(values, 1 if i % 3 == 0 else 2)
        rows.append((f"{i:03d}", [float(v) for v in values]))
    rows.append(("all_equal", [0.5] * len(LABELS)))
    rows.append(("all_zero", [0.0] * len(LABELS)))
    return rows


@pytest.mark.parametrize(
    ("at_least_one", "max_labels", "top", "calibrated", "parents"),
    [
        (True, 20, 5, True, PARENTS),
        (False, 20, 5, True, PARENTS),
        (True, 2, 3, True, PARENTS),
        (True, 3, 0, False, PARENTS),
        (False, 1, 20, False, {}),
        (True, 0, 1, True, PARENTS),
    ],
    ids=["rules", "no_at_least_one", "max_2_top_3", "no_candidates", "top_above_k", "max_0"],
)
def test_batch_decision_equals_multilabeldecision(spark, at_least_one, max_labels, top, calibrated, parents):
    decision = MultiLabelDecision(
        labels=LABELS, thresholds=THRESHOLDS, atLeastOne=at_least_one, maxLabels=max_labels, topCandidates=top,
        parents=parents, **(CALIBRATION if calibrated else {}),
    )
    rows = score_rows(seed=max_labels * 7 + top)
    scored = spark.createDataFrame(rows, "posting_id string, scores array<double>")
    decided_by_spark = gold_maps_as_floats(decision.transform(scored)).withColumns(
        {"tag_keys": F.map_keys("tag_scores"), "candidate_keys": F.map_keys("candidate_scores")})  # stored order
    expected = {row.posting_id: row for row in decided_by_spark.collect()}

    decided = BatchDecision(DecisionParams.of(decision)).decide(np.array([scores for _, scores in rows]))

    tags, tag_scores, candidates = (decided.tags.to_pylist(), decided.tag_scores.to_pylist(),
                                    decided.candidate_scores.to_pylist())
    for i, (posting_id, _) in enumerate(rows):
        row = expected[posting_id]
        assert tags[i] == row.tags, posting_id
        assert [key for key, _ in tag_scores[i]] == row.tag_keys, posting_id
        assert dict(tag_scores[i]) == pytest.approx(row.tag_scores, abs=1e-6), posting_id
        assert [key for key, _ in candidates[i]] == row.candidate_keys, posting_id
        assert dict(candidates[i]) == pytest.approx(row.candidate_scores, abs=1e-6), posting_id


def test_calibration_equals_spark_to_the_last_bits(spark):
    """Platt's exp/log run in Spark (Java) and numpy: equal to within a few ulps, not always bit for bit."""
    decision = MultiLabelDecision(labels=LABELS, thresholds=THRESHOLDS, **CALIBRATION)
    rows = score_rows(seed=3)
    scored = spark.createDataFrame(rows, "posting_id string, scores array<double>")
    spark_values = np.array([r.c for r in scored.select(
        calibrated_scores(F.col("scores"), decision.score_calibration()).alias("c")).collect()])

    values = BatchDecision(DecisionParams.of(decision)).calibrated(np.array([s for _, s in rows]))

    np.testing.assert_allclose(values, spark_values, rtol=1e-14, atol=0)
