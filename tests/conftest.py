"""Shared fixtures: one local[2] SparkSession for the whole run, configs on temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobtagger.config import JobtaggerConfig, load_config
from jobtagger.session import build_session
from testkit import REPO_ROOT


@pytest.fixture(scope="session")
def spark():
    config = load_config(REPO_ROOT / "conf" / "local.yaml").spark.model_copy(
        update={
            "master": "local[2]",
            "shuffle_partitions": 2,
            "driver_memory": "2g",
            "log_level": "ERROR",
            "conf": {"spark.ui.enabled": "false", "spark.default.parallelism": "2"},
        }
    )
    session = build_session(config, app_name="jobtagger-tests")
    yield session
    session.stop()


@pytest.fixture
def make_config(tmp_path: Path):
    """Config of the local environment with warehouse and landing under ``tmp_path``."""

    def _make(*overrides: str) -> JobtaggerConfig:
        return load_config(
            REPO_ROOT / "conf" / "local.yaml",
            overrides=[
                f"storage.warehouse={tmp_path / 'warehouse'}",
                f"paths.landing={tmp_path / 'landing'}",
                f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'}",
                "spark.shuffle_partitions=2",
                *overrides,
            ],
        )

    return _make

