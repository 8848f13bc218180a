"""One SparkSession builder for every job, plus detection of optional JVM libraries.

Under ``spark-submit`` the launcher already chose master, memory and packages, so only settings
that are ours to choose are applied. Locally the builder picks values that suit a small machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from jobtagger.config import SparkConfig
from jobtagger.errors import EnvironmentProblem

DELTA_SPARK_CLASS = "io.delta.tables.DeltaTable"
SPARK_NLP_CLASS = "com.johnsnowlabs.nlp.DocumentAssembler"
MIN_JAVA = 17


@dataclass(frozen=True)
class JvmCapabilities:
    """Which optional JVM libraries the running session can load."""

    delta_spark: bool
    spark_nlp: bool


def launched_by_spark_submit() -> bool:
    """spark-submit starts the JVM first and hands the gateway port to Python."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def check_java() -> str:
    """Fail with a clear message unless Java 17+ is available; return its version string."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise EnvironmentProblem(
            "Java 17 or newer is required by Spark but no 'java' was found: install OpenJDK 17 "
            "(e.g. 'apt-get install openjdk-17-jre-headless') or set JAVA_HOME"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    text = out.stderr + out.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        raise EnvironmentProblem(f"could not read the Java version from {java!r}: {text.strip()!r}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise EnvironmentProblem(
            f"Java {MIN_JAVA} or newer is required by Spark 4, found Java {major} at {java}"
        )
    return f"{major}"


def check_warehouse(warehouse: str | os.PathLike[str]) -> None:
    """Fail with one line unless the warehouse folder exists or can be created, and takes files:
    a job finds out at start, not after its Spark work. Object-store URIs are left to the job."""
    text = os.fspath(warehouse)
    if "://" in text and not text.startswith("file://"):
        return
    folder = Path(text.removeprefix("file://")).absolute()
    for existing in (folder, *folder.parents):
        if existing.exists():
            if not existing.is_dir():
                raise EnvironmentProblem(f"storage.warehouse {text} is not usable: {existing} is a file, not a folder")
            break
    probe = folder / f".jobtagger-probe-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise EnvironmentProblem(f"storage.warehouse {text} is not writable: {exc.strerror or exc}") from None


def build_session(config: SparkConfig, *, app_name: str | None = None) -> SparkSession:
    """Create (or reuse) the session; local settings apply only outside spark-submit."""
    builder = SparkSession.builder.appName(app_name or config.app_name)
    if not launched_by_spark_submit():
        check_java()
        # Local Python workers (UDFs, the delta-rs writer) must run this interpreter, which has
        # jobtagger and its dependencies; PySpark otherwise starts the first `python3` on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            builder.master(config.master)
            .config("spark.driver.memory", config.driver_memory)
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
        )
    builder = builder.config("spark.sql.shuffle.partitions", str(config.shuffle_partitions))
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    for key, value in config.conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(config.log_level)
    return spark


def jvm_class_available(spark: SparkSession, class_name: str) -> bool:
    """True when ``class_name`` is on the driver JVM's classpath (i.e. its jar is). The class file
    is looked up, not loaded: a failed ``Class.forName`` costs a Java exception carried over py4j
    (about half a second)."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - py4j is the only way to ask the JVM
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    return loader.getResource(class_name.replace(".", "/") + ".class") is not None


def detect_capabilities(spark: SparkSession) -> JvmCapabilities:
    return JvmCapabilities(
        delta_spark=jvm_class_available(spark, DELTA_SPARK_CLASS),
        spark_nlp=jvm_class_available(spark, SPARK_NLP_CLASS),
    )
