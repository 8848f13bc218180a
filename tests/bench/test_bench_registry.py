"""``jobtagger bench NAME``: every NAME resolves to a benchmark module, ``tag`` to ``tag_speed``."""

from __future__ import annotations

import importlib

from jobtagger import bench


def test_the_tag_benchmark_keeps_its_command_name():
    assert "tag" in bench.available()
    assert "tag_speed" not in bench.available()
    assert bench.module_for("tag") == "jobtagger.bench.tag_speed"
    assert bench.module_for("train_speed") == "jobtagger.bench.train_speed"


def test_every_benchmark_name_names_a_module_with_run():
    for name in bench.available():
        assert callable(importlib.import_module(bench.module_for(name)).run), name
