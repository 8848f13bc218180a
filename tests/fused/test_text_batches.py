"""The fused text features on the batches a byte-level tokenizer and an n-gram trie find hard
(irregular punctuation, empty, null and token-less texts, supplementary characters, tokens
touching across texts, sliced and large-string arrays), against Spark's own stages."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.feature import CountVectorizerModel, NGram, Normalizer, RegexTokenizer, SQLTransformer, StopWordsRemover

from jobtagger.fused.plan import probe_jvm_text
from jobtagger.fused.text_vectors import TextFeatureParams, TextFeaturizer
from jobtagger.text.features import TOKEN_PATTERN, terms_statement

# Bit-for-bit against Spark's feature stages: run with -m slow (the fused scorer's own tests cover the default model).
pytestmark = pytest.mark.slow

MIN_TOKEN_LENGTH = 2
STOP_WORDS = ("sql", "und", "ab")
# Lower-cased texts, as the scorer receives them.
BATCHES = {
    "no_irregular_chunk": [
        "python sql pipelines 3.14 v2.0.1 node.js. c++ c# e-mail 10+ --flag ...python...",
        "straße café οδυσσευς ασ-β ασ1β 日本語テキスト python pipelines und sql",
    ],
    "every_chunk_irregular": ["a.-b", "c++b a+b", "x..y c+-d c-+d", "ab.-cd.-ef++gh", "a..b+#c--d"],
    "empty_null_and_tokenless": ["", None, "!!! --- ... +++ ### 😀", "-.- +", " ", None, "python sql", ""],
    "supplementary": [
        "𝐛𝐨𝐥𝐝 𠀀 𠀁𠀂 a𝐀 𝐀b 😀x 𝐀.𝐁 𝐀++𝐁",
        "x😀y 🇩🇪 👩\u200d💻 日本語テキスト ab😀",
    ],
    "tokens_touching_across_texts": ["abc", "def", "c+", "+d", "ab.", "-cd", "x", "", "yz-", "zz", "a.-", "b"],
}


@pytest.fixture(scope="module")
def letters(spark):
    return probe_jvm_text(spark).letter_ranges


def featurizer(letters, vocabulary=(), ngram_sizes=()) -> TextFeaturizer:
    return TextFeaturizer(TextFeatureParams(
        letter_ranges=letters, min_token_length=MIN_TOKEN_LENGTH, stop_words=STOP_WORDS, ngram_sizes=ngram_sizes,
        vocabulary=tuple(vocabulary), sublinear=False, idf=np.ones(len(vocabulary)),
    ))


def spark_stages(ngram_sizes=()) -> list:
    """Tokens, then the n-grams appended as ``terms`` (null texts read as empty, as the scorer's input)."""
    columns = ["tokens", *[f"ngrams{n}" for n in ngram_sizes]]
    return [
        SQLTransformer(statement="SELECT row, coalesce(text, '') AS text FROM __THIS__"),
        RegexTokenizer(inputCol="text", outputCol="raw", pattern=TOKEN_PATTERN, gaps=False, toLowercase=False,
                       minTokenLength=MIN_TOKEN_LENGTH),
        StopWordsRemover(inputCol="raw", outputCol="tokens", stopWords=list(STOP_WORDS), caseSensitive=True),
        *[NGram(n=n, inputCol="tokens", outputCol=f"ngrams{n}") for n in ngram_sizes],
        SQLTransformer(statement=terms_statement(columns).replace("_terms", "terms")),
    ]


def spark_rows(spark, texts, stages) -> list:
    frame = spark.createDataFrame(list(enumerate(texts)), "row int, text string")
    return sorted(PipelineModel(stages=stages).transform(frame).collect(), key=lambda row: row.row)


@pytest.mark.parametrize(("ngram_sizes", "kept"), [((), 1), ((2, 3), 2), ((3,), 2), ((1, 2), 2)])
@pytest.mark.parametrize("batch", list(BATCHES))
def test_feature_vectors_equal_spark_bit_for_bit(spark, letters, batch, ngram_sizes, kept):
    """Unigrams alone with every token in the vocabulary (so every token counts), and n-grams with
    every other term in it, so n-grams hit and miss at every level of the trie (with sizes (3,)
    the bigrams are only prefixes)."""
    texts = BATCHES[batch]
    terms = sorted({term for row in spark_rows(spark, texts, spark_stages(ngram_sizes)) for term in row.terms})
    vocabulary = terms[::kept] or ["unseen"]
    counts = CountVectorizerModel.from_vocabulary(vocabulary, inputCol="terms", outputCol="counts")
    stages = [*spark_stages(ngram_sizes), counts, Normalizer(inputCol="counts", outputCol="features", p=2.0)]
    expected = [row.features for row in spark_rows(spark, texts, stages)]

    layouts = {
        "string": pa.array(texts, pa.string()),
        "large_string": pa.array(texts, pa.large_string()),
        "slice": pa.array(["abc de", *texts, "fg"], pa.string()).slice(1, len(texts)),
    }

    for layout, array in layouts.items():
        features = featurizer(letters, vocabulary, ngram_sizes).features(array, width=len(vocabulary))
        assert features.shape == (len(texts), len(vocabulary)), layout
        for i, vector in enumerate(expected):
            row = features.getrow(i)
            assert list(row.indices) == list(vector.indices), (layout, i)
            assert row.data.tolist() == vector.values.astype("float32").tolist(), (layout, i)


def test_an_empty_batch_has_no_rows(letters):
    features = featurizer(letters, ("python", "python sql"), (2,)).features(pa.array([], pa.string()), width=2)
    assert features.shape == (0, 2) and features.nnz == 0


def test_an_all_null_batch_has_zero_vectors(letters):
    features = featurizer(letters, ("python",), (2,)).features(pa.array([None, None], pa.string()), width=1)
    assert features.shape == (2, 1) and features.nnz == 0
