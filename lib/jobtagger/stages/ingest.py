"""Ingest stage: the landing folder of the run date -> ``bronze_postings`` (+ ``quarantine_postings``).

Order of work, so a failure leaves the tables as they were:
read + validate + normalize -> split good/bad -> dedup in the batch -> plan the upsert against
bronze -> reconcile counts -> bronze GX suite (critical failure: DataQualityError, nothing
written) -> quarantine rows of the date replaced (``replace_where run_date``) -> bronze upsert of
the new and changed postings only (so a rerun of a date commits nothing to bronze).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobtagger.config import JobtaggerConfig
from jobtagger.errors import ConfigError
from jobtagger.ingestion import (
    IngestCounts,
    flag_content_duplicates,
    label_lookup,
    plan_upsert,
    rank_versions,
    to_bronze_rows,
    to_quarantine_rows,
    validate_records,
    with_content_hash,
)
from jobtagger.landing import read_landing
from jobtagger.quality import quality_folder, run_suite
from jobtagger.quality.bronze import BRONZE_SUITE, bronze_check_frame, bronze_expectations
from jobtagger.runlog import RunContext
from jobtagger.tables import TableStore, open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, QUARANTINE_POSTINGS
from jobtagger.taxonomy import Taxonomy, load_taxonomy

CHANGED = ("insert", "update")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--landing-folder", default=None,
        help="read this folder instead of {paths.landing}/{run date} (e.g. an external corpus)",
    )


def landing_folder(config: JobtaggerConfig, run_date: dt.date, override: str | None = None) -> Path:
    return Path(override) if override else Path(config.paths.landing) / run_date.isoformat()


def _taxonomy(config: JobtaggerConfig) -> Taxonomy | None:
    """The taxonomy, or None when the configured folder has none (every label is then unknown)."""
    try:
        return load_taxonomy(config.paths.taxonomy)
    except ConfigError:
        if Path(config.paths.taxonomy).exists():
            raise
        return None


def run(spark: SparkSession, config: JobtaggerConfig, run: RunContext, args: argparse.Namespace | None) -> dict[str, Any]:
    folder = landing_folder(config, run.run_date, getattr(args, "landing_folder", None))
    return ingest_folder(spark, config, run, folder=folder, store=open_table_store(spark, config.storage))


def ingest_folder(
    spark: SparkSession, config: JobtaggerConfig, run: RunContext, *, folder: Path, store: TableStore
) -> dict[str, Any]:
    ingested_at = run.started_at.replace(tzinfo=None)
    with run.step("read", folder=str(folder)) as info:
        raw = read_landing(spark, folder, config=config.ingest)
        records = (
            validate_records(raw, config=config.ingest, lookup=label_lookup(_taxonomy(config)))
            .withColumns(
                {
                    "run_date": F.lit(run.run_date),
                    "run_id": F.lit(run.run_id),
                    "ingested_at": F.lit(ingested_at).cast("timestamp"),
                }
            )
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        read = raw.count()  # counted apart from the validation, so the reconciliation means something
        quarantined = {
            row["reason"]: row["count"] for row in records.where("reason IS NOT NULL").groupBy("reason").count().collect()
        }
        info.update(records=read, quarantined=sum(quarantined.values()))

    existing = store.read(BRONZE_POSTINGS) if store.exists(BRONZE_POSTINGS) else None
    with run.step("dedup") as info:
        ranked = rank_versions(with_content_hash(records.where(F.col("reason").isNull())))
        duplicates = ranked.where("version_rank > 1").count()
        batch = ranked.where("version_rank = 1").drop("version_rank")
        planned = plan_upsert(flag_content_duplicates(batch, existing), existing).persist(StorageLevel.MEMORY_AND_DISK)
        stats = planned.groupBy("action").agg(
            F.count(F.lit(1)).alias("rows"), F.sum(F.size(F.coalesce("unknown_labels", F.array()))).alias("unknown")
        ).collect()
        actions = {row["action"]: row["rows"] for row in stats}
        bronze_rows = sum(actions.values())
        info.update(actions)
    counts = IngestCounts(
        read=read,
        quarantined=quarantined,
        duplicates_dropped=duplicates,
        bronze=bronze_rows,
        actions=actions,
        unknown_labels=int(sum(row["unknown"] or 0 for row in stats)),
    )
    run.counts.update(counts.as_dict())
    run.log("counts", **counts.as_dict())
    counts.check()

    with run.step("quality") as info:
        report = run_suite(
            bronze_check_frame(planned),
            suite_name=BRONZE_SUITE,
            expectations=bronze_expectations(config, run_date=run.run_date),
            results_dir=quality_folder(config, run.job, run.run_date),
            run_id=run.run_id,
        )
        info.update(passed=report.passed, warnings=len(report.warnings))
    run.details["quality"] = report.as_dict()
    try:
        report.raise_for_critical()
        commits = _write(store, run, records, planned, counts, quarantined_at=ingested_at)
    finally:
        records.unpersist()
        planned.unpersist()
    run.details["commits"] = commits
    return {"landing_folder": str(folder), "commits": commits, "quality": report.as_dict()}


def _write(
    store: TableStore,
    run: RunContext,
    records: DataFrame,
    planned: DataFrame,
    counts: IngestCounts,
    *,
    quarantined_at: dt.datetime,
) -> dict[str, Any]:
    metadata = run.commit_metadata()
    commits: dict[str, Any] = {}
    with run.step("write_quarantine", rows=counts.quarantined_total):
        if counts.quarantined_total or store.exists(QUARANTINE_POSTINGS):
            rows = to_quarantine_rows(records.where(F.col("reason").isNotNull()), quarantined_at=quarantined_at)
            exists = store.exists(QUARANTINE_POSTINGS)
            result = store.write(
                rows,
                QUARANTINE_POSTINGS,
                mode="replace_where" if exists else "error",
                replace_where=f"run_date = '{run.run_date.isoformat()}'" if exists else None,
                partition_by=["run_date"],
                metadata=metadata,
            )
            commits[QUARANTINE_POSTINGS] = result.version
    changed = counts.actions.get("insert", 0) + counts.actions.get("update", 0)
    with run.step("write_bronze", rows=changed):
        if changed:
            result = store.merge(
                to_bronze_rows(planned.where(F.col("action").isin(*CHANGED))),
                BRONZE_POSTINGS,
                keys=["posting_id"],
                metadata=metadata,
            )
            commits[BRONZE_POSTINGS] = result.version
    return commits
