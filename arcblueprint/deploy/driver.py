"""The deployment orchestration CI runs: gates in order, one summary, one exit code.

``deploy``: offline preview + policy gate -> environment gate (prod needs the same commit
deployed to dev) -> the caller's account (STS) is the stack's -> release state per function from the
last deployment -> engine preview with the policy pack -> replacement gate (prod) -> signing of the
function packages (where code signing is enforced) -> update.
``promote`` moves a weighted-alias canary, one config change + update per step; ``rollback`` sends one
function, a service's functions or the whole stack back to their previous versions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from arcblueprint.deploy.engine import Engine, EventLog, Outcome, total_steps
from arcblueprint.deploy.errors import DeployError, ExitCode
from arcblueprint.deploy.progress import Progress
from arcblueprint.deploy.promotion import PromotionResult, promote, rollback
from arcblueprint.deploy.release_state import (
    RELEASES_OUTPUT,
    derive_release_state,
    function_key,
    select_functions,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pulumi.automation.events import EngineEvent

    from arcblueprint.config.model import StackConfig

__all__ = ["Driver", "OfflineGate", "Summary", "UPSTREAM_ENVIRONMENT", "WEIGHT_KEY"]

#: An environment deploys a commit only after it was deployed to this one.
UPSTREAM_ENVIRONMENT = {"prod": "dev", "staging": "dev"}
#: The stack output in which every successful update records the commit it deployed.
COMMIT_OUTPUT = "deployedCommit"
#: The stack output listing the rollback alarms of weighted-canary functions.
ALARMS_OUTPUT = "rollbackAlarmNames"
WEIGHT_KEY = "arcblueprint:releases.canaryWeightPercent"


class OfflineReport(Protocol):
    mandatory: list[Any]

    def summary_lines(self) -> list[str]: ...
    def as_json(self) -> dict[str, Any]: ...


OfflineGate = Callable[[str], OfflineReport]


@dataclass
class Summary:
    """What CI keeps as an artifact: one JSON document per driver run."""

    stack: str
    operation: str
    commit: str
    result: str = "running"
    exit_code: int = 0
    message: str = ""
    duration_seconds: float = 0.0
    forced_reason: str | None = None
    offline_policy: dict[str, Any] | None = None
    engine_policy: list[dict[str, Any]] = field(default_factory=list)
    change_summary: dict[str, int] = field(default_factory=dict)
    changes_by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    replacements: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    promotion: dict[str, Any] | None = None
    deployments: list[dict[str, Any]] = field(default_factory=list)
    replay: dict[str, Any] | None = None
    #: ``releases.functions`` values the driver passed this run (derived from the last deployment).
    release_state: dict[str, dict[str, int]] = field(default_factory=dict)
    #: One entry per function ``rollback`` sent back: ``function``, ``strategy``, ``how``, ``to``.
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    #: The function packages signed (or found signed) before the update (code signing enforced).
    signing: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "operation": self.operation,
            "commit": self.commit,
            "result": self.result,
            "exitCode": self.exit_code,
            "message": self.message,
            "durationSeconds": round(self.duration_seconds, 3),
            "forcedReason": self.forced_reason,
            "offlinePolicy": self.offline_policy,
            "enginePolicy": self.engine_policy,
            "changeSummary": self.change_summary,
            "changesByType": self.changes_by_type,
            "replacements": self.replacements,
            "outputs": self.outputs,
            "promotion": self.promotion,
            "deployments": self.deployments,
            "replay": self.replay,
            "releaseState": self.release_state,
            "rollbacks": self.rollbacks,
            "signing": self.signing,
        }


class Driver:
    """Runs one operation against one stack and always produces a :class:`Summary`."""

    def __init__(
        self,
        engine: Engine,
        *,
        load_config: Callable[[str], StackConfig],
        offline_gate: OfflineGate,
        commit: str,
        stream: TextIO,
        firing_alarms: Callable[[list[str], str], list[str]],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        interactive: bool | None = None,
        run_releases: Callable[[str, StackConfig, dict[str, Any]], list[dict[str, Any]]] | None = None,
        events_client: Callable[[str], Any] | None = None,
        caller_account: Callable[[str], str] | None = None,
        live_version: Callable[[str, str], str | None] | None = None,
        run_rollbacks: Callable[[str, StackConfig, dict[str, Any]], list[dict[str, Any]]] | None = None,
        sign_code: Callable[[str, StackConfig, Callable[[Sequence[str]], None]], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.engine = engine
        self.load_config = load_config
        self.offline_gate = offline_gate
        self.commit = commit
        self.stream = stream
        self.firing_alarms = firing_alarms
        self.sleep = sleep
        self.clock = clock
        self.interactive = interactive
        #: Starts and waits for CodeDeploy deployments after an update (canary/linear functions).
        self.run_releases = run_releases
        #: An EventBridge client for a region (``replay``).
        self.events_client = events_client
        #: The account of the credentials in use, for a region (STS ``GetCallerIdentity``); ``None``: not checked.
        self.caller_account = caller_account
        #: The version a function's ``live`` alias serves: ``(region, function name)`` -> version (``GetAlias``).
        self.live_version = live_version
        #: Starts and waits for the CodeDeploy deployments that send canary/linear functions back.
        self.run_rollbacks = run_rollbacks
        #: Signs the function packages before an update where the stack enforces code signing
        #: (:class:`arcblueprint.deploy.signing.CodeSigner`); its last argument creates the signing
        #: resources first (``pulumi up --target``) on a stack's first deploy.
        self.sign_code = sign_code

    # -- operations ---------------------------------------------------------------------------
    def deploy(self, stack: str, *, force_reason: str | None = None) -> Summary:
        return self._timed(
            Summary(stack, "deploy", self.commit, forced_reason=force_reason),
            lambda summary: self._deploy(stack, summary, force_reason),
        )

    def plan(self, stack: str) -> Summary:
        """Offline gate + engine preview with the policy pack; changes nothing."""
        return self._timed(Summary(stack, "plan", self.commit), lambda summary: self._plan(stack, summary))

    def refresh(self, stack: str) -> Summary:
        def run(summary: Summary) -> None:
            self._prepare(stack, self.load_config(stack), summary, release_state=False)
            self._update(stack, summary, self.engine.refresh, total=0)

        return self._timed(Summary(stack, "refresh", self.commit), run)

    def destroy(self, stack: str, *, confirm: str | None) -> Summary:
        def run(summary: Summary) -> None:
            if confirm != stack:
                raise DeployError(f"destroy needs --confirm {stack} (the stack name typed again)", ExitCode.CONFIG)
            self._prepare(stack, self.load_config(stack), summary, release_state=False)
            self._update(stack, summary, self.engine.destroy, total=0)

        return self._timed(Summary(stack, "destroy", self.commit), run)

    def promote(self, stack: str, *, max_steps: int | None = None, bake_seconds: float | None = None) -> Summary:
        return self._timed(
            Summary(stack, "promote", self.commit),
            lambda summary: self._promote(stack, summary, max_steps, bake_seconds),
        )

    def rollback(self, stack: str, *, function: str | None = None, service: str | None = None) -> Summary:
        """Send functions back to their previous versions: one (``function``), a service's, or the stack's.

        Without a selection, a weighted-canary stack sets its canary weight to 0 (every weighted function
        at once); otherwise each selected function goes back by its own strategy (see :meth:`_roll_back`).
        """

        def run(summary: Summary) -> None:
            config = self.load_config(stack)
            if function is None and service is None and config.releases.strategy == "weighted-canary":
                self._prepare(stack, config, summary)
                result = rollback(lambda weight: self._apply_weight(stack, weight, summary))
                summary.promotion = _promotion_json(result)
                return
            self._roll_back(stack, config, summary, function=function, service=service)

        return self._timed(Summary(stack, "rollback", self.commit), run)

    def replay(
        self,
        stack: str,
        *,
        start: str,
        end: str,
        rules: Sequence[str] = (),
        poll_seconds: float = 10.0,
        timeout_seconds: float = 3600.0,
    ) -> Summary:
        """Replay the archived events of ``[start, end)`` onto the stack's bus (or only to ``rules``) and wait."""

        def run(summary: Summary) -> None:
            from arcblueprint.deploy.replay import parse_time, replay

            config = self.load_config(stack)
            window = (parse_time(start, "--from"), parse_time(end, "--to"))
            if self.events_client is None:
                raise DeployError(
                    "replay needs an EventBridge client (the driver was built without one)", ExitCode.ENVIRONMENT
                )
            outputs = self.engine.outputs(stack)
            result = replay(
                self.events_client(config.region),
                outputs,
                stack=stack,
                start=window[0],
                end=window[1],
                rules=rules,
                say=self._say,
                poll_seconds=poll_seconds,
                timeout_seconds=timeout_seconds,
                sleep=self.sleep,
                clock=self.clock,
            )
            summary.replay = result.as_json()
            if result.state != "COMPLETED":
                raise DeployError(
                    f"replay {result.name} ended {result.state}: {result.state_reason or 'no reason given'}",
                    ExitCode.UPDATE,
                )

        return self._timed(Summary(stack, "replay", self.commit), run)

    # -- steps --------------------------------------------------------------------------------
    def _deploy(self, stack: str, summary: Summary, force_reason: str | None) -> None:
        config = self._plan(stack, summary, gate=lambda c: self._commit_gate(stack, c, force_reason))
        if config.is_production and summary.replacements:
            listed = ", ".join(f"{r['urn']}{' (protected)' if r['protected'] else ''}" for r in summary.replacements)
            raise DeployError(
                f"prod preview replaces {len(summary.replacements)} resource(s): {listed}; "
                "fix the program or replace them deliberately outside the pipeline",
                ExitCode.GATE,
            )
        if self.sign_code is not None:
            summary.signing = self.sign_code(stack, config, lambda targets: self._bootstrap(stack, summary, targets))
        self._update(stack, summary, self.engine.up, total=total_steps(summary.change_summary))
        releases = summary.outputs.get("releases") or {}
        if self.run_releases is not None and releases:
            summary.deployments = self.run_releases(stack, config, releases)

    def _bootstrap(self, stack: str, summary: Summary, targets: Sequence[str]) -> None:
        """Create only ``targets`` (the code signing resources and what they need) before the signing step."""

        def up(name: str, *, on_event: Any) -> Outcome:
            return self.engine.up(name, on_event=on_event, targets=list(targets))

        self._update(stack, summary, up, total=len(targets))

    def _plan(self, stack: str, summary: Summary, gate: Callable[[StackConfig], None] | None = None) -> StackConfig:
        config = self.load_config(stack)
        report = self.offline_gate(stack)
        summary.offline_policy = report.as_json()
        self._say(f"offline preview of '{stack}': {len(report.mandatory)} mandatory policy violation(s)")
        if report.mandatory:
            for line in report.summary_lines():
                self._say(f"  {line}")
            raise DeployError(
                f"{len(report.mandatory)} mandatory policy violation(s) in the offline preview", ExitCode.POLICY
            )
        if gate is not None:
            gate(config)
        self._prepare(stack, config, summary)
        log = EventLog()
        outcome = self.engine.preview(stack, on_event=log)
        self._record(summary, log, outcome)
        summary.replacements = [
            {"urn": c.urn, "type": c.type, "op": c.op, "protected": c.protected} for c in log.replacements
        ]
        if log.mandatory_violations:
            raise DeployError(
                f"{len(log.mandatory_violations)} mandatory policy violation(s) in the engine preview", ExitCode.POLICY
            )
        if not outcome.succeeded:
            raise DeployError(
                f"preview of '{stack}' failed: {outcome.message or '; '.join(log.diagnostics[-1:])}", ExitCode.PREVIEW
            )
        self._say(f"preview of '{stack}': {_changes_text(outcome.change_summary)}")
        return config

    def _commit_gate(self, stack: str, config: StackConfig, force_reason: str | None) -> None:
        upstream = UPSTREAM_ENVIRONMENT.get(config.environment)
        if upstream is None:
            return
        deployed = self.engine.outputs(upstream).get(COMMIT_OUTPUT)
        if deployed == self.commit:
            self._say(f"gate: commit {self.commit[:12]} was deployed to '{upstream}'")
            return
        if force_reason:
            self._say(
                f"gate FORCED for '{stack}': commit {self.commit[:12]} is not what '{upstream}' runs "
                f"({str(deployed)[:12]}); reason: {force_reason}"
            )
            return
        raise DeployError(
            f"'{stack}' deploys only commits already deployed to '{upstream}' "
            f"('{upstream}' runs {deployed or 'nothing recorded'}, this is {self.commit}); "
            "deploy it there first or pass --force with a reason",
            ExitCode.GATE,
        )

    def _update(self, stack: str, summary: Summary, operation: Callable[..., Outcome], *, total: int) -> None:
        log = EventLog()
        progress = Progress(self.stream, total=total, interactive=self.interactive, clock=self.clock)

        def on_event(event: EngineEvent) -> None:
            log(event)
            progress(event)

        outcome = operation(stack, on_event=on_event)
        self._record(summary, log, outcome)
        summary.outputs = outcome.outputs
        if log.mandatory_violations:
            raise DeployError(
                f"{len(log.mandatory_violations)} mandatory policy violation(s) during the update", ExitCode.POLICY
            )
        if not outcome.succeeded or log.failures:
            failed = "; ".join(log.failures[:5]) or outcome.message
            raise DeployError(f"update of '{stack}' failed: {failed}", ExitCode.UPDATE)

    def _promote(self, stack: str, summary: Summary, max_steps: int | None, bake_seconds: float | None) -> None:
        config = self.load_config(stack)
        release = self._weighted_release(stack, config)
        outputs = self._prepare(stack, config, summary)
        outputs = self.engine.outputs(stack) if outputs is None else outputs
        alarm_names = list(outputs.get(ALARMS_OUTPUT) or [])
        if not alarm_names:
            raise DeployError(
                f"stack '{stack}' exports no {ALARMS_OUTPUT}: a canary without rollback alarms "
                "cannot be promoted safely",
                ExitCode.GATE,
            )
        bake = release.custom_interval_minutes * 60.0 if bake_seconds is None else bake_seconds

        def firing() -> list[str]:
            names = self.firing_alarms(alarm_names, config.region)
            if names:
                self._say(f"ALARM: {', '.join(names)}: rolling back")
            return names

        def wait(weight: int) -> None:
            if weight < 100:
                self._say(f"baking at {weight}% for {bake:.0f}s")
                self.sleep(bake)

        result = promote(
            release.weighted_steps,
            release.canary_weight_percent,
            max_steps=max_steps,
            apply=lambda weight: self._apply_weight(stack, weight, summary),
            firing_alarms=firing,
            bake=wait,
        )
        summary.promotion = _promotion_json(result)
        if result.status == "rolled-back":
            raise DeployError(f"canary of '{stack}' rolled back: {', '.join(result.alarms)} in ALARM", ExitCode.UPDATE)

    def _prepare(
        self,
        stack: str,
        config: StackConfig,
        summary: Summary,
        *,
        release_state: bool = True,
        skip: Sequence[str] = (),
        outputs: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any] | None:
        """Before the engine touches the stack: the right account, and this run's config. Returns the stack's
        outputs when it read them (``outputs``: already read by the caller, not read again).

        The AWS provider is pinned to the stack's account (``aws:allowedAccountIds``), and the caller's
        identity is checked against it first, so wrong credentials stop here rather than in the provider
        (or, without the pin, in another account). Each function's release state is derived from the last
        deployment (see :mod:`arcblueprint.deploy.release_state`) and passed for this run only.
        """
        if self.caller_account is not None:
            account = self.caller_account(config.region)
            if account != config.account_id:
                raise DeployError(
                    f"the AWS credentials are for account {account}, but stack '{stack}' deploys to "
                    f"{config.account_id} (accountId): refusing to touch it",
                    ExitCode.ENVIRONMENT,
                )
            self._say(f"account: the credentials are for {account}, the account of '{stack}'")
        values: dict[str, Any] = {"aws:allowedAccountIds": [config.account_id]}
        if release_state:
            outputs = self.engine.outputs(stack) if outputs is None else outputs
            releases = outputs.get(RELEASES_OUTPUT) or {}
            live = self.live_version
            state = derive_release_state(
                releases,
                config,
                live_version_of=(lambda name: live(config.region, name)) if live is not None else None,
                skip=skip,
            )
            if state:
                values["arcblueprint:releases"] = {"functions": state}
                summary.release_state = state
                self._say(f"release state of {len(state)} function(s) from the last deployment")
        self.engine.with_config(stack, values)
        return outputs

    def _roll_back(
        self, stack: str, config: StackConfig, summary: Summary, *, function: str | None, service: str | None
    ) -> None:
        """Each selected function goes back by its strategy: blue-green points ``live`` at its previous version
        and a weighted canary sets its weight to 0 (both recorded in the stack file, then one update);
        canary and linear get a CodeDeploy deployment back to the previous version."""
        outputs = self.engine.outputs(stack)
        releases = outputs.get(RELEASES_OUTPUT) or {}
        selected = select_functions(releases, function=function, service=service)
        config_changes: list[tuple[str, str]] = []
        codedeploy: dict[str, Any] = {}
        for name, info in sorted(selected.items()):
            strategy = info.get("strategy")
            previous = info.get("previousVersion")
            if strategy in ("canary", "linear"):
                codedeploy[name] = info
                how = "CodeDeploy deployment"
            elif strategy == "blue-green":
                if not previous:
                    raise DeployError(
                        f"{name} has no previous version on record (its first release?): nothing to roll back to",
                        ExitCode.CONFIG,
                    )
                config_changes += [(function_key(name, "previousVersion"), str(previous))]
                config_changes += [(function_key(name, "rollback"), "true")]
                how = "live -> previous alias"
            elif strategy == "weighted-canary":
                if not previous:
                    raise DeployError(
                        f"{name} has no previous version on record (its first release?): its canary has no other "
                        "version to send traffic to",
                        ExitCode.CONFIG,
                    )
                config_changes.append((function_key(name, "canaryWeightPercent"), "0"))
                how = "canary weight 0"
            else:
                if function is not None:
                    raise DeployError(
                        f"{name} is released {strategy}: it keeps no previous version to go back to; "
                        "redeploy the previous commit instead",
                        ExitCode.CONFIG,
                    )
                continue  # a whole service or stack: what cannot go back is left as it is, and said
            summary.rollbacks.append({"function": name, "strategy": strategy, "how": how, "to": previous})
        skipped = sorted(set(selected) - {r["function"] for r in summary.rollbacks})
        if skipped:
            self._say(f"not rolled back (all-at-once keeps no previous version): {', '.join(skipped)}")
        if not summary.rollbacks:
            raise DeployError(
                "nothing to roll back: the selected functions are all released all-at-once", ExitCode.CONFIG
            )
        self._prepare(stack, config, summary, skip=[r["function"] for r in summary.rollbacks], outputs=outputs)
        if config_changes:
            for key, value in config_changes:
                self._say(f"setting {key}={value}")
                self.engine.set_config(stack, key, value)
            self._update(stack, summary, self.engine.up, total=0)
        if codedeploy:
            if self.run_rollbacks is None:
                raise DeployError(
                    "rolling back canary/linear functions needs CodeDeploy (the driver was built without it)",
                    ExitCode.ENVIRONMENT,
                )
            summary.deployments = self.run_rollbacks(stack, config, codedeploy)

    def _weighted_release(self, stack: str, config: StackConfig) -> Any:
        release = config.releases
        if release.strategy != "weighted-canary":
            raise DeployError(
                f"promote/rollback move weighted-alias canaries; stack '{stack}' uses "
                f"releases.strategy={release.strategy} (CodeDeploy shifts canary/linear traffic itself)",
                ExitCode.CONFIG,
            )
        return release

    def _apply_weight(self, stack: str, weight: int, summary: Summary) -> None:
        self._say(f"setting {WEIGHT_KEY}={weight} and updating '{stack}'")
        self.engine.set_config(stack, WEIGHT_KEY, str(weight))
        self._update(stack, summary, self.engine.up, total=0)

    # -- helpers ------------------------------------------------------------------------------
    def _timed(self, summary: Summary, body: Callable[[Summary], object]) -> Summary:
        started = self.clock()
        try:
            body(summary)
            summary.result, summary.exit_code = "succeeded", int(ExitCode.OK)
        except DeployError as error:
            summary.result, summary.exit_code, summary.message = "failed", int(error.exit_code), str(error)
        finally:
            summary.duration_seconds = self.clock() - started
        return summary

    def _record(self, summary: Summary, log: EventLog, outcome: Outcome) -> None:
        summary.change_summary = outcome.change_summary
        summary.changes_by_type = log.changes_by_type()
        summary.engine_policy += [
            {"policy": v.policy, "enforcementLevel": v.enforcement_level, "urn": v.urn, "message": v.message}
            for v in log.policy_violations
        ]

    def _say(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def _changes_text(change_summary: dict[str, int]) -> str:
    parts = [f"{count} to {op}" for op, count in sorted(change_summary.items()) if op != "same" and count]
    return ", ".join(parts) or "no changes"


def _promotion_json(result: PromotionResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "applied": result.applied,
        "alarms": result.alarms,
        "finalWeight": result.final_weight,
    }


def write_summary(summary: Summary, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary.as_json(), indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
