"""The pack on the synthesized stacks: the shipped config passes, a broken one fails the preview.

The same policy objects ``policies/__main__.py`` hands to ``PolicyPack`` run here through
``evaluate`` with the stack's pack config; the exit code comes from the real CLI entry point.
"""

from __future__ import annotations

import json
import runpy

import pytest

from arcblueprint.config import ConfigError
from arcblueprint.policy.config import pack_config_for
from arcblueprint.policy.offline import evaluate
from arcblueprint.policy.pack import all_policies
from arcblueprint.preview.harness import REPO_ROOT, synthesize

UNPROTECTED = {"arcblueprint:protectStatefulResources": False}


@pytest.fixture(scope="module")
def unprotected_prod():
    """Prod with protection of stateful resources switched off: a deliberately broken config."""
    return synthesize("prod", overrides=UNPROTECTED)


def test_prod_has_no_mandatory_violation(synthesized):
    graph = synthesized("prod")
    report = evaluate(graph)
    assert report.mandatory == [], "\n".join(report.summary_lines())
    assert len(report.evaluated) == len(all_policies())  # prod disables nothing


def test_dev_reports_advisory_only(synthesized):
    report = evaluate(synthesized("dev"))
    assert report.mandatory == []
    assert all(v.level == "advisory" for v in report.advisory)


def test_every_stateful_resource_in_prod_is_seen_protected(synthesized):
    graph = synthesized("prod")
    stateful = [r for r in graph.resources if r.type in ("aws:kms/key:Key", "aws:s3/bucket:Bucket")]
    assert stateful and all(r.protect for r in stateful)


def test_broken_config_gives_mandatory_violations_naming_each_resource(unprotected_prod):
    report = evaluate(unprotected_prod)
    unprotected = {r.urn for r in unprotected_prod.resources if r.type == "aws:kms/key:Key"}
    found = {v.urn for v in report.mandatory if v.policy == "stateful-protected"}
    assert unprotected and unprotected <= found
    line = next(line for line in report.summary_lines() if line.startswith("[mandatory] stateful-protected "))
    assert "urn:pulumi:prod::arcblueprint::" in line and "is not protected" in line


def test_preview_exits_non_zero_on_a_mandatory_violation(unprotected_prod, monkeypatch, capsys):
    from arcblueprint import cli

    monkeypatch.setattr(cli, "_synthesize", lambda stack, preview=True: unprotected_prod)
    assert cli.main(["preview", "--stack", "prod"]) == cli.EXIT_POLICY
    err = capsys.readouterr().err  # violations go to standard error
    assert "[mandatory] stateful-protected urn:pulumi:prod::" in err


def test_preview_json_carries_the_policy_report(unprotected_prod, monkeypatch, capsys):
    from arcblueprint import cli

    monkeypatch.setattr(cli, "_synthesize", lambda stack, preview=True: unprotected_prod)
    assert cli.main(["preview", "--stack", "prod", "--json", "-"]) == cli.EXIT_POLICY
    document = json.loads(capsys.readouterr().out)
    assert {v["policy"] for v in document["policy"]["mandatory"]} >= {"stateful-protected"}


def test_override_and_waiver_move_violations_out_of_mandatory(unprotected_prod):
    key = next(r for r in unprotected_prod.resources if r.type == "aws:kms/key:Key")
    config = pack_config_for(unprotected_prod.config)
    config["stateful-protected"]["waivers"] = [
        {"resource": key.name, "reason": "rotating the key in change 42"},
        {"resource": "no-such-resource", "reason": "left over from a rename"},
    ]
    report = evaluate(unprotected_prod, config=config)
    assert key.urn not in {v.urn for v in report.mandatory}
    assert [(v.urn, v.reason) for v in report.waived] == [(key.urn, "rotating the key in change 42")]
    assert report.unused_waivers == [("stateful-protected", "no-such-resource", "left over from a rename")]
    lines = report.summary_lines()
    assert any(line.startswith("[waived] stateful-protected ") and "rotating the key" in line for line in lines)
    assert any(line.startswith("[waiver unused] stateful-protected no-such-resource") for line in lines)

    config["stateful-protected"]["enforcementLevel"] = "advisory"
    relaxed = evaluate(unprotected_prod, config=config)
    assert not [v for v in relaxed.mandatory if v.policy == "stateful-protected"]
    assert [v for v in relaxed.advisory if v.policy == "stateful-protected"]
    config["stateful-protected"]["enforcementLevel"] = "disabled"
    assert "stateful-protected" not in evaluate(unprotected_prod, config=config).evaluated


def test_waivers_and_overrides_come_from_stack_config():
    graph_config = synthesize_config(
        {
            "arcblueprint:policy": {
                "enforcement": "mandatory",
                "overrides": {
                    "tags-required": {"level": "advisory", "reason": "cost tags move to the new scheme in OPS-7"},
                    "vpc-flow-logs": {"level": "disabled", "reason": "the network team's org-wide flow logs"},
                },
                "waivers": [
                    {"policy": "sqs-encrypted", "resource": "legacy-queue", "reason": "vendor reads it unencrypted"}
                ],
            }
        }
    )
    config = pack_config_for(graph_config)
    assert config["tags-required"]["enforcementLevel"] == "advisory"
    assert config["vpc-flow-logs"]["enforcementLevel"] == "disabled"
    assert config["sqs-encrypted"]["waivers"] == [{"resource": "legacy-queue", "reason": "vendor reads it unencrypted"}]
    assert config["iam-no-star-action"] == {"enforcementLevel": "mandatory"}
    assert config["tags-required"]["requiredTags"] == ["owner", "cost-center", "environment", "service"]


def test_unknown_policy_in_a_waiver_is_a_config_error():
    with pytest.raises(ConfigError, match=r"policy\.waivers\[0\]\.policy = 'sqs-encrypt' is invalid") as caught:
        synthesize_config(
            {
                "arcblueprint:policy": {
                    "waivers": [{"policy": "sqs-encrypt", "resource": "q", "reason": "a typo in the policy name"}]
                }
            }
        )
    assert "did you mean 'sqs-encrypted'?" in str(caught.value)


def test_planned_prefix_reaches_the_vpc_policy(synthesized):
    graph = synthesized("prod")
    planned = pack_config_for(graph.config)["vpc-cidr-within-plan"]["plannedPrefixLength"]
    vpcs = graph.by_type("aws:ec2/vpc:Vpc")
    assert 16 <= planned <= 28 and vpcs
    shrunk = pack_config_for(graph.config)
    shrunk["vpc-cidr-within-plan"]["plannedPrefixLength"] = 28  # pretend the demand were tiny
    report = evaluate(graph, config=shrunk)
    assert {v.urn for v in report.mandatory if v.policy == "vpc-cidr-within-plan"} >= {
        v.urn for v in vpcs if int(v.inputs["cidrBlock"].split("/")[1]) < 28
    }


def test_pack_entry_point_builds_the_pack_with_all_policies(monkeypatch):
    import pulumi_policy

    built = {}

    def fake_pack(**kwargs):
        built.update(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", fake_pack)
    runpy.run_path(str(REPO_ROOT / "policies" / "__main__.py"), run_name="__main__")
    assert built["name"] == "arcblueprint"
    assert [p.name for p in built["policies"]] == [p.name for p in all_policies()]
    assert built["enforcement_level"] == pulumi_policy.EnforcementLevel.MANDATORY


def test_importing_the_rules_never_builds_a_pack(monkeypatch):
    import importlib

    import pulumi_policy

    def refuse(**_):
        raise AssertionError("PolicyPack constructed on import")

    from arcblueprint.policy.pack import HARDENING_MODULES

    monkeypatch.setattr(pulumi_policy, "PolicyPack", refuse)
    for module in ("pack", "config", "offline", *HARDENING_MODULES):
        importlib.reload(importlib.import_module(f"arcblueprint.policy.{module}"))


def synthesize_config(overrides):
    from arcblueprint.config import read_stack_file, stack_config

    values = read_stack_file(REPO_ROOT, "prod")
    values.update(overrides)
    return stack_config(values, "prod")


def test_comfortable_rest_service_passes_in_prod_with_its_public_health_check():
    """A service from another pattern, synthesized into prod: its declared public route is not a violation."""
    # waf: its per-service settings name services this override removes.
    overrides = {"arcblueprint:services": {"orders": {"pattern": "comfortable-rest"}}, "arcblueprint:waf": {}}
    graph = synthesize("prod", overrides=overrides)
    health = [r for r in graph.by_type("aws:apigateway/method:Method") if r.inputs.get("authorization") == "NONE"]
    assert [r.name for r in health] == ["orders-health"]
    assert pack_config_for(graph.config)["api-method-authorized"]["publicRoutes"] == ["orders-health"]
    report = evaluate(graph)
    assert report.mandatory == [], "\n".join(report.summary_lines())


def test_preview_says_what_a_first_preview_could_not_judge(synthesized, monkeypatch, capsys):
    from arcblueprint import cli

    monkeypatch.setattr(cli, "_synthesize", lambda stack, preview=True: synthesized("prod"))
    assert cli.main(["preview", "--stack", "prod"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "First preview of a new stack (ids and ARNs unknown): 0 stack policies not judged" in out
    # Resource policies reading an ARN of a new resource are judged by the engine at `pulumi up`, and said so.
    assert "[not judged] iam-no-star-action for " in out and "when `pulumi up` creates it" in out
