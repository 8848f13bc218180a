"""Term counts over a fitted vocabulary that is saved as a plain file, not by a Spark task.

:class:`Vocabulary` fits with pyspark's own ``CountVectorizer`` (terms counted distributed, the
``vocabSize`` most frequent kept among those within ``minDF``..``maxDF`` documents) and keeps only
the terms, as :class:`VocabularyCounts`. With ``gramMark`` set, the terms starting with it
(character n-grams) are ranked apart: the ``vocabSize`` most frequent other terms, then the
``gramVocabSize`` most frequent marked ones, so the many frequent grams never push words out of
the vocabulary. Spark's ``CountVectorizerModel`` is not kept as the stage
because its writer puts the whole vocabulary into one local row that a single task writes: with
tens of thousands of terms every save of the PipelineModel warns of a task of very large size.
:class:`VocabularyCounts` writes the terms from the driver instead.

Its transform is ``CountVectorizerModel``'s: the JVM model is built from the terms for each
transform (which broadcasts its term index, so the tasks stay small), hence the same vectors and
the same ``ml_attr`` column metadata. The terms reach the JVM as one pickled list (what pyspark
passes vectors with), not one py4j call per term. Saved through ``PipelineModel.save`` as Spark's JSON
metadata (Params and the number of terms) plus ``data/vocabulary.json`` (a JSON array of the
terms by feature index, no pickle).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from pyspark import SparkContext, keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.feature import CountVectorizer, CountVectorizerModel
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsReader, DefaultParamsWritable, DefaultParamsWriter
from pyspark.serializers import CPickleSerializer
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.utils import is_remote

TERMS_FILE = "vocabulary.json"


class _CountingParams(HasInputCol, HasOutputCol):
    """What the counting of a document's terms depends on (CountVectorizer's names and defaults)."""

    minTF = Param(
        Params._dummy(), "minTF",
        "a term counts in a document only if its count is at least this (>= 1) or this fraction of "
        "the document's terms (< 1)", TypeConverters.toFloat,
    )
    binary = Param(Params._dummy(), "binary", "every counted term as 1", TypeConverters.toBoolean)

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(minTF=1.0, binary=False)

    def getMinTF(self) -> float:
        return self.getOrDefault(self.minTF)

    def getBinary(self) -> bool:
        return self.getOrDefault(self.binary)


class Vocabulary(Estimator, _CountingParams, DefaultParamsReadable, DefaultParamsWritable):
    """Fits pyspark's ``CountVectorizer`` on the input terms and returns its vocabulary as
    :class:`VocabularyCounts`."""

    vocabSize = Param(Params._dummy(), "vocabSize", "most terms kept (the most frequent)", TypeConverters.toInt)
    minDF = Param(
        Params._dummy(), "minDF",
        "fewest documents a kept term is in (>= 1) or that fraction of the documents (< 1)", TypeConverters.toFloat,
    )
    maxDF = Param(
        Params._dummy(), "maxDF",
        "most documents a kept term is in (>= 1) or that fraction of the documents (< 1)", TypeConverters.toFloat,
    )
    gramMark = Param(
        Params._dummy(), "gramMark",
        "terms starting with this (unless empty) are ranked apart, gramVocabSize of them kept", TypeConverters.toString,
    )
    gramVocabSize = Param(Params._dummy(), "gramVocabSize", "most marked terms kept (the most frequent)",
                          TypeConverters.toInt)

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None, vocabSize: int | None = None,
                 minDF: float | None = None, maxDF: float | None = None, minTF: float | None = None,
                 binary: bool | None = None, gramMark: str | None = None, gramVocabSize: int | None = None) -> None:
        super().__init__()
        self._setDefault(vocabSize=1 << 18, minDF=1.0, maxDF=float(2**63 - 1), gramMark="", gramVocabSize=1 << 18)
        self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> VocabularyCounts:
        apart = ("gramMark", "gramVocabSize")
        settings = {p.name: self.getOrDefault(p) for p in self.params if self.isDefined(p) and p.name not in apart}
        mark = self.getOrDefault(self.gramMark)
        if not mark:
            terms = CountVectorizer(**settings).fit(dataset).vocabulary
        else:
            column = self.getInputCol()

            def kept(marked: bool) -> DataFrame:
                return dataset.select(F.filter(column, lambda term: term.startswith(mark) == marked).alias(column))

            grams = {**settings, "vocabSize": self.getOrDefault(self.gramVocabSize)}
            terms = CountVectorizer(**settings).fit(kept(False)).vocabulary + CountVectorizer(**grams).fit(kept(True)).vocabulary
        return VocabularyCounts(vocabulary=terms, inputCol=self.getInputCol(),
                                outputCol=self.getOutputCol(), minTF=self.getMinTF(), binary=self.getBinary())


class VocabularyCounts(Model, _CountingParams, DefaultParamsReadable, DefaultParamsWritable):
    """Fitted vocabulary: each document's terms as a vector of counts by the term's index."""

    @keyword_only
    def __init__(self, *, vocabulary: Sequence[str] | None = None, inputCol: str | None = None,
                 outputCol: str | None = None, minTF: float | None = None, binary: bool | None = None) -> None:
        super().__init__()
        self._terms = tuple(vocabulary if vocabulary is not None else ())
        self._set(**{name: value for name, value in self._input_kwargs.items() if name != "vocabulary"})

    @property
    def vocabulary(self) -> list[str]:
        """The terms by feature index, as ``CountVectorizerModel.vocabulary`` gives them."""
        return list(self._terms)

    def counts_model(self) -> CountVectorizerModel:
        """Spark's model of these terms and Params (needs an active SparkContext)."""
        terms = list(self._terms)
        context = SparkContext._active_spark_context
        if is_remote() or context is None or not terms:
            return CountVectorizerModel.from_vocabulary(terms, inputCol=self.getInputCol(), outputCol=self.getOutputCol(),
                                                        minTF=self.getMinTF(), binary=self.getBinary())
        model = CountVectorizerModel._create_from_java_class(
            "org.apache.spark.ml.feature.CountVectorizerModel", _java_strings(context, terms))
        model._set(inputCol=self.getInputCol(), outputCol=self.getOutputCol(), minTF=self.getMinTF(),
                   binary=self.getBinary(), vocabSize=len(terms))
        return model

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return self.counts_model().transform(dataset)

    def write(self) -> DefaultParamsWriter:
        return _TermsWriter(self)

    @classmethod
    def read(cls) -> DefaultParamsReader:
        return _TermsReader(cls)


def _java_strings(context: SparkContext, terms: list[str]):
    """The terms as a JVM ``String[]`` in one pickled transfer (``from_vocabulary`` sets its array
    one py4j call per term, slow for a large vocabulary; it cannot send an unpaired surrogate)."""
    jvm = context._jvm
    terms_list = jvm.org.apache.spark.ml.python.MLSerDe.loads(bytearray(CPickleSerializer().dumps(terms)))
    return jvm.java.util.Arrays.copyOf(terms_list.toArray(), terms_list.size(), jvm.java.lang.Class.forName("[Ljava.lang.String;"))


class _TermsWriter(DefaultParamsWriter):
    """The Params as Spark's JSON metadata, the terms as ``data/vocabulary.json``."""

    def saveImpl(self, path: str) -> None:
        terms = self.instance.vocabulary
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sc, extraMetadata={"vocabularySize": len(terms)})
        os.makedirs(os.path.join(path, "data"), exist_ok=True)
        # ASCII with \u escapes: any Java string (an unpaired surrogate too) reads back unchanged.
        with open(os.path.join(path, "data", TERMS_FILE), "w", encoding="ascii") as out:
            json.dump(terms, out)


class _TermsReader(DefaultParamsReader):
    """What :class:`_TermsWriter` saved, the terms checked against the metadata's count."""

    def load(self, path: str) -> VocabularyCounts:
        metadata = DefaultParamsReader.loadMetadata(path, self.sc)
        with open(os.path.join(path, "data", TERMS_FILE), encoding="ascii") as source:
            terms = json.load(source)
        if not isinstance(terms, list) or not all(isinstance(term, str) for term in terms):
            raise ValueError(f"{path}: {TERMS_FILE} is not a JSON array of strings")
        if len(terms) != metadata["vocabularySize"]:
            raise ValueError(f"{path}: {len(terms)} terms, the metadata says {metadata['vocabularySize']}")
        model = self.cls(vocabulary=terms)
        model._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(model, metadata)
        return model
