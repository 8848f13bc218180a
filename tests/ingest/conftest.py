"""Python workers must run this interpreter (the normalizer is a pandas UDF): without
PYSPARK_PYTHON, Spark starts ``python3`` from PATH, which may lack pandas. Set at collection time,
before the session fixture creates the SparkContext that reads it."""

import os
import sys

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
