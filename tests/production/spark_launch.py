"""Launch jobs the production way: ``spark-submit --py-files <zip>``, and read what they left."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
JOB_VENV_BIN = Path(sys.executable).parent
SPARK_SUBMIT = JOB_VENV_BIN / "spark-submit"
LOCAL_CONF = REPO_ROOT / "conf" / "local.yaml"
RUN_DATE = "2026-11-01"
LOG_MARKER = " jobtagger {"
REASON = re.compile(r"^jobtagger( [a-z]+)?: ")


@dataclass(frozen=True)
class Submitted:
    """Outcome of one spark-submit: exit code, output, and the job's structured log records."""

    returncode: int
    stdout: str
    stderr: str

    def events(self) -> list[dict]:
        """The JSON log records (``{"event": "ingest.read", "seconds": ..., ...}``) of the run."""
        records = []
        for line in self.lines():
            position = line.find(LOG_MARKER)
            if position >= 0:
                records.append(json.loads(line[position + len(LOG_MARKER) - 1 :]))
        return records

    def reason_lines(self) -> list[str]:
        """The one-line failure reasons the CLI printed (``jobtagger[ <job>]: ...``)."""
        return [line for line in self.lines() if REASON.match(line)]

    def lines(self) -> list[str]:
        """Both streams: spark-submit merges the Python driver's stderr into its own stdout."""
        return self.stdout.splitlines() + self.stderr.splitlines()

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-6000:]}"


def submit(
    application: Path,
    *args: str,
    pyfiles: Path,
    python: Path,
    cwd: Path,
    master: str = "local[2]",
    spark_conf: dict[str, str] | None = None,
    timeout: float = 600,
) -> Submitted:
    """``spark-submit --master M --py-files ZIP application args...`` with ``python`` on both sides."""
    conf = {"spark.ui.enabled": "false", "spark.pyspark.python": str(python), **(spark_conf or {})}
    command = [str(SPARK_SUBMIT), "--master", master, "--py-files", str(pyfiles)]
    command += [word for key, value in conf.items() for word in ("--conf", f"{key}={value}")]
    command += [str(application), *args]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYSPARK_", "SPARK_"))}
    env.pop("PYTHONPATH", None)
    env["PYSPARK_PYTHON"] = str(python)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return Submitted(done.returncode, done.stdout, done.stderr)


def stage_args(workdir: Path, *overrides: str, run_date: str = RUN_DATE, conf: Path = LOCAL_CONF) -> list[str]:
    """CLI arguments of a stage with every path of the run under ``workdir``."""
    settings = [
        f"storage.warehouse={workdir / 'warehouse'}",
        f"paths.landing={workdir / 'landing'}",
        f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'}",
        "spark.shuffle_partitions=2",
        *overrides,
    ]
    return ["--conf", str(conf), "--run-date", run_date, *[w for s in settings for w in ("--set", s)]]


def run_summaries(warehouse: Path, job: str, run_date: str = RUN_DATE) -> list[dict]:
    folder = warehouse / "_runs" / job / run_date
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]
