#!/usr/bin/env bash
# Create (once) a virtual environment with Airflow and the Spark provider, apart from the job's
# venv, as Airflow workers usually are. Prints the venv's path. Idempotent: a venv whose install
# finished is reused; a half-built one is rebuilt.
#
#   jobs/airflow/airflow_venv.sh [VENV_DIR]    # default: $JOBTAGGER_AIRFLOW_VENV or /tmp/jobtagger-airflow-venv
#
# PYTHON chooses the interpreter (default python3; Airflow 3.3 supports 3.10 to 3.13).
set -euo pipefail

AIRFLOW_VERSION=3.3.2
SPARK_PROVIDER_VERSION=6.3.4
VENV="${1:-${JOBTAGGER_AIRFLOW_VENV:-/tmp/jobtagger-airflow-venv}}"
PYTHON="${PYTHON:-python3}"
MARKER="$VENV/.jobtagger-airflow-$AIRFLOW_VERSION"

if [ ! -f "$MARKER" ]; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "apache-airflow==$AIRFLOW_VERSION" "apache-airflow-providers-apache-spark==$SPARK_PROVIDER_VERSION" >&2
  touch "$MARKER"
fi
echo "$VENV"
