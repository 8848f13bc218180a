"""What the fused scorer refuses, and the fallback to the model's own transform (logged)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.feature import IDF, CountVectorizerModel, IDFModel, RegexTokenizer, SQLTransformer
from pyspark.sql import functions as F

from jobtagger.fused import NotFusable, read_plan
from jobtagger.models.one_vs_rest import OneVsRestLogisticModel
from jobtagger.gold_rows import score_gold_rows, to_gold_rows
from jobtagger.text.features import build_feature_pipeline, makes_char_ngrams
from jobtagger.text.idf import IdfWeighting
from jobtagger.text.vocabulary import VocabularyCounts

from fused_world import FEATURES, LABELS, NO_JARS, edge_postings, training_rows, with_untrained_classifier

RUN = dict(model_version="m1", run_id="run1", tagged_at=dt.datetime(2026, 11, 2, 8, 30))


def corpus_of(spark):
    return training_rows(spark, copies=2).withColumn("company", F.col("title"))


def model_with(spark, **features) -> PipelineModel:
    corpus = corpus_of(spark)
    feature_model = build_feature_pipeline(FEATURES.model_copy(update=features), capabilities=NO_JARS).fit(corpus)
    return with_untrained_classifier(feature_model, corpus)


def replaced(model: PipelineModel, kind: type, **params) -> PipelineModel:
    """The model with its ``kind`` stage's Params changed."""
    return PipelineModel(stages=[
        stage.copy({stage.getParam(k): v for k, v in params.items()}) if type(stage) is kind else stage
        for stage in model.stages
    ])


class ScoresItsOwnWay(OneVsRestLogisticModel):
    def _transform(self, dataset):
        return super()._transform(dataset)


@pytest.fixture(scope="module")
def fusable(spark):
    return model_with(spark)


def with_statement(model: PipelineModel, old: str, new: str) -> PipelineModel:
    """The model with ``old`` replaced by ``new`` in its character n-gram statement."""
    return PipelineModel(stages=[
        SQLTransformer(statement=stage.getStatement().replace(old, new)) if makes_char_ngrams(stage) else stage
        for stage in model.stages
    ])


def test_the_default_feature_pipeline_is_fusable(spark, fusable):
    plan = read_plan(fusable, spark)
    assert plan.scoring.text.ngram_sizes == (2, 3) and len(plan.scoring.decision.labels) == len(LABELS)
    assert plan.scoring.text.char_ngram_sizes == ()


def test_character_grams_are_fusable_with_their_sizes(spark):
    plan = read_plan(model_with(spark, char_ngrams=[3, 5]), spark)
    assert plan.scoring.text.char_ngram_sizes == (3, 5)
    assert any(term.startswith("~") for term in plan.scoring.text.vocabulary)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda spark, m: model_with(spark, vocabulary="hashing"), "HashingTF"),
        (lambda spark, m: model_with(spark, categorical=["company"]), "StringIndexerModel"),
        (lambda spark, m: with_statement(model_with(spark, char_ngrams=[3]), "{3}", "{3,4}"), "character n-gram statement"),
        (lambda spark, m: replaced(m, RegexTokenizer, pattern=r"\w+"), "is not TOKEN_PATTERN"),
        (lambda spark, m: replaced(m, RegexTokenizer, toLowercase=False), "does not lower-case"),
        (lambda spark, m: replaced(m, VocabularyCounts, minTF=2.0), "minTF"),
        (lambda spark, m: replaced(m, VocabularyCounts, binary=True), "binary=True"),
        (lambda spark, m: PipelineModel(stages=[*m.stages[:-2], ScoresItsOwnWay(labels=LABELS, arrays=m.stages[-2].arrays),
                                               m.stages[-1]]), "ScoresItsOwnWay"),
        (lambda spark, m: PipelineModel(stages=m.stages[:-1]), "expects the decision"),
    ],
    ids=["hashing", "categorical", "char_ngrams", "tokenizer_pattern", "case_sensitive_tokens", "min_tf", "binary", "own_transform",
         "no_decision"],
)
def test_what_the_fused_scorer_cannot_reproduce_is_named(spark, fusable, change, reason):
    with pytest.raises(NotFusable, match=reason):
        read_plan(change(spark, fusable), spark)


@pytest.mark.slow  # a tag run through the Spark pipeline
def test_a_model_it_cannot_reproduce_is_scored_by_its_transform_and_logged(spark, caplog):
    model = model_with(spark, vocabulary="hashing")
    postings = edge_postings(spark)
    logger = logging.getLogger("jobtagger.tag")
    logger.addHandler(caplog.handler)  # the jobtagger loggers may not propagate to the root
    try:
        scored = score_gold_rows(postings, model, **RUN)
    finally:
        logger.removeHandler(caplog.handler)

    assert scored.scorer == "spark" and "HashingTF" in scored.fallback_reason
    assert any("HashingTF" in record.getMessage() for record in caplog.records)
    expected = to_gold_rows(model.transform(postings), **RUN).collect()
    assert sorted(scored.rows.frame().collect()) == sorted(expected)
    assert scored.profile.rows == len(expected)  # profiled as computed, once
    assert scored.profile.tag_postings == Counter(tag for row in expected for tag in row.tags)


def position_of(model: PipelineModel, kind: type) -> int:
    return next(i for i, stage in enumerate(model.stages) if type(stage) is kind)


def saved_and_loaded(model: PipelineModel, replacements: dict, path) -> PipelineModel:
    """The model with the stages at these positions replaced, after a save and load."""
    PipelineModel(stages=[replacements.get(i, stage) for i, stage in enumerate(model.stages)]).write().save(str(path))
    return PipelineModel.load(str(path))


def assert_tags_fused_alike(spark, loaded: PipelineModel, fusable: PipelineModel) -> None:
    postings = edge_postings(spark)
    scored = score_gold_rows(postings, loaded, **RUN)
    assert scored.scorer == "fused"
    assert sorted(scored.rows.frame().collect()) == sorted(score_gold_rows(postings, fusable, **RUN).rows.frame().collect())


@pytest.mark.slow
def test_a_saved_model_holding_sparks_idf_stage_loads_and_tags_fused_alike(spark, fusable, tmp_path):
    """Models whose IDF stage is Spark's IDFModel (same weights) still read into the same plan."""
    position = position_of(fusable, IdfWeighting)
    ours = fusable.stages[position]
    counts = PipelineModel(stages=fusable.stages[:position]).transform(corpus_of(spark))
    sparks = IDF(inputCol=ours.getInputCol(), outputCol=ours.getOutputCol(), minDocFreq=FEATURES.min_doc_freq).fit(counts)
    np.testing.assert_array_equal(sparks.idf.toArray(), ours.weights)
    loaded = saved_and_loaded(fusable, {position: sparks}, tmp_path / "model")
    assert type(loaded.stages[position]) is IDFModel
    np.testing.assert_array_equal(read_plan(loaded, spark).scoring.text.idf, read_plan(fusable, spark).scoring.text.idf)
    assert_tags_fused_alike(spark, loaded, fusable)


@pytest.mark.slow
def test_a_saved_model_holding_sparks_count_vectorizer_stage_loads_and_tags_fused_alike(spark, fusable, tmp_path):
    """Models whose vocabulary stage is Spark's CountVectorizerModel (same terms) still read into
    the same plan."""
    position = position_of(fusable, VocabularyCounts)
    ours = fusable.stages[position]
    sparks = CountVectorizerModel.from_vocabulary(ours.vocabulary, inputCol=ours.getInputCol(),
                                                  outputCol=ours.getOutputCol())
    loaded = saved_and_loaded(fusable, {position: sparks}, tmp_path / "model")
    assert type(loaded.stages[position]) is CountVectorizerModel
    assert read_plan(loaded, spark).scoring.text.vocabulary == read_plan(fusable, spark).scoring.text.vocabulary
    assert_tags_fused_alike(spark, loaded, fusable)
