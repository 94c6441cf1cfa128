"""docs/extending.md's promise: a pattern is one registry line plus its own folder (here ``toy_pattern/``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi
import pytest

from arcblueprint.config import ConfigError
from arcblueprint.preview.harness import synthesize
from arcblueprint.services.registry import PATTERNS, Pattern, pattern_of, register

TOY = Pattern("toy-queue", "toy_pattern", "ToyQueueSpec", "ToyQueueService")


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    register(TOY)  # the one line
    yield TOY
    PATTERNS.pop(TOY.name)
    for module in [m for m in sys.modules if m == "toy_pattern" or m.startswith("toy_pattern.")]:
        del sys.modules[module]


def test_a_registered_pattern_is_built_by_the_stack_program(toy_registered):
    services = {"inbox": {"pattern": "toy-queue", "retentionDays": 3}}
    graph = synthesize("dev", overrides={"arcblueprint:services": services, "arcblueprint:waf": {}})

    [component] = graph.by_type("arcblueprint:services:ToyQueueService")
    [queue] = [r for r in graph.by_type("aws:sqs/queue:Queue") if r.parent == component.urn]
    assert queue.name == "inbox-queue"
    assert queue.inputs["messageRetentionSeconds"] == 3 * 86_400
    assert queue.inputs["kmsMasterKeyId"]  # the platform key reached the pattern through ServiceArgs
    assert "inbox:queueUrl" in graph.outputs
    assert pattern_of(graph.config.services["inbox"]) == "toy-queue"


def test_its_config_is_validated_like_any_pattern(toy_registered):
    from arcblueprint.config.model import ServiceSpec

    with pytest.raises(ConfigError) as error:
        ServiceSpec.parse_config({"pattern": "toy-queue", "retentionDays": 30}, "services.inbox")
    assert error.value.key == "services.inbox.retentionDays"
    assert "\n" not in str(error.value)


def test_an_unregistered_pattern_names_the_registered_ones():
    from arcblueprint.config.model import ServiceSpec

    with pytest.raises(ConfigError) as error:
        ServiceSpec.parse_config({"pattern": "toy-queue"}, "services.inbox")
    assert error.value.key == "services.inbox.pattern"
    assert all(name in error.value.allowed for name in PATTERNS)


def test_a_name_cannot_be_registered_for_two_packages(toy_registered):
    with pytest.raises(ValueError, match="already registered"):
        register(Pattern("toy-queue", "elsewhere", "ToyQueueSpec", "ToyQueueService"))
    assert PATTERNS["toy-queue"] is TOY


def test_opts_reach_the_component(toy_registered, run_component, fake_platform):
    """A stack can protect a service (or give it transformations, aliases, a provider) like any component."""
    from arcblueprint.config.model import ServiceSpec
    from arcblueprint.services import build_service

    def program(context) -> None:
        spec = ServiceSpec.parse_config({"pattern": "toy-queue"}, "services.inbox")
        build_service("inbox", spec, fake_platform(context), opts=pulumi.ResourceOptions(protect=True))

    graph = run_component(program)  # dev: the stack itself protects no stateful resource
    [queue] = graph.by_type("aws:sqs/queue:Queue")
    assert queue.protect  # a stateful child inherits the protection the stack gave its service
