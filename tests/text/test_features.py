from pyspark.ml import PipelineModel

from jobtagger.errors import ConfigError, EnvironmentProblem
from jobtagger.session import JvmCapabilities
from jobtagger.text.features import build_feature_pipeline, char_ngrams_statement, vocabulary_of

import pytest

NO_NLP = JvmCapabilities(delta_spark=False, spark_nlp=False)
ROWS = [
    ("1", "Senior Python Developer", "Wir suchen Python und Spark Erfahrung. Python!", "acme", "DE"),
    ("2", "Data Engineer", "Spark pipelines, Python, and the cloud", "beta", "FR"),
    ("3", "Développeur Java", "Java et Spark pour l'équipe données", "acme", "FR"),
    ("4", "Java Engineer", "Java services and Spark jobs", None, "US"),
]


@pytest.fixture(scope="module")
def postings(spark):
    return spark.createDataFrame(ROWS, "posting_id string, title string, description string, company string, country string")


def test_vocabulary_pipeline_tokenizes_unicode_drops_stop_words_and_keeps_bigrams(spark, make_config, postings):
    config = make_config("features.min_doc_freq=1", "features.num_features=1000")
    model = build_feature_pipeline(config.features, capabilities=NO_NLP).fit(postings)
    vocabulary = vocabulary_of(model)
    assert "développeur" in vocabulary and "python" in vocabulary
    assert "spark pipelines" in vocabulary  # bigram
    assert not {"und", "et", "and", "the", "wir"} & set(vocabulary)  # de/fr/en stop words
    out = model.transform(postings)
    assert out.columns == postings.columns + ["features"]
    first = out.orderBy("posting_id").first()["features"]
    assert abs(sum(v * v for v in first.values) - 1.0) < 1e-6  # L2 normalised
    title_term, description_only = vocabulary.index("senior"), vocabulary.index("erfahrung")
    weights = dict(zip(first.indices, first.values))
    assert weights[title_term] > weights[description_only]  # title repeated title_weight times


@pytest.mark.slow  # a fit and a tag through the pipeline
def test_fitted_pipeline_with_categoricals_and_hashing_saves_and_loads(spark, make_config, postings, tmp_path):
    config = make_config("features.vocabulary=hashing", "features.num_features=256",
                         "features.categorical=[company,country]", "features.min_doc_freq=1")
    model = build_feature_pipeline(config.features, capabilities=NO_NLP).fit(postings)
    model.write().save(str(tmp_path / "features"))
    loaded = PipelineModel.load(str(tmp_path / "features"))
    expected = [r["features"] for r in model.transform(postings).orderBy("posting_id").collect()]
    actual = [r["features"] for r in loaded.transform(postings).orderBy("posting_id").collect()]
    assert actual == expected
    assert expected[0].size == 256 + 3 + 4  # text buckets + company (2 + unseen) + country (3 + unseen)


def test_spark_nlp_without_its_jar_fails_fast_naming_the_package(make_config):
    config = make_config("features.engine=spark-nlp")
    with pytest.raises(EnvironmentProblem, match="com.johnsnowlabs.nlp:spark-nlp_2.13:7.0.0"):
        build_feature_pipeline(config.features, capabilities=NO_NLP)


def test_char_ngrams_of_each_padded_token_by_size(spark):
    tokens = spark.createDataFrame([(["ab", "java"],), ([],)], "_tokens array<string>")
    statement = char_ngrams_statement([3, 5]).replace("__THIS__", "tokens")
    tokens.createOrReplaceTempView("tokens")
    grams = [row["_char_ngrams"] for row in spark.sql(statement).collect()]
    assert grams == [["~<ab", "~ab>", "~<ja", "~jav", "~ava", "~va>", "~<java", "~java>"], []]


@pytest.mark.slow  # a fit and a tag through the pipeline
def test_char_ngrams_join_the_vocabulary_and_the_model_tags_through_its_transform(spark, make_config, postings, tmp_path):
    config = make_config("features.min_doc_freq=1", "features.num_features=1000", "features.char_ngrams=[4,3]")
    assert config.features.char_ngrams == [3, 4]
    model = build_feature_pipeline(config.features, capabilities=NO_NLP).fit(postings)
    vocabulary = vocabulary_of(model)
    assert {"python", "~<py", "~pyth", "~hon>"} <= set(vocabulary)
    assert not any(term.startswith("~") and len(term) > 5 for term in vocabulary)
    model.write().save(str(tmp_path / "features"))
    loaded = PipelineModel.load(str(tmp_path / "features"))
    expected = model.transform(postings).orderBy("posting_id")
    assert expected.columns == postings.columns + ["features"]
    assert loaded.transform(postings).orderBy("posting_id").collect() == expected.collect()


@pytest.mark.parametrize("sizes", ["[2]", "[7]", "[3,3]"])
def test_char_ngram_sizes_outside_three_to_six_or_repeated_are_refused(make_config, sizes):
    with pytest.raises(ConfigError, match="char_ngrams are distinct sizes from 3 to 6"):
        make_config(f"features.char_ngrams={sizes}")


def test_stop_words_can_be_kept_for_short_fields(spark, make_config, postings):
    config = make_config("features.min_doc_freq=1", "features.num_features=1000", "features.remove_stop_words=false")
    vocabulary = vocabulary_of(build_feature_pipeline(config.features, capabilities=NO_NLP).fit(postings))
    assert {"und", "et", "and", "the", "wir", "and the"} <= set(vocabulary)
