"""Stages launched as ``spark-submit --py-files jobtagger-<v>.zip jobs/<stage>.py ...`` (local master).

Exit 0 with structured log lines and a run summary on success; a non-zero exit code of
``jobtagger.errors`` and one reason line on failure.
"""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from jobtagger.packaging import build_pyfiles
from jobtagger.stages import STAGES
from spark_launch import REPO_ROOT, RUN_DATE, run_summaries, stage_args, submit

GENERATE = REPO_ROOT / "jobs" / "generate.py"
INGEST = REPO_ROOT / "jobs" / "ingest.py"
TINY = "generate.rows=200"


@pytest.mark.slow  # a bare venv per run
def test_zip_holds_what_the_jobs_run_and_is_the_node_pythons_only_jobtagger(pyfiles, node_python, tmp_path):
    names = set(zipfile.ZipFile(pyfiles).namelist())
    assert {"jobtagger/__init__.py", "jobtagger/cli.py", "jobtagger/stages/runner.py"} <= names
    assert {f"jobtagger/{spec.module.split('.', 1)[1].replace('.', '/')}.py" for spec in STAGES.values()} <= names
    assert not [name for name in names if name.startswith(("jobtagger/bench/", "jobtagger/demo.py"))]
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]

    def node(code: str) -> subprocess.CompletedProcess:
        return subprocess.run([node_python, "-c", code], cwd=tmp_path, capture_output=True, text=True)

    without_zip = node("import jobtagger")
    assert without_zip.returncode != 0 and "No module named 'jobtagger'" in without_zip.stderr
    with_zip = node(f"import sys; sys.path.insert(0, {str(pyfiles)!r}); import jobtagger.cli as c; print(c.__file__)")
    assert with_zip.returncode == 0, with_zip.stderr
    assert with_zip.stdout.strip() == f"{pyfiles}/jobtagger/cli.py"
    # every module in the zip imports from the zip alone: nothing a job runs was left out
    shipped = sorted(name[:-3].replace("/", ".").removesuffix(".__init__") for name in names if name.endswith(".py"))
    imports = node(f"import importlib, sys; sys.path.insert(0, {str(pyfiles)!r}); "
                   f"[importlib.import_module(m) for m in {shipped!r}]")
    assert imports.returncode == 0, imports.stderr


def test_zip_is_reproducible(tmp_path):
    first = build_pyfiles(tmp_path / "a")
    second = build_pyfiles(tmp_path / "b")
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.slow  # two submitted jobs; the gate test submits ingest by default
def test_generate_and_ingest_succeed_with_log_lines_and_summaries(pyfiles, node_python, tmp_path):
    pytest.importorskip("jobtagger.stages.generate", reason="generate stage has not landed yet")
    pytest.importorskip("jobtagger.stages.ingest", reason="ingest stage has not landed yet")
    warehouse = tmp_path / "warehouse"
    for stage, application in [("generate", GENERATE), ("ingest", INGEST)]:
        done = submit(application, *stage_args(tmp_path, TINY), pyfiles=pyfiles, python=node_python, cwd=tmp_path)
        assert done.returncode == 0, f"{stage}: {done.describe()}"
        assert done.reason_lines() == []

        events = [record for record in done.events() if record["event"].startswith(f"{stage}.")]
        timed = [record for record in events if "seconds" in record]
        assert timed, f"{stage}: no timed step in the log"
        assert all(record["run_id"] == events[0]["run_id"] for record in events)

        [summary] = run_summaries(warehouse, stage)
        assert summary["status"] == "succeeded" and summary["error"] is None
        assert summary["run_id"] == events[0]["run_id"]
        assert summary["counts"], f"{stage}: summary without counts"
        assert [step["step"] for step in summary["steps"]] == [r["event"].split(".", 1)[1] for r in timed]
        assert all(step["seconds"] >= 0 for step in summary["steps"])
    assert (warehouse / "bronze_postings" / "_delta_log").is_dir()


def test_bad_config_exits_2_with_one_reason_line(pyfiles, node_python, tmp_path):
    pytest.importorskip("jobtagger.stages.generate", reason="generate stage has not landed yet")
    done = submit(
        GENERATE, *stage_args(tmp_path, "generate.rows=0"), pyfiles=pyfiles, python=node_python, cwd=tmp_path
    )
    assert done.returncode == 2, done.describe()
    [reason] = done.reason_lines()
    assert "generate.rows" in reason
    assert not (tmp_path / "landing").exists()


@pytest.mark.slow  # a spark-submit process
def test_missing_input_exits_4_with_one_reason_line_and_a_failed_summary(pyfiles, node_python, tmp_path):
    pytest.importorskip("jobtagger.stages.ingest", reason="ingest stage has not landed yet")
    done = submit(INGEST, *stage_args(tmp_path), pyfiles=pyfiles, python=node_python, cwd=tmp_path)
    assert done.returncode == 4, done.describe()
    [reason] = done.reason_lines()
    assert reason.startswith("jobtagger ingest: ")
    [summary] = run_summaries(tmp_path / "warehouse", "ingest")
    assert summary["status"] == "failed" and summary["error"] in reason


@pytest.mark.slow
def test_failed_quality_gate_exits_3_with_one_reason_line_and_nothing_written(pyfiles, node_python, tmp_path):
    folder = tmp_path / "landing" / RUN_DATE
    folder.mkdir(parents=True)
    (folder / "postings-00000.jsonl").write_text('{"oops"\n{"posting_id": null, "title": "x"}\n', encoding="utf-8")
    # Past the garbage limit, so that the batch reaches the GX suite inside the submitted job.
    args = stage_args(tmp_path, "ingest.max_quarantine_share=1.0")
    done = submit(INGEST, *args, pyfiles=pyfiles, python=node_python, cwd=tmp_path)
    assert done.returncode == 3, done.describe()
    [reason] = done.reason_lines()
    assert reason.startswith("jobtagger ingest: ") and "expect_column_values_to_be_between(rows)" in reason
    [summary] = run_summaries(tmp_path / "warehouse", "ingest")
    assert summary["status"] == "failed" and summary["error"] in reason
    assert not (tmp_path / "warehouse" / "bronze_postings").exists()
    assert not (tmp_path / "warehouse" / "quarantine_postings").exists()
