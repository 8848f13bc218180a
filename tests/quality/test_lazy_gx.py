"""Great Expectations is imported when a suite is built, not when a stage module is imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True, timeout=300, cwd=ROOT
    )
    return done.stdout.strip()


def test_importing_the_ingest_stage_leaves_gx_unimported():
    out = _run(
        """
        import sys
        import jobtagger.stages.ingest, jobtagger.quality.bronze
        print("great_expectations" in sys.modules)
        """
    )
    assert out == "False"


@pytest.mark.slow  # a process importing GX
def test_background_load_hands_over_the_loaded_module():
    out = _run(
        """
        import sys
        from jobtagger import quality
        quality.load_in_background()
        quality.load_in_background()  # once per process
        gx = quality.great_expectations()
        print(gx is sys.modules["great_expectations"], "data_context.types.base" in " ".join(sys.modules))
        """
    )
    assert out == "True True"


@pytest.mark.slow  # a process importing GX
def test_bronze_expectations_are_built_through_the_lazy_import():
    out = _run(
        """
        from jobtagger.config import load_config
        from jobtagger.quality.bronze import bronze_expectations
        rules = bronze_expectations(load_config("conf/local.yaml"))
        print(len(rules) > 0, all(type(r).__module__.startswith("great_expectations") for r in rules))
        """
    )
    assert out == "True True"
