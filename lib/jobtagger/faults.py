"""Fault points: named places in a job where a reliability test stops a real run.

``JOBTAGGER_FAULT=<point>=<action>`` in the environment arms one point; unset (production) a
fault point does nothing but read the environment. Actions:

- ``kill``: SIGKILL the job now (its whole process group when it leads one: the driver's JVM and
  Python workers die with it, as when a node is lost);
- ``kill-after:<seconds>``: SIGKILL it that long after the point is passed, wherever it then is
  (e.g. inside a commit, or while tasks write files);
- ``pause``: create the file named by ``JOBTAGGER_FAULT_MARKER`` and wait until killed, so a test
  can look at the tables in exactly that state first.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

FAULT_ENV = "JOBTAGGER_FAULT"
MARKER_ENV = "JOBTAGGER_FAULT_MARKER"


def fault_point(name: str) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    point, _, action = spec.partition("=")
    if point != name:
        return
    if action == "kill":
        _kill()
    elif action.startswith("kill-after:"):
        timer = threading.Timer(float(action.split(":", 1)[1]), _kill)
        timer.daemon = True
        timer.start()
    elif action == "pause":
        marker = os.environ.get(MARKER_ENV)
        if marker:
            Path(marker).write_text(name, encoding="utf-8")
        while True:
            time.sleep(3600)
    else:
        raise ValueError(f"{FAULT_ENV}: unknown action {action!r} (kill, kill-after:<seconds> or pause)")


def _kill() -> None:
    if os.getpgrp() == os.getpid():  # a process group of its own: take the JVM and workers along
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
