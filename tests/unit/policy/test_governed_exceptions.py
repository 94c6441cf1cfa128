"""Overrides and waivers are governed: a weakening override in prod needs a reason, a waiver can expire,
an unknown policy name gets a close match, and every preview lists them all."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from arcblueprint.config import ConfigError, load, read_stack_file, stack_config
from arcblueprint.policy import config as policy_config
from arcblueprint.policy.config import check_exceptions, governed_exceptions, pack_config_for
from arcblueprint.preview.harness import REPO_ROOT

REASON = "the partner's consumer cannot use KMS yet (OPS-123)"


def _stack(stack: str = "prod", **policy):
    values = read_stack_file(REPO_ROOT, stack)
    values["arcblueprint:policy"] = {**values.get("arcblueprint:policy", {}), **policy}
    return stack_config(values, stack, source=f"Pulumi.{stack}.yaml")


@pytest.mark.parametrize("level", ["disabled", "advisory"])
def test_weakening_a_rule_in_prod_needs_a_reason(level):
    with pytest.raises(ConfigError) as caught:
        _stack(overrides={"tags-required": level})
    message = str(caught.value)
    assert message.startswith(f"Pulumi.prod.yaml: arcblueprint:policy.overrides.tags-required = '{level}' is invalid")
    assert "in stack 'prod'" in message and "needs a reason" in message and "{level: " in message
    stack = _stack(overrides={"tags-required": {"level": level, "reason": REASON}})
    assert pack_config_for(stack)["tags-required"]["enforcementLevel"] == level


def test_the_plain_form_stays_valid_where_nothing_is_weakened():
    assert _stack(overrides={"tags-required": "mandatory"}).policy.overrides["tags-required"].level == "mandatory"
    dev = _stack("dev", overrides={"tags-required": "disabled"})  # dev is advisory: not production
    assert pack_config_for(dev)["tags-required"]["enforcementLevel"] == "disabled"
    with pytest.raises(ConfigError, match=r"must be one of mandatory, advisory, disabled, or \{level"):
        _stack(overrides={"tags-required": "off"})
    with pytest.raises(ConfigError, match=r"overrides\.tags-required\.reason = 'short' is invalid"):
        _stack(overrides={"tags-required": {"level": "disabled", "reason": "short"}})


def test_a_correctness_rule_cannot_be_weakened_even_with_a_reason():
    from arcblueprint.policy.pack import correctness_policy_names

    rule = sorted(correctness_policy_names())[0]
    with pytest.raises(ConfigError, match="is a correctness rule"):
        _stack(overrides={rule: {"level": "advisory", "reason": REASON}})


def test_an_unknown_policy_gets_one_line_with_a_close_match_not_the_whole_list():
    with pytest.raises(ConfigError) as caught:
        _stack(waivers=[{"policy": "sqs-encypted", "resource": "q", "reason": REASON}])
    message = str(caught.value)
    assert message == (
        "Pulumi.prod.yaml: arcblueprint:policy.waivers[0].policy = 'sqs-encypted' is invalid in stack 'prod': "
        "names no policy of the pack (did you mean 'sqs-encrypted'?)"
    )
    with pytest.raises(ConfigError) as caught:
        _stack(overrides={"zzz-nothing-like-it": "mandatory"})
    assert "docs/policy.md" in str(caught.value) and "tags-required" not in str(caught.value)


def test_an_expired_waiver_fails_naming_it(monkeypatch):
    waiver = {"policy": "sqs-encrypted", "resource": "legacy-queue", "reason": REASON, "expires": "2026-03-31"}
    monkeypatch.setattr(policy_config, "_today", lambda: date(2026, 3, 30))
    stack = _stack(waivers=[waiver])
    assert pack_config_for(stack)["sqs-encrypted"]["waivers"] == [{"resource": "legacy-queue", "reason": REASON}]
    monkeypatch.setattr(policy_config, "_today", lambda: date(2026, 3, 31))
    with pytest.raises(ConfigError) as caught:
        _stack(waivers=[waiver])
    message = str(caught.value)
    assert "arcblueprint:policy.waivers[0].expires = '2026-03-31' is invalid in stack 'prod'" in message
    assert "waiver of sqs-encrypted for legacy-queue expired on 2026-03-31" in message
    with pytest.raises(ConfigError, match="must be a calendar date"):
        _stack(waivers=[{**waiver, "expires": "2026-02-30"}])


def test_expiry_is_checked_where_the_stack_file_is_read(tmp_path, monkeypatch):
    text = (
        (REPO_ROOT / "Pulumi.prod.yaml")
        .read_text()
        .replace(
            "    enforcement: mandatory\n",
            "    enforcement: mandatory\n    waivers:\n      - {policy: sqs-encrypted, resource: q, "
            f'reason: "{REASON}", expires: 2020-01-01}}\n',
        )
    )
    (tmp_path / "Pulumi.prod.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"^Pulumi\.prod\.yaml: .*waivers\[0\]\.expires = '2020-01-01'.*expired"):
        load(tmp_path, "prod")


def test_every_override_and_waiver_is_listed_with_its_reason():
    stack = _stack(
        overrides={"tags-required": {"level": "advisory", "reason": REASON}, "vpc-flow-logs": "mandatory"},
        waivers=[{"policy": "sqs-encrypted", "resource": "legacy-queue", "reason": REASON, "expires": "2999-01-01"}],
    )
    lines = [e.line() for e in governed_exceptions(stack)]
    assert lines == [
        f"[override] tags-required -> advisory (weaker than the stack's enforcement): {REASON}",
        "[override] vpc-flow-logs -> mandatory (no reason given)",
        f"[waiver] sqs-encrypted for legacy-queue (until 2999-01-01): {REASON}",
    ]
    check_exceptions(stack, today=date(2998, 12, 31))
    with pytest.raises(ConfigError):
        check_exceptions(stack, today=date(2999, 1, 1))


def test_the_preview_and_its_json_list_the_exceptions(synthesized):
    from arcblueprint.preview.report import preview_report

    graph = synthesized("dev")
    values = read_stack_file(REPO_ROOT, "dev")
    values["arcblueprint:policy"] = {
        "enforcement": "advisory",
        "overrides": {"tags-required": {"level": "disabled", "reason": REASON}},
        "waivers": [{"policy": "sqs-encrypted", "resource": "legacy-queue", "reason": REASON}],
    }
    governed = dataclasses.replace(graph, config=stack_config(values, "dev"))
    report = preview_report(governed)
    out = "\n".join(report.out)
    assert "Governed exceptions (enforcement advisory; 1 overrides, 1 waivers):" in out
    assert f"  [override] tags-required -> disabled (weaker than the stack's enforcement): {REASON}" in out
    assert f"  [waiver] sqs-encrypted for legacy-queue: {REASON}" in out
    exceptions = report.document["exceptions"]
    assert exceptions["overrides"] == [
        {"policy": "tags-required", "level": "disabled", "weakens": True, "reason": REASON}
    ]
    assert exceptions["waivers"] == [
        {"policy": "sqs-encrypted", "resource": "legacy-queue", "reason": REASON, "expires": None}
    ]
