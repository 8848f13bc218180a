"""A real Spark standalone cluster on loopback (one master, two workers) runs the pipeline.

``jobs/cluster/standalone.sh`` starts it; the jobs are submitted with
``spark-submit --master spark://127.0.0.1:<port> --py-files jobtagger-<v>.zip``, with a Python
that has no jobtagger of its own (see conftest), and the cluster is stopped at the end with no
Master/Worker/executor JVM left behind.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from spark_launch import REPO_ROOT, RUN_DATE, run_summaries, stage_args, submit

pytestmark = pytest.mark.slow

CLUSTER_SCRIPT = REPO_ROOT / "jobs" / "cluster" / "standalone.sh"
PROBE = Path(__file__).with_name("executor_probe.py")
PIPELINE = ["generate", "ingest", "train", "tag"]
WORKERS = 2


@dataclass(frozen=True)
class Cluster:
    master: str
    folder: Path

    @property
    def work(self) -> Path:
        return self.folder / "work"


def _free_port_block(size: int) -> int:
    """First of ``size`` consecutive free loopback ports (master web UI, then one per worker)."""
    for _ in range(50):
        base = random.randint(20000, 40000)
        try:
            for port in range(base, base + size):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free ports found")


def _cluster_jvms(folder: Path) -> list[str]:
    """Command lines of live processes belonging to this cluster (daemons and executors)."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if str(folder) in line and "java" in line]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    env = {
        **os.environ,
        "CLUSTER_DIR": str(folder),
        "MASTER_PORT": str(_free_port_block(1)),
        "MASTER_WEBUI_PORT": str(_free_port_block(1 + WORKERS)),
        "WORKERS": str(WORKERS),
    }
    started = subprocess.run([CLUSTER_SCRIPT, "start"], env=env, capture_output=True, text=True, timeout=180)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        master = next(line.split("=", 1)[1] for line in started.stdout.splitlines() if line.startswith("MASTER="))
        yield Cluster(master=master, folder=folder)
    finally:
        stopped = subprocess.run([CLUSTER_SCRIPT, "stop"], env=env, capture_output=True, text=True, timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert _cluster_jvms(folder) == [], "cluster JVMs left after stop"


def test_executors_import_the_shipped_zip(cluster, pyfiles, node_python, tmp_path):
    done = submit(PROBE, pyfiles=pyfiles, python=node_python, cwd=tmp_path, master=cluster.master)
    assert done.returncode == 0, done.describe()
    report = json.loads(next(line for line in done.stdout.splitlines() if line.startswith('{"probe"')))["probe"]

    # every partition ran in an executor's work dir on a worker, importing the zip copied there
    assert {entry["jobtagger_file"] for entry in report} == {f"./{pyfiles.name}/jobtagger/__init__.py"}
    executor_dirs = {Path(entry["cwd"]) for entry in report}
    assert all(cluster.work in path.parents for path in executor_dirs)
    assert all((path / pyfiles.name).is_file() for path in executor_dirs)
    assert {entry["default_rows"] for entry in report} == {20000}
    assert sum(entry["rows"] for entry in report) == 1000
    # two executors, one per worker, in processes other than the driver
    workers = {path.relative_to(cluster.work).parts[0] for path in executor_dirs}
    assert workers == {f"worker-{i}" for i in range(1, WORKERS + 1)}
    assert len({entry["pid"] for entry in report}) == WORKERS


def test_pipeline_runs_on_the_cluster(cluster, pyfiles, node_python, tmp_path):
    for stage in PIPELINE:
        pytest.importorskip(f"jobtagger.stages.{stage}", reason=f"stage {stage} has not landed yet")
    apps_before = set(cluster.work.glob("worker-*/app-*"))
    for stage in PIPELINE:
        done = submit(
            REPO_ROOT / "jobs" / f"{stage}.py",
            # one feature candidate: this test is about shipping the code to the executors, and
            # both candidates' training on 400 postings outlasts submit's timeout on two cores;
            # the optimizer's passes as Spark jobs (a broadcast + treeReduce), not in the driver
            *stage_args(tmp_path, "generate.rows=400", "features.select_char_ngrams=never", "training.pass_exchange=spark"),
            pyfiles=pyfiles, python=node_python, cwd=tmp_path, master=cluster.master,
        )
        assert done.returncode == 0, f"{stage}: {done.describe()}"
        assert [s["status"] for s in run_summaries(tmp_path / "warehouse", stage)] == ["succeeded"]

    assert (tmp_path / "warehouse" / "gold_posting_tags" / "_delta_log").is_dir()
    # each stage was an application whose executors, on both workers, received the zip
    new_apps = set(cluster.work.glob("worker-*/app-*")) - apps_before
    assert len({app.name for app in new_apps}) == len(PIPELINE)
    for app in new_apps:
        executor_dirs = [path for path in app.iterdir() if path.is_dir()]
        assert executor_dirs and all((path / pyfiles.name).is_file() for path in executor_dirs)
    assert {app.parent.name for app in new_apps} == {f"worker-{i}" for i in range(1, WORKERS + 1)}
    assert RUN_DATE in {s["run_date"] for s in run_summaries(tmp_path / "warehouse", "tag")}
