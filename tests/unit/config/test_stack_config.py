"""The shipped stack configs load, and prod is stricter than dev where it should be."""

from __future__ import annotations

import json

import pytest
import yaml

from arcblueprint.config import ConfigError, engine_config, load, read_stack_file, stack_config
from arcblueprint.preview.harness import REPO_ROOT


def test_shipped_stacks_validate_and_prod_is_stricter_than_dev():
    dev, prod = load(REPO_ROOT, "dev"), load(REPO_ROOT, "prod")
    assert (dev.environment, prod.environment) == ("dev", "prod")
    assert prod.protect_stateful_resources and not dev.protect_stateful_resources
    assert prod.logging.retention_days > dev.logging.retention_days
    assert prod.releases.strategy in {"canary", "linear", "blue-green"}
    assert dev.releases.strategy == "all-at-once"
    assert prod.policy.enforcement == "mandatory" and dev.policy.enforcement == "advisory"
    assert prod.network.availability_zones >= dev.network.availability_zones


def test_engine_config_is_what_the_cli_passes():
    """The CLI hands the program strings; structured values as JSON. Parsing them back is lossless."""
    raw = read_stack_file(REPO_ROOT, "prod")
    values = engine_config(raw)
    assert all(isinstance(v, str) for v in values.values())
    assert json.loads(values["arcblueprint:network"]) == raw["arcblueprint:network"]
    assert values["arcblueprint:accountId"] == "222222222222"  # a quoted number stays a string
    assert stack_config(values, "prod") == load(REPO_ROOT, "prod")


def test_unnamespaced_keys_get_the_project_namespace(tmp_path):
    (tmp_path / "Pulumi.x.yaml").write_text("config:\n  environment: dev\n")
    assert read_stack_file(tmp_path, "x") == {"arcblueprint:environment": "dev"}


@pytest.mark.parametrize(
    ("yaml_text", "key_in_message"),
    [
        ("config:\n  arcblueprint:logging: {retentionDays: 13}\n", "arcblueprint:logging.retentionDays"),
        ("config:\n  arcblueprint:network: {availabilityZones: 'three'}\n", "arcblueprint:network.availabilityZones"),
        ("config:\n  arcblueprint:network: {availabilityZones: 9}\n", "arcblueprint:network.availabilityZones"),
        ("config:\n  arcblueprint:netwrk: {}\n", "arcblueprint:netwrk"),
        ("config:\n  arcblueprint:releases: {strategy: yolo}\n", "arcblueprint:releases.strategy"),
        ("config:\n  arcblueprint:releases: {weightedSteps: [50, 10, 100]}\n", "arcblueprint:releases.weightedSteps"),
        ("config:\n  arcblueprint:tags: {owner: me}\n", "arcblueprint:tags"),
        ("config:\n  arcblueprint:network: {onPremRanges: ['10.0.0.1/8']}\n", "arcblueprint:network.onPremRanges[0]"),
        ("config:\n  aws:region: mars-1\n", "aws:region"),
        ("config:\n  arcblueprint:network: [1, 2]\n", "arcblueprint:network"),
        # A rotated secret names its rotation role (exempted from the readers-only Deny), and only then.
        (
            "config:\n  arcblueprint:secrets: {k1: {description: key, rotationDays: 30, rotationFunctionArn: "
            "'arn:aws:lambda:eu-west-1:111111111111:function:rot'}}\n",
            "arcblueprint:secrets.k1.rotationRoleArn",
        ),
        (
            "config:\n  arcblueprint:secrets: {k1: {description: key, "
            "rotationRoleArn: 'arn:aws:iam::111111111111:role/rot'}}\n",
            "arcblueprint:secrets.k1.rotationRoleArn",
        ),
        (
            "config:\n  arcblueprint:secrets: {k1: {description: key, rotationDays: 30, rotationFunctionArn: "
            "'arn:aws:lambda:eu-west-1:111111111111:function:rot', rotationRoleArn: 'rot'}}\n",
            "arcblueprint:secrets.k1.rotationRoleArn",
        ),
        ("config:\n  arcblueprint:logging: {retentionDays: 30\n", "Pulumi.bad.yaml"),
        ("- just\n- a list\n", "Pulumi.bad.yaml"),
    ],
)
def test_bad_values_give_one_line_naming_key_and_stack(tmp_path, yaml_text, key_in_message):
    base = (REPO_ROOT / "Pulumi.dev.yaml").read_text()
    text = yaml_text if not yaml_text.startswith("config:") else base + yaml_text.replace("config:\n", "", 1)
    try:  # the section replaces the file's own (a repeated key is an error of its own); broken YAML is appended
        section = yaml.safe_load(yaml_text)
    except yaml.YAMLError:
        section = None
    if isinstance(section, dict) and "config" in section:
        document = yaml.safe_load(base)
        document["config"].update(section["config"])
        text = yaml.safe_dump(document, sort_keys=False)
    (tmp_path / "Pulumi.bad.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "bad")
    message = str(caught.value)
    assert "\n" not in message
    assert key_in_message in message
    assert "stack 'bad'" in message


def test_missing_stack_file_names_the_file_and_stack(tmp_path):
    with pytest.raises(ConfigError, match=r"Pulumi\.qa\.yaml .*stack 'qa'.*pulumi stack init qa"):
        load(tmp_path, "qa")


def test_secure_values_are_refused_with_a_reason(tmp_path):
    (tmp_path / "Pulumi.s.yaml").write_text("config:\n  arcblueprint:token:\n    secure: v1:abc\n")
    with pytest.raises(ConfigError, match="arcblueprint:token .*Secrets Manager"):
        load(tmp_path, "s")


@pytest.mark.parametrize(
    ("section", "key_in_message", "reason"),
    [
        (
            "arcblueprint:eventBus: {enableSchemaDiscovery: true}",
            "arcblueprint:eventBus.enableSchemaDiscovery",
            "rejects schema discovery on a bus encrypted with a customer managed key",
        ),
        (
            "arcblueprint:notifications: {emails: [ops.example.com]}",
            "arcblueprint:notifications.emails[0]",
            "must be an email address",
        ),
        (
            "arcblueprint:notifications: {emails: [a@example.com, b@example.com, a@example.com]}",
            "arcblueprint:notifications.emails",
            "must not repeat",
        ),
        (
            "arcblueprint:notifications: {httpsEndpoints: ['http://alerts.example.com/sns']}",
            "arcblueprint:notifications.httpsEndpoints[0]",
            "must be an https:// URL",
        ),
        (
            "arcblueprint:notifications: {httpsEndpoints: ['https://alerts example.com']}",
            "arcblueprint:notifications.httpsEndpoints[0]",
            "must be an https:// URL",
        ),
        (
            "arcblueprint:notifications: {email: [ops@example.com]}",
            "arcblueprint:notifications.email",
            "did you mean 'emails'",
        ),
    ],
)
def test_event_bus_and_notification_errors_are_one_line_with_the_reason(tmp_path, section, key_in_message, reason):
    document = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())
    document["config"].update(yaml.safe_load(section))  # replaced, not appended: a repeated key is an error
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "bad")
    message = str(caught.value)
    assert "\n" not in message and "stack 'bad'" in message
    assert key_in_message in message and reason in message


def test_every_shipped_stack_has_someone_to_notify():
    for stack in ("dev", "prod"):
        notifications = load(REPO_ROOT, stack).notifications
        assert notifications.has_subscribers, stack
        assert all(url.startswith("https://") for url in notifications.https_endpoints)
