"""Tag stage: score bronze postings with the current model, gate on data quality, publish gold.

``jobtagger tag --run-date D`` tags the postings ingested on D; ``--backfill`` (or
``tagging.mode=backfill``) retags every posting in bronze, e.g. after a new model is promoted.
Gold holds each posting's current tags exactly once, under the bronze run_date it was last
ingested on; earlier states are Delta versions, never extra rows. Gold is written in ONE commit
per run: a daily run replaces the ``run_date = D`` partition and, in the same commit, removes its
postings' rows from other dates (a posting sent again on D moves to D); a backfill replaces the
whole table (each posting once, under its latest bronze run_date). Another run committing to what
this one replaces after it planned makes the commit fail (ConcurrentWriteError, exit 6, nothing
published); a run whose app transaction (same date, later start) is already in gold commits nothing.
The scoring pass stages the gold rows (delta-rs: writes the data files, uncommitted) and profiles
them for the gate (:mod:`jobtagger.quality.gold_profile`), the gate checks that profile against
the bronze rows Spark observed as the same pass read them, and the commit publishes the staged
rows. Nothing is published when the gate fails; the GX results (JSON + Data Docs) stay under
``<warehouse>/<quality.results_dir>/tag/<run_date>/``. A run holds a writer lease and first removes
the gold files that killed runs left uncommitted (:mod:`jobtagger.tables.orphans`).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any, Literal

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobtagger.calibration import MultiLabelDecision
from jobtagger.config import JobtaggerConfig
from jobtagger.errors import DataQualityError, JobtaggerError, MissingInputError
from jobtagger.faults import fault_point
from jobtagger.quality import quality_folder
from jobtagger.quality.drift import tag_shares
from jobtagger.quality.gold import check_gold
from jobtagger.quality.gold_profile import InputSummary, count_duplicate_ids, observed_input
from jobtagger.registry import load_current_model
from jobtagger.runlog import RunContext
from jobtagger.tables import MappedRows, StagedWrite, TableStore, Txn, open_table_store
from jobtagger.tables.catalog import register_gold
from jobtagger.tables.orphans import remove_orphans, writer_lease
from jobtagger.tables.schemas import BRONZE_POSTINGS, GOLD_POSTING_TAGS
from jobtagger.gold_rows import latest_posting_rows, score_gold_rows

TagMode = Literal["daily", "backfill"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backfill", action="store_true",
        help="retag every posting in bronze with the current model (same as --set tagging.mode=backfill)",
    )


def run(spark: SparkSession, config: JobtaggerConfig, context: RunContext, args: argparse.Namespace) -> dict[str, Any]:
    mode: TagMode = "backfill" if getattr(args, "backfill", False) else config.tagging.mode
    store = open_table_store(spark, config.storage)
    current = load_current_model(spark, store)
    with writer_lease(store.warehouse, context.run_id) as lease:  # files killed runs left in gold go first
        removed = remove_orphans(store.path(GOLD_POSTING_TAGS), lease)
        if removed:
            context.log("clean_up", gold_files_removed=len(removed))
        return tag_postings(spark, config, context, store=store, model=current.model, model_version=current.version,
                            mode=mode, trained_through=current.record.run_date)


def tag_postings(
    spark: SparkSession,
    config: JobtaggerConfig,
    context: RunContext,
    *,
    store: TableStore,
    model: PipelineModel,
    model_version: str,
    mode: TagMode,
    trained_through: dt.date | None = None,
) -> dict[str, Any]:
    """Score, gate and publish with a given fitted model (the stage passes the registry's current one,
    and the run date of its training run as ``trained_through``: see :func:`_previous_shares`)."""
    decision = _decision_stage(model)
    decision.set(decision.topCandidates, config.tagging.top_candidates)

    with context.step("read", mode=mode) as info:
        postings, bronze_version = _postings_to_tag(store, context.run_date, mode=mode)
        postings, observation = observed_input(postings)  # summarized as the scoring pass reads them
        info.update(bronze_version=bronze_version)

    tagged_at = dt.datetime.now(dt.timezone.utc)
    with context.step("score", model_version=model_version) as info:
        scored = score_gold_rows(postings, model, model_version=model_version, run_id=context.run_id, tagged_at=tagged_at)
        staged = _stage(store, scored.rows, context, mode=mode, model_version=model_version, bronze_version=bronze_version)
        inputs = InputSummary.of_observation(observation)
        info.update(rows=inputs.rows, scorer=scored.scorer, fallback_reason=scored.fallback_reason,
                    staged=store.engine_name)

    with staged:
        fault_point("tag.staged")
        if inputs.rows == 0:
            where = "bronze" if mode == "backfill" else f"bronze for run date {context.run_date}"
            raise MissingInputError(f"no postings to tag in {where}")
        with context.step("quality") as info:
            outcome = check_gold(
                spark,
                scored.profile,
                inputs,
                duplicate_ids=count_duplicate_ids(scored.profile, staged.rows),
                labels=decision_labels(decision),
                at_least_one=decision.getOrDefault(decision.atLeastOne),
                previous_shares=_previous_shares(store, context.run_date, mode=mode, model_version=model_version,
                                                 trained_through=trained_through),
                drift_bound=config.tagging.drift_bound,
                drift_min_share=config.tagging.drift_min_share,
                drift_min_z=config.tagging.drift_min_z,
                results_dir=quality_folder(config, "tag", context.run_date),
                run_id=context.run_id,
            )
            context.details["quality"] = [report.as_dict() for report in outcome.reports]  # kept on failure too
            info.update(passed=outcome.passed, drift_checked=outcome.drift_checked)
        if not outcome.passed:
            raise DataQualityError(
                f"gold data-quality gate failed, nothing published: {outcome.reason} "
                f"(see {quality_folder(config, 'tag', context.run_date)})"
            )

        with context.step("publish") as info:
            result = staged.commit(metadata={"jobtagger.rows": str(inputs.rows)})
            info.update(committed=result.committed, table_version=result.version)

    with context.step("register") as info:
        info["tables"] = register_gold(spark, store)

    context.counts.update(tagged=inputs.rows)
    return {
        "mode": mode,
        "model_version": model_version,
        "bronze_version": bronze_version,
        "gold_version": result.version,
        "committed": result.committed,
    }


def _decision_stage(model: PipelineModel) -> MultiLabelDecision:
    decisions = [stage for stage in model.stages if isinstance(stage, MultiLabelDecision)]
    if len(decisions) != 1:
        raise JobtaggerError(f"the current model must hold one MultiLabelDecision stage, found {len(decisions)}")
    return decisions[0]


def decision_labels(decision: MultiLabelDecision) -> list[str]:
    """Every tag the decision can emit: the model's labels and the ancestors it adds."""
    parents = decision.getOrDefault(decision.parents) or {}
    return sorted(set(decision.getOrDefault(decision.labels)) | set(parents.values()))


def _postings_to_tag(store: TableStore, run_date: dt.date, *, mode: str) -> tuple[DataFrame, int]:
    """The bronze rows to score, read from one pinned bronze snapshot (and that version)."""
    if not store.exists(BRONZE_POSTINGS):
        raise MissingInputError(f"table {BRONZE_POSTINGS!r} does not exist: run ingest first")
    version = store.version(BRONZE_POSTINGS)
    bronze = store.read(BRONZE_POSTINGS, version=version)
    if mode == "backfill":
        return latest_posting_rows(bronze), version
    return bronze.where(F.col("run_date") == F.lit(run_date)), version


def _previous_shares(store: TableStore, run_date: dt.date, *, mode: str, model_version: str,
                     trained_through: dt.date | None) -> DataFrame | None:
    """Tag shares of the run to compare with; None when there is none.

    Daily: the latest earlier date tagged by the same model on postings it was not trained on
    (dates after ``trained_through``). A model scores its own training postings more confidently
    than new ones, and a new model may shift shares by design (its promotion gate judged that),
    so neither is a baseline for the drift of a day. Backfill: the whole current gold table."""
    if not store.exists(GOLD_POSTING_TAGS):
        return None
    gold = store.read(GOLD_POSTING_TAGS)
    if mode == "daily":
        earlier = [day for day in store.partition_values(GOLD_POSTING_TAGS, "run_date")
                   if day is not None and day < run_date and (trained_through is None or day > trained_through)]
        if not earlier:
            return None
        gold = gold.where(F.col("run_date") == F.lit(max(earlier))).where(F.col("model_version") == model_version)
        if gold.limit(1).count() == 0:
            return None
    elif gold.limit(1).count() == 0:
        return None
    return tag_shares(gold)


def _stage(store: TableStore, gold: MappedRows, context: RunContext, *, mode: str, model_version: str,
           bronze_version: int) -> StagedWrite:
    """The gold rows computed once and staged for ONE commit (with delta-rs the scoring pass writes
    the data files, which stay invisible until the gate passes). The Txn version is the run's start
    time: a retried commit of this run is a no-op and a run that started before the last published
    one of the same scope cannot overwrite it."""
    scope = "backfill" if mode == "backfill" else context.run_date.isoformat()
    metadata = {
        **context.commit_metadata(),
        "jobtagger.tag.mode": mode,
        "jobtagger.model_version": model_version,
        "jobtagger.bronze_version": str(bronze_version),
    }
    txn = Txn(f"jobtagger.tag:{scope}", int(context.started_at.timestamp() * 1000))
    if mode == "backfill":
        return store.stage(gold, GOLD_POSTING_TAGS, mode="overwrite", partition_by=["run_date"], txn=txn,
                           metadata=metadata)
    return store.stage(gold, GOLD_POSTING_TAGS, mode="replace_where",
                       replace_where=f"run_date = '{context.run_date.isoformat()}'", partition_by=["run_date"],
                       txn=txn, metadata=metadata, replace_keys=["posting_id"])

