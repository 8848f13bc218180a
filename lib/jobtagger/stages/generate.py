"""Stage ``generate``: synthetic labelled postings as landing files, one folder per posting date.

Layout: ``{paths.landing}/{YYYY-MM-DD}/postings-00000.jsonl`` ... (``.csv``, ``.parquet``; ``.gz``
for jsonl/csv with ``generate.compression=gzip``), each posting in exactly one file; injected bad
records in ``bad-00000.jsonl`` / ``bad-00000.csv`` listed in ``_injected.jsonl``. The clean bulk is
written by Spark executors (one file per range partition); the bad-record sample is small, so the
driver serialises it (Spark writers cannot produce broken JSON/CSV or invalid UTF-8).

A date is written into a hidden temporary folder first and then swapped in with renames, so a
rerun replaces the date's files and a crash leaves the previous files intact. The swap uses local
file-system renames: the landing folder must be a local (or mounted) path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from jobtagger.config import GenerateConfig, JobtaggerConfig
from jobtagger.errors import ConfigError
from jobtagger.runlog import RunContext
from jobtagger.synthetic import (
    as_text_columns,
    bad_record_files,
    day_id_range,
    day_index,
    format_blocks,
    generate_postings,
    injected_records,
    manifest_lines,
)
from jobtagger.taxonomy import load_taxonomy

MANIFEST = "_injected.jsonl"
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, help="total postings over all days (generate.rows)")
    parser.add_argument("--days", type=int, help="number of posting dates from generate.start_date")
    parser.add_argument("--bad-rate", type=float, help="share of injected bad records (generate.bad_records.rate)")


def effective_config(config: JobtaggerConfig, args: argparse.Namespace) -> JobtaggerConfig:
    """Apply the convenience flags as config overrides (validated like ``--set``)."""
    overrides = []
    if getattr(args, "rows", None) is not None:
        overrides.append(f"generate.rows={args.rows}")
    if getattr(args, "days", None) is not None:
        overrides.append(f"generate.days={args.days}")
    if getattr(args, "bad_rate", None) is not None:
        overrides.append(f"generate.bad_records.rate={args.bad_rate}")
    return config.with_overrides(overrides) if overrides else config


def posting_dates(config: GenerateConfig, run_date: dt.date | None) -> list[dt.date]:
    if run_date is None:
        return [config.start_date + dt.timedelta(days=d) for d in range(config.days)]
    if run_date < config.start_date:
        raise ConfigError(f"--run-date {run_date} is before generate.start_date {config.start_date}")
    return [run_date]


def run(spark: SparkSession, config: JobtaggerConfig, context: RunContext, args: argparse.Namespace) -> dict[str, Any]:
    config = effective_config(config, args)
    taxonomy = load_taxonomy(config.paths.taxonomy)
    landing = Path(config.paths.landing)
    dates = posting_dates(config.generate, getattr(args, "run_date", None))
    per_date = {}
    for posted_date in dates:
        with context.step("write_date", date=posted_date.isoformat()) as info:
            counts = write_date(spark, config, taxonomy, landing=landing, posted_date=posted_date)
            info.update(counts)
        per_date[posted_date.isoformat()] = counts
    context.counts.update(
        rows=sum(c["rows"] for c in per_date.values()),
        injected=sum(c["injected"] for c in per_date.values()),
        dates=len(per_date),
    )
    return {"landing": str(landing), "dates": per_date}


def write_date(spark: SparkSession, config: JobtaggerConfig, taxonomy, *, landing: Path, posted_date: dt.date) -> dict[str, Any]:
    """Write one date folder atomically-ish; returns counts per format and bad-record kind."""
    generate = config.generate
    first, end = day_id_range(generate, day_index(generate, posted_date))
    landing.mkdir(parents=True, exist_ok=True)
    staging = landing / f".tmp-{posted_date.isoformat()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        sampled_ids, counts = _write_bad_records(
            spark, config, taxonomy, staging, first=first, end=end, posted_date=posted_date
        )
        counts.update(rows=0, files=0, formats={})
        for fmt, block_first, block_end in format_blocks(first, end, generate.formats):
            if block_end <= block_first:
                continue
            postings = generate_postings(
                spark, generate, taxonomy, first_id=block_first, end_id=block_end,
                posted_date=posted_date, num_partitions=generate.files_per_format,
            )
            files = _write_clean(postings.filter("NOT bad_record"), staging, fmt=fmt, compression=generate.compression)
            rows = (block_end - block_first) - sum(1 for i in sampled_ids if block_first <= i < block_end)
            counts["formats"][fmt] = {"rows": rows, "files": files}
            counts["rows"] += rows
            counts["files"] += files
        _swap_in(staging, landing / posted_date.isoformat())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts


def _write_clean(postings: DataFrame, staging: Path, *, fmt: str, compression: str) -> int:
    """Write with Spark into a scratch folder, then rename the part files to stable names."""
    scratch = staging / f"_spark_{fmt}"
    shaped = as_text_columns(postings, fmt=fmt)
    gzip = compression == "gzip" and fmt != "parquet"
    writer = shaped.write.mode("errorifexists")
    if fmt == "jsonl":
        writer.option("compression", "gzip" if gzip else "none").json(str(scratch))
    elif fmt == "csv":
        writer.options(header=True, quoteAll=True, escape='"', encoding="UTF-8",
                       compression="gzip" if gzip else "none").csv(str(scratch))
    else:
        writer.parquet(str(scratch))
    parts = sorted(p for p in scratch.iterdir() if p.name.startswith("part-"))
    suffix = f".{EXTENSIONS[fmt]}" + (".gz" if gzip else "")
    for number, part in enumerate(parts):
        part.rename(staging / f"postings-{number:05d}{suffix}")
    shutil.rmtree(scratch)
    return len(parts)


def _write_bad_records(spark, config: JobtaggerConfig, taxonomy, staging: Path, *, first: int, end: int,
                       posted_date: dt.date) -> tuple[set[int], dict[str, Any]]:
    """Write the bad-record files and manifest; returns the sampled ids (left out of the clean files)."""
    generate = config.generate
    if generate.bad_records.rate <= 0:
        return set(), {"injected": 0, "injected_kinds": {}}
    # The sample is rate x rows rows, selected by hash: small enough for the driver.
    sampled = (
        generate_postings(spark, generate, taxonomy, first_id=first, end_id=end, posted_date=posted_date,
                          num_partitions=generate.files_per_format)
        .filter("bad_record")
        .collect()
    )
    rows = [row.asDict() for row in sampled]
    records = injected_records(
        rows, config=generate, posted_date=posted_date, id_range=(first, end),
        huge_text_chars=config.ingest.max_text_chars,
    )
    files = bad_record_files(records, compression=generate.compression)
    for name, content in files.items():
        (staging / name).write_bytes(content)
    (staging / MANIFEST).write_bytes(manifest_lines(records, files))
    kinds: dict[str, int] = {}
    for record in records:
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
    return {row["id"] for row in rows}, {"injected": len(records), "injected_kinds": kinds}


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with two renames (the old folder is deleted afterwards)."""
    retired = target.parent / f".old-{target.name}-{uuid.uuid4().hex[:8]}"
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
