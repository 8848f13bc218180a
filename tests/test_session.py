import stat
from pathlib import Path

import pytest

from jobtagger.errors import EnvironmentProblem
from jobtagger.session import check_java, detect_capabilities, jvm_class_available


def test_session_fixture_uses_local_settings(spark):
    assert spark.sparkContext.master == "local[2]"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def test_capabilities_reflect_the_classpath(spark):
    assert jvm_class_available(spark, "org.apache.spark.sql.SparkSession")
    assert not jvm_class_available(spark, "org.example.jobtagger.NoSuchClass")
    caps = detect_capabilities(spark)
    # Neither jar can be fetched on this machine; on a cluster with --packages these turn True.
    assert caps.delta_spark is jvm_class_available(spark, "io.delta.tables.DeltaTable")
    assert caps.spark_nlp is jvm_class_available(spark, "com.johnsnowlabs.nlp.DocumentAssembler")


def test_check_java_accepts_this_machine():
    assert int(check_java()) >= 17


def _fake_java(tmp_path: Path, version_line: str) -> Path:
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return home


def test_check_java_rejects_old_java(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, 'openjdk version "1.8.0_392"')))
    with pytest.raises(EnvironmentProblem, match="Java 17 or newer is required by Spark 4, found Java 8"):
        check_java()


def test_check_java_says_what_to_install_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(EnvironmentProblem, match="install OpenJDK 17"):
        check_java()
