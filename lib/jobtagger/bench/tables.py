"""``jobtagger bench tables --rows 1000000``: write N posting-like rows into a Delta table through
the table layer, then read them back. Run with a small driver heap
(``--set spark.driver_memory=1g``) to show the data never passes through the driver."""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from jobtagger.config import JobtaggerConfig
from jobtagger.tables import open_table_store

DEFAULT_ROWS = 1_000_000


def run(spark, config: JobtaggerConfig, args: argparse.Namespace) -> dict[str, Any]:
    rows = args.rows or DEFAULT_ROWS
    warehouse = Path(args.out) / "tables-warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)
    store = open_table_store(spark, config.storage.model_copy(update={"warehouse": warehouse}))
    frame = spark.range(0, rows).selectExpr(
        "concat('p', id) AS posting_id",
        "concat('Senior engineer ', id % 997) AS title",
        "repeat('We build data pipelines with Spark and Python. ', 4) AS description",
        "array('category:software_engineering', concat('skill:s', id % 200)) AS labels",
        "date_add(DATE'2026-11-01', CAST(id % 3 AS INT)) AS run_date",
    )
    started = time.perf_counter()
    result = store.write(frame, "bench_postings", partition_by=["run_date"])
    write_seconds = time.perf_counter() - started
    started = time.perf_counter()
    counted = store.read("bench_postings").count()
    read_seconds = time.perf_counter() - started
    if counted != rows:
        raise RuntimeError(f"wrote {rows} rows but read back {counted}")
    return {
        "engine": store.engine_name,
        "rows": rows,
        "driver_memory": spark.conf.get("spark.driver.memory", None),
        "files": result.files_added,
        "write_seconds": round(write_seconds, 2),
        "rows_per_second": round(rows / write_seconds),
        "read_count_seconds": round(read_seconds, 2),
    }
