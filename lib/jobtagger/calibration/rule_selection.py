"""Choose each label's threshold rule by an honest estimate on validation scores: cross-fitting.

Validation rows are split in two halves per label, stratified (positives and negatives each
alternate between the halves in a random order). Every candidate rule fits its threshold on one
half and is measured on the other, both ways round; the counts of both measurements are summed
into one cross-fitted F-beta per label and rule. The rule with the best figure wins (ties go to
the earlier rule of :data:`SELECTABLE_RULES`), if it beats the first rule by more than one
standard error of the first rule's figure (the one-standard-error rule of model selection: a
noisy estimate does not move a label off the default); otherwise the first rule stays. A label
with fewer than ``select_min_positives`` validation positives keeps the first rule, its figures
still recorded: too few positives per half to tell the rules apart. Measuring a threshold on the rows it was searched
on would always favour the F-best threshold; the held-out half shows when it overfits (few
positives, a hard label) and a rank fallback or the global threshold generalizes better.

All of it is Spark work on the exploded scores: two per-label searches (one per half) and one
aggregation of the candidate thresholds joined to the held-out half. Only one row per label and
rule reaches the driver.

Labels with too few validation positives for a threshold of their own share one, chosen the same
way for the group (:func:`select_few_positives_threshold`): the global micro-F1 threshold of all
labels, or one pooled over the few-positive labels only (their scores sit lower or higher than
the well-supported labels' do), whichever has the better cross-fitted micro-F1 over the group,
again with the one-standard-error rule in favour of the global threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.sql import DataFrame, Row, Window
from pyspark.sql import functions as F

from jobtagger.calibration.candidates import RuleName, label_summaries, rule_cut
from jobtagger.calibration.pooled import global_micro_f1_threshold, pooled_cells
from jobtagger.config import CalibrationConfig

# Candidates of the "select" rule, in order of preference on equal figures.
SELECTABLE_RULES: tuple[RuleName, ...] = ("scut_rank", "scut", "global")
SELECTION_SEED = 17
# Candidates of the threshold shared by the labels with few validation positives; the first is kept
# unless the other wins by more than one standard error.
FEW_POSITIVES_RULES: tuple[RuleName, ...] = ("global", "pooled_few")


@dataclass(frozen=True)
class RuleChoice:
    """The rule chosen for one label and every candidate's cross-fitted F-beta on validation."""

    rule: RuleName
    validation_f: Mapping[str, float]


def select_rules(
    exploded: DataFrame, config: CalibrationConfig, *, seed: int = SELECTION_SEED, halves: DataFrame | None = None
) -> dict[str, RuleChoice]:
    """label -> the candidate rule with the best cross-fitted F-beta on the exploded validation rows.

    ``halves``: :func:`with_halves` of ``exploded``, when the caller shares one split between
    selections (it then owns the cache); computed here otherwise."""
    if config.strategy not in ("f1", "f_beta"):
        raise ValueError(f"rule selection measures F-beta: strategy f1 or f_beta needed, got {config.strategy!r}")
    beta = 1.0 if config.strategy == "f1" else config.beta
    with _split(exploded, halves, seed=seed) as halves:
        cuts = []
        for half in (0, 1):
            part = halves.where(F.col("half") == half)
            global_threshold = global_micro_f1_threshold(pooled_cells(part))
            for row in label_summaries(part, config, global_threshold).collect():
                for rule in SELECTABLE_RULES:
                    # fitted on this half, measured on the other
                    cuts.append((row["label"], 1 - half, rule, rule_cut(rule, row, config, global_threshold).threshold))
        cut_frame = halves.sparkSession.createDataFrame(cuts, "label string, half int, rule string, threshold double")
        measured = _held_out_counts(halves, cut_frame, by=["label", "rule"])
    figures: dict[str, dict[str, float]] = {}
    positives: dict[str, int] = {}
    for row in measured:
        figures.setdefault(row["label"], {})[row["rule"]] = _f_beta(row["tp"], row["fp"], row["positives"], beta)
        positives[row["label"]] = int(row["positives"])
    return {
        label: RuleChoice(chosen_rule(by_rule, positives[label], min_positives=config.select_min_positives), by_rule)
        for label, by_rule in figures.items()
    }


@dataclass(frozen=True)
class FewPositivesChoice:
    """The threshold shared by the few-positive labels, its rule and each candidate's cross-fitted
    micro-F1 over those labels."""

    rule: RuleName
    threshold: float
    validation_f: Mapping[str, float]


def select_few_positives_threshold(
    exploded: DataFrame, few_labels: Sequence[str], *, global_threshold: float, seed: int = SELECTION_SEED,
    halves: DataFrame | None = None,
) -> FewPositivesChoice:
    """The threshold of the labels in ``few_labels``: ``global_threshold`` or the micro-F1 threshold
    pooled over their own rows, by cross-fitted micro-F1 over their rows (see the module docstring).
    ``halves`` as in :func:`select_rules`."""
    few = F.col("label").isin(list(few_labels))
    with _split(exploded, halves, seed=seed) as halves:
        cuts = []
        for half in (0, 1):
            part = halves.where(F.col("half") == half)
            cuts.append((1 - half, "global", global_micro_f1_threshold(pooled_cells(part))))
            cuts.append((1 - half, "pooled_few", pooled_threshold(part, few_labels)))
        cut_frame = halves.sparkSession.createDataFrame(cuts, "half int, rule string, threshold double")
        measured = _held_out_counts(halves.where(few), cut_frame, by=["rule"])
        pooled = pooled_threshold(exploded, few_labels)
    figures = {row["rule"]: _f_beta(row["tp"], row["fp"], row["positives"], 1.0) for row in measured}
    positives = max((int(row["positives"]) for row in measured), default=0)
    rule = chosen_rule(figures, positives, min_positives=1, order=FEW_POSITIVES_RULES)
    return FewPositivesChoice(rule, pooled if rule == "pooled_few" else global_threshold, figures)


def few_positives_threshold(
    exploded: DataFrame, few_labels: Sequence[str], config: CalibrationConfig, *, global_threshold: float,
    halves: DataFrame | None = None,
) -> FewPositivesChoice:
    """The threshold ``calibration.few_positives_rule`` gives the labels in ``few_labels``
    (``halves`` as in :func:`select_rules`)."""
    if not few_labels or config.few_positives_rule == "global":
        return FewPositivesChoice("global", global_threshold, {})
    if config.few_positives_rule == "pooled_few":
        return FewPositivesChoice("pooled_few", pooled_threshold(exploded, few_labels), {})
    return select_few_positives_threshold(exploded, few_labels, global_threshold=global_threshold, halves=halves)


@contextmanager
def _split(exploded: DataFrame, halves: DataFrame | None, *, seed: int) -> Iterator[DataFrame]:
    """``halves`` when the caller shares one (and owns its cache); otherwise :func:`with_halves` of
    ``exploded``, cached for the block and released after it."""
    if halves is not None:
        yield halves
        return
    owned = with_halves(exploded, seed=seed).persist()
    try:
        yield owned
    finally:
        owned.unpersist()


def _held_out_counts(halves: DataFrame, cut_frame: DataFrame, *, by: list[str]) -> list[Row]:
    """tp, fp and positives per ``by`` of each candidate threshold in ``cut_frame`` (fitted on one
    half, keyed by the OTHER half) measured on the rows of the half it is keyed by."""
    keys = [name for name in ("label", "half") if name in cut_frame.columns]
    passes = F.col("score") >= F.col("threshold")
    return (
        halves.join(F.broadcast(cut_frame), keys)
        .groupBy(*by)
        .agg(
            F.sum((passes & F.col("is_positive")).cast("long")).alias("tp"),
            F.sum((passes & ~F.col("is_positive")).cast("long")).alias("fp"),
            F.sum(F.col("is_positive").cast("long")).alias("positives"),
        )
        .collect()
    )


def pooled_threshold(exploded: DataFrame, labels: Sequence[str]) -> float:
    """The micro-F1 threshold pooled over the exploded rows of ``labels`` only."""
    return global_micro_f1_threshold(pooled_cells(exploded.where(F.col("label").isin(list(labels)))))


def chosen_rule(
    validation_f: Mapping[str, float], positives: int, *, min_positives: int,
    order: Sequence[RuleName] = SELECTABLE_RULES,
) -> RuleName:
    """The best rule by ``validation_f`` when it beats the first rule of ``order`` by more than one
    standard error (binomial, over ``positives``); the first rule otherwise."""
    first = order[0]
    if positives < min_positives or first not in validation_f:
        return first
    best = best_rule(validation_f, order)
    baseline = validation_f[first]
    standard_error = math.sqrt(baseline * (1.0 - baseline) / positives)
    return best if validation_f[best] > baseline + standard_error else first


def best_rule(validation_f: Mapping[str, float], order: Sequence[RuleName] = SELECTABLE_RULES) -> RuleName:
    """The rule with the highest figure; among equal figures the earliest in ``order``."""
    present = [rule for rule in order if rule in validation_f]
    top = max(validation_f[rule] for rule in present)
    return next(rule for rule in present if validation_f[rule] >= top - 1e-12)


def with_halves(exploded: DataFrame, *, seed: int) -> DataFrame:
    """``exploded`` with ``half`` (0/1): per label, positives and negatives each alternate halves.

    The first positive goes to half 0 and the first negative to half 1, so a label with one row
    of each has a row in both halves."""
    order = Window.partitionBy("label", "is_positive").orderBy("_half_key")
    rank = F.row_number().over(order) + F.col("is_positive").cast("int")
    return (
        exploded.withColumn("_half_key", F.rand(seed))
        .withColumn("half", (rank % 2).cast("int"))
        .drop("_half_key")
    )


def _f_beta(tp: int, fp: int, positives: int, beta: float) -> float:
    b2 = beta * beta
    denominator = tp + fp + b2 * positives
    return (1 + b2) * tp / denominator if denominator else 0.0
