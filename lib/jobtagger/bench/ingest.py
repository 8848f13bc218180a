"""``jobtagger bench ingest``: the ingest job vs a plain Spark copy of the same landing files.

Setup (timed apart): N generated postings for one date with the ``generate`` benchmark (0.1% bad
records of every kind by default). Then each of ``rounds`` (default 3) measures, side by side in
the same session on the same landing files:

- ``copy``: a plain Spark copy: the JSONL, CSV and Parquet files read with their own readers (every
  posting field as text, labels as an array), unioned and written as ONE Parquet table;
- ``first``: ``ingest`` of the date into a fresh warehouse (read, validation, normalization, labels,
  dedup, gate, both commits);
- ``rerun``: ``ingest`` of the same date again (nothing new: it must commit nothing).

The headline figures are medians over the rounds: seconds of each, ``ingest / copy`` (target
<= 3) and ``rerun / first`` (target <= 0.5), and each ingest step's median seconds. Steps are
timed by the stage itself (:meth:`RunContext.step`); Spark fuses reading, normalization and label
resolution into one pass, so a ``profile`` pass (once, after the rounds; ``--option profile=0``
skips it) times them apart: the raw records written to Spark's ``noop`` sink, then with the text
normalization, then with the label resolution, then fully validated.

With ``--option process=1`` each round also times both sides as whole processes, the way a
scheduler runs them (interpreter and JVM start-up, session, work, exit): the plain copy as a
``python -m jobtagger.bench.plain_copy`` process with the same session settings, then
``jobtagger ingest`` and its rerun as commands. Start-up is paid on both sides, so this ratio is
lower than the in-session one.

``jobtagger bench ingest --rows 300000 [--option rounds=3] [--option bad_rate=0.001]
[--option files_per_format=2] [--option profile=1] [--option process=0]``; landing files and
tables live under ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from jobtagger.bench import generate as generate_bench
from jobtagger.bench import options
from jobtagger.bench.plain_copy import plain_copy
from jobtagger.config import JobtaggerConfig
from jobtagger.ingestion import HTML_FIELDS, PLAIN_FIELDS, validate_records, with_record_id
from jobtagger.label_resolution import label_lookup, map_labels
from jobtagger.landing import landing_files, read_landing_files
from jobtagger.runlog import RunContext
from jobtagger.stages import ingest
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, QUARANTINE_POSTINGS
from jobtagger.text.normalize import normalize_text_columns

DEFAULT_ROWS = 1_000_000
DEFAULT_ROUNDS = 3
DEFAULT_BAD_RATE = "0.001"
TARGET_INGEST_RATIO = 3.0
TARGET_RERUN_RATIO = 0.5


def run(spark: SparkSession, config: JobtaggerConfig, args: argparse.Namespace) -> dict[str, Any]:
    args.rows = args.rows or DEFAULT_ROWS
    chosen = options(args)
    if "bad_rate" not in chosen:
        args.options = [*args.options, f"bad_rate={DEFAULT_BAD_RATE}"]
    generated = generate_bench.run(spark, config, args)
    landing = Path(args.out) / "generate-landing"
    warehouse = Path(args.out) / "ingest-warehouse"
    config = config.with_overrides([f"paths.landing={landing}", f"storage.warehouse={warehouse}"])
    day = config.generate.start_date
    folder = ingest.landing_folder(config, day)

    processes = chosen.get("process", "0") != "0"
    rounds = []
    for _ in range(int(chosen.get("rounds", DEFAULT_ROUNDS))):
        measured = _round(spark, config, folder, Path(args.out) / "copy-parquet", warehouse)
        if processes:
            measured["process"] = _process_round(args, landing, folder, day, Path(args.out))
        rounds.append(measured)
    copy = statistics.median(r["copy_seconds"] for r in rounds)
    first = statistics.median(r["first_seconds"] for r in rounds)
    rerun = statistics.median(r["rerun_seconds"] for r in rounds)
    result: dict[str, Any] = {
        "rows": args.rows,
        "landing_files": {kind: len(paths) for kind, paths in landing_files(folder).items()},
        "landing_bytes": generated["bytes_written"],
        "generate_seconds": generated["seconds"],
        "cores": spark.sparkContext.defaultParallelism,
        **_side_by_side(copy, first, rerun),
        "targets": {"ingest_vs_copy": TARGET_INGEST_RATIO, "rerun_vs_first": TARGET_RERUN_RATIO},
        "ingest_steps": _median_steps(r["first_steps"] for r in rounds),
        "rerun_steps": _median_steps(r["rerun_steps"] for r in rounds),
        "counts": rounds[-1]["counts"],
        "rounds": rounds,
    }
    if processes:
        result["process"] = _side_by_side(*(
            statistics.median(r["process"][name] for r in rounds) for name in ("copy_seconds", "ingest_seconds", "rerun_seconds")
        ))
    if chosen.get("profile", "1") != "0":
        result["profile_seconds"] = profile(spark, config, folder)
    _print_table(result)
    return result


def _round(spark: SparkSession, config: JobtaggerConfig, folder: Path, copy_target: Path, warehouse: Path) -> dict[str, Any]:
    """One side-by-side measurement: the plain copy, ingest into a fresh warehouse, the rerun."""
    shutil.rmtree(copy_target, ignore_errors=True)
    started = time.perf_counter()
    plain_copy(spark, folder, copy_target)
    copy_seconds = time.perf_counter() - started

    shutil.rmtree(warehouse, ignore_errors=True)
    first = _timed_ingest(spark, config, folder)
    store = open_table_store(spark, config.storage)
    versions = {name: store.version(name) for name in (BRONZE_POSTINGS, QUARANTINE_POSTINGS)}
    rerun = _timed_ingest(spark, config, folder)
    after = {name: store.version(name) for name in (BRONZE_POSTINGS, QUARANTINE_POSTINGS)}
    return {
        "copy_seconds": round(copy_seconds, 2),
        "first_seconds": first["seconds"],
        "rerun_seconds": rerun["seconds"],
        "ingest_vs_copy": round(first["seconds"] / copy_seconds, 2),
        "rerun_vs_first": round(rerun["seconds"] / first["seconds"], 2),
        "first_steps": first["steps"],
        "rerun_steps": rerun["steps"],
        "rerun_outcome": rerun["outcome"],
        "rerun_committed": after != versions,
        "counts": first["counts"],
    }


def _process_round(args: argparse.Namespace, landing: Path, folder: Path, day: Any, out: Path) -> dict[str, Any]:
    """The copy, ingest into a fresh warehouse and the rerun, each as its own process."""
    warehouse = out / "process-warehouse"
    target = out / "process-copy-parquet"
    overrides = [*args.overrides, f"paths.landing={landing}", f"storage.warehouse={warehouse}"]
    sets = [word for item in overrides for word in ("--set", item)]
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(warehouse, ignore_errors=True)
    copy = _timed_process([sys.executable, "-m", "jobtagger.bench.plain_copy", args.conf, str(folder), str(target), *overrides])
    command = [sys.executable, "-m", "jobtagger.cli", "ingest", "--conf", args.conf, "--run-date", day.isoformat(), "--quiet", *sets]
    first = _timed_process(command)
    return _side_by_side(copy, first, _timed_process(command))


def _side_by_side(copy: float, ingest: float, rerun: float) -> dict[str, float]:
    """Seconds of the copy, the first ingest and its rerun, with the two ratios the targets are on."""
    return {
        "copy_seconds": copy,
        "ingest_seconds": ingest,
        "rerun_seconds": rerun,
        "ingest_vs_copy": round(ingest / copy, 2),
        "rerun_vs_first": round(rerun / ingest, 2),
    }


def _timed_process(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} exited {done.returncode}: {done.stderr[-2000:]}")
    return round(seconds, 2)


def _timed_ingest(spark: SparkSession, config: JobtaggerConfig, folder: Path) -> dict[str, Any]:
    context = RunContext(job="ingest", run_date=config.generate.start_date)
    started = time.perf_counter()
    result = ingest.run(spark, config, context, argparse.Namespace(landing_folder=str(folder)))
    seconds = time.perf_counter() - started
    steps: dict[str, float] = {}
    for step in context.steps:
        steps[step["step"]] = round(steps.get(step["step"], 0.0) + step["seconds"], 2)
    return {
        "seconds": round(seconds, 2),
        "steps": steps,
        "outcome": result.get("outcome", "ingested"),
        "counts": context.counts,
    }


def profile(spark: SparkSession, config: JobtaggerConfig, folder: Path) -> dict[str, float]:
    """Seconds of the fused read pass, layer by layer (each written to the ``noop`` sink): the raw
    records; with the text normalization; with the label resolution; fully validated. The
    differences to ``read`` are what normalization and label resolution cost."""
    landing = with_record_id(read_landing_files(spark, folder, config=config.ingest).frame)  # as the stage does
    lookup = label_lookup(ingest.taxonomy_of(config))

    layers: dict[str, Callable[[], DataFrame]] = {
        "read": lambda: landing,
        "read+normalize": lambda: normalize_text_columns(landing, html_columns=HTML_FIELDS, plain_columns=PLAIN_FIELDS),
        "read+labels": lambda: map_labels(landing, config=config.ingest, lookup=lookup),
        "read+validate": lambda: validate_records(landing, config=config.ingest, lookup=lookup),
    }
    seconds: dict[str, float] = {}
    for name, frame in layers.items():
        started = time.perf_counter()
        frame().write.format("noop").mode("overwrite").save()
        seconds[name] = round(time.perf_counter() - started, 2)
    return seconds


def _median_steps(runs: Any) -> dict[str, float]:
    runs = list(runs)
    names = list(dict.fromkeys(name for steps in runs for name in steps))
    return {name: round(statistics.median(steps.get(name, 0.0) for steps in runs), 2) for name in names}


def _print_table(result: dict[str, Any]) -> None:
    """The headline as a few readable lines (the full figures follow as JSON)."""
    print(f"bench ingest: {result['rows']:,} postings, {result['cores']} cores, medians of {len(result['rounds'])} rounds")
    # The targets go beside the whole-process figures when they were measured: the copy
    # is a whole process, and the copy warms up in a session more than ingest does.
    process = result.get("process")
    session_targets = process is None
    ingest_target = f" (target <= {TARGET_INGEST_RATIO})" if session_targets else " (in session)"
    rerun_target = f" (target <= {TARGET_RERUN_RATIO})" if session_targets else " (in session)"
    print(f"  plain copy {result['copy_seconds']:8.2f} s")
    print(f"  ingest     {result['ingest_seconds']:8.2f} s  ingest/copy {result['ingest_vs_copy']:.2f}x{ingest_target}")
    for name, value in result["ingest_steps"].items():
        print(f"    {name:<18} {value:8.2f} s")
    print(f"  rerun      {result['rerun_seconds']:8.2f} s  rerun/first {result['rerun_vs_first']:.2f}x{rerun_target}")
    for name, value in result["rerun_steps"].items():
        print(f"    {name:<18} {value:8.2f} s")
    if process is not None:
        print(f"  whole processes: copy {process['copy_seconds']:.2f} s, ingest {process['ingest_seconds']:.2f} s"
              f" (ingest/copy {process['ingest_vs_copy']:.2f}x, target <= {TARGET_INGEST_RATIO}),"
              f" rerun {process['rerun_seconds']:.2f} s (rerun/first {process['rerun_vs_first']:.2f}x, target <= {TARGET_RERUN_RATIO})")
    for name, value in result.get("profile_seconds", {}).items():
        print(f"  profile {name:<18} {value:8.2f} s")
