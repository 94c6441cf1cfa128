"""A stack file that would be read otherwise than it looks is an error: a misspelled namespace, a repeated key.
Every config error quotes the value as the YAML file spells it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Literal

import pytest
import yaml

from arcblueprint.config import ConfigError, load, read_stack_file
from arcblueprint.config.schema import ConfigError as SchemaError
from arcblueprint.config.schema import parse, setting, yaml_text
from arcblueprint.preview.harness import REPO_ROOT


@dataclass(frozen=True, kw_only=True)
class Spec:
    mode: Literal["a", "b"] = "a"
    count: int = setting(1, minimum=1, maximum=10**6)


def _write(tmp_path, text: str, stack: str = "bad"):
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(textwrap.dedent(text))
    return tmp_path


def _with(tmp_path, **config):
    """The shipped dev stack file with ``config`` keys set (replacing the file's own)."""
    document = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())
    document["config"].update(config)
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return tmp_path


def test_a_misspelled_namespace_is_an_error_with_the_key_it_meant(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(_with(tmp_path, **{"arcbluprint:policy": {"enforcement": "advisory"}}), "bad")
    message = str(caught.value)
    assert message.startswith("Pulumi.bad.yaml: arcbluprint:policy is invalid in stack 'bad': ")
    assert "did you mean 'arcblueprint:policy'?" in message and "\n" not in message


def test_a_namespace_nobody_reads_names_the_ones_that_are(tmp_path):
    with pytest.raises(ConfigError, match=r"keys belong to this project \('arcblueprint:'\) or to a provider"):
        load(_with(tmp_path, **{"kubernetes:context": "x"}), "bad")
    assert load(_with(tmp_path, **{"aws:profile": "ci", "pulumi:disable-default-providers": ["*"]}), "bad")


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        (
            """\
            config:
              arcblueprint:services:
                orders:
                  pattern: comfortable-rest
                  memoryMib: 512
                  memoryMib: 1024
            """,
            "arcblueprint:services.orders.memoryMib",
            (5, 6),
        ),
        (
            """\
            config:
              environment: dev
              aws:region: eu-west-1
              arcblueprint:environment: prod
            """,
            "arcblueprint:environment",
            (2, 4),
        ),
        (
            """\
            config:
              arcblueprint:policy:
                waivers:
                  - policy: sqs-encrypted
                    resource: q
                    resource: r
            """,
            "arcblueprint:policy.waivers[0].resource",
            (5, 6),
        ),
    ],
)
def test_a_repeated_key_is_an_error_naming_both_lines(tmp_path, text, key, lines):
    with pytest.raises(ConfigError) as caught:
        read_stack_file(_write(tmp_path, text), "bad")
    message = str(caught.value)
    assert message.startswith(f"Pulumi.bad.yaml: {key} is invalid in stack 'bad': ")
    assert f"appears twice, at lines {lines[0]} and {lines[1]}" in message


def test_a_merge_key_is_not_a_repeat_and_dates_stay_text(tmp_path):
    text = """\
    config:
      arcblueprint:tags: &tags
        owner: me
      arcblueprint:other:
        <<: *tags
        owner: you
      arcblueprint:when: 2026-03-31
    """
    values = read_stack_file(_write(tmp_path, text), "bad")
    assert values["arcblueprint:other"] == {"owner": "you"}
    assert values["arcblueprint:when"] == "2026-03-31"  # not datetime.date: the config model reads text


def test_values_print_as_yaml_writes_them():
    assert [yaml_text(v) for v in (False, None, 1000000, 2.0, 1e20, "it's", ("a", 1))] == [
        "false",
        "null",
        "1000000",
        "2.0",
        "1.0e+20",
        "'it''s'",
        "['a', 1]",
    ]
    for value in (False, None, 1000000, 2.5, 1e20, "x: y", ["a", True], {"k": None}):
        assert yaml.safe_load(yaml_text(value)) == value  # what it prints reads back as the same value


def test_config_errors_quote_booleans_and_large_limits_as_yaml(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(_with(tmp_path, **{"arcblueprint:network": {"peakConcurrentExecutions": 2_000_000}}), "bad")
    message = str(caught.value)
    assert "= 2000000 is invalid" in message and "from 0 to 1000000" in message and "e+06" not in message

    with pytest.raises(SchemaError) as caught:
        parse(Spec, {"mode": False})
    assert str(caught.value) == "mode = false is invalid: must be one of a, b"
    with pytest.raises(SchemaError) as caught:
        parse(Spec, {"count": None})
    assert str(caught.value) == "count = null is invalid: must be a whole number from 1 to 1000000"


@pytest.mark.parametrize("command", ["plan", "deploy"])
def test_plan_and_deploy_check_the_config_before_looking_for_the_cli(command, tmp_path, monkeypatch, capsys):
    import arcblueprint.config as config_package
    from arcblueprint.cli import main

    monkeypatch.setenv("PATH", "/nonexistent")  # no Pulumi CLI: without the check first this would exit 5
    bad = _with(tmp_path, **{"arcblueprint:logging": {"retentionDays": 13}})
    monkeypatch.setattr(config_package, "load", lambda _root, stack: load(bad, stack))
    assert main([command, "--stack", "bad"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "arcblueprint:logging.retentionDays = 13 is invalid" in err
    assert "get.pulumi.com" not in err
