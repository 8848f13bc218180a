"""MultiLabelDecision: thresholds, at-least-one, max labels, parent consistency, calibration, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel

from jobtagger.calibration import (
    MultiLabelDecision,
    ScoreCalibration,
    ancestors,
    calibrated_scores,
    fit_decision,
    fit_score_calibration,
)
from jobtagger.config import CalibrationConfig
from jobtagger.errors import JobtaggerError

LABELS = ["category:data", "skill:python", "skill:sql", "seniority:senior"]
THRESHOLDS = [0.5, 0.6, 0.3, 0.9]


def scored(spark, rows):
    return spark.createDataFrame(rows, "posting_id string, scores array<double>")


def decide(spark, rows, **params):
    decision = MultiLabelDecision(labels=LABELS, thresholds=THRESHOLDS, **params)
    out = decision.transform(scored(spark, rows)).orderBy("posting_id").collect()
    return {r["posting_id"]: r for r in out}


def test_labels_passing_their_threshold_become_tags_ordered_by_score(spark):
    out = decide(spark, [("1", [0.55, 0.61, 0.2, 0.95]), ("2", [0.1, 0.59, 0.31, 0.0])], atLeastOne=False)
    assert out["1"]["tags"] == ["seniority:senior", "skill:python", "category:data"]
    assert out["1"]["tag_scores"] == {"seniority:senior": 0.95, "skill:python": 0.61, "category:data": 0.55}
    assert out["2"]["tags"] == ["skill:sql"]


def test_at_least_one_tags_the_label_closest_to_its_threshold(spark):
    rows = [("1", [0.4, 0.3, 0.1, 0.85])]  # ratios .8, .5, .33, .94 -> senior
    assert decide(spark, rows)["1"]["tags"] == ["seniority:senior"]
    assert decide(spark, rows, atLeastOne=False)["1"]["tags"] == []


def test_max_labels_keeps_the_highest_scores(spark):
    out = decide(spark, [("1", [0.8, 0.9, 0.7, 0.95])], maxLabels=2)
    assert out["1"]["tags"] == ["seniority:senior", "skill:python"]


def test_child_tag_implies_its_parents(spark):
    parents = {"skill:python": "skill:programming", "skill:programming": "category:data"}
    out = decide(spark, [("1", [0.1, 0.7, 0.1, 0.1]), ("2", [0.1, 0.1, 0.1, 0.95])], parents=parents, atLeastOne=False)
    # category:data is a model label: its own score; skill:programming is not: its child's score
    assert out["1"]["tags"] == ["skill:python", "skill:programming", "category:data"]
    assert out["1"]["tag_scores"] == {"skill:python": 0.7, "skill:programming": 0.7, "category:data": 0.1}
    assert out["2"]["tags"] == ["seniority:senior"]


def test_parent_cycle_is_rejected():
    with pytest.raises(JobtaggerError, match="cycle"):
        ancestors({"a": "b", "b": "a"})
    assert ancestors({"a": "b", "b": "c"}) == {"a": ["b", "c"], "b": ["c"]}


def test_candidate_scores_hold_the_top_labels(spark):
    out = decide(spark, [("1", [0.4, 0.3, 0.2, 0.1])], topCandidates=2)
    assert out["1"]["candidate_scores"] == {"category:data": 0.4, "skill:python": 0.3}
    assert decide(spark, [("1", [0.4, 0.3, 0.2, 0.1])], topCandidates=0)["1"]["candidate_scores"] == {}


def test_null_scores_give_null_outputs(spark):
    out = decide(spark, [("1", None)])
    assert out["1"]["tags"] is None and out["1"]["tag_scores"] is None


def test_mismatched_thresholds_fail_clearly(spark):
    with pytest.raises(JobtaggerError, match="one threshold per label"):
        MultiLabelDecision(labels=LABELS, thresholds=[0.5]).transform(scored(spark, [("1", [0.1] * 4)]))


def test_save_and_load_in_a_pipeline_without_pickle(spark, tmp_path):
    decision = MultiLabelDecision(
        labels=LABELS, thresholds=THRESHOLDS, parents={"skill:python": "category:data"}, maxLabels=3,
        calibrationMethods=["platt", "none", "isotonic", "none"],
        plattCoefficients=[[2.0, -1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]],
        isotonicKnots=[[[], []], [[], []], [[0.0, 0.5], [0.1, 0.8]], [[], []]],
    )
    df = scored(spark, [("1", [0.6, 0.7, 0.4, 0.2]), ("2", [0.2, 0.1, 0.6, 0.95])])
    model = Pipeline(stages=[decision]).fit(df)
    model.write().save(str(tmp_path / "model"))
    assert not list(tmp_path.rglob("*.pkl"))
    loaded = PipelineModel.load(str(tmp_path / "model"))
    columns = ["posting_id", "tags", "tag_scores", "candidate_scores"]
    assert loaded.transform(df).select(columns).collect() == model.transform(df).select(columns).collect()
    assert loaded.stages[0].getOrDefault("parents") == {"skill:python": "category:data"}


def test_calibrated_scores_apply_platt_and_isotonic_steps(spark):
    calibration = ScoreCalibration(
        ("platt", "isotonic", "none"), ((1.0, 0.0), (1.0, 0.0), (1.0, 0.0)),
        (((), ()), ((0.2, 0.5), (0.1, 0.7)), ((), ())),
    )
    df = spark.createDataFrame([([0.25, 0.1, 0.3],), ([0.8, 0.6, 0.9],)], "scores array<double>")
    from pyspark.sql import functions as F
    out = [r["c"] for r in df.select(calibrated_scores(F.col("scores"), calibration).alias("c")).collect()]
    # platt with a=1, b=0 is the identity; isotonic: below first knot -> first value; steps after
    assert out[0] == pytest.approx([0.25, 0.1, 0.3])
    assert out[1] == pytest.approx([0.8, 0.7, 0.9])


def test_platt_calibration_makes_overconfident_scores_honest(spark):
    # label a: scores 0.9 but only 30% positive; 0.1 with 5% positive
    rows = [(str(i), ["a"] if i % 10 < 3 else [], [0.9, 0.5]) for i in range(100)]
    rows += [(f"n{i}", ["a"] if i % 20 == 0 else [], [0.1, 0.5]) for i in range(100)]
    df = spark.createDataFrame(rows, "posting_id string, labels array<string>, scores array<double>")
    config = CalibrationConfig(score_calibration="platt")
    calibration = fit_score_calibration(df, ["a", "b"], config)
    assert calibration.methods == ("platt", "none")
    from pyspark.sql import functions as F
    mapped = df.select(calibrated_scores(F.col("scores"), calibration)[0].alias("p")).distinct().collect()
    values = sorted(r["p"] for r in mapped)
    assert values[0] == pytest.approx(0.05, abs=0.02) and values[1] == pytest.approx(0.3, abs=0.02)
    iso = fit_score_calibration(df, ["a", "b"], CalibrationConfig(score_calibration="isotonic", isotonic_min_samples=10))
    assert iso.methods == ("isotonic", "none")
    assert iso.isotonic[0][1] == pytest.approx((0.05, 0.3))


def test_fit_decision_records_calibration_and_rules(spark):
    rows = [(str(i), ["a"] if i % 2 else ["b"], [0.8 if i % 2 else 0.3, 0.2 if i % 2 else 0.7]) for i in range(20)]
    df = spark.createDataFrame(rows, "posting_id string, labels array<string>, scores array<double>")
    config = CalibrationConfig(score_calibration="platt", max_labels_per_posting=1)
    decision, thresholds = fit_decision(df, ["a", "b"], config.model_copy(update={"parent_consistency": "all"}), top_candidates=1, parents={"a": "b"})
    assert [e.calibration for e in thresholds.entries] == ["platt", "platt"]
    assert decision.getOrDefault("maxLabels") == 1 and decision.getOrDefault("parents") == {"a": "b"}
    tagged = {r["posting_id"]: r["tags"] for r in decision.transform(df).collect()}
    assert tagged["1"] == ["a", "b"] and tagged["2"] == ["b"]


def test_parent_rule_modes():
    from jobtagger.calibration import parents_for_rule

    parents = {"skill:pytorch": "skill:python", "skill:python": "category:data_science"}
    assert parents_for_rule(parents, "same_kind") == {"skill:pytorch": "skill:python"}
    assert parents_for_rule(parents, "all") == parents
    assert parents_for_rule(parents, "none") == {}


def reference_decision(scores, labels, thresholds, *, at_least_one, max_labels, top, parents):
    """The decision rules written out per row in plain Python."""
    entries = sorted(zip(scores, labels, thresholds), reverse=True)
    passing = [e for e in entries if e[0] >= e[2]]
    if not passing and at_least_one:
        _, score, label, threshold = max((s / max(t, 1e-7), s, lab, t) for s, lab, t in zip(scores, labels, thresholds))
        passing = [(score, label, threshold)]
    kept = [(label, score) for score, label, _ in passing[:max_labels]]
    chains = ancestors(parents)
    tagged = [label for label, _ in kept]
    implied = []
    for label in tagged:
        implied += [p for p in chains.get(label, []) if p not in tagged and p not in implied]
    own = dict(zip(labels, scores))
    for parent in implied:
        from_children = max(score for label, score in kept if parent in chains.get(label, []))
        kept.append((parent, own.get(parent, from_children)))
    return [label for label, _ in kept], dict(kept), {label: score for score, label, _ in entries[:top]}


@pytest.mark.parametrize(("at_least_one", "max_labels", "top"), [(True, 2, 3), (False, 20, 5), (True, 3, 0)])
def test_decision_matches_a_per_row_reference_including_ties(spark, at_least_one, max_labels, top):
    labels = ["category:x", "skill:a", "skill:b", "skill:c", "skill:d", "skill:e", "skill:f"]
    thresholds = [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.9]
    parents = {"skill:a": "skill:group", "skill:b": "skill:a", "skill:c": "category:x"}
    rng = np.random.default_rng(11)
    # Two decimals: many rows hold equal scores, so tie order and the top-candidate cutoff are exercised.
    rows = [(f"{i:03d}", [float(v) for v in np.round(rng.uniform(0, 0.8, len(labels)), 1 if i % 3 == 0 else 2)])
            for i in range(60)]
    decision = MultiLabelDecision(labels=labels, thresholds=thresholds, atLeastOne=at_least_one,
                                  maxLabels=max_labels, topCandidates=top, parents=parents)

    out = decision.transform(scored(spark, rows)).collect()

    assert len(out) == len(rows)
    for row in out:
        tags, tag_scores, candidates = reference_decision(
            next(r[1] for r in rows if r[0] == row["posting_id"]), labels, thresholds,
            at_least_one=at_least_one, max_labels=max_labels, top=top, parents=parents,
        )
        assert (row["tags"], row["tag_scores"], row["candidate_scores"]) == (tags, tag_scores, candidates)
