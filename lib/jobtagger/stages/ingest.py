"""Ingest stage: the landing folder of the run date -> ``bronze_postings`` (+ ``quarantine_postings``).

Order of work, so a failure leaves the tables as they were:
read + validate + normalize (a file that cannot be read is quarantined as a file, the rest go on)
-> split good/bad -> dedup in the batch (older versions go to quarantine) -> plan the upsert
against bronze -> reconcile counts -> the gate: shares of bad records and dropped labels, then the
bronze GX suite (critical failure: DataQualityError, nothing written) -> quarantine rows of the
date staged (files written, not committed) -> bronze upsert of the new and changed postings only
(so a rerun of a date commits nothing to bronze) -> quarantine commit (``replace_where run_date``).

The quarantine commit comes last and always happens: it marks the run as complete. A run killed
between the two commits leaves bronze new and the date's quarantine rows old; the next run of the
date sees a bronze commit of a run without its quarantine commit, says so, and redoes the date
(bronze plans as unchanged, quarantine is replaced). Every run holds a writer lease and first
removes the files killed runs left in both tables (:mod:`jobtagger.tables.orphans`).

Both commits carry the run's landing fingerprint (:func:`jobtagger.landing.landing_fingerprint`:
the data files' names, sizes and modification times, the ingest and quality settings, the
taxonomy files) and its counts. A rerun of a date whose last complete run has the same
fingerprint has nothing new to find: it reads no data, commits nothing and reports that run's
counts, reconciled against the date's quarantine rows, with ``outcome = "unchanged"``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark import StorageLevel
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobtagger.config import JobtaggerConfig
from jobtagger.errors import ConfigError, DataQualityError
from jobtagger.faults import fault_point
from jobtagger.ingestion import (
    CHANGED_ACTIONS,
    CONTENT_DUPLICATE,
    DUPLICATE_VERSION,
    RECORD_ID,
    SURPLUS,
    UPSERT_ACTIONS,
    IngestCounts,
    dedup_marks,
    duplicate_versions,
    flag_content_duplicates,
    observed_reasons,
    plan_upsert,
    reason_counts,
    to_bronze_rows,
    to_quarantine_rows,
    validate_records,
    with_content_hash,
    with_record_id,
)
from jobtagger import __version__
from jobtagger.label_resolution import label_lookup
from jobtagger.landing import failed_landing_file, file_stamps, landing_fingerprint, read_landing_files, short_error
from jobtagger.quality import load_in_background, quality_folder, run_suite
from jobtagger.quality.bronze import (
    BRONZE_SUITE,
    batch_share_failures,
    bronze_expectations,
    bronze_summary_columns,
    bronze_summary_frame,
)
from jobtagger.runlog import LOGGER, RunContext
from jobtagger.tables import TableStore, open_table_store
from jobtagger.tables.orphans import Lease, remove_orphans, writer_lease
from jobtagger.tables.schemas import BRONZE_POSTINGS, QUARANTINE_POSTINGS
from jobtagger.taxonomy import Taxonomy, load_taxonomy

# Up to this many ids (older versions, content duplicates), a frame of ids is broadcast to the
# join with the batch, so the batch's texts are not shuffled.
BROADCAST_IDS = 1_000_000
# up to this many quarantine rows are written by one task, as one file: the rejected rows sit in
# every partition of the batch, and a task per partition pays a Python writer for a handful of rows.
# They are shuffled to that task (``repartition``, not ``coalesce``), so the batch is still
# scanned for them by a task per partition, in parallel.
QUARANTINE_ONE_TASK = 200_000
FINGERPRINT_KEY = "jobtagger.landing_fingerprint"  # commit metadata of both tables
COUNTS_KEY = "jobtagger.ingest_counts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--landing-folder", default=None,
        help="read this folder instead of {paths.landing}/{run date} (e.g. an external corpus)",
    )


def landing_folder(config: JobtaggerConfig, run_date: dt.date, override: str | None = None) -> Path:
    return Path(override) if override else Path(config.paths.landing) / run_date.isoformat()


def taxonomy_of(config: JobtaggerConfig) -> Taxonomy | None:
    """The taxonomy, or None when the configured folder has none (every label is then unknown)."""
    try:
        return load_taxonomy(config.paths.taxonomy)
    except ConfigError:
        if Path(config.paths.taxonomy).exists():
            raise
        return None


def run(spark: SparkSession, config: JobtaggerConfig, context: RunContext, args: argparse.Namespace | None) -> dict[str, Any]:
    folder = landing_folder(config, context.run_date, getattr(args, "landing_folder", None))
    with context.showing_progress(tasks=_spark_tasks(spark)):
        return ingest_folder(spark, config, context, folder=folder, store=open_table_store(spark, config.storage))


def _spark_tasks(spark: SparkSession):
    """(tasks done, tasks) of the active Spark stages, for the progress line; None when idle."""
    tracker = spark.sparkContext.statusTracker()

    def tasks() -> tuple[int, int] | None:
        stages = [info for info in map(tracker.getStageInfo, tracker.getActiveStageIds()) if info]
        if not stages:
            return None
        return sum(info.numCompletedTasks for info in stages), sum(info.numTasks for info in stages)

    return tasks


def ingest_folder(
    spark: SparkSession, config: JobtaggerConfig, context: RunContext, *, folder: Path, store: TableStore
) -> dict[str, Any]:
    with writer_lease(store.warehouse, context.run_id) as lease:
        _clean_up_killed_runs(store, context, lease)
        return _ingest(spark, config, context, folder=folder, store=store)


def _ingest(
    spark: SparkSession, config: JobtaggerConfig, context: RunContext, *, folder: Path, store: TableStore
) -> dict[str, Any]:
    ingested_at = context.started_at.replace(tzinfo=None)
    with context.step("fingerprint") as info:
        fingerprint = landing_fingerprint(folder, inputs=_fingerprint_inputs(config))
        previous = _unchanged_run(store, context, fingerprint)
        info.update(unchanged=previous is not None)
    if previous is not None:
        return _report_unchanged(context, folder, *previous)
    context.details["outcome"] = "ingested"

    with context.step("read", folder=str(folder)) as info:
        records, read, quarantined = _read(spark, config, context, folder, ingested_at)
        info.update(records=read, quarantined=sum(quarantined.values()))

    existing = store.read(BRONZE_POSTINGS) if store.exists(BRONZE_POSTINGS) else None
    with context.step("dedup") as info:
        good = records.where(F.col("reason").isNull())
        # older versions and content duplicates, from one pass over the keys
        marks = dedup_marks(good, existing).localCheckpoint()
        marked = {row["mark"]: row["count"] for row in marks.groupBy("mark").count().collect()}
        duplicates = marked.get(SURPLUS, 0)
        batch, older = good, None
        if duplicates:
            surplus = _small_as_broadcast(marks.where(F.col("mark") == SURPLUS).select(RECORD_ID), duplicates)
            batch = good.join(surplus, RECORD_ID, "left_anti")
            older = good.join(surplus, RECORD_ID, "left_semi")
        duplicate_ids = marks.where(F.col("mark") == CONTENT_DUPLICATE).select("posting_id")
        flagged = flag_content_duplicates(batch, _small_as_broadcast(duplicate_ids, marked.get(CONTENT_DUPLICATE, 0)))
        planned = plan_upsert(flagged, existing)
        if existing is not None:
            # its join with bronze runs once, in the job below, for the counts, the gate and the
            # write; without bronze the plan is a projection of the records' checkpoint, cheaper
            # to run again than to store again
            planned = planned.localCheckpoint(eager=False, storageLevel=StorageLevel.MEMORY_AND_DISK)
        # the actions, the label counts and the quality gate's summary, in one query
        stats = planned.agg(
            *[F.count_if(F.col("action") == action).alias(action) for action in UPSERT_ACTIONS],
            F.sum(F.size(F.coalesce("unknown_labels", F.array()))).alias("_unknown_labels"),
            F.sum(F.size(F.coalesce("labels", F.array()))).alias("_labels"),
            *bronze_summary_columns(config, run_date=context.run_date),
        ).first()
        actions = {action: stats[action] for action in UPSERT_ACTIONS if stats[action]}
        bronze_rows = sum(actions.values())
        info.update(actions)
    if duplicates:
        quarantined = {**quarantined, DUPLICATE_VERSION: duplicates}
    unknown_total = int(stats["_unknown_labels"] or 0)
    labels_total = int(stats["_labels"] or 0)
    dropping = config.ingest.unknown_labels == "drop"
    counts = IngestCounts(
        read=read,
        quarantined=quarantined,
        bronze=bronze_rows,
        actions=actions,
        unknown_labels=unknown_total,
        labels_given=labels_total + (unknown_total if dropping else 0),
        labels_dropped=unknown_total if dropping else 0,
    )
    context.counts.update(counts.as_dict())
    context.log("counts", **counts.as_dict())
    counts.check()

    with context.step("quality") as info:
        over = batch_share_failures(
            bad_record_share=counts.bad_record_share, dropped_label_share=counts.dropped_label_share, config=config
        )
        report = run_suite(
            bronze_summary_frame(stats.asDict()),
            suite_name=BRONZE_SUITE,
            expectations=bronze_expectations(config),
            results_dir=quality_folder(config, context.job, context.run_date),
            run_id=context.run_id,
        )
        info.update(passed=report.passed and not over, warnings=len(report.warnings), over_limits=over)
    context.details["quality"] = {**report.as_dict(), "over_limits": over}
    if over:
        raise DataQualityError(f"ingest gate failed, nothing written: {'; '.join(over)}")
    report.raise_for_critical()
    bad = records.where(F.col("reason").isNotNull()).select("run_date", "run_id", "source_file", "reason", "raw_payload")
    rejected = bad if older is None else bad.unionByName(duplicate_versions(older))
    metadata = {**context.commit_metadata(), FINGERPRINT_KEY: fingerprint, COUNTS_KEY: json.dumps(counts.as_record())}
    commits = _write(store, context, rejected, planned, counts, quarantined_at=ingested_at, metadata=metadata)
    context.details["commits"] = commits
    return {"landing_folder": str(folder), "outcome": "ingested", "commits": commits, "quality": context.details["quality"]}


def _fingerprint_inputs(config: JobtaggerConfig) -> dict[str, Any]:
    """What an ingest's result depends on besides the landing files."""
    return {
        "ingest": config.ingest.model_dump(mode="json"),
        "quality": config.quality.model_dump(mode="json"),
        "taxonomy": file_stamps(Path(config.paths.taxonomy)),
        "version": __version__,
    }


def _unchanged_run(store: TableStore, context: RunContext, fingerprint: str) -> tuple[str, IngestCounts] | None:
    """(run id, counts) of the last complete ingest of the run date when it had ``fingerprint``
    and its quarantine rows are all there; else None (the date is ingested again)."""
    if not store.exists(QUARANTINE_POSTINGS) or context.details.get("redoes_run"):
        return None
    day = context.run_date.isoformat()
    last = next(
        (entry for entry in store.history(QUARANTINE_POSTINGS, limit=100)
         if entry.get("jobtagger.job") == "ingest" and entry.get("jobtagger.run_date") == day),
        None,
    )
    if last is None or last.get(FINGERPRINT_KEY) != fingerprint or not last.get(COUNTS_KEY):
        return None
    counts = IngestCounts.from_record(json.loads(last[COUNTS_KEY])).as_rerun()
    kept = store.read(QUARANTINE_POSTINGS).where(F.col("run_date") == F.lit(context.run_date)).count()
    if kept != counts.quarantined_total:
        LOGGER.warning(
            "ingest: %s has %d quarantine rows, its last run %s recorded %d; ingesting the date again",
            day, kept, last.get("jobtagger.run_id"), counts.quarantined_total,
        )
        return None
    return str(last.get("jobtagger.run_id")), counts


def _report_unchanged(context: RunContext, folder: Path, previous_run: str, counts: IngestCounts) -> dict[str, Any]:
    """The outcome of a rerun that found the landing files of the last complete run unchanged."""
    counts.check()
    context.counts.update(counts.as_dict())
    context.log("counts", **counts.as_dict())
    LOGGER.info("ingest: landing files of %s unchanged since run %s; nothing to commit", context.run_date, previous_run)
    context.details.update(outcome="unchanged", same_as_run=previous_run, commits={})
    return {"landing_folder": str(folder), "outcome": "unchanged", "same_as_run": previous_run, "commits": {}}


def _read(
    spark: SparkSession, config: JobtaggerConfig, context: RunContext, folder: Path, ingested_at: dt.datetime
) -> tuple[DataFrame, int, dict[str, int]]:
    """Validated records, records read and quarantined counts by reason. The records are kept by
    a local checkpoint, not a cache: the plan that built them (the readers, the text clean-up, the
    label lookup) is then not planned again and shipped with every later job. Their
    blocks are freed with the frame.
    A file that fails only once its data is read is set aside and the folder read again."""
    unreadable: dict[str, str] = {}
    lookup = label_lookup(taxonomy_of(config))
    while True:
        landing = read_landing_files(spark, folder, config=config.ingest, unreadable=unreadable)
        raw = with_record_id(landing.frame)
        validated = with_content_hash(validate_records(raw, config=config.ingest, lookup=lookup)).withColumns(
            {
                "run_date": F.lit(context.run_date),
                "run_id": F.lit(context.run_id),
                "ingested_at": F.lit(ingested_at).cast("timestamp"),
            }
        )
        observed, observation = observed_reasons(validated)
        # the gate's GX is imported while the driver waits on this job, not while it plans it:
        # the import would hold the GIL that each of the planning's py4j calls waits for
        load_in_background()
        try:
            records = observed.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
            # The validation is a projection (one row out per record read), so the records read
            # are the checkpointed rows, counted as the checkpoint job wrote them: not by reading
            # the files again. The reconciliation then checks that dedup and the writes lose nothing.
            by_reason = reason_counts(observation)
            if by_reason is None:
                by_reason = {row["reason"]: row["count"] for row in records.groupBy("reason").count().collect()}
            read = sum(by_reason.values())
            quarantined = {reason: count for reason, count in by_reason.items() if reason is not None}
            break
        except (Py4JJavaError, PySparkException) as exc:
            name = failed_landing_file(exc, folder)
            if name is None or name in landing.unreadable:
                raise
            unreadable[name] = short_error(exc)
    for name, cause in sorted(landing.unreadable.items()):
        LOGGER.warning("ingest: landing file %s could not be read, quarantined as a file: %s", folder / name, cause)
        context.log("unreadable_file", file=str(folder / name), cause=cause)
    context.details["unreadable_files"] = dict(landing.unreadable)
    return records, read, quarantined


def _small_as_broadcast(ids: DataFrame, rows: int) -> DataFrame:
    return F.broadcast(ids) if rows <= BROADCAST_IDS else ids


def _clean_up_killed_runs(store: TableStore, context: RunContext, lease: Lease) -> None:
    """Remove what killed runs left in bronze and quarantine; name a run of this date that was
    killed between its two commits (this run redoes the date)."""
    with context.step("clean_up") as info:
        for name in (BRONZE_POSTINGS, QUARANTINE_POSTINGS):
            removed = remove_orphans(store.path(name), lease)
            if removed:
                info[f"{name}_files_removed"] = len(removed)
        interrupted = _interrupted_run(store, context.run_date)
        if interrupted:
            info["redoes_run"] = interrupted
            context.details["redoes_run"] = interrupted
            LOGGER.warning(
                "ingest: run %s of %s committed bronze but not its quarantine rows (killed?); this run redoes the date",
                interrupted, context.run_date,
            )


def _interrupted_run(store: TableStore, run_date: dt.date, *, depth: int = 100) -> str | None:
    """The run id of the latest ingest of ``run_date`` with a bronze commit but no quarantine
    commit (the quarantine commit is a run's last), or None."""
    if not store.exists(BRONZE_POSTINGS):
        return None
    day = run_date.isoformat()

    def runs(name: str) -> list[str]:
        if not store.exists(name):
            return []
        return [
            entry.get("jobtagger.run_id") for entry in store.history(name, limit=depth)
            if entry.get("jobtagger.job") == "ingest" and entry.get("jobtagger.run_date") == day
        ]

    bronze_runs = runs(BRONZE_POSTINGS)
    if not bronze_runs:
        return None
    return None if bronze_runs[0] in set(runs(QUARANTINE_POSTINGS)) else bronze_runs[0]


def _write(
    store: TableStore,
    context: RunContext,
    rejected: DataFrame,
    planned: DataFrame,
    counts: IngestCounts,
    *,
    quarantined_at: dt.datetime,
    metadata: dict[str, str],
) -> dict[str, Any]:
    """Quarantine files staged, bronze committed, quarantine committed: the last commit marks the
    run complete (see the module docstring)."""
    commits: dict[str, Any] = {}
    fault_point("ingest.write")
    exists = store.exists(QUARANTINE_POSTINGS)
    with context.step("stage_quarantine", rows=counts.quarantined_total):
        rows = to_quarantine_rows(rejected, quarantined_at=quarantined_at)
        quarantine = store.stage(
            rows.repartition(1) if counts.quarantined_total <= QUARANTINE_ONE_TASK else rows,
            QUARANTINE_POSTINGS,
            mode="replace_where" if exists else "error",
            replace_where=f"run_date = '{context.run_date.isoformat()}'" if exists else None,
            partition_by=["run_date"],
            metadata=metadata,
        )
    with quarantine:
        fault_point("ingest.quarantine_staged")
        changed = counts.actions.get("insert", 0) + counts.actions.get("update", 0)
        with context.step("write_bronze", rows=changed):
            if changed:
                result = store.merge(
                    to_bronze_rows(planned.where(F.col("action").isin(*CHANGED_ACTIONS))),
                    BRONZE_POSTINGS,
                    keys=["posting_id"],
                    metadata=metadata,
                )
                commits[BRONZE_POSTINGS] = result.version
        fault_point("ingest.bronze_committed")
        with context.step("commit_quarantine", rows=counts.quarantined_total):
            commits[QUARANTINE_POSTINGS] = quarantine.commit().version
    fault_point("ingest.committed")
    return commits
