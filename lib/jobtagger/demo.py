"""``jobtagger demo``: the whole pipeline on the embedded default, then a look at the tables.

Generates ``generate.days`` days of synthetic postings from ``generate.start_date``, ingests each
day, trains on everything labelled, tags the last day, and prints where the tables are with the
answer to a sample SQL query. Each step is the same stage code the scheduled jobs run.
"""

from __future__ import annotations

import argparse
import datetime as dt

from jobtagger.config import JobtaggerConfig

SAMPLE_QUERY = """
SELECT tag, COUNT(*) AS postings, ROUND(AVG(score), 3) AS avg_score
FROM {database}.gold_posting_tag
GROUP BY tag ORDER BY postings DESC, tag LIMIT 10
""".strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--skip-generate", action="store_true", help="reuse the landing files already there")


def stage_arguments(stage: str, args: argparse.Namespace, run_date: dt.date) -> argparse.Namespace:
    """The stage's own parsed defaults, as if it were called on the command line."""
    from jobtagger.stages.runner import stage_parser

    argv = ["--conf", args.conf, "--run-date", run_date.isoformat()]
    for override in args.overrides:
        argv += ["--set", override]
    return stage_parser(stage).parse_args(argv)


def main(config: JobtaggerConfig, args: argparse.Namespace) -> int:
    from jobtagger.session import build_session
    from jobtagger.stages.runner import run_stage
    from jobtagger.tables.catalog import register_catalog
    from jobtagger.tables import open_table_store

    spark = build_session(config.spark, app_name="jobtagger-demo")
    dates = [config.generate.start_date + dt.timedelta(days=i) for i in range(config.generate.days)]
    last = dates[-1]
    plan = [] if args.skip_generate else [("generate", day) for day in dates]
    plan += [("ingest", day) for day in dates] + [("train", last), ("tag", last)]
    for stage, day in plan:
        print(f"\n=== jobtagger {stage} --run-date {day}")
        code = run_stage(stage, config, stage_arguments(stage, args, day), spark=spark)
        if code != 0:
            print(f"demo stopped: {stage} exited with {code}")
            return code

    store = open_table_store(spark, config.storage)
    print(f"\nDelta tables under {config.storage.warehouse.resolve()}:")
    for name in store.list_tables():
        print(f"  {config.storage.database}.{name:<22} {store.path(name)} (version {store.version(name)})")
    register_catalog(spark, store)
    query = SAMPLE_QUERY.format(database=config.storage.database)
    print(f"\n{query}\n")
    spark.sql(query).show(truncate=False)
    return 0
