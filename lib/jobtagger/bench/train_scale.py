"""Training at scale: 1M postings x 1,000 labels on this machine with a driver of at most 4 GB.

``jobtagger bench train_scale --conf conf/local.yaml --rows 1000000 [--set spark.driver_memory=4g]
[--option k=1000] [--option strategy=multi_output] [--option hidden_units=64]
[--option negative_samples=20] [--option epochs=3] [--option max_iter=50] [--option reuse=true]``

Postings come from :mod:`jobtagger.synthetic` (``k + 100`` skills, so K labels exist), go through
the configured feature pipeline once and are written to Parquet under ``--out`` (not timed;
``reuse=true`` keeps a previous run's Parquet). The fit then reads them back and is timed, so the
cached training blocks are the only copy of the data in memory. Reported: fit seconds, the
training summary, the driver JVM's maximum heap, its peak heap use during the fit and the peak
resident memory of the driver's JVM and Python processes.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from pyspark.sql import SparkSession

from jobtagger.bench import options
from jobtagger.bench.common import featurized_postings, labelled_generate_overrides
from jobtagger.config import JobtaggerConfig
from jobtagger.labels import build_label_space
from jobtagger.models import estimator_for

DEFAULT_ROWS = 1_000_000
MB = 2**20


def run(spark: SparkSession, config: JobtaggerConfig, args: argparse.Namespace) -> dict:
    opts = options(args)
    rows = args.rows or DEFAULT_ROWS
    k = int(opts.get("k", 1000))
    config = config.with_overrides([
        *labelled_generate_overrides(labels=k),
        f"training.strategy={opts.get('strategy', 'multi_output')}",
        f"training.hidden_units={opts.get('hidden_units', 64)}",
        f"training.negative_samples={opts.get('negative_samples', 20)}",
        f"training.epochs={opts.get('epochs', 3)}",
        f"training.max_iter={opts.get('max_iter', config.training.max_iter)}",
    ])
    features_path = Path(args.out) / "train_scale-features"
    started = time.perf_counter()
    if not (opts.get("reuse") == "true" and (features_path / "_SUCCESS").exists()):
        featurized_postings(spark, config, rows=rows).write.mode("overwrite").parquet(str(features_path))
    prepare_seconds = time.perf_counter() - started
    data = spark.read.parquet(str(features_path))
    report = build_label_space(data, min_support=config.training.min_support, max_labels=k)

    jvm = spark.sparkContext._jvm
    heap_pools = [
        pool for pool in jvm.java.lang.management.ManagementFactory.getMemoryPoolMXBeans()
        if pool.getType().toString() == "Heap memory"
    ]
    for pool in heap_pools:
        pool.resetPeakUsage()
    started = time.perf_counter()
    model = estimator_for(config.training, label_space=report.labels).fit(data)
    fit_seconds = time.perf_counter() - started
    return {
        "rows": data.count(), "features": data.first()["features"].size, "k": len(model.labels),
        "prepare_seconds": round(prepare_seconds, 1), "fit_seconds": round(fit_seconds, 1),
        "training": config.training.model_dump(mode="json"), "summary": model.training_summary,
        "driver_memory_setting": spark.conf.get("spark.driver.memory", None),
        "driver_jvm_max_heap_mb": round(jvm.java.lang.Runtime.getRuntime().maxMemory() / MB),
        "driver_jvm_peak_heap_used_mb_during_fit": round(sum(p.getPeakUsage().getUsed() for p in heap_pools) / MB),
        "driver_jvm_peak_rss_mb": _peak_rss_mb(spark.sparkContext._gateway.proc),
        "driver_python_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _peak_rss_mb(process) -> int | None:
    """VmHWM of the JVM this Python process started (None under spark-submit, which started it)."""
    if process is None:
        return None
    try:
        status = Path(f"/proc/{process.pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return None
