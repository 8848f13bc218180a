"""The fused text features against the fitted Spark stages: feature vectors exactly, and the
tests' reference tokenizer against Spark's tokens."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from jobtagger.fused import read_plan
from jobtagger.fused.lowercase import java_lowercase
from jobtagger.fused.plan import probe_jvm_text
from jobtagger.fused.scorer import TEXT_COLUMN, scoring_input
from jobtagger.fused.text_vectors import TextFeaturizer
from jobtagger.text.features import TOKENS_COL, build_feature_pipeline

from fused_world import FEATURES, NO_JARS, edge_postings, training_rows, with_untrained_classifier
from reference_tokens import reference_tokens

# Bit-for-bit against Spark's feature stages: run with -m slow (the fused scorer's own tests cover the default model).
pytestmark = pytest.mark.slow

FEATURE_VARIANTS = {
    "default": FEATURES,
    "unigrams_min_length_1_no_sublinear": FEATURES.model_copy(
        update={"min_token_length": 1, "ngram_max": 1, "sublinear_tf": False, "title_weight": 1}),
    "bigrams_min_length_3": FEATURES.model_copy(update={"min_token_length": 3, "ngram_max": 2}),
    "stop_words_kept": FEATURES.model_copy(update={"remove_stop_words": False}),
    "char_ngrams": FEATURES.model_copy(update={"char_ngrams": [3, 4, 5, 6], "num_features": 1 << 16}),
}


# The default variant runs by default; the other settings of the tokenizer run with -m slow.
@pytest.fixture(scope="module", params=[
    name if name == "default" else pytest.param(name, marks=pytest.mark.slow) for name in FEATURE_VARIANTS])
def fitted(request, spark):
    """(feature pipeline fitted on training + edge postings, so edge tokens have columns; its plan)."""
    corpus = training_rows(spark).unionByName(edge_postings(spark))
    feature_model = build_feature_pipeline(FEATURE_VARIANTS[request.param], capabilities=NO_JARS).fit(corpus)
    return feature_model, read_plan(with_untrained_classifier(feature_model, corpus), spark)


def handed_texts(spark, plan):
    """(posting ids, the texts the JVM hands the Python pass)."""
    table = scoring_input(edge_postings(spark), plan).toArrow()
    return table.column("posting_id").to_pylist(), table.column(TEXT_COLUMN).combine_chunks()


def jvm_lowercasing(plan):
    """The plan with every text lower-cased by the JVM (as when its locale has rules of its own)."""
    text = dataclasses.replace(plan.scoring.text, lowercase=None)
    return dataclasses.replace(plan, scoring=dataclasses.replace(plan.scoring, text=text))


def test_the_reference_tokens_equal_the_fitted_tokenizer_and_stop_words(spark, fitted):
    """The tokenizer the kernel's tests compare with is Spark's, on every script of the edge postings."""
    feature_model, plan = fitted
    ids, texts = handed_texts(spark, jvm_lowercasing(plan))
    token_stages = PipelineModel(stages=feature_model.stages[:3])
    expected = {row.posting_id: row[TOKENS_COL] for row in token_stages.transform(edge_postings(spark)).collect()}
    params = plan.scoring.text

    found = {
        posting_id: reference_tokens(text, letter_ranges=params.letter_ranges, min_token_length=params.min_token_length,
                                     stop_words=params.stop_words)
        for posting_id, text in zip(ids, texts.to_pylist())
    }

    assert found.keys() == expected.keys()
    for posting_id, spark_tokens in expected.items():
        assert found[posting_id] == spark_tokens, posting_id


@pytest.mark.parametrize("lowercased_by", ["the pass", "the jvm"])
def test_feature_vectors_equal_spark_bit_for_bit(spark, fitted, lowercased_by):
    feature_model, plan = fitted
    assert plan.scoring.text.lowercase is not None
    if lowercased_by == "the jvm":
        plan = jvm_lowercasing(plan)
    ids, texts = handed_texts(spark, plan)
    expected = {row.posting_id: row.features for row in feature_model.transform(edge_postings(spark)).collect()}
    width = len(plan.scoring.text.vocabulary)

    features = TextFeaturizer(plan.scoring.text).features(texts, width=width)

    assert features.shape == (len(ids), width)
    for i, posting_id in enumerate(ids):
        vector, row = expected[posting_id], features.getrow(i)
        assert vector.size == width
        assert list(row.indices) == list(vector.indices), posting_id
        assert row.data.tolist() == vector.values.astype("float32").tolist(), posting_id


def test_edge_postings_hit_the_vocabulary(spark, fitted):
    """The comparisons above mean something only if the odd tokens are terms of the model."""
    vocabulary = set(fitted[1].scoring.text.vocabulary)
    assert {"c++", "node.js", "straße", "οδυσσευς", "ασ-β", "ασ1β", "日本語テキスト"} <= vocabulary
    if fitted[1].scoring.text.char_ngram_sizes:  # grams of 4-byte letters, and Java's '?' ones
        assert {"~<𠀁𠀂>", "~?𠀂>", "~<c++>"} <= vocabulary


def test_the_letter_class_is_the_jvms_not_pythons(spark):
    ranges = probe_jvm_text(spark).letter_ranges

    def member(char: str) -> bool:
        return any(low <= ord(char) <= high for low, high in ranges)

    assert all(member(c) for c in "aZßİıσς日ア한٣४²Ⅻ𝐀𠀀")
    # Unicode 14 letters (Java 17 has Unicode 13): RE2 and Python call them letters, Java does not.
    assert not member("\u0870") and "\u0870".isalpha()
    assert not any(member(c) for c in " _-.+#'\u0301\u0307\u200d😀")



def test_the_planes_the_probe_skips_hold_no_letter_and_no_case_in_this_jvm(spark):
    """Planes 4-13 (unassigned) and 15-16 (private use): the kernels treat them as the JVM does."""
    skipped = np.concatenate([np.arange(0x40000, 0xE0000), np.arange(0xF0000, 0x110000)]).astype("<u4")
    text = skipped.tobytes().decode("utf-32-le")
    chunks = [text[i : i + (1 << 17)] for i in range(0, len(text), 1 << 17)]
    probed = spark.createDataFrame([(chunk,) for chunk in chunks], "chars string").select(
        F.regexp_replace("chars", r"[\p{L}\p{N}]", "").alias("without_letters"),
        java_lowercase(F.col("chars")).alias("lowered"),
    ).collect()
    assert [row.without_letters for row in probed] == chunks and [row.lowered for row in probed] == chunks
