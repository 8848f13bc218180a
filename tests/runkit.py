"""Real job processes for the failure tests: ``jobtagger <stage>`` started as its own process
group (so a SIGKILL takes its JVM and Python workers along), and table contents compared without
the columns that name a run."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from jobtagger.config import JobtaggerConfig
from jobtagger.faults import FAULT_ENV, MARKER_ENV
from testkit import REPO_ROOT

JOBTAGGER = Path(sys.executable).with_name("jobtagger")
RUN_COLUMNS = ("run_id", "ingested_at", "quarantined_at", "tagged_at")


def job_command(stage: str, config: JobtaggerConfig, day: dt.date, *extra: str) -> list[str]:
    """``jobtagger <stage>`` on the warehouse and landing folder of ``config`` (a small driver)."""
    return [
        str(JOBTAGGER), stage, "--conf", str(REPO_ROOT / "conf" / "local.yaml"), "--run-date", day.isoformat(),
        "--set", f"storage.warehouse={config.storage.warehouse}",
        "--set", f"paths.landing={config.paths.landing}",
        "--set", f"paths.taxonomy={config.paths.taxonomy}",
        "--set", "spark.driver_memory=1g", "--set", "spark.shuffle_partitions=2",
        "--set", f"ingest.max_text_chars={config.ingest.max_text_chars}",
        "--quiet", *extra,
    ]


def start_job(command: Sequence[str], *, fault: str | None = None, marker: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    env.pop(FAULT_ENV, None)
    if fault:
        env[FAULT_ENV] = fault
    if marker:
        env[MARKER_ENV] = str(marker)
    return subprocess.Popen(
        list(command), env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )


def kill_job(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()


def run_job(command: Sequence[str], *, fault: str | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run a job to its end (or until its fault point kills it); returns its outcome."""
    process = start_job(command, fault=fault)
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            kill_job(process)
    return subprocess.CompletedProcess(process.args, process.returncode, out.decode(), err.decode())


def kill_when(process: subprocess.Popen, condition: Callable[[], bool], *, timeout: float = 1800,
              poll: float = 0.01) -> bool:
    """SIGKILL the job as soon as ``condition()`` holds; False when the job ended first."""
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None:
            if condition():
                kill_job(process)
                return True
            if time.monotonic() > deadline:
                raise TimeoutError("the job never reached the phase to kill it in")
            time.sleep(poll)
        return False
    finally:
        if process.poll() is None:
            kill_job(process)


def content(store, name: str) -> list[tuple]:
    """The rows of a table as sorted tuples, without the columns that name the run."""
    if not store.exists(name):
        return []
    frame = store.read(name)
    frame = frame.select([column for column in frame.columns if column not in RUN_COLUMNS])
    return sorted((tuple(row) for row in frame.collect()), key=repr)


def uncommitted_files(table: Path) -> set[str]:
    """Data files in a table folder that no version of its Delta log references."""
    from jobtagger.tables.orphans import referenced_files

    if not (table / "_delta_log").is_dir():
        return {path.relative_to(table).as_posix() for path in table.rglob("*.parquet")} if table.is_dir() else set()
    referenced = referenced_files(table)
    return {
        relative for path in table.rglob("*.parquet")
        if not (relative := path.relative_to(table).as_posix()).startswith("_") and relative not in referenced
    }
