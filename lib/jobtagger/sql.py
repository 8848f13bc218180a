"""``jobtagger sql "SELECT ... FROM jobtagger.gold_posting_tags"``: query the registered tables."""

from __future__ import annotations

import argparse
import json

from jobtagger.config import JobtaggerConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="Spark SQL; every table of the warehouse is <database>.<table>")
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table", help="output format")
    parser.add_argument("--limit", type=int, default=100, help="rows shown (the query runs on the executors)")


def main(config: JobtaggerConfig, args: argparse.Namespace) -> int:
    from jobtagger.session import build_session
    from jobtagger.tables.catalog import register_catalog
    from jobtagger.tables import open_table_store

    spark = build_session(config.spark, app_name="jobtagger-sql")
    register_catalog(spark, open_table_store(spark, config.storage))
    result = spark.sql(args.query).limit(args.limit)
    if args.format == "table":
        result.show(args.limit, truncate=False)
    elif args.format == "json":
        for line in result.toJSON().collect():
            print(line)
    else:
        print(",".join(result.columns))
        for row in result.collect():
            print(",".join(json.dumps(value, default=str) if value is not None else "" for value in row))
    return 0
