"""The Airflow DAG under a real Airflow 3.3 in its own venv (created by jobs/airflow/airflow_venv.sh).

The venv is built once (about a minute, needs PyPI) and reused: ``$JOBTAGGER_AIRFLOW_VENV`` or
``/tmp/jobtagger-airflow-venv``. Airflow runs with SQLite under a temporary AIRFLOW_HOME, its
DAG folder is ``jobs/airflow``, and SparkSubmitOperator finds ``spark-submit`` on PATH (the job
venv's ``bin``) with the Spark connection given in the environment.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobtagger.runlog import RunContext, write_summary
from spark_launch import JOB_VENV_BIN, REPO_ROOT, RUN_DATE, run_summaries, stage_args, submit

pytestmark = pytest.mark.slow

VENV_SCRIPT = REPO_ROOT / "jobs" / "airflow" / "airflow_venv.sh"
DAG_FILE = REPO_ROOT / "jobs" / "airflow" / "jobtagger_dag.py"
DAG_ID = "jobtagger"
GRAPH_SCRIPT = """
import json, runpy, sys
dag = runpy.run_path(sys.argv[1])["dag"]
print(json.dumps({
    task.task_id: {
        "operator": type(task).__name__,
        "downstream": sorted(task.downstream_task_ids),
        "trigger_rule": str(task.trigger_rule.value if hasattr(task.trigger_rule, "value") else task.trigger_rule),
        "retries": task.retries,
    }
    for task in dag.tasks
}))
"""


@pytest.fixture(scope="session")
def airflow_venv() -> Path:
    env = {**os.environ, "PYTHON": sys._base_executable}  # noqa: SLF001 - the interpreter behind the job venv
    made = subprocess.run([VENV_SCRIPT], env=env, capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stderr[-3000:]
    return Path(made.stdout.strip().splitlines()[-1])


@pytest.fixture
def airflow(airflow_venv, pyfiles, node_python, tmp_path):
    """Run ``airflow ...`` against a fresh SQLite metadata DB, jobs writing under ``tmp_path``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "PYSPARK_", "SPARK_"))}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow-home"),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAG_FILE.parent),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_JOBTAGGER_SPARK=json.dumps({"conn_type": "spark", "host": "local[2]"}),
        PATH=f"{JOB_VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        JOBTAGGER_PY_FILES=str(pyfiles),
        JOBTAGGER_PYTHON=str(node_python),
        JOBTAGGER_WAREHOUSE=str(tmp_path / "warehouse"),
        JOBTAGGER_LANDING=str(tmp_path / "landing"),
        JOBTAGGER_OVERRIDES=f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'} spark.shuffle_partitions=2",
        JOBTAGGER_RETRIES="0",
    )

    def run(*args: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [airflow_venv / "bin" / "airflow", *args], env={**env, **extra_env}, cwd=tmp_path,
            capture_output=True, text=True, timeout=timeout,
        )

    migrated = run("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    run.python = airflow_venv / "bin" / "python"
    run.env = env
    return run


def test_dag_imports_cleanly_with_the_expected_task_graph(airflow, tmp_path):
    serialized = airflow("dags", "reserialize")
    assert serialized.returncode == 0, serialized.stderr[-3000:]
    errors = airflow("dags", "list-import-errors", "-o", "json")
    assert errors.returncode == 0 and _json_output(errors) == [], errors.stdout + errors.stderr[-2000:]
    listed = airflow("tasks", "list", DAG_ID)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert set(listed.stdout.split()) == {"ingest", "labelled_data_changed", "train", "tag"}

    graph = subprocess.run(
        [airflow.python, "-c", GRAPH_SCRIPT, DAG_FILE], env=airflow.env, capture_output=True, text=True, check=True
    )
    tasks = json.loads(graph.stdout.strip().splitlines()[-1])
    assert {task: info["downstream"] for task, info in tasks.items()} == {
        "ingest": ["labelled_data_changed", "tag"],
        "labelled_data_changed": ["train"],
        "train": ["tag"],
        "tag": [],
    }
    assert {task: info["operator"] for task, info in tasks.items() if task != "labelled_data_changed"} == {
        "ingest": "SparkSubmitOperator", "train": "SparkSubmitOperator", "tag": "SparkSubmitOperator",
    }
    assert tasks["tag"]["trigger_rule"] == "none_failed_min_one_success"

    rendered = airflow("tasks", "render", DAG_ID, "train", RUN_DATE)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    assert f"'--run-date', '{RUN_DATE}'" in rendered.stdout
    assert f"storage.warehouse={tmp_path / 'warehouse'}" in rendered.stdout
    assert str(REPO_ROOT / "jobs" / "train.py") in rendered.stdout


def test_a_missing_package_zip_is_an_import_error(airflow, tmp_path):
    airflow("dags", "reserialize", JOBTAGGER_PY_FILES="", JOBTAGGER_HOME=str(tmp_path))
    errors = airflow("dags", "list-import-errors", "-o", "json", JOBTAGGER_PY_FILES="", JOBTAGGER_HOME=str(tmp_path))
    [error] = _json_output(errors)
    assert "python -m jobtagger.packaging" in error["error"]


@pytest.mark.parametrize(("inserted", "updated", "trains"), [(0, 0, False), (0, 3, True), (25, 0, True)])
def test_train_runs_only_when_ingest_changed_bronze(airflow, tmp_path, inserted, updated, trains):
    run = RunContext(job="ingest", run_date=dt.date.fromisoformat(RUN_DATE))
    run.counts.update(read=40, inserted=inserted, updated=updated)
    write_summary(tmp_path / "warehouse", run.summary(status="succeeded"))
    tested = airflow("tasks", "test", DAG_ID, "labelled_data_changed", RUN_DATE)
    assert tested.returncode == 0, tested.stderr[-3000:]
    output = tested.stdout + tested.stderr
    assert json.dumps({"inserted": inserted, "updated": updated}) in output
    assert ("Skipping downstream tasks" in output) is not trains, output[-3000:]


def test_dag_runs_the_pipeline_end_to_end_and_publishes_gold(airflow, pyfiles, node_python, tmp_path):
    for stage in ("generate", "ingest", "train", "tag"):
        pytest.importorskip(f"jobtagger.stages.{stage}", reason=f"stage {stage} has not landed yet")
    generated = submit(
        REPO_ROOT / "jobs" / "generate.py", *stage_args(tmp_path, "generate.rows=400"),
        pyfiles=pyfiles, python=node_python, cwd=tmp_path,
    )
    assert generated.returncode == 0, generated.describe()

    tested = airflow("dags", "test", DAG_ID, RUN_DATE, timeout=1800)
    assert tested.returncode == 0, (tested.stdout + tested.stderr)[-6000:]
    states = airflow("tasks", "states-for-dag-run", DAG_ID, _run_id(airflow), "-o", "json")
    assert {row["task_id"]: row["state"] for row in _json_output(states)} == {
        "ingest": "success", "labelled_data_changed": "success", "train": "success", "tag": "success",
    }
    warehouse = tmp_path / "warehouse"
    for stage in ("ingest", "train", "tag"):
        assert [s["status"] for s in run_summaries(warehouse, stage)] == ["succeeded"], stage
    assert (warehouse / "gold_posting_tags" / "_delta_log").is_dir()


def _run_id(airflow) -> str:
    runs = airflow("dags", "list-runs", DAG_ID, "-o", "json")
    [run] = _json_output(runs)
    return run["run_id"]


def _json_output(done: subprocess.CompletedProcess):
    """The JSON document an ``airflow ... -o json`` command printed after its log lines."""
    lines = done.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(("[", "{"))), None)
    assert start is not None, done.stdout + done.stderr[-3000:]
    return json.loads("\n".join(lines[start:]))
