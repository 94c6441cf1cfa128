"""A new team's service with its own handler code, added by config and a handler file only.

The team's files are ``teams/loyalty/service.yaml`` (the service entry), ``teams/loyalty/points/app.py`` (the
handler) and ``teams/loyalty/test_points.py`` (its test); nothing in the ``arcblueprint`` package changes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from arcblueprint.config import ConfigError, load
from arcblueprint.preview.harness import REPO_ROOT, synthesize

TEAM = Path(__file__).parent / "teams" / "loyalty"
SERVICE = yaml.safe_load((TEAM / "service.yaml").read_text())
CODE_DIR = SERVICE["loyalty"]["consumers"]["points"]["codeDir"]


@pytest.fixture(scope="module")
def team_stack():
    """The dev stack program with the team's service (only it, to keep the run short), and what it packaged."""
    from arcblueprint.platform import code_signing
    from arcblueprint.platform.functions import component

    packaged: dict[str, tuple[Path, str | None]] = {}
    original = component.code_archive

    def recording(code_dir, handler=None):
        packaged[str(code_dir)] = (Path(code_dir), handler)
        return original(code_dir, handler)

    # Both places that package a function: the function itself, and code signing when the stack has it.
    component.code_archive = code_signing.code_archive = recording
    try:
        # waf: its per-service settings name the shipped services this override removes.
        graph = synthesize("dev", overrides={"arcblueprint:services": SERVICE, "arcblueprint:waf": {}})
    finally:
        component.code_archive = code_signing.code_archive = original
    return graph, packaged


def test_the_consumer_runs_the_team_code(team_stack):
    graph, packaged = team_stack
    assert (REPO_ROOT / CODE_DIR).resolve() == (TEAM / "points").resolve()
    assert packaged[str((REPO_ROOT / CODE_DIR).resolve())] == ((TEAM / "points").resolve(), "app.lambda_handler")
    consumers = [f for f in graph.by_type("aws:lambda/function:Function") if f.name.startswith("loyalty-")]
    assert [f.name for f in consumers] == ["loyalty-points-function"]
    assert consumers[0].inputs["handler"] == "app.lambda_handler"
    # The pattern's own wiring is untouched: a filtered subscription, the table the handler writes to.
    [subscription] = [
        s for s in graph.by_type("aws:sns/topicSubscription:TopicSubscription") if s.name.startswith("loyalty-")
    ]
    assert json.loads(subscription.inputs["filterPolicy"]) == {"eventType": [{"prefix": "order."}]}
    variables = consumers[0].inputs["environment"]["variables"]
    assert variables["IDEMPOTENCY_TABLE"] == "arcbp-dev-loyalty-idempotency"
    assert graph.outputs["releases"]["loyalty-points"]["service"] == "loyalty"


def test_only_the_team_folder_is_packaged():
    from arcblueprint.platform.functions.packaging import package_files

    names = [name for name, _ in package_files(TEAM / "points", "app.lambda_handler")]
    assert names == ["app.py"]  # not the team's test, not service.yaml


def test_the_team_service_passes_the_policy_pack(team_stack):
    from arcblueprint.policy.offline import evaluate

    graph, _ = team_stack
    report = evaluate(graph)
    assert report.mandatory == [], [v.line() for v in report.mandatory]


@pytest.fixture
def project(tmp_path):
    """A copy of the project (its Pulumi.yaml and dev stack file) with the team's folder, to break it."""
    shutil.copy2(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(TEAM / "points", tmp_path / "teams" / "loyalty" / "points")

    def with_consumer(**code):
        document = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())
        consumer = {**SERVICE["loyalty"]["consumers"]["points"], "codeDir": "teams/loyalty/points", **code}
        consumer = {k: v for k, v in consumer.items() if v is not None}
        document["config"]["arcblueprint:services"] = {
            "loyalty": {"pattern": "big-fan", "consumers": {"points": consumer}}
        }
        document["config"]["arcblueprint:waf"] = {}  # its per-service settings name the removed services
        (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
        return tmp_path

    return with_consumer


KEY = "arcblueprint:services.loyalty.consumers.points"


def test_the_team_folder_is_checked_with_the_stack_file(project):
    assert load(project(), "dev").services["loyalty"].consumers["points"].code_dir == "teams/loyalty/points"


@pytest.mark.parametrize(
    ("code", "key", "says"),
    [
        ({"codeDir": "teams/loyalty/pionts"}, f"{KEY}.codeDir", "is not a folder under the repository root"),
        ({"handler": "main.handler"}, f"{KEY}.handler", "needs main.py"),
        ({"codeDir": "../elsewhere"}, f"{KEY}.codeDir", "without '..'"),
        ({"codeDir": None, "handler": "app.lambda_handler"}, f"{KEY}.handler", "needs codeDir"),
    ],
)
def test_a_wrong_folder_or_handler_is_one_line_naming_key_and_stack(project, code, key, says):
    with pytest.raises(ConfigError) as caught:
        load(project(**code), "dev")
    message = str(caught.value)
    assert caught.value.key == key and caught.value.stack == "dev" and says in message
    assert "\n" not in message and message.startswith("Pulumi.dev.yaml: ")


def test_an_import_lambda_cannot_resolve_is_a_config_error(project):
    root = project()
    (root / "teams" / "loyalty" / "points" / "app.py").write_text("import requests\n\ndef lambda_handler(e, c): ...\n")
    with pytest.raises(ConfigError) as caught:
        load(root, "dev")
    assert caught.value.key == f"{KEY}.codeDir" and "imports requests" in str(caught.value)


def test_the_program_reports_a_missing_folder_with_key_and_stack(run_component, service_program):
    spec = {"consumers": {"points": {"codeDir": "teams/loyalty/pionts"}}}
    with pytest.raises(ConfigError) as caught:
        run_component(service_program("loyalty", "big-fan", spec), stack="dev")
    assert caught.value.key == "services.loyalty.consumers.points.codeDir" and caught.value.stack == "dev"
    assert "in stack 'dev'" in str(caught.value)
