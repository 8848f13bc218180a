"""Solver progress: every pass recorded, a log line only every few seconds (and first and last)."""

from __future__ import annotations

import json
import logging

from jobtagger.models.common import Progress


def _logged(caplog) -> list[dict]:
    return [json.loads(record.getMessage()) for record in caplog.records if record.name == "jobtagger.models"]


def test_passes_are_recorded_but_logged_only_first_last_and_every_interval(caplog):
    caplog.set_level(logging.INFO, logger="jobtagger.models")
    progress = Progress("one_vs_rest", 4, interval=3600)
    for step in range(1, 51):
        progress.log(step, loss=1.0 / step, labels_done=4 if step == 50 else step // 20)
    assert len(progress.history) == 50
    assert [entry["step"] for entry in _logged(caplog)] == [1, 50]
    assert _logged(caplog)[-1]["labels_done"] == 4


def test_a_converged_epoch_is_logged_and_a_zero_interval_logs_every_pass(caplog):
    caplog.set_level(logging.INFO, logger="jobtagger.models")
    quiet = Progress("multi_output", 3, interval=3600)
    quiet.log(1, loss=0.5, labels_done=0, epoch=1)
    quiet.log(2, loss=0.4, labels_done=0, epoch=2)
    quiet.log(2, loss=0.4, labels_done=3, epoch=2, converged=True)
    assert [(entry["step"], entry.get("converged")) for entry in _logged(caplog)] == [(1, None), (2, True)]
    caplog.clear()
    chatty = Progress("multi_output", 3, interval=0.0)
    for step in range(1, 4):
        chatty.log(step, loss=0.1, labels_done=0)
    assert [entry["step"] for entry in _logged(caplog)] == [1, 2, 3]
