"""Two ``jobtagger ingest`` processes of one date started together (issue 18, item 1): bronze
never holds a posting twice; each run exits 0, or 6 with one line when the other won the commit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from jobtagger.config import StorageConfig
from jobtagger.session import JvmCapabilities
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS

from ingest_support import REPO_ROOT, good_posting, write_jsonl

pytestmark = pytest.mark.reliability
RUN_DATE = "2026-11-03"


def start_together(stage: str, tmp_path, count: int = 2) -> list[subprocess.CompletedProcess]:
    """``count`` CLI processes of ``stage`` for RUN_DATE, started at once; waits for all."""
    command = [
        sys.executable, "-m", "jobtagger.cli", stage, "--conf", str(REPO_ROOT / "conf" / "local.yaml"),
        "--run-date", RUN_DATE, "--quiet",
        "--set", f"storage.warehouse={tmp_path / 'warehouse'}", "--set", f"paths.landing={tmp_path / 'landing'}",
        "--set", f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'}", "--set", "spark.driver_memory=1g",
        "--set", "spark.shuffle_partitions=2",
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    processes = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(count)]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=900)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results


def assert_won_or_lost_loudly(results: list[subprocess.CompletedProcess], stage: str) -> None:
    codes = [result.returncode for result in results]
    assert set(codes) <= {0, 6} and 0 in codes, [result.stderr[-2000:] for result in results]
    for result in results:
        if result.returncode == 6:
            reason = [line for line in result.stderr.splitlines() if line.startswith(f"jobtagger {stage}:")]
            assert len(reason) == 1 and "another writer committed version" in reason[0], result.stderr[-2000:]


def test_two_ingest_runs_of_one_date_at_once_never_duplicate_bronze(spark, tmp_path):
    records = [good_posting(f"p{index:04d}") for index in range(300)]
    write_jsonl(tmp_path / "landing" / RUN_DATE, "postings.jsonl", records)

    results = start_together("ingest", tmp_path)

    assert_won_or_lost_loudly(results, "ingest")
    store = open_table_store(spark, StorageConfig(warehouse=tmp_path / "warehouse"),
                             capabilities=JvmCapabilities(delta_spark=False, spark_nlp=False))
    ids = Counter(row.posting_id for row in store.read(BRONZE_POSTINGS).select("posting_id").collect())
    assert len(ids) == 300 and set(ids.values()) == {1}
