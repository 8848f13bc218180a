#!/usr/bin/env bash
# A Spark standalone cluster on loopback (one master, N workers) from the pip-installed pyspark,
# managed with Spark's own sbin/spark-daemon.sh (pid files, logs).
#
#   jobs/cluster/standalone.sh start    # prints MASTER=spark://127.0.0.1:<port> once all workers are alive
#   jobs/cluster/standalone.sh status
#   jobs/cluster/standalone.sh stop     # waits until no Master/Worker JVM of this cluster is left
#
# Settings (environment, with defaults):
#   PYTHON=<repo>/.venv/bin/python  the job venv (its pyspark is the Spark installation)
#   CLUSTER_DIR=/tmp/jobtagger-cluster  pid files, daemon logs and the workers' work dirs
#   MASTER_PORT=7077  MASTER_WEBUI_PORT=8080  (workers' web UIs take the next ports)
#   WORKERS=2  WORKER_CORES=1  WORKER_MEMORY=2g
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
CLUSTER_DIR="${CLUSTER_DIR:-/tmp/jobtagger-cluster}"
MASTER_PORT="${MASTER_PORT:-7077}"
MASTER_WEBUI_PORT="${MASTER_WEBUI_PORT:-8080}"
WORKERS="${WORKERS:-2}"
WORKER_CORES="${WORKER_CORES:-1}"
WORKER_MEMORY="${WORKER_MEMORY:-2g}"
START_TIMEOUT="${START_TIMEOUT:-60}"

SPARK_HOME="$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export SPARK_HOME
export SPARK_PID_DIR="$CLUSTER_DIR/pids" SPARK_LOG_DIR="$CLUSTER_DIR/logs"
export SPARK_IDENT_STRING="jobtagger"
DAEMON="$SPARK_HOME/sbin/spark-daemon.sh"
MASTER_CLASS=org.apache.spark.deploy.master.Master
WORKER_CLASS=org.apache.spark.deploy.worker.Worker
MASTER_URL="spark://127.0.0.1:$MASTER_PORT"

alive_workers() {
  "$PYTHON" - "$MASTER_WEBUI_PORT" <<'EOF'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=2) as response:
        print(json.load(response).get("aliveworkers", 0))
except OSError:
    print(-1)
EOF
}

cluster_pids() {
  cat "$SPARK_PID_DIR"/*.pid 2>/dev/null || true
}

start() {
  mkdir -p "$CLUSTER_DIR/work"
  "$DAEMON" start "$MASTER_CLASS" 1 --host 127.0.0.1 --port "$MASTER_PORT" --webui-port "$MASTER_WEBUI_PORT"
  for i in $(seq 1 "$WORKERS"); do
    "$DAEMON" start "$WORKER_CLASS" "$i" --host 127.0.0.1 --cores "$WORKER_CORES" --memory "$WORKER_MEMORY" \
      --webui-port "$((MASTER_WEBUI_PORT + i))" --work-dir "$CLUSTER_DIR/work/worker-$i" "$MASTER_URL"
  done
  local deadline=$((SECONDS + START_TIMEOUT))
  until [ "$(alive_workers)" -ge "$WORKERS" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "standalone.sh: $WORKERS workers not alive after ${START_TIMEOUT}s; logs in $SPARK_LOG_DIR" >&2
      stop >&2
      exit 1
    fi
    sleep 1
  done
  echo "MASTER=$MASTER_URL"
  echo "MASTER_WEBUI=http://127.0.0.1:$MASTER_WEBUI_PORT"
}

stop() {
  local pids
  pids="$(cluster_pids)"
  for i in $(seq 1 "$WORKERS"); do
    "$DAEMON" stop "$WORKER_CLASS" "$i"
  done
  "$DAEMON" stop "$MASTER_CLASS" 1
  for pid in $pids; do  # spark-daemon.sh sends the signal only: wait for each JVM to exit
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "standalone.sh: process $pid ignored SIGTERM, killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}

status() {
  echo "master $MASTER_URL, alive workers: $(alive_workers)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
