"""spark-submit app: report, from inside the executors, where ``jobtagger`` was imported from.

Prints one JSON line ``{"probe": [{"pid", "cwd", "jobtagger_file", "rows", "default_rows"}, ...]}``, one entry per
partition. The work calls package code (the config model) on the executor, not only an import.
"""

import json
import os

from pyspark.sql import SparkSession


def where_is_jobtagger(rows):
    import jobtagger
    from jobtagger.config import GenerateConfig

    yield {
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "jobtagger_file": jobtagger.__file__,
        "rows": sum(1 for _ in rows),
        "default_rows": GenerateConfig().rows,
    }


if __name__ == "__main__":
    spark = SparkSession.builder.appName("jobtagger-executor-probe").getOrCreate()
    partitions = int(spark.sparkContext.defaultParallelism) * 2
    report = spark.sparkContext.parallelize(range(1000), partitions).mapPartitions(where_is_jobtagger).collect()
    print(json.dumps({"probe": report}))
    spark.stop()
