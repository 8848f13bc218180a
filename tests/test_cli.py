"""Start-up checks and credential redaction of the ``jobtagger`` command."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from jobtagger.cli import build_parser, run_stage
from jobtagger.runlog import LOGGER, configure_logging, configure_redaction
from testkit import REPO_ROOT

JOBTAGGER = [sys.executable, "-m", "jobtagger.cli"]


@pytest.mark.parametrize("stage", ["ingest", "tag"])
def test_an_unusable_warehouse_fails_at_start_with_exit_2_and_one_line(tmp_path, stage):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    result = subprocess.run(
        [*JOBTAGGER, stage, "--conf", str(REPO_ROOT / "conf" / "local.yaml"), "--run-date", "2026-11-03",
         "--set", f"storage.warehouse={afile}/wh"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"jobtagger {stage}: storage.warehouse {afile}/wh is not usable: {afile} is a file, not a folder"]
    assert "SparkContext" not in result.stderr and result.stdout == ""


def test_a_read_only_warehouse_fails_at_start(tmp_path):
    from jobtagger.errors import EnvironmentProblem
    from jobtagger.session import check_warehouse

    check_warehouse(tmp_path / "new" / "wh")  # created when missing
    assert (tmp_path / "new" / "wh").is_dir() and not list((tmp_path / "new" / "wh").iterdir())
    with pytest.raises(EnvironmentProblem, match="is not writable"):
        check_warehouse("/proc/jobtagger-wh")


def test_credentials_never_reach_logs_summaries_or_the_error_line(spark, make_config, tmp_path, monkeypatch, capsys):
    env_secret, conf_secret = "env-Secret-4242xyz", "conf-Secret-9090abc"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", env_secret)
    # the secret shows up in a path the error line and the logs quote, and in the config itself
    config = make_config(f"paths.landing={tmp_path / env_secret}",
                         f"spark.conf={{spark.hadoop.fs.s3a.secret.key: {conf_secret}}}")
    configure_logging(logging.INFO)
    handler = LOGGER.handlers[0]
    logs = io.StringIO()
    previous_stream = handler.setStream(logs)
    try:
        configure_redaction(config.model_dump(mode="json"))
        args = build_parser(["ingest"]).parse_args(["ingest", "--run-date", "2026-11-03"])
        code = run_stage("ingest", config, args, spark=spark)
    finally:
        handler.setStream(previous_stream)
        configure_redaction()

    error = capsys.readouterr().err
    summaries = list((config.storage.warehouse / "_runs" / "ingest" / "2026-11-03").glob("*.json"))
    summary = summaries[0].read_text()
    assert code == 4 and "***" in error and "***" in summary
    assert json.loads(summary)["config"]["spark"]["conf"]["spark.hadoop.fs.s3a.secret.key"] == "***"
    for text in (error, summary, logs.getvalue()):
        assert env_secret not in text and conf_secret not in text
