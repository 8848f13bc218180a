"""Helpers shared by tests in several folders.

Test folders have their own conftest.py files, which all import as the module ``conftest``, so
shared helpers live here under a name no other module uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data(relative: str) -> Path:
    """Path to a corpus in ../shared/data, or skip the test saying why it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared corpora live beside the repository, not in it")
    return path


def start_together(stage: str, run_date: str, folder: Path, *overrides: str, count: int = 2) -> list:
    """``count`` ``jobtagger <stage>`` processes of ``run_date`` (local config, warehouse under
    ``folder``, plus ``--set`` ``overrides``) started at once; their CompletedProcess, all ended."""
    import os
    import subprocess
    import sys

    command = [
        sys.executable, "-m", "jobtagger.cli", stage, "--conf", str(REPO_ROOT / "conf" / "local.yaml"),
        "--run-date", run_date, "--quiet", "--set", f"storage.warehouse={folder / 'warehouse'}",
        "--set", "spark.driver_memory=1g", "--set", "spark.shuffle_partitions=2",
        *[part for override in overrides for part in ("--set", override)],
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    processes = [subprocess.Popen(command, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(count)]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=900)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results


def assert_won_or_lost_loudly(results: list, stage: str) -> None:
    """Every run exited 0, or 6 with one reason line naming the commit that won; one run won."""
    codes = [result.returncode for result in results]
    print(f"exit codes {codes}")  # shown with -s; recorded in BENCHMARKS.md
    assert set(codes) <= {0, 6} and 0 in codes, [result.stderr[-2000:] for result in results]
    for result in results:
        if result.returncode == 6:
            reason = [line for line in result.stderr.splitlines() if line.startswith(f"jobtagger {stage}:")]
            assert len(reason) == 1 and "another writer committed version" in reason[0], result.stderr[-2000:]
