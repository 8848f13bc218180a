"""The vocabulary stage: the same vectors as Spark's CountVectorizerModel, its terms saved as a
plain file with the PipelineModel, and the stage the feature pipeline fits."""

from __future__ import annotations

import json

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import CountVectorizer, CountVectorizerModel

from jobtagger.text.features import vocabulary_of
from jobtagger.text.vocabulary import TERMS_FILE, Vocabulary, VocabularyCounts

# Term totals differ (spark 6, größe 5, python 4, sql 3, java 2), so the vocabulary's order is
# fixed; "solo" is in one document only (below minDF=2). Row "e" is only transformed: "zebra" is
# out of the vocabulary.
FITTED = [
    ("a", ["spark", "python", "spark", "größe", "spark", "java", "größe", "solo"]),
    ("b", ["spark", "python", "python", "sql", "spark"]),
    ("c", ["größe", "spark", "java", "sql", "python", "sql", "größe", "größe"]),
    ("d", []),
]
UNSEEN = [("e", ["zebra", "spark", "spark", "sql", "zebra"])]
SCHEMA = "id string, terms array<string>"


@pytest.fixture(scope="module")
def frames(spark):
    fitted = spark.createDataFrame(FITTED, SCHEMA).repartition(2).cache()
    return fitted, fitted.unionByName(spark.createDataFrame(UNSEEN, SCHEMA))


def vectors(model, frame) -> list:
    return [(row.id, row.tf.size, row.tf.indices.tolist(), row.tf.values.tolist())
            for row in model.transform(frame).orderBy("id").collect()]


@pytest.mark.parametrize(("min_tf", "binary", "vocab_size"), [(1.0, False, 10), (2.0, False, 3), (0.3, True, 10)])
def test_vectors_are_those_of_sparks_count_vectorizer_model(spark, frames, min_tf, binary, vocab_size):
    fitted, transformed = frames
    settings = dict(inputCol="terms", outputCol="tf", minDF=2.0, vocabSize=vocab_size, minTF=min_tf, binary=binary)
    ours = Vocabulary(**settings).fit(fitted)
    theirs = CountVectorizer(**settings).fit(fitted)
    assert type(ours) is VocabularyCounts
    assert ours.vocabulary == theirs.vocabulary == ["spark", "größe", "python", "sql", "java"][:vocab_size]
    assert (ours.getMinTF(), ours.getBinary()) == (min_tf, binary)
    assert vectors(ours, transformed) == vectors(theirs, transformed)
    assert ours.transform(transformed).schema["tf"].metadata == theirs.transform(transformed).schema["tf"].metadata


def test_saves_its_terms_as_a_file_and_loads_with_the_pipeline_model(spark, frames, tmp_path):
    fitted, transformed = frames
    model = Pipeline(stages=[Vocabulary(inputCol="terms", outputCol="tf", minDF=2.0, minTF=2.0)]).fit(fitted)
    model.write().save(str(tmp_path / "model"))
    stage_path = tmp_path / "model" / "stages" / f"0_{model.stages[0].uid}"
    assert json.loads((stage_path / "data" / TERMS_FILE).read_text("ascii")) == model.stages[0].vocabulary
    loaded = PipelineModel.load(str(tmp_path / "model"))
    stage = loaded.stages[0]
    assert type(stage) is VocabularyCounts and stage.uid == model.stages[0].uid
    assert (stage.getInputCol(), stage.getOutputCol(), stage.getMinTF(), stage.getBinary()) == ("terms", "tf", 2.0, False)
    assert stage.vocabulary == model.stages[0].vocabulary
    expected = CountVectorizer(inputCol="terms", outputCol="tf", minDF=2.0, minTF=2.0).fit(fitted)
    assert vectors(loaded, transformed) == vectors(model, transformed) == vectors(expected, transformed)


def test_a_terms_file_that_disagrees_with_the_metadata_is_refused(spark, tmp_path):
    VocabularyCounts(vocabulary=["a", "b", "c"], inputCol="terms", outputCol="tf").write().save(str(tmp_path / "stage"))
    (tmp_path / "stage" / "data" / TERMS_FILE).write_text(json.dumps(["a", "b"]), "ascii")
    with pytest.raises(ValueError, match="2 terms, the metadata says 3"):
        VocabularyCounts.load(str(tmp_path / "stage"))


def test_the_feature_pipeline_fits_the_vocabulary_stage(fitted_features):
    postings, model = fitted_features
    counts = [stage for stage in model.stages if type(stage) is VocabularyCounts]
    assert len(counts) == 1 and not any(isinstance(stage, CountVectorizerModel) for stage in model.stages)
    assert vocabulary_of(model) == counts[0].vocabulary and "python" in counts[0].vocabulary
    assert len(counts[0].vocabulary) == model.transform(postings).first().features.size


def test_the_vocabulary_of_a_model_holding_sparks_stage_is_read(spark):
    sparks = CountVectorizerModel.from_vocabulary(["python", "spark"], inputCol="terms", outputCol="tf")
    assert vocabulary_of(PipelineModel(stages=[sparks])) == ["python", "spark"]


def test_marked_terms_are_ranked_apart_so_they_push_no_word_out(spark):
    # The grams outnumber every word; ranked together, a vocabulary of 2 holds only grams.
    rows = [("a", ["~ab", "~ab", "~ab", "~bc", "~cd", "spark", "sql"]),
            ("b", ["~ab", "~bc", "~bc", "~cd", "~cd", "spark", "java", "~xy"]),
            ("c", ["~ab", "~cd", "sql", "spark", "~xy"])]
    frame = spark.createDataFrame(rows, SCHEMA)

    together = Vocabulary(inputCol="terms", outputCol="tf", vocabSize=2, minDF=2.0).fit(frame)
    apart = Vocabulary(inputCol="terms", outputCol="tf", vocabSize=2, minDF=2.0, gramMark="~", gramVocabSize=3).fit(frame)

    assert together.vocabulary == ["~ab", "~cd"]
    assert apart.vocabulary == ["spark", "sql", "~ab", "~cd", "~bc"]  # java (1 document) is under minDF
    counts = {row.id: dict(zip(row.tf.indices.tolist(), row.tf.values.tolist())) for row in apart.transform(frame).collect()}
    assert counts["a"] == {0: 1.0, 1: 1.0, 2: 3.0, 3: 1.0, 4: 1.0}
