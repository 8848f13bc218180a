"""The feature pipeline: title + description -> ``features`` (SparseVector), as one pyspark.ml Pipeline.

Stages (engine ``spark-ml``): combine text (title repeated ``title_weight`` times, then the
description) -> Unicode-aware RegexTokenizer (lowercases) -> stop words of en/de/fr/es removed (unless
``remove_stop_words`` is off; the stage then keeps every token) ->
2..``ngram_max``-grams and optionally character n-grams of the tokens (``char_ngrams``, as
``~gram`` terms of the padded ``<token>``) appended to the unigrams -> counts, either over a vocabulary
(:mod:`jobtagger.text.vocabulary`: Spark's CountVectorizer fits at most ``num_features`` terms seen
in at least ``min_doc_freq`` postings, and ``char_ngram_features`` character grams besides, the
terms save as a plain file; the model card maps a
feature index back to its term through the stage's ``vocabulary``) or ``HashingTF``
(``num_features`` buckets) -> optional sublinear tf (1 + log tf) -> IDF (:mod:`jobtagger.text.idf`:
Spark's IDF fits, the weights apply from a broadcast) -> L2 normalization -> optionally one-hot
categoricals (company, country, language) appended by a VectorAssembler.

Why vocabulary by default: the classifiers keep a dense float32 weight matrix of d x K, so d must
be the number of terms actually kept (2^15..2^16), never 2^18 hash buckets.

Everything except :class:`SublinearTf`, the fitted vocabulary
(:class:`~jobtagger.text.vocabulary.VocabularyCounts`) and the fitted IDF
(:class:`~jobtagger.text.idf.IdfWeighting`) is a JVM stage; those are Python stages that save and
load with the PipelineModel. ``SublinearTf`` and ``IdfWeighting`` map whole Arrow batches (Arrow
UDFs), not one Python call per row; ``VocabularyCounts`` counts through Spark's
CountVectorizerModel built from its terms.
The ``spark-nlp`` engine swaps the tokenizer part for Spark NLP annotators and fails fast when
the Spark NLP jar is not on the classpath.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pyspark import keyword_only
from pyspark.ml import Pipeline, Transformer
from pyspark.ml.feature import (
    CountVectorizerModel,
    HashingTF,
    NGram,
    Normalizer,
    OneHotEncoder,
    RegexTokenizer,
    SQLTransformer,
    StopWordsRemover,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.linalg import VectorUDT
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.arrow_vectors import map_vector_values
from jobtagger.config import FeaturesConfig
from jobtagger.errors import EnvironmentProblem
from jobtagger.session import JvmCapabilities
from jobtagger.text.idf import Idf
from jobtagger.text.vocabulary import Vocabulary, VocabularyCounts

SPARK_NLP_PACKAGE = "com.johnsnowlabs.nlp:spark-nlp_2.13:7.0.0"
STOP_WORD_LANGUAGES = ("english", "german", "french", "spanish")
# Letters or digits, allowing inner '.'/'-' (node.js, e-mail) and trailing '+'/'#' (c++, c#).
TOKEN_PATTERN = r"[\p{L}\p{N}]+(?:[.\-][\p{L}\p{N}]+)*[+#]*"
FEATURES_COL = "features"
TEXT_COL = "_text"
TOKENS_COL = "_tokens"
TERMS_COL = "_terms"
CHAR_NGRAMS_COL = "_char_ngrams"
# Marks a character n-gram term: the tokenizer never emits '~', so no gram equals a word.
CHAR_NGRAM_MARK = "~"


class SublinearTf(Transformer, HasInputCol, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable):
    """Replace each term count tf by 1 + log(tf), so a repeated term does not dominate."""

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None) -> None:
        super().__init__()
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return dataset.withColumn(self.getOutputCol(), _sublinear_udf(F.col(self.getInputCol())))


def sublinear_counts(counts: np.ndarray) -> np.ndarray:
    """1 + log(tf) where tf > 0, else 0."""
    return np.where(counts > 0, 1.0 + np.log(np.where(counts > 0, counts, 1.0)), 0.0)


@F.arrow_udf(VectorUDT())
def _sublinear_udf(vectors: pa.Array) -> pa.Array:
    """Whole Arrow batches at once (a vector column arrives as its storage struct)."""
    return map_vector_values(vectors, sublinear_counts)


def default_stop_words() -> list[str]:
    words: set[str] = set()
    for language in STOP_WORD_LANGUAGES:
        words.update(StopWordsRemover.loadDefaultStopWords(language))
    return sorted(words)


def build_feature_pipeline(
    features_config: FeaturesConfig, *, capabilities: JvmCapabilities
) -> Pipeline:
    """Unfitted Pipeline from columns title/description (+ categoricals) to ``features``."""
    config = features_config
    stages: list = [_combine_text_stage(config.title_weight)]
    if config.engine == "spark-nlp":
        stages += _spark_nlp_token_stages(capabilities)
    else:
        stages += [
            RegexTokenizer(
                inputCol=TEXT_COL,
                outputCol=f"{TOKENS_COL}_raw",
                pattern=TOKEN_PATTERN,
                gaps=False,
                toLowercase=True,
                minTokenLength=config.min_token_length,
            ),
            StopWordsRemover(
                inputCol=f"{TOKENS_COL}_raw",
                outputCol=TOKENS_COL,
                stopWords=default_stop_words() if config.remove_stop_words else [],
            ),
        ]
    stages += _ngram_stages(config.ngram_max, config.char_ngrams)
    text_features = "_text_features" if config.categorical else FEATURES_COL
    counts = "_tf_sublinear" if config.sublinear_tf else "_tf"
    if config.vocabulary == "count":
        stages.append(
            Vocabulary(
                inputCol=TERMS_COL,
                outputCol="_tf",
                vocabSize=config.num_features,
                minDF=float(config.min_doc_freq),
                **({"gramMark": CHAR_NGRAM_MARK, "gramVocabSize": config.char_ngram_features} if config.char_ngrams else {}),
            )
        )
    else:
        stages.append(HashingTF(inputCol=TERMS_COL, outputCol="_tf", numFeatures=config.num_features))
    if config.sublinear_tf:
        stages.append(SublinearTf(inputCol="_tf", outputCol=counts))
    stages += [
        Idf(inputCol=counts, outputCol="_tfidf", minDocFreq=config.min_doc_freq),
        Normalizer(inputCol="_tfidf", outputCol=text_features, p=2.0),
    ]
    if config.categorical:
        stages += _categorical_stages(config.categorical, text_features)
    stages.append(_drop_stage(stages))
    return Pipeline(stages=stages)


def vocabulary_of(pipeline_model) -> list[str] | None:
    """Terms by feature index from a fitted feature pipeline (None with hashed features); a saved
    model may hold Spark's CountVectorizerModel as its vocabulary stage."""
    for stage in pipeline_model.stages:
        if isinstance(stage, (VocabularyCounts, CountVectorizerModel)):
            return list(stage.vocabulary)
    return None


def _combine_text_stage(title_weight: int) -> SQLTransformer:
    title = "coalesce(title, '')"
    parts = ", ".join([title] * title_weight + ["coalesce(description, '')"])
    return SQLTransformer(statement=f"SELECT *, concat_ws(' ', {parts}) AS {TEXT_COL} FROM __THIS__")


def _ngram_stages(ngram_max: int, char_sizes: list[int]) -> list:
    stages: list = []
    columns = [TOKENS_COL]
    for n in range(2, ngram_max + 1):
        stages.append(NGram(n=n, inputCol=TOKENS_COL, outputCol=f"_ngrams{n}"))
        columns.append(f"_ngrams{n}")
    if char_sizes:
        stages.append(SQLTransformer(statement=char_ngrams_statement(char_sizes)))
        columns.append(CHAR_NGRAMS_COL)
    stages.append(SQLTransformer(statement=terms_statement(columns)))
    return stages


def char_ngrams_statement(sizes: list[int]) -> str:
    """The SQL that lists, for each token, its character n-grams of each size as ``~gram`` terms.

    A token is padded as ``<token>`` so its start and end are grams of their own; a padded token
    shorter than n gives no gram of that size (the token itself is a term already). Built-in
    functions only, no nested lambda: the padded tokens are joined by spaces and every window of
    n characters without a space is read by one regular expression (a look-ahead, so the windows
    overlap).
    """
    padded = f"concat('<', array_join({TOKENS_COL}, '> <'), '>')"
    per_size = [f"regexp_extract_all({padded}, '(?=([^ ]{{{n}}}))', 1)" for n in sizes]
    grams = per_size[0] if len(per_size) == 1 else f"concat({', '.join(per_size)})"
    return f"SELECT *, transform({grams}, g -> concat('{CHAR_NGRAM_MARK}', g)) AS {CHAR_NGRAMS_COL} FROM __THIS__"


def makes_char_ngrams(stage) -> bool:
    """Whether ``stage`` is the character n-gram stage of :func:`char_ngrams_statement`."""
    return isinstance(stage, SQLTransformer) and f"AS {CHAR_NGRAMS_COL} " in stage.getStatement()


def terms_statement(columns: list[str]) -> str:
    """The SQL that appends the n-gram columns to the tokens as ``_terms`` (also how the fused
    tag scorer recognises that stage)."""
    return f"SELECT *, concat({', '.join(columns)}) AS {TERMS_COL} FROM __THIS__"


def _categorical_stages(columns: list[str], text_features: str) -> list:
    indexed = [f"_{name}_index" for name in columns]
    encoded = [f"_{name}_onehot" for name in columns]
    return [
        StringIndexer(inputCols=columns, outputCols=indexed, handleInvalid="keep"),
        OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"),
        VectorAssembler(inputCols=[text_features, *encoded], outputCol=FEATURES_COL),
    ]


class DropColumns(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """Drop the pipeline's intermediate columns so only the inputs and ``features`` remain."""

    columns = Param(Params._dummy(), "columns", "columns to drop", typeConverter=TypeConverters.toListString)

    @keyword_only
    def __init__(self, *, columns: list[str] | None = None) -> None:
        super().__init__()
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return dataset.drop(*self.getOrDefault(self.columns))


def _drop_stage(stages: list) -> DropColumns:
    created = []
    for stage in stages:
        for param in ("outputCol", "outputCols"):
            if stage.hasParam(param) and stage.isDefined(param):
                value = stage.getOrDefault(param)
                created += value if isinstance(value, list) else [value]
    made_by_sql = [TEXT_COL, TERMS_COL] + [CHAR_NGRAMS_COL] * any(makes_char_ngrams(stage) for stage in stages)
    created += [name for name in made_by_sql if name not in created]
    return DropColumns(columns=[name for name in created if name != FEATURES_COL])


def _spark_nlp_token_stages(capabilities: JvmCapabilities) -> list:
    """DocumentAssembler -> Tokenizer -> Normalizer -> StopWordsCleaner -> Finisher (tokens)."""
    if not capabilities.spark_nlp:
        raise EnvironmentProblem(
            "features.engine=spark-nlp needs the Spark NLP jar on the classpath: start Spark with "
            f"--packages {SPARK_NLP_PACKAGE} (or set features.engine=spark-ml)"
        )
    from sparknlp.annotator import Normalizer as NlpNormalizer
    from sparknlp.annotator import StopWordsCleaner, Tokenizer
    from sparknlp.base import DocumentAssembler, Finisher

    return [
        DocumentAssembler().setInputCol(TEXT_COL).setOutputCol("_document"),
        Tokenizer().setInputCols(["_document"]).setOutputCol("_token"),
        NlpNormalizer().setInputCols(["_token"]).setOutputCol("_normal").setLowercase(True),
        StopWordsCleaner()
        .setInputCols(["_normal"])
        .setOutputCol("_clean")
        .setStopWords(default_stop_words())
        .setCaseSensitive(False),
        Finisher().setInputCols(["_clean"]).setOutputCols([TOKENS_COL]).setCleanAnnotations(True),
    ]
