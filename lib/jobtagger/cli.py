"""Command line: ``jobtagger <stage> --conf conf/local.yaml --run-date 2026-11-01 [--set k=v]``.

Parses arguments, builds the config and the session once, runs one stage (or the whole demo
pipeline), writes the run summary and maps failures to exit codes with a one-line reason.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from jobtagger.config import load_config
from jobtagger.errors import ConfigError, JobtaggerError
from jobtagger.runlog import configure_logging, configure_redaction, redact
from jobtagger.stages import STAGES
from jobtagger.stages.runner import DEFAULT_CONF, add_common_arguments, run_stage

__all__ = ["DEFAULT_CONF", "build_parser", "main", "run_stage"]

TOOLS: dict[str, tuple[str, str]] = {
    "demo": ("jobtagger.demo", "run the whole pipeline on the embedded default and show the tables"),
    "bench": ("jobtagger.bench", "run a benchmark and print its figures"),
    "sql": ("jobtagger.sql", "run a SQL query over the registered tables"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobtagger", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _chosen_command(argv)
    entries = {name: (spec.module, spec.help, spec.needs_run_date) for name, spec in STAGES.items()}
    entries.update({name: (module_name, help_text, False) for name, (module_name, help_text) in TOOLS.items()})
    for name, (module_name, help_text, run_date_required) in entries.items():
        sub = commands.add_parser(name, help=help_text)
        add_common_arguments(sub, run_date_required=run_date_required)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
