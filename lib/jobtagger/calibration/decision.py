"""The :class:`MultiLabelDecision` Transformer: calibrated scores -> thresholds -> rules -> tags.

It turns the ``scores`` array into ``tags``, ``tag_scores`` and ``candidate_scores`` with built-in
higher-order functions (no Python UDF) and saves as plain JSON params (no pickle), so it is the
last stage of the saved ``PipelineModel``.
"""

from __future__ import annotations

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobtagger.calibration.rules import DecisionRules, ancestors
from jobtagger.calibration.score_calibration import EPSILON, ScoreCalibration, calibrated_scores
from jobtagger.calibration.thresholds import Thresholds
from jobtagger.errors import JobtaggerError

# MultiLabelDecision's intermediate columns (dropped from its output).
_CALIBRATED, _SHORTLIST, _PASSING, _PAIRS = (
    "_decision_scores", "_decision_shortlist", "_decision_passing", "_decision_pairs"
)


def _param(name: str, doc: str, converter=TypeConverters.identity) -> Param:
    """A Param of :class:`MultiLabelDecisionParams` (identity: nested lists and maps, kept as given)."""
    return Param(Params._dummy(), name, doc, typeConverter=converter)


class MultiLabelDecisionParams(Params):
    labels = _param("labels", "model labels, aligned with the scores array", TypeConverters.toListString)
    thresholds = _param("thresholds", "threshold per label (score >= threshold)", TypeConverters.toListFloat)
    calibrationMethods = _param("calibrationMethods", "none|platt|isotonic per label", TypeConverters.toListString)
    plattCoefficients = _param("plattCoefficients", "[a, b] per label")
    isotonicKnots = _param("isotonicKnots", "[[knot scores], [values]] per label")
    atLeastOne = _param("atLeastOne", "tag the best label when none passes", TypeConverters.toBoolean)
    maxLabels = _param("maxLabels", "most tags per posting", TypeConverters.toInt)
    topCandidates = _param("topCandidates", "labels kept in candidate_scores", TypeConverters.toInt)
    parents = _param("parents", "child label -> parent label")
    scoresCol = _param("scoresCol", "input scores column", TypeConverters.toString)
    tagsCol = _param("tagsCol", "output tags column", TypeConverters.toString)
    tagScoresCol = _param("tagScoresCol", "output map tag -> calibrated score", TypeConverters.toString)
    candidateScoresCol = _param("candidateScoresCol", "output map of the top labels", TypeConverters.toString)


class MultiLabelDecision(Transformer, MultiLabelDecisionParams, DefaultParamsReadable, DefaultParamsWritable):
    """``scores`` -> ``tags`` (by score, descending), ``tag_scores`` and ``candidate_scores``.

    Rules, in order: calibrate scores; keep labels with ``score >= threshold``; if none passes and
    ``atLeastOne``, keep the label closest to passing (highest score / threshold); keep the
    ``maxLabels`` highest scores; add every ancestor of a kept label (consistency wins over
    ``maxLabels``; an ancestor's score is its own if it is a model label, else its best child's).
    """

    @keyword_only
    def __init__(
        self,
        *,
        labels: list[str] | None = None,
        thresholds: list[float] | None = None,
        calibrationMethods: list[str] | None = None,
        plattCoefficients: list[list[float]] | None = None,
        isotonicKnots: list[list[list[float]]] | None = None,
        atLeastOne: bool = True,
        maxLabels: int = 20,
        topCandidates: int = 5,
        parents: dict[str, str] | None = None,
        scoresCol: str = "scores",
        tagsCol: str = "tags",
        tagScoresCol: str = "tag_scores",
        candidateScoresCol: str = "candidate_scores",
    ) -> None:
        super().__init__()
        self._setDefault(
            labels=[], thresholds=[], calibrationMethods=[], plattCoefficients=[], isotonicKnots=[],
            atLeastOne=True, maxLabels=20, topCandidates=5, parents={}, scoresCol="scores",
            tagsCol="tags", tagScoresCol="tag_scores", candidateScoresCol="candidate_scores",
        )
        self._set(**self._input_kwargs)

    @classmethod
    def from_fit(
        cls, thresholds: Thresholds, calibration: ScoreCalibration, rules: DecisionRules, *, scores_col: str = "scores"
    ) -> "MultiLabelDecision":
        return cls(
            labels=thresholds.labels,
            thresholds=thresholds.values,
            calibrationMethods=list(calibration.methods),
            plattCoefficients=[list(pair) for pair in calibration.platt],
            isotonicKnots=[[list(xs), list(ys)] for xs, ys in calibration.isotonic],
            atLeastOne=rules.at_least_one,
            maxLabels=rules.max_labels,
            topCandidates=rules.top_candidates,
            parents=dict(rules.parents),
            scoresCol=scores_col,
        )

    def score_calibration(self) -> ScoreCalibration:
        labels = self.getOrDefault(self.labels)
        methods = self.getOrDefault(self.calibrationMethods)
        if not methods:
            return ScoreCalibration.identity(len(labels))
        return ScoreCalibration(
            tuple(methods),
            tuple((float(a), float(b)) for a, b in self.getOrDefault(self.plattCoefficients)),
            tuple((tuple(xs), tuple(ys)) for xs, ys in self.getOrDefault(self.isotonicKnots)),
        )

    def _transform(self, dataset: DataFrame) -> DataFrame:
        labels = self.getOrDefault(self.labels)
        thresholds = self.getOrDefault(self.thresholds)
        if not labels or len(labels) != len(thresholds):
            raise JobtaggerError(
                f"MultiLabelDecision needs one threshold per label, got {len(labels)} labels and {len(thresholds)} thresholds"
            )
        # Intermediate columns, each computed once: Spark keeps a projection whose non-trivial
        # expression is used more than once apart, so the array work below is not repeated.
        scores_col = self.getOrDefault(self.scoresCol)
        work = dataset.withColumn(_CALIBRATED, calibrated_scores(F.col(scores_col), self.score_calibration()))
        scores = F.col(_CALIBRATED)
        label_array = F.array(*[F.lit(label) for label in labels])
        threshold_array = F.array(*[F.lit(float(t)) for t in thresholds])
        positions = F.sequence(F.lit(1), F.lit(len(labels)))  # 1-based, constant-folded

        def entry(position: Column) -> Column:
            """struct(score, label, threshold): sort_array orders by score first, then label."""
            return F.struct(
                F.element_at(scores, position).alias("score"), F.element_at(label_array, position).alias("label"),
                F.element_at(threshold_array, position).alias("threshold"),
            )

        top = min(max(self.getOrDefault(self.topCandidates), 1), len(labels))
        # Only the labels that pass or rank among the top candidates (scoring at least the top-th
        # highest score, found by a primitive sort) become structs and get sorted, never all K.
        # aggregate() evaluates the cutoff once per row; a lambda referring to a column computed
        # outside it would have that expression inlined (and re-evaluated) per element.
        shortlist = F.aggregate(
            positions,
            F.struct(F.element_at(F.sort_array(scores, asc=False), top).alias("cutoff"),
                     F.array().cast("array<int>").alias("positions")),
            lambda chosen, i: F.when(
                F.element_at(scores, i) >= F.least(F.element_at(threshold_array, i), chosen["cutoff"]),
                F.struct(chosen["cutoff"].alias("cutoff"), F.concat(chosen["positions"], F.array(i)).alias("positions")),
            ).otherwise(chosen),
            lambda chosen: chosen["positions"],
        )
        work = work.withColumn(_SHORTLIST, F.sort_array(F.transform(shortlist, entry), asc=False))
        kept = F.filter(F.col(_SHORTLIST), lambda e: e["score"] >= e["threshold"])
        if self.getOrDefault(self.atLeastOne):
            closest = F.array_max(
                F.transform(
                    positions,
                    lambda i: F.struct(
                        (F.element_at(scores, i) / F.greatest(F.element_at(threshold_array, i), F.lit(EPSILON))).alias("ratio"),
                        *[entry(i)[name].alias(name) for name in ("score", "label", "threshold")],
                    ),
                )
            )
            best = F.array(F.struct(closest["score"].alias("score"), closest["label"].alias("label"),
                                    closest["threshold"].alias("threshold")))
            work = work.withColumn(_PASSING, kept)
            kept = F.when(F.size(F.col(_PASSING)) > 0, F.col(_PASSING)).otherwise(best)  # `best` only when needed
        kept = F.slice(kept, 1, self.getOrDefault(self.maxLabels))
        work = work.withColumn(_PAIRS, F.transform(kept, lambda e: F.struct(e["label"].alias("label"), e["score"].alias("score"))))
        work = work.withColumn(_PAIRS, self._with_ancestors(F.col(_PAIRS), label_array, scores))
        candidates = F.transform(
            F.slice(F.col(_SHORTLIST), 1, top), lambda e: F.struct(e["label"].alias("label"), e["score"].alias("score"))
        )
        if self.getOrDefault(self.topCandidates) == 0:
            candidates = F.filter(candidates, lambda e: F.lit(False))
        pairs = F.col(_PAIRS)
        null_scores = F.col(scores_col).isNull()
        return work.withColumns(
            {
                self.getOrDefault(self.tagsCol): F.when(~null_scores, F.transform(pairs, lambda p: p["label"])),
                self.getOrDefault(self.tagScoresCol): F.when(~null_scores, F.map_from_entries(pairs)),
                self.getOrDefault(self.candidateScoresCol): F.when(~null_scores, F.map_from_entries(candidates)),
            }
        ).drop(_CALIBRATED, _SHORTLIST, _PASSING, _PAIRS)

    def _with_ancestors(self, pairs: Column, label_array: Column, scores: Column) -> Column:
        chains = ancestors(self.getOrDefault(self.parents) or {})
        if not chains:
            return pairs
        children = list(chains)
        chain_map = F.map_from_arrays(
            F.array(*[F.lit(c) for c in children]),
            F.array(*[F.array(*[F.lit(p) for p in chains[c]]) for c in children]),
        )
        tagged = F.transform(pairs, lambda p: p["label"])
        implied = F.array_except(
            F.flatten(F.transform(tagged, lambda t: F.coalesce(F.element_at(chain_map, t), F.array().cast("array<string>")))),
            tagged,
        )

        def implied_pair(parent: Column) -> Column:
            from_children = F.array_max(
                F.transform(
                    F.filter(pairs, lambda p: F.coalesce(F.array_contains(F.element_at(chain_map, p["label"]), parent), F.lit(False))),
                    lambda p: p["score"],
                )
            )
            position = F.array_position(label_array, parent).cast("int")  # 0: the parent is no model label
            own_score = F.when(position > 0, F.element_at(scores, position))
            return F.struct(parent.alias("label"), F.coalesce(own_score, from_children).alias("score"))

        return F.concat(pairs, F.transform(implied, implied_pair))
