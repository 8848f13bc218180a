"""Airflow DAG: ingest -> (train when labelled data changed) -> tag, one run per logical date.

Every task is a ``spark-submit jobs/<stage>.py --conf ... --run-date {{ ds }}`` through
SparkSubmitOperator, with the package shipped as a zip (``--py-files``). The data-quality gates
live inside the stages (a failed gate exits non-zero, so the task fails and nothing downstream
runs). Stages are idempotent per run date, so retries, reruns (``airflow tasks clear``) and
backfills (``airflow backfill create``) are safe.

``train`` runs only when the day's ingest changed bronze (inserted or updated postings, read from
the ingest run summary under ``{warehouse}/_runs/ingest/{ds}/``), when that cannot be told (no summary
readable from the Airflow worker, e.g. an object store), or when the run is triggered with
``{"force_train": true}``. ``tag`` then runs with the new model or, if training was skipped,
with the model already promoted.

This file imports only Airflow: the Airflow workers need neither pyspark nor jobtagger, only a
``spark-submit`` on PATH (any Spark installation with the job's Python dependencies).
Deployment settings come from the environment (defaults in brackets):

- ``JOBTAGGER_HOME``: folder holding ``jobs/`` and ``conf/`` [the checkout this file is in]
- ``JOBTAGGER_CONF``: environment YAML [``$JOBTAGGER_HOME/conf/local.yaml``]
- ``JOBTAGGER_PY_FILES``: the package zip [newest ``$JOBTAGGER_HOME/dist/jobtagger-*.zip``;
  build it with ``python -m jobtagger.packaging --out dist``]
- ``JOBTAGGER_SPARK_CONN_ID``: Airflow connection of type spark [``jobtagger_spark``]
- ``JOBTAGGER_PYTHON``: Python of the driver and executors (``spark.pyspark.python``) [Spark's]
- ``JOBTAGGER_WAREHOUSE`` / ``JOBTAGGER_LANDING``: passed as ``--set storage.warehouse=...`` /
  ``--set paths.landing=...`` [the conf file's values]
- ``JOBTAGGER_OVERRIDES``: more ``key=value`` config overrides, space separated
- ``JOBTAGGER_SCHEDULE`` [``@daily``], ``JOBTAGGER_RETRIES`` [2],
  ``JOBTAGGER_RETRY_DELAY_MINUTES`` [5]
- ``JOBTAGGER_TRAIN_WHEN_COUNTS``: ingest summary counts whose sum > 0 means new training data
  [``inserted updated``]
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shlex
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import DAG, Param

DAG_ID = "jobtagger"
HOME = Path(os.environ.get("JOBTAGGER_HOME", Path(__file__).resolve().parents[2]))
CONF = os.environ.get("JOBTAGGER_CONF", str(HOME / "conf" / "local.yaml"))
SPARK_CONN_ID = os.environ.get("JOBTAGGER_SPARK_CONN_ID", "jobtagger_spark")
PYTHON = os.environ.get("JOBTAGGER_PYTHON")
WAREHOUSE = os.environ.get("JOBTAGGER_WAREHOUSE")
LANDING = os.environ.get("JOBTAGGER_LANDING")
EXTRA_OVERRIDES = shlex.split(os.environ.get("JOBTAGGER_OVERRIDES", ""))
SCHEDULE = os.environ.get("JOBTAGGER_SCHEDULE", "@daily")
RETRIES = int(os.environ.get("JOBTAGGER_RETRIES", "2"))
RETRY_DELAY = dt.timedelta(minutes=float(os.environ.get("JOBTAGGER_RETRY_DELAY_MINUTES", "5")))
# Ingest run summary counts that, summed, say how many postings bronze gained or changed.
TRAIN_WHEN_COUNTS = os.environ.get("JOBTAGGER_TRAIN_WHEN_COUNTS", "inserted updated").split()

LOG = logging.getLogger(__name__)


def _py_files() -> str:
    """The package zip shipped to the executors; a missing one is an import error of this DAG."""
    configured = os.environ.get("JOBTAGGER_PY_FILES")
    if configured:
        return configured
    candidates = sorted((HOME / "dist").glob("jobtagger-*.zip"), key=lambda path: path.stat().st_mtime)
    if not candidates:
        raise FileNotFoundError(
            f"no {HOME}/dist/jobtagger-*.zip: build it with 'python -m jobtagger.packaging --out dist' "
            "or set JOBTAGGER_PY_FILES"
        )
    return str(candidates[-1])


def _overrides() -> list[str]:
    pairs = [f"storage.warehouse={WAREHOUSE}"] if WAREHOUSE else []
    pairs += [f"paths.landing={LANDING}"] if LANDING else []
    pairs += EXTRA_OVERRIDES
    return [word for pair in pairs for word in ("--set", pair)]


def labelled_data_changed(ds: str, params: dict, **_: object) -> bool:
    """Train only when today's ingest changed the training data (or when that cannot be told)."""
    if params.get("force_train"):
        LOG.info("train: forced by the run's params")
        return True
    folder = Path(WAREHOUSE) / "_runs" / "ingest" / ds if WAREHOUSE else None
    summaries = sorted(folder.glob("*.json")) if folder and folder.is_dir() else []
    succeeded = [s for s in map(_read_json, summaries) if s.get("status") == "succeeded"]
    if not succeeded:
        LOG.info("train: no readable ingest summary in %s, training to be safe", folder)
        return True
    latest = max(succeeded, key=lambda summary: summary.get("ended_at", ""))
    counts = {name: latest.get("counts", {}).get(name) for name in TRAIN_WHEN_COUNTS}
    LOG.info("train: ingest run %s counts %s", latest.get("run_id"), json.dumps(counts, sort_keys=True))
    return None in counts.values() or sum(counts.values()) > 0


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def spark_stage(stage: str, **kwargs: object) -> SparkSubmitOperator:
    """One stage as ``spark-submit --py-files <zip> jobs/<stage>.py --conf C --run-date {{ ds }}``."""
    return SparkSubmitOperator(
        task_id=stage,
        conn_id=SPARK_CONN_ID,
        application=str(HOME / "jobs" / f"{stage}.py"),
        py_files=_py_files(),
        name=f"jobtagger-{stage}-{{{{ ds }}}}",
        application_args=["--conf", CONF, "--run-date", "{{ ds }}", *_overrides()],
        conf={"spark.pyspark.python": PYTHON} if PYTHON else None,
        **kwargs,
    )


with DAG(
    dag_id=DAG_ID,
    description="ingest landing files, retrain when labelled data changed, tag and publish gold",
    schedule=SCHEDULE,
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
    catchup=False,  # backfill explicitly: airflow backfill create --dag-id jobtagger --from-date ...
    max_active_runs=1,  # the stages of two dates must not write the same tables at once
    default_args={"retries": RETRIES, "retry_delay": RETRY_DELAY},
    params={"force_train": Param(False, type="boolean", description="train even if no labelled data came in")},
    tags=["jobtagger", "spark"],
) as dag:
    ingest = spark_stage("ingest")
    train_due = ShortCircuitOperator(
        task_id="labelled_data_changed",
        python_callable=labelled_data_changed,
        ignore_downstream_trigger_rules=False,  # skip train only; tag still runs with the current model
    )
    train = spark_stage("train")
    tag = spark_stage("tag", trigger_rule="none_failed_min_one_success")
    ingest >> train_due >> train >> tag
    ingest >> tag
