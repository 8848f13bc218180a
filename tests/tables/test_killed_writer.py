"""A writer process killed with SIGKILL mid-write leaves the table at its previous version."""

from __future__ import annotations

import pytest

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from deltalake import DeltaTable


WRITER = Path(__file__).with_name("writer_process.py")


def data_files(table: Path) -> set[Path]:
    return set(table.rglob("*.parquet"))


@pytest.mark.slow
def test_sigkill_during_write_leaves_previous_version_and_rerun_succeeds(spark, store):
    store.write(spark.range(0, 5).selectExpr("id", "concat('row ', id) AS text"), "t")
    table = Path(store.path("t"))
    committed_files = data_files(table)

    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), store.warehouse, "t", "4000000"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not data_files(table) - committed_files:
            assert writer.poll() is None, "the writer ended before writing any file"
            assert time.monotonic() < deadline, "the writer wrote no file in time"
            time.sleep(0.05)
    finally:
        os.killpg(writer.pid, signal.SIGKILL)  # the driver, its JVM and its Python workers
        writer.wait()
    assert b"committed" not in writer.stdout.read()

    assert data_files(table) - committed_files, "partial files exist on disk"
    assert DeltaTable(str(table)).version() == 0
    assert sorted(row.id for row in store.read("t").collect()) == [0, 1, 2, 3, 4]

    rerun = store.write(spark.range(5, 8).selectExpr("id", "concat('row ', id) AS text"), "t", mode="append")
    assert rerun.version == 1
    assert sorted(row.id for row in store.read("t").collect()) == list(range(8))
    store.vacuum("t", retention_hours=0)  # the killed write's orphans go, committed files stay
    assert len(data_files(table)) == len(DeltaTable(str(table)).file_uris())
