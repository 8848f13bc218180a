"""Running one registered stage: its command-line contract, its session and its run summary.

Shared by the command line and the demo, so neither imports the other.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import traceback
from typing import Any

from jobtagger.config import JobtaggerConfig
from jobtagger.errors import JobtaggerError
from jobtagger.runlog import LOGGER, RunContext, redact, write_summary
from jobtagger.stages import STAGES

DEFAULT_CONF = "conf/local.yaml"


def _run_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--run-date must be YYYY-MM-DD, got {text!r}") from None


def add_common_arguments(parser: argparse.ArgumentParser, *, run_date_required: bool) -> None:
    """The arguments every stage and tool takes: ``--conf``, ``--run-date``, ``--set``, ``--quiet``."""
    parser.add_argument("--conf", default=DEFAULT_CONF, help="environment YAML (base.yaml beside it is merged first)")
    parser.add_argument(
        "--run-date", type=_run_date, required=run_date_required, help="logical date of the run, YYYY-MM-DD"
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set training.max_labels=500 (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="log warnings only")


def stage_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one stage's own arguments, as its subcommand parses them."""
    spec = STAGES[name]
    parser = argparse.ArgumentParser(prog=f"jobtagger {name}", description=spec.help)
    add_common_arguments(parser, run_date_required=spec.needs_run_date)
    spec.load().add_arguments(parser)
    return parser


def run_stage(name: str, config: JobtaggerConfig, args: argparse.Namespace, *, spark: Any = None) -> int:
    """Run one stage with a run summary; returns the process exit code."""
    from jobtagger.session import build_session, check_warehouse

    try:
        check_warehouse(config.storage.warehouse)  # before any Spark work; the summary goes there too
    except JobtaggerError as exc:
        print(redact(f"jobtagger {name}: {exc}"), file=sys.stderr)
        return exc.exit_code
    run_date = args.run_date or config.generate.start_date
    context = RunContext(job=name, run_date=run_date)
    stage = STAGES[name].load()
    status, error, code = "failed", None, 1
    try:
        spark = spark or build_session(config.spark, app_name=f"jobtagger-{name}")
        result = stage.run(spark, config, context, args) or {}
        context.details.update(result)
        status, code = "succeeded", 0
    except JobtaggerError as exc:
        error, code = str(exc), exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the summary must be written whatever failed
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        LOGGER.error("unexpected failure\n%s", traceback.format_exc())
    summary = {**context.summary(status=status, error=error), "config": config.model_dump(mode="json")}
    path = write_summary(config.storage.warehouse, summary)
    context.log("summary", status=status, path=str(path), counts=context.counts)
    if error:
        print(redact(f"jobtagger {name}: {error}"), file=sys.stderr)
    else:
        print(json.dumps({"job": name, "status": status, "run_id": context.run_id, "counts": context.counts},
                         default=str))
    return code
