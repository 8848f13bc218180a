"""The stage registry: every registered stage satisfies the protocol, has its spark-submit entry
point, and the command line, the demo and the scheduler name only registered stages."""

from __future__ import annotations

import ast
import inspect

import pytest

from jobtagger.cli import build_parser
from jobtagger.stages import STAGES
from jobtagger.stages.runner import stage_parser
from testkit import REPO_ROOT


@pytest.mark.parametrize("name", sorted(STAGES))
def test_registered_stage_satisfies_the_protocol(name):
    stage = STAGES[name].load()
    assert list(inspect.signature(stage.add_arguments).parameters) == ["parser"]
    assert len(inspect.signature(stage.run).parameters) == 4


@pytest.mark.parametrize("name", sorted(STAGES))
def test_registered_stage_has_a_job_entry_point_calling_it(name):
    job = REPO_ROOT / "jobs" / f"{name}.py"
    calls = [node for node in ast.walk(ast.parse(job.read_text())) if isinstance(node, ast.Call)]
    named = [call for call in calls if getattr(call.func, "id", None) == "main"]
    assert named and isinstance(named[0].args[0], ast.List)
    assert named[0].args[0].elts[0].value == name


def test_every_job_and_scheduled_task_is_a_registered_stage():
    jobs = {path.stem for path in (REPO_ROOT / "jobs").glob("*.py")}
    assert jobs == set(STAGES)
    dag = ast.parse((REPO_ROOT / "jobs" / "airflow" / "jobtagger_dag.py").read_text())
    scheduled = {
        call.args[0].value
        for call in ast.walk(dag)
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "spark_stage"
    }
    assert scheduled and scheduled <= set(STAGES)


def test_stage_parser_parses_as_the_subcommand_does():
    argv = ["--run-date", "2026-11-01", "--set", "a.b=1"]
    alone = vars(stage_parser("tag").parse_args(argv))
    through_cli = vars(build_parser(["tag", *argv]).parse_args(["tag", *argv]))
    assert through_cli.pop("command") == "tag"
    assert alone == through_cli


def test_a_stage_that_needs_a_run_date_refuses_to_run_without_one():
    with pytest.raises(SystemExit):
        stage_parser("ingest").parse_args([])
    assert stage_parser("generate").parse_args([]).run_date is None
