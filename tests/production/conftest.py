"""Fixtures for production-style runs: the package zip, and a Python like a cluster node's.

The driver and executors run ``node_python``: a Python with every dependency of the job but
without jobtagger. It can import jobtagger only from the shipped zip, so a job that succeeds
proves the zip was shipped and used.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from jobtagger.packaging import build_pyfiles


@pytest.fixture(scope="session")
def pyfiles(tmp_path_factory) -> Path:
    return build_pyfiles(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def node_python(tmp_path_factory) -> Path:
    """A venv that sees the job venv's packages (a plain path line in a .pth) but not jobtagger,
    whose editable install is itself a .pth file there, which is not processed."""
    venv = tmp_path_factory.mktemp("node-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(venv)], check=True)
    python = venv / "bin" / "python"
    node_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    Path(node_site, "job-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python
