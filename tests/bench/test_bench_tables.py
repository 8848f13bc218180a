"""The 1M-row write with a 1 GB driver, in its own process (its heap is the point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_one_million_rows_are_written_with_a_one_gigabyte_driver(tmp_path):
    command = [
        sys.executable, "-m", "jobtagger.cli", "bench", "tables", "--rows", "1000000", "--out", str(tmp_path),
        "--set", "spark.driver_memory=1g", "--set", f"storage.warehouse={tmp_path / 'unused'}",
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads((tmp_path / "tables.json").read_text())
    assert figures["rows"] == 1_000_000 and figures["driver_memory"] == "1g"
    assert figures["engine"] == "delta-rs"
