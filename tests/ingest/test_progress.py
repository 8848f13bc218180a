"""The progress of a run: one rewritten line on a terminal, rate-limited JSON lines elsewhere."""

from __future__ import annotations

import io
import json
import time

from jobtagger.runlog import RunContext
import datetime as dt


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_is_rewritten_with_step_counts_and_tasks():
    stream = Terminal()
    run = RunContext(job="ingest", run_date=dt.date(2026, 11, 1))
    with run.showing_progress(stream=stream, tasks=lambda: (3, 8)):
        with run.step("read") as info:
            info.update(records=300000, quarantined=263, folder="/x")
        time.sleep(0.05)
    text = stream.getvalue()
    assert "\n" not in text[:-1] and text.endswith("\n")  # one line, ended once at the end
    last = text.rsplit("\r", 1)[-1]
    assert last.startswith("ingest: read | records=300,000 | quarantined=263 | tasks 3/8 | ")
    assert "folder" not in last


def test_off_a_terminal_json_lines_at_most_every_interval():
    from jobtagger.runlog import Progress

    stream = io.StringIO()
    progress = Progress("ingest", stream=stream, interval=3600, tick=0.01)
    for step in ("read", "dedup", "quality"):
        progress.update(step, rows=1)
    time.sleep(0.1)
    progress.close()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1 and lines[0]["event"] == "ingest.progress" and lines[0]["step"] == "read"
