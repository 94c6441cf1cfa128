"""``blueprint deploy|plan|refresh|destroy|promote|rollback|replay|outputs|stack-info``: the driver CI runs.

Each command prints progress, writes a JSON summary when ``--summary`` is given, and exits with
an :class:`~arcblueprint.deploy.errors.ExitCode` (see ``docs/deploy.md``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arcblueprint.deploy.errors import DeployError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "build_driver",
    "caller_account",
    "current_commit",
    "live_alias_version",
    "register",
    "secret_config_from_env",
    "stack_info",
]

SECRET_CONFIG_ENV = "BLUEPRINT_SECRET_CONFIG"


def current_commit(repo: Path, environ: dict[str, str] | None = None) -> str:
    environ = dict(os.environ) if environ is None else environ
    for key in ("GITHUB_SHA", "CI_COMMIT_SHA", "BUILD_SOURCEVERSION"):
        if environ.get(key):
            return environ[key]
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def secret_config_from_env(environ: dict[str, str]) -> dict[str, str]:
    """Secret config values CI injects: a JSON object ``{"arcblueprint:key": "value"}`` in one variable."""
    raw = environ.get(SECRET_CONFIG_ENV)
    if not raw:
        return {}
    try:
        values = json.loads(raw)
    except ValueError:
        raise DeployError(
            f"{SECRET_CONFIG_ENV} must be a JSON object of namespaced keys to strings", ExitCode.CONFIG
        ) from None
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and ":" in k and isinstance(v, str) for k, v in values.items()
    ):
        raise DeployError(
            f"{SECRET_CONFIG_ENV} must map namespaced keys ('arcblueprint:name') to strings", ExitCode.CONFIG
        )
    return values


def caller_account(region: str, *, client: Any = None) -> str:
    """The account of the credentials in use (STS ``GetCallerIdentity``, which needs no permission)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if client is None:
        import boto3

        client = boto3.client("sts", region_name=region)
    try:
        return str(client.get_caller_identity()["Account"])
    except (BotoCoreError, ClientError) as error:  # no credentials, expired token, no network: nothing is deployed
        raise DeployError(
            f"cannot tell which AWS account the credentials are for (sts:GetCallerIdentity: {error})",
            ExitCode.ENVIRONMENT,
        ) from None


def live_alias_version(region: str, function_name: str, *, client: Any = None) -> str | None:
    """The version a function's ``live`` alias serves now, or ``None`` (no such function or alias yet)."""
    if client is None:
        import boto3

        client = boto3.client("lambda", region_name=region)
    try:
        return str(client.get_alias(FunctionName=function_name, Name="live")["FunctionVersion"])
    except client.exceptions.ResourceNotFoundException:
        return None


def build_driver(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Any:
    from arcblueprint.config import load
    from arcblueprint.deploy.alarms import firing_alarms
    from arcblueprint.deploy.automation import AutomationEngine, require_cli
    from arcblueprint.deploy.backend import backend_settings
    from arcblueprint.deploy.driver import Driver
    from arcblueprint.preview.harness import REPO_ROOT

    environ = dict(os.environ) if environ is None else environ
    load(REPO_ROOT, args.stack)  # the offline config check first: a bad config exits 2 with or without the CLI
    require_cli()
    commit = args.commit or current_commit(REPO_ROOT, environ)

    def pack_config(stack: str) -> dict[str, Any]:
        from arcblueprint.policy.config import pack_config_for

        return pack_config_for(load(REPO_ROOT, stack))

    engine = AutomationEngine(
        REPO_ROOT,
        backend_settings(environ, REPO_ROOT),
        commit=commit,
        policy_pack=REPO_ROOT / "policies",
        policy_pack_config=pack_config,
        secret_config=secret_config_from_env(environ),
    )

    def codedeploy_runner(prefix: str, *, rollback: bool) -> Callable[[str, Any, dict[str, Any]], list[dict[str, Any]]]:
        def run(stack: str, config: Any, releases: dict[str, Any]) -> list[dict[str, Any]]:
            from arcblueprint.deploy import codedeploy

            return codedeploy.run(
                releases,
                region=config.region,
                description=f"{prefix}{stack} {commit[:12]}",
                say=lambda text: print(text, flush=True),
                rollback=rollback,
            )

        return run

    @functools.cache
    def aws_client(service: str, region: str) -> Any:
        """One client per service and region for the whole run."""
        import boto3

        return boto3.client(service, region_name=region)

    import time

    from arcblueprint.deploy.signing import CodeSigner

    sign_code = CodeSigner(
        project_dir=REPO_ROOT,
        graph_for=_synthesized,
        client=aws_client,
        say=lambda text: print(text, flush=True),
        sleep=time.sleep,
        clock=time.monotonic,
    )

    return Driver(
        engine,
        load_config=lambda stack: load(REPO_ROOT, stack),
        offline_gate=_offline_gate,
        commit=commit,
        stream=sys.stdout,
        run_releases=codedeploy_runner("", rollback=False),
        firing_alarms=lambda names, region: firing_alarms(names, region=region),
        events_client=lambda region: aws_client("events", region),
        caller_account=caller_account,
        live_version=lambda region, name: live_alias_version(region, name, client=aws_client("lambda", region)),
        run_rollbacks=codedeploy_runner("rollback of ", rollback=True),
        sign_code=sign_code,
    )


#: The offline synthesis of each stack in this run: the policy gate's, reused by the signing step.
_GRAPHS: dict[str, Any] = {}


def _synthesized(stack: str) -> Any:
    from arcblueprint.preview.harness import synthesize

    if stack not in _GRAPHS:
        _GRAPHS[stack] = synthesize(stack)
    return _GRAPHS[stack]


def _offline_gate(stack: str) -> Any:
    from arcblueprint.policy.offline import evaluate

    return evaluate(_synthesized(stack))


def _run(args: argparse.Namespace) -> int:
    from arcblueprint.deploy.driver import write_summary

    try:
        driver = build_driver(args)
        summary = args.operation(driver, args)
    except DeployError as error:
        print(f"blueprint: {error}", file=sys.stderr)
        return int(error.exit_code)
    if args.summary:
        write_summary(summary, Path(args.summary))
    if summary.exit_code:
        print(f"blueprint: {summary.message}", file=sys.stderr)
    else:
        print(f"{summary.operation} of '{summary.stack}' succeeded in {summary.duration_seconds:.1f}s")
    return summary.exit_code


def _outputs(args: argparse.Namespace) -> int:
    try:
        outputs = build_driver(args).engine.outputs(args.stack)
    except DeployError as error:
        print(f"blueprint: {error}", file=sys.stderr)
        return int(error.exit_code)
    print(json.dumps(outputs, indent=2, sort_keys=True, default=str))
    return int(ExitCode.OK)


def stack_info(stack: str, repo: Path) -> dict[str, str]:
    """What CI needs before it has credentials: the stack's region and account, from its checked-in config."""
    from arcblueprint.config import load

    config = load(repo, stack)
    return {"region": config.region, "account-id": config.account_id, "environment": config.environment}


def _stack_info(args: argparse.Namespace) -> int:
    from arcblueprint.config import ConfigError
    from arcblueprint.preview.harness import REPO_ROOT

    try:
        values = stack_info(args.stack, REPO_ROOT)
    except ConfigError as error:
        print(f"blueprint: {error}", file=sys.stderr)
        return int(ExitCode.CONFIG)
    print("\n".join(f"{key}={value}" for key, value in values.items()))
    return int(ExitCode.OK)


def register(commands: Any) -> None:
    """Add the deployment commands to the ``blueprint`` parser."""

    def command(name: str, help_text: str, operation: Any) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("--stack", required=True, help="stack name (Pulumi.<stack>.yaml)")
        parser.add_argument("--summary", metavar="FILE", help="write the machine-readable JSON summary here")
        parser.add_argument("--commit", help="commit being deployed (default: $GITHUB_SHA or git HEAD)")
        parser.set_defaults(handler=_run, operation=operation)
        return parser

    deploy = command(
        "deploy",
        "offline gate, engine preview with the policy pack, then pulumi up",
        lambda d, a: d.deploy(a.stack, force_reason=a.force),
    )
    deploy.add_argument("--force", metavar="REASON", help="deploy to prod a commit that dev does not run (recorded)")
    command(
        "plan",
        "offline gate and the engine preview with the policy pack (changes nothing)",
        lambda d, a: d.plan(a.stack),
    )
    command("refresh", "pulumi refresh", lambda d, a: d.refresh(a.stack))
    destroy = command(
        "destroy", "pulumi destroy (protected resources stop it)", lambda d, a: d.destroy(a.stack, confirm=a.confirm)
    )
    destroy.add_argument("--confirm", metavar="STACK", help="the stack name again")
    promote = command(
        "promote",
        "move a weighted canary through releases.weightedSteps, rolling back on alarm",
        lambda d, a: d.promote(a.stack, max_steps=a.max_steps, bake_seconds=a.bake_seconds),
    )
    promote.add_argument("--max-steps", type=int, help="move at most this many steps in this run")
    promote.add_argument("--bake-seconds", type=float, help="wait between steps (default: customIntervalMinutes)")
    rollback = command(
        "rollback",
        "send functions back to their previous versions (all, --service S or --function F)",
        lambda d, a: d.rollback(a.stack, function=a.function, service=a.service),
    )
    rollback.add_argument("--function", metavar="F", help="one function: its key in the releases output (fan-billing)")
    rollback.add_argument("--service", metavar="S", help="every function of one service")
    replay = command(
        "replay",
        "replay archived events of a time window onto the bus (all rules or --rule), and wait",
        lambda d, a: d.replay(
            a.stack,
            start=a.start,
            end=a.end,
            rules=a.rule or (),
            poll_seconds=a.poll_seconds,
            timeout_seconds=a.timeout_seconds,
        ),
    )
    replay.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="TIME",
        help="first event time, ISO 8601 (2026-01-31T10:00:00Z; UTC when no zone)",
    )
    replay.add_argument("--to", dest="end", required=True, metavar="TIME", help="end of the window (exclusive)")
    replay.add_argument(
        "--rule",
        action="append",
        metavar="RULE",
        help="only this rule (a key of the eventRules output, its name or ARN); repeatable",
    )
    replay.add_argument("--poll-seconds", type=float, default=10.0, help="how often to check progress")
    replay.add_argument("--timeout-seconds", type=float, default=3600.0, help="stop waiting after this long")
    info = commands.add_parser(
        "stack-info", help="region and account of a stack from its config, as name=value lines (for $GITHUB_OUTPUT)"
    )
    info.add_argument("--stack", required=True)
    info.set_defaults(handler=_stack_info)
    outputs = commands.add_parser("outputs", help="print the stack outputs as JSON")
    outputs.add_argument("--stack", required=True)
    outputs.add_argument("--commit", help=argparse.SUPPRESS)
    outputs.set_defaults(handler=_outputs)
