"""The GitHub workflow keeps the CI guarantees docs/deploy.md promises (read as data, not run)."""

from __future__ import annotations

import yaml

from arcblueprint.preview.harness import REPO_ROOT

WORKFLOW = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "blueprint.yml").read_text())
JOBS = WORKFLOW["jobs"]
ENGINE_JOBS = ("deploy-dev", "deploy-prod", "release")
PASSPHRASE = "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"


def steps(job: str) -> list[dict]:
    return JOBS[job]["steps"]


def index(job: str, predicate) -> int:
    return next(i for i, step in enumerate(steps(job)) if predicate(step))


def test_the_passphrase_reaches_only_the_steps_that_run_the_engine():
    assert "PULUMI_CONFIG_PASSPHRASE" not in WORKFLOW.get("env", {})
    for name, job in JOBS.items():
        assert "PULUMI_CONFIG_PASSPHRASE" not in job.get("env", {}), name
        holders = [s for s in job["steps"] if PASSPHRASE in str(s.get("env", {}))]
        if name in ENGINE_JOBS:
            assert len(holders) == 1 and "blueprint" in holders[0]["run"], name
        else:
            assert holders == [], name


def test_credentials_take_region_and_account_from_the_stack_config():
    for job in ENGINE_JOBS:
        info = index(job, lambda s: "stack-info" in s.get("run", ""))
        creds = index(job, lambda s: "configure-aws-credentials" in s.get("uses", ""))
        assert info < creds, job
        inputs = steps(job)[creds]["with"]
        assert inputs["aws-region"] == "${{ steps.stack.outputs.region }}"
        assert inputs["allowed-account-ids"] == "${{ steps.stack.outputs.account-id }}"
        assert steps(job)[creds]["uses"].endswith("@v6")  # allowed-account-ids needs v5 or later
        assert JOBS[job]["permissions"]["id-token"] == "write"


def test_the_policy_pack_environment_exists_before_the_engine_runs():
    for job in ENGINE_JOBS:
        pack = index(job, lambda s: "policies" in s.get("run", "") and "venv" in s.get("run", ""))
        engine = index(job, lambda s: PASSPHRASE in str(s.get("env", {})))
        assert pack < engine and "requirements.txt" in steps(job)[pack]["run"], job


def test_promote_and_rollback_record_the_stack_file_as_a_pull_request_whatever_happened():
    on = WORKFLOW.get("on") or WORKFLOW[True]  # YAML 1.1 reads a bare `on` as true
    assert set(on["workflow_dispatch"]["inputs"]["operation"]["options"]) == {"promote", "rollback"}
    release = JOBS["release"]
    assert release["permissions"]["contents"] == "write" and release["permissions"]["pull-requests"] == "write"
    run = steps("release")[index("release", lambda s: s.get("id") == "run")]
    assert run["continue-on-error"] is True
    record = steps("release")[index("release", lambda s: "gh pr create" in s.get("run", ""))]
    assert record["if"] == "always()" and 'git add -- "$file"' in record["run"]
    assert steps("release")[-1]["if"] == "steps.run.outcome == 'failure'"


def test_one_engine_job_per_stack_at_a_time():
    groups = {job: JOBS[job]["concurrency"] for job in ENGINE_JOBS}
    assert groups["deploy-dev"]["group"] == "blueprint-stack-dev"
    assert groups["release"]["group"] == "blueprint-stack-${{ inputs.stack }}"
    assert all(g["cancel-in-progress"] is False for g in groups.values())


def test_the_github_setup_snippets_are_valid_json():
    import json
    import re

    text = (REPO_ROOT / "docs" / "deploy.md").read_text()
    setup = text[text.index("## GitHub setup") :]
    blocks = re.findall(r"```json\n(.*?)\n```", setup, re.S)
    assert len(blocks) >= 5
    documents = [json.loads(block) for block in blocks]
    trust = documents[0]["Statement"][0]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = trust["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert condition["token.actions.githubusercontent.com:sub"].endswith(":environment:production")
    for document in documents:  # least privilege: no "*" action on "*" resource anywhere
        for statement in document["Statement"]:
            actions = statement.get("Action", [])
            wide = actions == "*" or (isinstance(actions, list) and "*" in actions)
            assert not (statement["Effect"] == "Allow" and wide), statement
