"""Training and evaluation of a multi-label model on a labelled DataFrame, without tables.

:func:`fit_and_evaluate` takes any labelled DataFrame (with or without its own ``split`` column)
and returns the fitted ``PipelineModel`` [feature stages..., classifier, MultiLabelDecision] with
its thresholds, metrics and model card data. ``jobtagger train`` calls it on bronze and registers
the result; ``jobtagger evaluate`` calls it on files and prints the metrics.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark import StorageLevel
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobtagger.calibration import MultiLabelDecision, Thresholds, fit_decision
from jobtagger.config import AUTO_FOLDS, CalibrationConfig, JobtaggerConfig
from jobtagger.errors import MissingInputError
from jobtagger.feature_selection import FeatureCandidate, FeatureSelection, feature_candidates, select_features
from jobtagger.labels import LabelSpaceReport, assign_folds, assign_split, build_label_space
from jobtagger.metrics import EvaluationResult, evaluate
from jobtagger.model_card import CardData, card_curves, curve_labels, top_terms
from jobtagger.models import estimator_for
from jobtagger.models.out_of_fold import averages_linearly, out_of_fold_path, out_of_fold_scores
from jobtagger.models.reg_path import fit_reg_path
from jobtagger.runlog import RunContext
from jobtagger.reg_selection import RegSelection, choose_reg_param, judge_reg_param, reg_param_beyond
from jobtagger.session import detect_capabilities
from jobtagger.text.features import build_feature_pipeline, vocabulary_of

BASELINE_THRESHOLD = 0.5
# What the feature pipeline, the labels and the split need (``split``: a corpus's own, or null).
MODEL_INPUT_COLUMNS = ("posting_id", "title", "description", "company", "country", "language", "labels", "split")


@dataclass(frozen=True)
class TrainingOutcome:
    model: PipelineModel
    labels: list[str]
    label_space: LabelSpaceReport
    thresholds: Thresholds
    evaluation: EvaluationResult
    baseline: EvaluationResult  # the same scores with one 0.5 threshold, no rules: what thresholds buy
    test_predictions: DataFrame  # cached: posting_id, labels, scores, tags
    test_rows: DataFrame  # cached: the raw test postings (to score a champion on the same rows)
    card: CardData
    training_seconds: float
    split_counts: dict[str, int]
    selection: RegSelection | None = None  # the reg_param choice, when training.reg_grid is set
    feature_selection: FeatureSelection | None = None  # the features choice, when there were candidates

    def release(self) -> None:
        self.test_predictions.unpersist()
        self.test_rows.unpersist()
        self.evaluation.per_label.unpersist()
        self.baseline.per_label.unpersist()


def fit_and_evaluate(
    spark: SparkSession,
    config: JobtaggerConfig,
    labelled: DataFrame,
    run: RunContext,
    *,
    model_version: str,
    parents: Mapping[str, str] | None = None,
    taxonomy_labels: list[str] | None = None,
) -> TrainingOutcome:
    """Split, fit features and classifier on train, thresholds on held-out scores, evaluate on test.

    Held-out scores come from the validation carve, or with ``calibration.folds`` = k from k
    models fitted on the other folds of train (the validation carve then joins train). The
    feature pipeline is fitted once on all of train, so fold models share its vocabulary and IDF.
    """
    with run.step("label_space") as info:
        # A corpus with its own test split must not learn its label space from the test rows.
        # Null-safe: postings without a split of their own (null) are training candidates too.
        source = labelled.where(~F.col("split").eqNullSafe("test")) if "split" in labelled.columns else labelled
        report = build_label_space(
            source, min_support=config.training.min_support, max_labels=config.training.max_labels,
            taxonomy_labels=taxonomy_labels,
        )
        info.update(labels=len(report.labels), below_support=len(report.below_support))
        if not report.labels:
            raise MissingInputError(
                f"no label has {config.training.min_support} or more labelled postings: nothing to train"
            )
    with run.step("split") as info:
        carved = assign_split(labelled, report, config.training.split).persist(StorageLevel.MEMORY_AND_DISK)
        split_counts = {r["split"]: int(r["count"]) for r in carved.groupBy("split").count().collect()}
        folds, folds_reason = resolve_folds(config.calibration, carved, report.labels, split_counts)
        if folds:
            split = carved.withColumn(
                "split", F.when(F.col("split") == "validation", "train").otherwise(F.col("split"))
            ).persist(StorageLevel.MEMORY_AND_DISK)
            moved = split_counts.pop("validation", 0)
            split_counts = {**split_counts, "train": split_counts.get("train", 0) + moved}
            carved.unpersist()
        else:
            split = carved
        info.update(**split_counts, folds=folds, folds_reason=folds_reason)
        for name in ("train", "test") if folds else ("train", "validation", "test"):
            if not split_counts.get(name):
                raise MissingInputError(f"the {name} split is empty: too few labelled postings ({split_counts})")
    train, validation, test = (split.where(F.col("split") == name) for name in ("train", "validation", "test"))

    started = time.perf_counter()
    final_model, final_model_fact = resolve_final_model(
        config, estimator_for(config.training, label_space=report.labels), folds)
    candidates, features_reason = feature_candidates(
        config, train_postings=split_counts.get("train", 0), labels=len(report.labels))
    fits = [
        _fit_features_and_classifier(
            spark, config, candidate, train, validation, report, run, folds=folds, final_model=final_model,
            parents=parents, named=len(candidates) > 1)
        for candidate in candidates
    ]
    feature_selection = None
    if len(fits) > 1:
        with run.step("select_features") as info:
            feature_selection = select_features([c.name for c in candidates], [f.selection for f in fits])
            for n, fit in enumerate(fits):
                if n != feature_selection.chosen:
                    fit.release()
            info.update(chosen=feature_selection.name, candidates={
                name: [round(c.micro_f1, 4), round(c.macro_f1, 4)] for name, c in feature_selection.best()})
    fitted = fits[feature_selection.chosen if feature_selection else 0]
    features, train_features, classifier = fitted.features, fitted.train_features, fitted.classifier
    selected_scores, selection, vocabulary = fitted.scores, fitted.selection, fitted.vocabulary
    training_seconds = time.perf_counter() - started
    labels = list(classifier.labels)
    scorer = PipelineModel(stages=[*features.stages, classifier])

    with run.step("fit_thresholds", strategy=config.calibration.strategy, folds=folds) as info:
        if selected_scores is not None:
            scored_validation = selected_scores  # the chosen candidate's held-out scores
        elif folds:
            folded = assign_folds(train_features, report, folds, seed=config.training.split.seed)
            scored_validation = out_of_fold_scores(
                estimator_for(config.training, label_space=labels), folded, folds=folds, keep=("posting_id",)
            )
        else:
            scored_validation = scorer.transform(validation).select("posting_id", "labels", "scores").persist()
        train_features.unpersist()
        decision, thresholds = fit_decision(
            scored_validation, labels, config.calibration,
            top_candidates=config.tagging.top_candidates, parents=parents,
        )
        scored_validation.unpersist()
        info.update(fallbacks=thresholds.fallback_counts(), rules=thresholds.rule_counts(),
                    global_threshold=thresholds.global_threshold,
                    few_positives_threshold=thresholds.few_positives_threshold)
    model = PipelineModel(stages=[*features.stages, classifier, decision])

    with run.step("evaluate") as info:
        test_rows = test.persist(StorageLevel.MEMORY_AND_DISK)
        predictions = model.transform(test_rows).select("posting_id", "labels", "scores", "tags").persist()
        evaluation = evaluate(predictions, labels, thresholds=dict(zip(thresholds.labels, thresholds.values)))
        baseline = evaluate(_single_threshold(predictions, labels), labels)
        info.update(
            micro_f1=round(evaluation.headline.micro_f1, 4), macro_f1=round(evaluation.headline.macro_f1, 4),
            baseline_micro_f1=round(baseline.headline.micro_f1, 4), baseline_macro_f1=round(baseline.headline.macro_f1, 4),
        )
    split.unpersist()

    with run.step("model_card_data"):
        per_label = evaluation.per_label_rows()
        curves, reliability = card_curves(predictions, decision, labels_for_curves=curve_labels(per_label))
        card = CardData(
            model_version=model_version, headline=evaluation.headline, per_label=per_label, thresholds=thresholds,
            curves=curves, reliability=reliability, top_terms=top_terms(classifier, vocabulary, labels),
            facts={
                "strategy": config.training.strategy,
                "threshold strategy": config.calibration.strategy,
                "thresholds from": (f"out-of-fold scores ({folds} folds)" if folds else "validation scores")
                + f": {folds_reason}",
                "score calibration": config.calibration.score_calibration,
                "final model": final_model_fact,
                "labels": str(len(labels)),
                "labels below min support (not modelled)": str(len(report.below_support)),
                "postings train / validation / test": " / ".join(
                    str(split_counts.get(n, 0)) for n in ("train", "validation", "test")
                ),
                "training seconds": f"{training_seconds:.1f}" + (" (with the reg_param selection)" if selection else "")
                + (f" ({len(fits)} feature candidates)" if feature_selection else ""),
                **(selection.facts() if selection else {"reg_param": f"{config.training.reg_param:g}"}),
                **(feature_selection.facts() if feature_selection else {"features": f"{candidates[0].name}: {features_reason}"}),
                "config fingerprint": config.fingerprint(),
                f"baseline (one {BASELINE_THRESHOLD} threshold) micro-F1 / macro-F1":
                    f"{baseline.headline.micro_f1:.3f} / {baseline.headline.macro_f1:.3f}",
            },
        )
    return TrainingOutcome(
        model=model, labels=labels, label_space=report, thresholds=thresholds, evaluation=evaluation,
        baseline=baseline, test_predictions=predictions, test_rows=test_rows, card=card,
        training_seconds=training_seconds, split_counts=split_counts, selection=selection,
        feature_selection=feature_selection,
    )


def resolve_folds(
    calibration: CalibrationConfig, carved: DataFrame, labels: list[str], split_counts: Mapping[str, int]
) -> tuple[int, str]:
    """How many folds give the held-out scores (0: the validation carve), and why.

    ``calibration.folds: auto`` picks :data:`AUTO_FOLDS` when the carve would leave a modelled label
    with fewer than ``min_positives`` validation positives (that label could only take the pooled
    threshold) and the extra fits are cheap: training postings x labels, what one fit costs about,
    at most ``auto_folds_max_cells``. ``carved`` is the split with its validation carve.
    """
    if calibration.folds != "auto":
        return int(calibration.folds), "set by calibration.folds"
    postings = split_counts.get("train", 0) + split_counts.get("validation", 0)
    if postings * len(labels) > calibration.auto_folds_max_cells:
        return 0, f"auto: {postings} training postings x {len(labels)} labels, over auto_folds_max_cells"
    positives = {
        row["label"]: int(row["count"])
        for row in carved.where(F.col("split") == "validation")
        .select(F.explode("labels").alias("label")).groupBy("label").count().collect()
    }
    short = sum(1 for label in labels if positives.get(label, 0) < calibration.min_positives)
    if not short:
        return 0, f"auto: every label has {calibration.min_positives}+ validation positives"
    return AUTO_FOLDS, f"auto: {short} of {len(labels)} labels under {calibration.min_positives} validation positives"


def resolve_final_model(config: JobtaggerConfig, estimator, folds: int) -> tuple[str, str]:
    """The kept model's kind (``refit`` or ``fold_average``) and the model card's line on it.

    ``training.final_model: fold_average`` applies only with out-of-fold thresholds (``folds``)
    and a linear model; otherwise the model fitted on train is kept, and the line says why."""
    if not folds:
        return "refit", "fitted on train (final_model applies only with calibration folds; validation carve used)"
    if config.training.final_model == "fold_average":
        if averages_linearly(estimator):
            return "fold_average", f"average of the {folds} fold models (their mean logits; no refit on all of train)"
        return "refit", "refitted on all of train (fold_average needs a linear model: hidden_units is set)"
    return "refit", "refitted on all of train at the chosen reg_param"


@dataclass
class _Fitted:
    """One feature candidate's fitted features and classifier, with the held-out record."""

    features: PipelineModel
    vocabulary: list[str] | None  # terms by feature index (None with hashed features)
    train_features: DataFrame  # cached
    classifier: Any
    scores: DataFrame | None  # the chosen strength's held-out scores (cached), with reg_grid
    selection: RegSelection | None

    def release(self) -> None:
        self.train_features.unpersist()
        if self.scores is not None:
            self.scores.unpersist()


def _fit_features_and_classifier(
    spark: SparkSession, config: JobtaggerConfig, candidate: FeatureCandidate, train: DataFrame,
    validation: DataFrame, report: LabelSpaceReport, run: RunContext, *, folds: int, final_model: str,
    parents: Mapping[str, str] | None, named: bool,
) -> _Fitted:
    """Fit the candidate's feature pipeline on train, then the classifier (choosing the strength
    by ``training.reg_grid`` on held-out scores when it is set)."""
    label = {"features": candidate.name} if named else {}
    with run.step("fit_features", **label) as info:
        features = build_feature_pipeline(candidate.features, capabilities=detect_capabilities(spark)).fit(train)
        train_features = features.transform(train).persist(StorageLevel.MEMORY_AND_DISK)
        vocabulary = vocabulary_of(features)
        info.update(vocabulary=len(vocabulary) if vocabulary is not None else None)
    selection, selected_scores = None, None
    with run.step("fit_classifier", strategy=config.training.strategy, labels=len(report.labels),
                  reg_grid=config.training.reg_grid, **label) as info:
        estimator = estimator_for(config.training, label_space=report.labels)
        average = final_model == "fold_average"
        if config.training.reg_grid:
            held_out = features.transform(validation) if not folds else assign_folds(
                train_features, report, folds, seed=config.training.split.seed)
            classifier, selected_scores, selection = _select_reg_param(
                estimator, train_features, held_out, config, folds=folds, labels=report.labels, parents=parents,
                average=average)
            info.update(reg_param=selection.reg_param, reg_tried=[c.reg_param for c in selection.candidates])
        elif average:
            folded = assign_folds(train_features, report, folds, seed=config.training.split.seed)
            fitted = out_of_fold_path(
                estimator, folded, reg_params=[estimator.getRegParam()], folds=folds, keep=("posting_id",),
                average=True,
            )
            classifier, selected_scores = fitted.averaged[0], fitted.scores[0]
        else:
            classifier = estimator.fit(train_features)
        info.update(final_model=final_model)
    return _Fitted(features=features, vocabulary=vocabulary, train_features=train_features, classifier=classifier,
                   scores=selected_scores, selection=selection)


def _select_reg_param(
    estimator, train_features: DataFrame, held_out: DataFrame, config: JobtaggerConfig, *,
    folds: int, labels: list[str], parents: Mapping[str, str] | None, average: bool = False,
) -> tuple[Any, DataFrame, RegSelection]:
    """Fit ``training.reg_grid`` (strongest first, warm-started) and keep the candidate whose
    held-out scores validate best, trying up to ``training.reg_extend`` strengths past the grid's
    edge while the edge wins: ``held_out`` is the validation carve's rows, or with ``folds`` the
    training features with their fold (the kept model is then refitted on all of train at the
    chosen strength, or with ``average`` the mean of that strength's fold models).
    Returns the classifier, its held-out scores (cached) and the selection record."""
    source = f"out-of-fold ({folds} folds)" if folds else "validation"
    rows = None if folds else held_out.persist(StorageLevel.MEMORY_AND_DISK)
    scored: dict[float, DataFrame] = {}
    models: dict[float, Any] = {}  # per strength: the fitted candidate, or the fold models' average
    fold_models: dict[float, list] = {}  # per strength at an end of a path: its fold models
    judged = []

    def fit_and_judge(reg_params: list[float], start: float | None = None) -> RegSelection:
        """Fit the path ``reg_params`` (warm-started from strength ``start``'s models) and judge it."""
        if folds:
            fitted = out_of_fold_path(
                estimator, held_out, reg_params=reg_params, folds=folds, keep=("posting_id",), average=average,
                initial=None if start is None else fold_models[start])
            frames, kept = fitted.scores, fitted.averaged or [None] * len(reg_params)
            fold_models[reg_params[0]], fold_models[reg_params[-1]] = fitted.strongest, fitted.weakest
        else:
            kept = fit_reg_path(estimator, train_features, reg_params,
                                initial=None if start is None else models[start])
            frames = [c.transform(rows).select("posting_id", "labels", "scores").persist() for c in kept]
        for reg, frame, model in zip(reg_params, frames, kept):
            scored[reg], models[reg] = frame, model
            judged.append(judge_reg_param(
                frame, reg, labels, config.calibration, top_candidates=config.tagging.top_candidates,
                parents=parents))
        return choose_reg_param(judged, held_out=source)

    selection = fit_and_judge(list(config.training.reg_grid))
    for _ in range(config.training.reg_extend):
        beyond = reg_param_beyond(selection, min_gain=config.training.reg_extend_min_gain)
        if beyond is None:
            break
        # Continued from the edge that won (the chosen strength): its weights are the nearest start.
        selection = fit_and_judge([beyond], start=selection.reg_param)
    fold_models.clear()
    chosen = selection.reg_param
    for reg, frame in scored.items():
        if reg != chosen:
            frame.unpersist()
    if rows is not None:
        rows.unpersist()
    if folds and not average:
        classifier = estimator.copy({estimator.regParam: chosen}).fit(train_features)
    else:
        classifier = models[chosen]
    return classifier, scored[chosen], selection


def _single_threshold(predictions: DataFrame, labels: list[str]) -> DataFrame:
    """Tags from one global 0.5 threshold on the raw scores, no rules (the comparison baseline)."""
    baseline = MultiLabelDecision(
        labels=labels, thresholds=[BASELINE_THRESHOLD] * len(labels), atLeastOne=False,
        maxLabels=len(labels), topCandidates=0,
    )
    return baseline.transform(predictions.drop("tags", "tag_scores", "candidate_scores"))
