"""Reading a fitted tag model into the plain values the fused scorer ships to the executors, or
the reason it cannot reproduce the model exactly (:class:`NotFusable`).

The stages must be exactly what ``build_feature_pipeline`` (engine ``spark-ml``, vocabulary
``count``, no categoricals) fits, followed by a multi-label classifier and the decision, wired
column to column. Anything else (Spark NLP annotators, HashingTF, one-hot categoricals, another
tokenizer pattern, a subclass with its own transform) is not fusable: the caller falls back to
``model.transform``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.ml import PipelineModel
from pyspark.ml.feature import (
    CountVectorizerModel,
    IDFModel,
    NGram,
    Normalizer,
    RegexTokenizer,
    SQLTransformer,
    StopWordsRemover,
)
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobtagger.calibration import MultiLabelDecision
from jobtagger.fused.decision import DecisionParams
from jobtagger.fused.lowercase import (
    CAPITAL_I_WITH_DOT,
    CAPITAL_SIGMA,
    LAST_CODE_POINT,
    JavaLowercase,
    java_lowercase,
)
from jobtagger.fused.text_vectors import TextFeatureParams
from jobtagger.models.common import MultiLabelModel
from jobtagger.text.features import (
    CHAR_NGRAMS_COL,
    TERMS_COL,
    TOKEN_PATTERN,
    TOKENS_COL,
    DropColumns,
    SublinearTf,
    char_ngrams_statement,
    makes_char_ngrams,
    terms_statement,
)
from jobtagger.text.idf import IdfWeighting
from jobtagger.text.vocabulary import VocabularyCounts

_PROBE_CHARS = 1 << 12  # code points per probe row: small rows spread over all tasks of the job
# Planes 4-13 hold no character in any Unicode version (16.0 included: Java 25), planes 15-16 are
# private use (never a letter, no case): their code points are neither letters nor lower-cased by
# any JVM, as the kernels treat unprobed code points. Probing the rest is a quarter of the work.
_PROBED_PLANES = np.array([plane <= 3 or plane == 14 for plane in range(17)])


class NotFusable(Exception):
    """The model holds something the fused scorer does not reproduce exactly; says what."""


@dataclass(frozen=True, eq=False)
class FusedScoring:
    """Everything the executors need, as plain values: one broadcast."""

    text: TextFeatureParams
    model_arrays: dict[str, np.ndarray]
    decision: DecisionParams

    @property
    def width(self) -> int:
        """Input features of the classifier."""
        first = self.model_arrays.get("hidden_weights", self.model_arrays["weights"])
        return first.shape[0]


@dataclass(frozen=True, eq=False)
class FusedPlan:
    """The driver's side: the JVM stage that builds the text, and what the executors score with."""

    combine_text: SQLTransformer
    text_column: str
    scoring: FusedScoring


class _Stages:
    """The model's stages read front to back, each of an exact type (a subclass may transform differently)."""

    def __init__(self, stages: list) -> None:
        self.stages, self.position = stages, 0

    def take(self, kind: type | tuple[type, ...], role: str):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        stage = self.peek()
        if type(stage) not in kinds:
            found = type(stage).__name__ if stage is not None else "nothing"
            expected = " or ".join(k.__name__ for k in kinds)
            raise NotFusable(f"stage {self.position} is {found}, where the fused scorer expects {role} ({expected})")
        return self.next()

    def next(self):
        stage = self.peek()
        self.position += 1
        return stage

    def take_if(self, kind: type):
        return self.take(kind, "") if type(self.peek()) is kind else None

    def peek(self):
        return self.stages[self.position] if self.position < len(self.stages) else None


def read_plan(model: PipelineModel, spark: SparkSession) -> FusedPlan:
    """The fused plan of a fitted tag model; raises :class:`NotFusable` naming the first obstacle."""
    stages = _Stages(list(model.stages))
    combine = stages.take(SQLTransformer, "the text combination")
    tokenizer: RegexTokenizer = stages.take(RegexTokenizer, "the tokenizer")
    if tokenizer.getGaps() or tokenizer.getPattern() != TOKEN_PATTERN:
        raise NotFusable(f"tokenizer pattern {tokenizer.getPattern()!r} (gaps={tokenizer.getGaps()}) is not TOKEN_PATTERN")
    if not tokenizer.getToLowercase():
        raise NotFusable("the tokenizer does not lower-case (the fused scorer tokenizes lower-cased text)")
    remover: StopWordsRemover = stages.take(StopWordsRemover, "the stop words")
    stop_words = _stop_words(remover)
    _wired(remover.getInputCol(), tokenizer.getOutputCol(), "stop words")
    ngrams = []
    while (ngram := stages.take_if(NGram)) is not None:
        _wired(ngram.getInputCol(), remover.getOutputCol(), "n-grams")
        ngrams.append(ngram)
    terms = stages.take(SQLTransformer, "the terms concatenation")
    term_columns = [remover.getOutputCol(), *[ngram.getOutputCol() for ngram in ngrams]]
    char_sizes: tuple[int, ...] = ()
    if makes_char_ngrams(terms):
        char_sizes = _char_ngram_sizes(terms, remover.getOutputCol())
        terms = stages.take(SQLTransformer, "the terms concatenation")
        term_columns.append(CHAR_NGRAMS_COL)
    if terms.getStatement() != terms_statement(term_columns):
        raise NotFusable(f"terms statement {terms.getStatement()!r} is not {terms_statement(term_columns)!r}")
    if type(stages.peek()).__name__ == "HashingTF":
        raise NotFusable("HashingTF: Spark's murmur3 term hashing is not reproduced (use features.vocabulary=count)")
    # CountVectorizerModel: a saved model holding Spark's fitted vocabulary stage still tags fused
    # (both have ``.vocabulary``, minTF and binary).
    counts: VocabularyCounts | CountVectorizerModel = stages.take((VocabularyCounts, CountVectorizerModel),
                                                                  "the vocabulary counts")
    _wired(counts.getInputCol(), TERMS_COL, "counts")
    if counts.getMinTF() != 1.0 or counts.getBinary():
        raise NotFusable(f"{type(counts).__name__} minTF={counts.getMinTF()}, binary={counts.getBinary()} "
                         "(the fused scorer counts plainly)")
    previous = counts.getOutputCol()
    sublinear = stages.take_if(SublinearTf)
    if sublinear is not None:
        _wired(sublinear.getInputCol(), previous, "sublinear tf")
        previous = sublinear.getOutputCol()
    # IDFModel: a saved model holding Spark's fitted IDF stage still tags fused (both have ``.idf``).
    idf: IdfWeighting | IDFModel = stages.take((IdfWeighting, IDFModel), "the IDF weights")
    _wired(idf.getInputCol(), previous, "IDF")
    normalizer: Normalizer = stages.take(Normalizer, "the L2 normalization")
    _wired(normalizer.getInputCol(), idf.getOutputCol(), "normalization")
    if normalizer.getP() != 2.0:
        raise NotFusable(f"Normalizer p={normalizer.getP()} (the fused scorer does p=2)")
    stages.take_if(DropColumns)
    classifier = _classifier(stages.next(), normalizer.getOutputCol())
    decision = stages.take(MultiLabelDecision, "the decision")
    decision_params = _decision(decision, classifier)
    if stages.peek() is not None:
        raise NotFusable(f"stage {stages.position} ({type(stages.peek()).__name__}) follows the decision")
    vocabulary = tuple(counts.vocabulary)
    idf_values = idf.idf.toArray().astype(np.float64)
    if len(idf_values) != len(vocabulary) or len(set(vocabulary)) != len(vocabulary):
        raise NotFusable(f"IDF has {len(idf_values)} weights for a vocabulary of {len(vocabulary)} (distinct) terms")
    jvm_text = probe_jvm_text(spark)
    text = TextFeatureParams(
        letter_ranges=jvm_text.letter_ranges,
        min_token_length=tokenizer.getMinTokenLength(),
        stop_words=stop_words,
        ngram_sizes=tuple(ngram.getN() for ngram in ngrams),
        vocabulary=vocabulary,
        sublinear=sublinear is not None,
        idf=idf_values,
        lowercase=jvm_text.lowercase,
        char_ngram_sizes=char_sizes,
    )
    return FusedPlan(
        combine_text=combine,
        text_column=tokenizer.getInputCol(),
        scoring=FusedScoring(text=text, model_arrays=dict(classifier.arrays), decision=decision_params),
    )


def _char_ngram_sizes(stage: SQLTransformer, tokens_column: str) -> tuple[int, ...]:
    """The gram sizes of the character n-gram stage, when its statement is exactly the one
    :func:`char_ngrams_statement` writes for them over the stop words' output."""
    sizes = [int(size) for size in re.findall(r"\[\^ \]\{(\d+)\}", stage.getStatement())]
    if not sizes or tokens_column != TOKENS_COL or stage.getStatement() != char_ngrams_statement(sizes):
        raise NotFusable(f"character n-gram statement {stage.getStatement()!r} is not one the fused scorer makes")
    return tuple(sizes)


def _wired(input_column: str, expected: str, role: str) -> None:
    if input_column != expected:
        raise NotFusable(f"{role} read {input_column!r}, not the previous stage's output {expected!r}")


def _stop_words(remover: StopWordsRemover) -> tuple[str, ...]:
    """The words to drop. Case-insensitive matching lower-cases both sides with the remover's
    locale: equal to plain matching of the (lower-cased) tokens when no stop word has a lower-case
    form of its own (locale rules only touch upper-case letters)."""
    if remover.isSet(remover.inputCols):
        raise NotFusable("StopWordsRemover over several columns")
    words = tuple(remover.getStopWords())
    upper = [word for word in words if word.lower() != word]
    if upper and not remover.getCaseSensitive():
        raise NotFusable(f"stop words with upper-case letters, e.g. {upper[0]!r}")
    return words


def _classifier(stage, features_column: str) -> MultiLabelModel:
    if not isinstance(stage, MultiLabelModel) or type(stage)._transform is not MultiLabelModel._transform:
        raise NotFusable(f"classifier {type(stage).__name__} is not a MultiLabelModel scored by its arrays")
    _wired(stage.getFeaturesCol(), features_column, "classifier")
    return stage


def _decision(decision: MultiLabelDecision, classifier: MultiLabelModel) -> DecisionParams:
    _wired(decision.getOrDefault(decision.scoresCol), classifier.getScoresCol(), "decision")
    outputs = [decision.getOrDefault(p) for p in (decision.tagsCol, decision.tagScoresCol, decision.candidateScoresCol)]
    if outputs != ["tags", "tag_scores", "candidate_scores"]:
        raise NotFusable(f"decision writes {outputs}, not the gold columns")
    params = DecisionParams.of(decision)
    labels = len(params.labels)
    if not labels or len(params.thresholds) != labels or len(set(params.labels)) != labels:
        raise NotFusable(f"decision has {labels} labels (distinct?) and {len(params.thresholds)} thresholds")
    if classifier.arrays["weights"].shape[1] != labels:
        raise NotFusable(f"classifier scores {classifier.arrays['weights'].shape[1]} labels, the decision {labels}")
    for k, method in enumerate(params.calibration.methods):
        knots, values = params.calibration.isotonic[k]
        if method == "isotonic" and (not values or len(knots) != len(values) or list(knots) != sorted(knots)):
            raise NotFusable(f"isotonic calibrator of {params.labels[k]!r} has no sorted knots")
    return params


@dataclass(frozen=True, eq=False)
class JvmText:
    """How the executors' JVM treats text where the fused scorer must agree with it."""

    letter_ranges: tuple[tuple[int, int], ...]  # java.util.regex's [\p{L}\p{N}], inclusive ranges
    lowercase: JavaLowercase | None  # String.toLowerCase() by code point; None: it has locale rules


def probe_jvm_text(spark: SparkSession) -> JvmText:
    """One Spark job on the executors over every code point (of the planes that hold any,
    :data:`_PROBED_PLANES`): the ones java.util.regex puts in ``[\\p{L}\\p{N}]`` (Java's Unicode
    version decides, not Python's or RE2's: Java 17 knows Unicode 13, RE2 in pyarrow 26 has about
    5,500 letters more) and what ``String.toLowerCase()`` makes of each in the default locale (the
    capital sigma left out: its form depends on its word)."""
    code_points = np.arange(LAST_CODE_POINT + 1, dtype=np.uint32)
    code_points = code_points[_PROBED_PLANES[code_points >> 16] & ((code_points < 0xD800) | (code_points > 0xDFFF))]
    every = code_points.astype("<u4").tobytes().decode("utf-32-le")
    probe = pa.table({"chars": [every[i : i + _PROBE_CHARS] for i in range(0, len(every), _PROBE_CHARS)]})
    probed = spark.createDataFrame(probe).select(
        F.regexp_replace("chars", r"[^\p{L}\p{N}]", "").alias("letters"),
        java_lowercase(F.translate("chars", CAPITAL_SIGMA + CAPITAL_I_WITH_DOT, "")).alias("lowered"),
        java_lowercase(F.lit(CAPITAL_I_WITH_DOT)).alias("lowered_i_with_dot"),
        F.call_function("reflect", F.lit("java.util.Locale"), F.lit("getDefault")).alias("locale"),
    ).toArrow()
    letters = _code_points("".join(probed.column("letters").to_pylist()))
    if letters.size == 0:
        raise NotFusable("the JVM reports no letter or digit")
    case_mapped = code_points[(code_points != ord(CAPITAL_SIGMA)) & (code_points != ord(CAPITAL_I_WITH_DOT))]
    lowercase = JavaLowercase.of_probe(
        case_mapped, _code_points("".join(probed.column("lowered").to_pylist())),
        expanded={ord(CAPITAL_I_WITH_DOT): probed.column("lowered_i_with_dot")[0].as_py()},
        locale=probed.column("locale")[0].as_py(),
    )
    return JvmText(letter_ranges=_ranges(np.unique(letters)), lowercase=lowercase)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), "<u4")


def _ranges(members: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Sorted distinct code points as inclusive ranges."""
    breaks = np.flatnonzero(np.diff(members.astype(np.int64)) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [members.size - 1]])
    return tuple((int(members[s]), int(members[e])) for s, e in zip(starts, ends))
