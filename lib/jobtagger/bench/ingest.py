"""Benchmark ``ingest``: generate N postings for one date with the ``generate`` benchmark (timed
apart), then ingest them into a fresh bronze table (timed), then rerun the date (nothing to commit).

``jobtagger bench ingest --rows 1000000 [--option bad_rate=0.001] [--option files_per_format=2]``
(options as for ``bench generate``). Landing files and tables live under ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from jobtagger.bench import generate as generate_bench
from jobtagger.config import JobtaggerConfig
from jobtagger.runlog import RunContext
from jobtagger.stages import ingest

DEFAULT_ROWS = 1_000_000


def run(spark: SparkSession, config: JobtaggerConfig, args: argparse.Namespace) -> dict[str, Any]:
    args.rows = args.rows or DEFAULT_ROWS
    generated = generate_bench.run(spark, config, args)
    landing = Path(args.out) / "generate-landing"
    warehouse = Path(args.out) / "ingest-warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)
    config = config.with_overrides([f"paths.landing={landing}", f"storage.warehouse={warehouse}"])
    day = config.generate.start_date
    runs = {}
    for attempt in ("first_run", "rerun"):
        context = RunContext(job="ingest", run_date=day)
        started = time.perf_counter()
        ingest.run(spark, config, context, argparse.Namespace(landing_folder=None))
        runs[attempt] = {
            "seconds": round(time.perf_counter() - started, 1),
            "steps": {step["step"]: step["seconds"] for step in context.steps},
            "counts": context.counts,
        }
    first = runs["first_run"]["seconds"]
    return {
        "rows": args.rows,
        "landing_bytes": generated["bytes_written"],
        "generate_seconds": generated["seconds"],
        "ingest_seconds": first,
        "rows_per_second": round(args.rows / first),
        "rerun_seconds": runs["rerun"]["seconds"],
        "cores": spark.sparkContext.defaultParallelism,
        "runs": runs,
    }
