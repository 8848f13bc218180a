"""``jobtagger train``: labelled bronze postings -> features + classifier -> per-label thresholds ->
test metrics -> model card -> registry with champion/challenger promotion.

The table-free core, shared with ``jobtagger evaluate``, is :func:`jobtagger.training.fit_and_evaluate`.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobtagger.config import JobtaggerConfig
from jobtagger.errors import MissingInputError
from jobtagger.metrics import evaluate
from jobtagger.model_card import CardData, write_model_card
from jobtagger.registry import ModelRecord, ModelRegistry, decide_promotion
from jobtagger.runlog import RunContext
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS
from jobtagger.taxonomy import load_taxonomy
from jobtagger.training import MODEL_INPUT_COLUMNS, TrainingOutcome, fit_and_evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="make the new model current even if it is worse than the champion"
    )


def new_model_version(context: RunContext) -> str:
    return f"m{context.run_date:%Y%m%d}-{context.run_id}"


def run(spark: SparkSession, config: JobtaggerConfig, context: RunContext, args: argparse.Namespace | None) -> dict[str, Any]:
    store = open_table_store(spark, config.storage)
    registry = ModelRegistry(store)
    force = bool(getattr(args, "force", False))
    with context.step("read") as info:
        if not store.exists(BRONZE_POSTINGS):
            raise MissingInputError(f"table {BRONZE_POSTINGS} does not exist: run 'jobtagger ingest' first")
        bronze_version = store.version(BRONZE_POSTINGS)
        labelled = (
            store.read(BRONZE_POSTINGS, version=bronze_version)
            .where(F.col("labels").isNotNull() & (F.size("labels") > 0) & ~F.col("is_content_duplicate"))
            .select(*MODEL_INPUT_COLUMNS)
            .dropDuplicates(["posting_id"])
        )
        info.update(bronze_version=bronze_version)
    parents = _taxonomy_parents(config)
    version = new_model_version(context)
    outcome = fit_and_evaluate(spark, config, labelled, context, model_version=version, parents=parents)
    try:
        return _register(spark, config, context, registry, outcome, version=version, force=force,
                         bronze_version=bronze_version)
    finally:
        outcome.release()


def _register(
    spark: SparkSession,
    config: JobtaggerConfig,
    context: RunContext,
    registry: ModelRegistry,
    outcome: TrainingOutcome,
    *,
    version: str,
    force: bool,
    bronze_version: int,
) -> dict[str, Any]:
    headline = outcome.evaluation.headline
    champion = registry.current()
    with context.step("compare_champion", champion=champion.model_version if champion else None) as info:
        champion_scores = None
        if champion is not None:
            champion_model = registry.load_model(spark, champion)
            champion_eval = evaluate(
                champion_model.transform(outcome.test_rows).select("posting_id", "labels", "scores", "tags"),
                list(champion_model.stages[-2].labels),
                scores_col=None,
            )
            champion_scores = (champion_eval.headline.micro_f1, champion_eval.headline.macro_f1)
            champion_eval.per_label.unpersist()
            info.update(champion_micro_f1=round(champion_scores[0], 4), champion_macro_f1=round(champion_scores[1], 4))
        decision = decide_promotion(
            challenger=(headline.micro_f1, headline.macro_f1), champion=champion_scores,
            champion_version=champion.model_version if champion else None,
            tolerance=config.promotion.tolerance, force=force,
        )
        info.update(status=decision.status, reason=decision.reason)
    with context.step("save_model", path=registry.model_path(version)):
        registry.save_model(outcome.model, version)
        card_path = write_model_card(Path(registry.model_dir(version)), _with_status(outcome.card, decision.reason))
    with context.step("register", version=version):
        record = ModelRecord(
            model_version=version, run_id=context.run_id, run_date=context.run_date,
            config_fingerprint=config.fingerprint(), strategy=config.training.strategy,
            threshold_strategy=config.calibration.strategy, labels=outcome.labels,
            path=registry.model_path(version), micro_f1=headline.micro_f1, macro_f1=headline.macro_f1,
            metrics={
                **{k: float(v) for k, v in headline.as_dict().items() if v is not None},
                **outcome.thresholds.labels_per_posting_metrics(),
                **(outcome.selection.metrics() if outcome.selection else {}),
                **(outcome.feature_selection.metrics() if outcome.feature_selection else {}),
            },
            training_table=BRONZE_POSTINGS, training_table_version=bronze_version,
            training_seconds=round(outcome.training_seconds, 3),
        )
        record = registry.register(
            record, decision,
            thresholds=outcome.thresholds.to_frame(spark, model_version=version),
            metrics=outcome.evaluation.to_frame(spark, model_version=version, split="test"),
            metadata=context.commit_metadata(),
        )
    context.counts.update(
        labels=len(outcome.labels), **{f"{k}_postings": v for k, v in outcome.split_counts.items()},
        micro_f1=round(headline.micro_f1, 4), macro_f1=round(headline.macro_f1, 4),
    )
    return {
        "model_version": version,
        "promotion_status": record.status,
        "promotion_reason": record.status_reason,
        "model_path": record.path,
        "model_card": str(card_path),
        "metrics": headline.as_dict(),
        "baseline_metrics": outcome.baseline.headline.as_dict(),
        "threshold_fallbacks": outcome.thresholds.fallback_counts(),
        "threshold_rules": outcome.thresholds.rule_counts(),
        "thresholds_for_labels_per_posting": outcome.thresholds.labels_per_posting,
        "labels_below_support": outcome.label_space.below_support,
    }


def _with_status(card: CardData, reason: str) -> CardData:
    facts = {**card.facts, "promotion": reason, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    return CardData(**{**card.__dict__, "facts": facts})


def _taxonomy_parents(config: JobtaggerConfig) -> dict[str, str]:
    """child -> parent from the taxonomy; no taxonomy folder means no parent rule."""
    if not Path(config.paths.taxonomy).exists():
        return {}
    taxonomy = load_taxonomy(config.paths.taxonomy)
    return {label: parent for label, parent in taxonomy.parents.items() if parent}
