"""Benchmark ``generate``: N synthetic postings (one date, every format) written to a landing folder.

``jobtagger bench generate --rows 1000000`` reports wall time, rows per second and bytes written.
Options: ``--option days=1 --option skills=200 --option bad_rate=0.0 --option files_per_format=2``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from jobtagger.bench import options
from jobtagger.config import JobtaggerConfig
from jobtagger.runlog import RunContext
from jobtagger.stages import generate

DEFAULT_ROWS = 1_000_000


def run(spark: SparkSession, config: JobtaggerConfig, args: argparse.Namespace) -> dict[str, Any]:
    chosen = options(args)
    rows = args.rows or DEFAULT_ROWS
    landing = Path(args.out) / "generate-landing"
    shutil.rmtree(landing, ignore_errors=True)
    config = config.with_overrides([
        f"paths.landing={landing}",
        f"generate.rows={rows}",
        f"generate.days={chosen.get('days', 1)}",
        f"generate.skills={chosen.get('skills', config.generate.skills)}",
        f"generate.bad_records.rate={chosen.get('bad_rate', 0.0)}",
        f"generate.files_per_format={chosen.get('files_per_format', config.generate.files_per_format)}",
    ])
    run_context = RunContext(job="bench-generate", run_date=config.generate.start_date)
    started = time.perf_counter()
    result = generate.run(spark, config, run_context, argparse.Namespace(run_date=None))
    seconds = time.perf_counter() - started
    written = sum(f.stat().st_size for f in landing.rglob("*") if f.is_file())
    return {
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "bytes_written": written,
        "cores": spark.sparkContext.defaultParallelism,
        "settings": {k: v for k, v in config.generate.model_dump(mode="json").items() if k != "bad_records"},
        "dates": result["dates"],
    }
