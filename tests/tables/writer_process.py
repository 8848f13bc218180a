"""A separate Spark application that appends rows to a table: killed mid-write by a test."""

from __future__ import annotations

import sys

from jobtagger.config import SparkConfig, StorageConfig
from jobtagger.session import build_session
from jobtagger.tables import open_table_store


def main(warehouse: str, table: str, rows: int) -> None:
    spark_config = SparkConfig(master="local[2]", driver_memory="1g", log_level="ERROR",
                               conf={"spark.ui.enabled": "false"})
    spark = build_session(spark_config, app_name="jobtagger-killed-writer")
    store = open_table_store(spark, StorageConfig(warehouse=warehouse))
    frame = spark.range(0, rows, numPartitions=40).selectExpr("id", "concat('row ', id) AS text")
    store.write(frame, table, mode="append")
    print("committed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
