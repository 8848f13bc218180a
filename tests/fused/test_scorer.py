"""Fused gold rows against the model's own transform + to_gold_rows, for real small models."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pyarrow as pa
import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from jobtagger.fused import read_plan
from jobtagger.fused import scorer as fused_scorer
from jobtagger.gold_rows import score_gold_rows, to_gold_rows

from fused_world import edge_postings, fit_model

RUN = dict(model_version="m1", run_id="run1", tagged_at=dt.datetime(2026, 11, 2, 8, 30))


@pytest.fixture(scope="module", autouse=True)
def small_arrow_batches(spark):
    """Batches of 4 rows over 3 partitions: rows of different batches must not mix up."""
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    before = spark.conf.get(key)
    spark.conf.set(key, "4")
    yield
    spark.conf.set(key, before)


# Each (strategy, calibration) is its own model fit: one runs in the default suite, the other
# three (the other strategy and calibration among them) with -m slow.
@pytest.fixture(scope="module", params=["one_vs_rest-platt", pytest.param("one_vs_rest-isotonic", marks=pytest.mark.slow),
                                        pytest.param("multi_output-platt", marks=pytest.mark.slow),
                                        pytest.param("multi_output-isotonic", marks=pytest.mark.slow)])
def model(request, spark) -> PipelineModel:
    strategy, calibration = request.param.split("-")
    return fit_model(spark, strategy=strategy, calibration=calibration)


def with_rules(model: PipelineModel, **params) -> PipelineModel:
    decision = model.stages[-1]
    return PipelineModel(stages=[*model.stages[:-1], decision.copy({decision.getParam(k): v for k, v in params.items()})])


def stored(gold):
    """Rows by posting id, with the maps' keys in their stored order (a collected dict loses it)."""
    keyed = gold.withColumns({"tag_keys": F.map_keys("tag_scores"), "candidate_keys": F.map_keys("candidate_scores")})
    return {row.posting_id: row for row in keyed.collect()}


@pytest.mark.parametrize(
    "rules",
    [dict(atLeastOne=True), pytest.param(dict(atLeastOne=False), marks=pytest.mark.slow),
     pytest.param(dict(atLeastOne=True, maxLabels=2), marks=pytest.mark.slow),
     pytest.param(dict(atLeastOne=True, thresholds=[0.999] * 11), marks=pytest.mark.slow),
     pytest.param(dict(atLeastOne=False, thresholds=[0.999] * 11), marks=pytest.mark.slow)],
    ids=["at_least_one", "no_at_least_one", "max_2_labels", "none_passes_at_least_one", "none_passes"],
)
def test_fused_gold_rows_equal_the_spark_path(spark, model, rules):
    model = with_rules(model, **rules)
    postings = edge_postings(spark)

    fused = score_gold_rows(postings, model, **RUN)
    expected = to_gold_rows(model.transform(postings), **RUN)

    assert fused.scorer == "fused" and fused.fallback_reason is None
    assert fused.rows.schema == expected.schema
    found, wanted = stored(fused.rows.frame()), stored(expected)
    assert found.keys() == wanted.keys()
    assert (fused.profile.rows, fused.profile.untagged) == (len(wanted), sum(not row.tags for row in wanted.values()))
    assert fused.profile.tag_postings == Counter(tag for row in wanted.values() for tag in row.tags)
    for posting_id, row in wanted.items():
        got = found[posting_id]
        assert (got.run_date, got.model_version, got.run_id, got.tagged_at) == (
            row.run_date, row.model_version, row.run_id, row.tagged_at)
        assert got.tags == row.tags, posting_id
        assert got.tag_keys == row.tag_keys and got.candidate_keys == row.candidate_keys, posting_id
        assert got.tag_scores == pytest.approx(row.tag_scores, abs=1e-5), posting_id
        assert got.candidate_scores == pytest.approx(row.candidate_scores, abs=1e-5), posting_id


def test_the_models_exercise_calibration_and_parents(spark, model, request):
    calibration = request.node.callspec.params["model"].split("-")[1]
    assert calibration in model.stages[-1].getOrDefault("calibrationMethods")
    tags = [row.tags for row in score_gold_rows(edge_postings(spark), model, **RUN).rows.frame().collect()]
    assert any("skill:programming" in row for row in tags)  # a parent that is no model label


def test_decision_blocks_give_the_same_rows(spark, model, monkeypatch):
    """Thousands of labels split a batch into decision blocks; the rows must not change."""
    plan = read_plan(model, spark)
    batches = fused_scorer.scoring_input(edge_postings(spark).coalesce(1), plan).toArrow().to_batches()
    whole = pa.Table.from_batches(list(fused_scorer.score_batches(iter(batches), plan.scoring)))
    monkeypatch.setattr(fused_scorer, "_DECISION_CELLS", 3 * len(plan.scoring.decision.labels))

    blocks = list(fused_scorer.score_batches(iter(batches), plan.scoring))

    assert max(block.num_rows for block in blocks) == 3
    assert pa.Table.from_batches(blocks).equals(whole)
