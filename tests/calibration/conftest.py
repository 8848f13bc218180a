"""Executors (the delta-rs data source, model scoring UDFs) need this interpreter, not the first
``python3`` on PATH. Set before the session fixture starts the JVM."""

import os
import sys

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
