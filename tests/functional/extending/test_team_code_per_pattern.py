"""Every pattern's functions can run a team's code: the named function is packaged from the team's folder,
the others keep the pattern's own handlers (one small service per pattern, on the stand-in platform)."""

from __future__ import annotations

from pathlib import Path

import pytest

from arcblueprint.preview.harness import REPO_ROOT

TEAM = "tests/functional/extending/teams/loyalty/points"
CODE = {"codeDir": TEAM, "handler": "app.lambda_handler"}
LEGACY = {"url": "https://legacy.example.com"}
CASES = [
    ("orders", "comfortable-rest", {"functions": {"api": CODE}}, {"with_bus": True}, "orders-api"),
    ("bookings", "cherry-pick", {"functions": {"saga-steps": CODE}}, {}, "bookings-saga-steps"),
    (
        "facade",
        "strangler",
        {
            "legacy": LEGACY,
            "routes": [
                {"path": "/quotes", "target": "new", "function": "quotes", **CODE},
                {"path": "/notifications", "target": "new", "function": "notifications"},
            ],
        },
        {},
        "facade-quotes",
    ),
    (
        "hooks",
        "call-me-maybe",
        {"functions": {"consumer": CODE}},
        {"secrets": ("webhook-signing",), "with_bus": True},
        "hooks-consumer",
    ),
    (
        "lake",
        "streamer",
        {"domains": {"orders": {"columns": {"id": "string"}}}, "consumer": {}, "functions": {"transform": CODE}},
        {},
        "lake-transform",
    ),
    ("ops", "ops-automation", {"functions": {"jobs": CODE}}, {"with_bus": True}, "ops-jobs"),
]


@pytest.mark.parametrize(("name", "pattern", "spec", "platform", "function"), CASES, ids=[c[1] for c in CASES])
def test_the_named_function_runs_the_team_code(run_component, service_program, name, pattern, spec, platform, function):
    from arcblueprint.platform.functions import ServerlessFunction

    folders: dict[str, Path] = {}
    original = ServerlessFunction.__init__

    def recording(self, function_name, args, opts=None):
        folders[function_name] = Path(args.code_dir)
        original(self, function_name, args, opts)

    ServerlessFunction.__init__ = recording
    try:
        run_component(service_program(name, pattern, spec, **platform), stack="dev")
    finally:
        ServerlessFunction.__init__ = original
    team = (REPO_ROOT / TEAM).resolve()
    assert folders.pop(function) == team
    # Every other function of the service (there is at least one) still runs the pattern's own handler.
    assert folders and all(folder != team and "arcblueprint" in folder.parts for folder in folders.values()), folders
