"""Command line: ``jobtagger <stage> --conf conf/local.yaml --run-date 2026-11-01 [--set k=v]``.

Parses arguments, builds the config and the session once, runs one stage (or the whole demo
pipeline), writes the run summary and maps failures to exit codes with a one-line reason.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from jobtagger.config import JobtaggerConfig, load_config
from jobtagger.errors import ConfigError, JobtaggerError
from jobtagger.runlog import LOGGER, RunContext, configure_logging, configure_redaction, redact, write_summary

STAGES: dict[str, tuple[str, str]] = {
    "generate": ("jobtagger.stages.generate", "write synthetic labelled postings as landing files"),
    "ingest": ("jobtagger.stages.ingest", "landing files -> bronze.postings (+ quarantine)"),
    "train": ("jobtagger.stages.train", "fit, calibrate, evaluate and register a multi-label model"),
    "evaluate": ("jobtagger.stages.evaluate", "train and evaluate on any labelled corpus given as files"),
    "tag": ("jobtagger.stages.tag", "score postings, gate on data quality, publish gold tables"),
}
TOOLS: dict[str, tuple[str, str]] = {
    "demo": ("jobtagger.demo", "run the whole pipeline on the embedded default and show the tables"),
    "bench": ("jobtagger.bench", "run a benchmark and print its figures"),
    "sql": ("jobtagger.sql", "run a SQL query over the registered tables"),
}
DEFAULT_CONF = "conf/local.yaml"


def _run_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--run-date must be YYYY-MM-DD, got {text!r}") from None


def _common_arguments(parser: argparse.ArgumentParser, *, run_date_required: bool) -> None:
    parser.add_argument("--conf", default=DEFAULT_CONF, help="environment YAML (base.yaml beside it is merged first)")
    parser.add_argument(
        "--run-date", type=_run_date, required=run_date_required, help="logical date of the run, YYYY-MM-DD"
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set training.max_labels=500 (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="log warnings only")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobtagger", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _chosen_command(argv)
    for name, (module_name, help_text) in {**STAGES, **TOOLS}.items():
        sub = commands.add_parser(name, help=help_text)
        _common_arguments(sub, run_date_required=name in STAGES and name != "generate")
        if name == chosen:  # import only the module that runs: keeps start-up fast
            importlib.import_module(module_name).add_arguments(sub)
    return parser


def _chosen_command(argv: Sequence[str] | None) -> str | None:
    words = list(sys.argv[1:] if argv is None else argv)
    return next((word for word in words if word in STAGES or word in TOOLS), None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    configure_logging(logging.WARNING if args.quiet else logging.INFO)
    try:
        config = load_config(args.conf, overrides=args.overrides)
    except ConfigError as exc:
        print(redact(f"jobtagger: {exc}"), file=sys.stderr)
        return exc.exit_code
    configure_redaction(config.model_dump(mode="json"))
    if args.command in STAGES:
        return run_stage(args.command, config, args)
    module = importlib.import_module(TOOLS[args.command][0])
    try:
        return int(module.main(config, args) or 0)
    except JobtaggerError as exc:
        print(redact(f"jobtagger {args.command}: {exc}"), file=sys.stderr)
        return exc.exit_code


def run_stage(name: str, config: JobtaggerConfig, args: argparse.Namespace, *, spark: Any = None) -> int:
    """Run one stage with a run summary; returns the process exit code."""
    from jobtagger.session import build_session, check_warehouse

    try:
        check_warehouse(config.storage.warehouse)  # before any Spark work; the summary goes there too
    except JobtaggerError as exc:
        print(redact(f"jobtagger {name}: {exc}"), file=sys.stderr)
        return exc.exit_code
    run_date = args.run_date or config.generate.start_date
    run = RunContext(job=name, run_date=run_date)
    module = importlib.import_module(STAGES[name][0])
    status, error, code = "failed", None, 1
    try:
        spark = spark or build_session(config.spark, app_name=f"jobtagger-{name}")
        result = module.run(spark, config, run, args) or {}
        run.details.update(result)
        status, code = "succeeded", 0
    except JobtaggerError as exc:
        error, code = str(exc), exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the summary must be written whatever failed
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        LOGGER.error("unexpected failure\n%s", traceback.format_exc())
    summary = {**run.summary(status=status, error=error), "config": config.model_dump(mode="json")}
    path = write_summary(config.storage.warehouse, summary)
    run.log("summary", status=status, path=str(path), counts=run.counts)
    if error:
        print(redact(f"jobtagger {name}: {error}"), file=sys.stderr)
    else:
        print(json.dumps({"job": name, "status": status, "run_id": run.run_id, "counts": run.counts}, default=str))
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
