"""PySpark's Python worker daemon, with the modules of jobtagger's executor-side Python code
imported before it forks a worker.

Spark starts one daemon per executor and forks a worker process from it for each concurrent
task; a worker then imports what the task's functions need (pyarrow, the ingest UDFs' modules and
their imports: config, taxonomy; the delta-rs writer). Imported here once, every forked worker
has them already. Used for local masters only (see :func:`jobtagger.session.build_session`): on a
cluster the executors' Python may not have jobtagger installed, and there PySpark's own daemon
runs.
"""

import pyarrow.compute  # noqa: F401
from pyspark import daemon

import jobtagger.ingestion  # noqa: F401
import jobtagger.tables.delta_rs  # noqa: F401
import jobtagger.text.normalize  # noqa: F401

if __name__ == "__main__":
    daemon.manager()
