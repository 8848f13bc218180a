"""``jobtagger bench ingest`` end to end on a small generated date, in-session and as processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_ingest_reconciles_and_times_both_sides(tmp_path):
    command = [
        sys.executable, "-m", "jobtagger.cli", "bench", "ingest", "--conf", "conf/local.yaml", "--quiet",
        "--rows", "3000", "--out", str(tmp_path), "--option", "rounds=1", "--option", "process=1",
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads((tmp_path / "ingest.json").read_text())
    counts = figures["counts"]
    assert counts["read"] > 2900 and counts["quarantined"] > 0  # 0.1% bad records of each kind, at least one
    assert counts["read"] == counts["bronze"] + counts["quarantined"] == counts["inserted"] + counts["quarantined"]
    only = figures["rounds"][0]
    assert only["rerun_outcome"] == "unchanged" and only["rerun_committed"] is False
    process = figures["process"]
    assert process["copy_seconds"] > 0 and process["ingest_seconds"] > 0 and process["rerun_seconds"] > 0
    assert set(figures["profile_seconds"]) == {"read", "read+normalize", "read+labels", "read+validate"}
    assert (tmp_path / "process-warehouse").is_dir() and (tmp_path / "process-copy-parquet").is_dir()
    # the targets stand beside the whole-process figures, the in-session ones are named as such
    whole = next(line for line in done.stdout.splitlines() if "whole processes" in line)
    assert f"ingest/copy {process['ingest_vs_copy']:.2f}x, target <= 3.0" in whole
    assert f"rerun/first {process['rerun_vs_first']:.2f}x, target <= 0.5" in whole
    in_session = next(line for line in done.stdout.splitlines() if line.lstrip().startswith("ingest "))
    assert in_session.endswith("(in session)")
