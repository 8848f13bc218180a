from pathlib import Path

import pytest

from jobtagger.config import load_config
from jobtagger.errors import ConfigError

from testkit import REPO_ROOT

CONF = REPO_ROOT / "conf"


def test_local_merges_base_and_environment():
    config = load_config(CONF / "local.yaml")
    assert config.spark.master == "local[2]"  # from local.yaml
    assert config.spark.app_name == "jobtagger"  # from base.yaml
    assert config.storage.engine == "auto"
    assert config.generate.formats == ["jsonl", "csv", "parquet"]


def test_cluster_example_is_valid_and_selects_delta_spark():
    config = load_config(CONF / "cluster.yaml")
    assert config.storage.engine == "delta-spark"
    assert "spark.sql.extensions" in config.spark.conf


def test_overrides_are_typed_and_nested():
    config = load_config(CONF / "local.yaml", overrides=["training.max_labels=500", "generate.formats=[csv]"])
    assert config.training.max_labels == 500
    assert config.generate.formats == ["csv"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("training.max_labelz=5", "config error: unknown key 'training.max_labelz'"),
        ("training.max_labels=many", "config error: training.max_labels: Input should be a valid integer"),
        ("storage.engine=parquet", "config error: storage.engine: Input should be 'auto', 'delta-spark' or 'delta-rs'"),
        ("generate.skills=9", "config error: generate.skills: Input should be greater than or equal to 10"),
        ("nonsense", "must look like section.key=value"),
        ("calibration.folds=1", "config error: calibration.folds: Value error, folds must be 0 (a validation carve), 2 to 20, or auto"),
    ],
)
def test_bad_values_fail_with_one_line_naming_the_key(override, message):
    with pytest.raises(ConfigError) as info:
        load_config(CONF / "local.yaml", overrides=[override])
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_bad_yaml_and_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "local.yaml"
    broken.write_text("spark: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(broken)


def test_fingerprint_changes_with_model_settings_only():
    base = load_config(CONF / "local.yaml")
    assert base.fingerprint() == load_config(CONF / "local.yaml", overrides=["generate.rows=5"]).fingerprint()
    assert base.fingerprint() != load_config(CONF / "local.yaml", overrides=["training.max_iter=7"]).fingerprint()


def test_cli_reports_config_errors_with_exit_code_2(capsys):
    from jobtagger.cli import main

    code = main(["ingest", "--conf", str(CONF / "local.yaml"), "--run-date", "2026-11-01", "--set", "bogus.key=1"])
    assert code == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err


def test_overrides_of_a_loaded_config_keep_its_defaults_as_defaults():
    config = load_config(CONF / "local.yaml", overrides=["generate.rows=5"])
    fixed = config.with_overrides(["calibration.strategy=fixed", "calibration.fixed_threshold=0.9"])
    assert fixed.calibration.effective_rule == "fixed" and fixed.generate.rows == 5
    assert fixed.spark.master == "local[2]"
    with pytest.raises(ConfigError, match="needs strategy f1 or f_beta"):
        config.with_overrides(["calibration.strategy=fixed", "calibration.rule=scut"])
