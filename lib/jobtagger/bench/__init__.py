"""Benchmarks: ``jobtagger bench NAME [--rows N] [--out DIR]``.

Each benchmark is a module ``jobtagger.bench.<name>`` with ``add_arguments(parser)`` (optional)
and ``run(spark, config, args) -> dict``; its NAME is the module's, unless :data:`COMMANDS` gives
it another. The harness builds the session, runs it, prints the figures as JSON and saves them
under ``--out`` so they can be copied into BENCHMARKS.md together with the command that produced
them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import shlex
import sys
import time
from pathlib import Path

from jobtagger.config import JobtaggerConfig

IGNORED_MODULES = {"common", "plain_copy"}
# Module -> NAME where they differ: ``bench tag`` times the tag stage, and a module ``bench.tag``
# would read as that stage (``jobtagger.stages.tag``).
COMMANDS = {"tag_speed": "tag"}


def available() -> list[str]:
    return sorted(
        COMMANDS.get(info.name, info.name)
        for info in pkgutil.iter_modules(__path__) if info.name not in IGNORED_MODULES
    )


def module_for(name: str) -> str:
    """The module of the benchmark ``jobtagger bench NAME``."""
    modules = {command: module for module, command in COMMANDS.items()}
    return f"jobtagger.bench.{modules.get(name, name)}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=available(), help="which benchmark")
    parser.add_argument("--rows", type=int, default=None, help="input size (each benchmark has a default)")
    parser.add_argument("--out", default="bench-out", help="folder for results and scratch tables")
    parser.add_argument("--option", dest="options", action="append", default=[], metavar="KEY=VALUE",
                        help="benchmark-specific option (repeatable)")


def options(args: argparse.Namespace) -> dict[str, str]:
    return dict(item.split("=", 1) for item in args.options)


def main(config: JobtaggerConfig, args: argparse.Namespace) -> int:
    from jobtagger.session import build_session

    module = importlib.import_module(module_for(args.name))
    spark = build_session(config.spark, app_name=f"jobtagger-bench-{args.name}")
    started = time.perf_counter()
    result = module.run(spark, config, args)
    result = {
        "benchmark": args.name,
        "command": "jobtagger " + " ".join(shlex.quote(word) for word in sys.argv[1:]),
        "total_seconds": round(time.perf_counter() - started, 2),
        **result,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
    return 0
