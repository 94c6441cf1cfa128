"""The handlers prod runs with SnapStart create nothing unique at import, and reseed ``random`` after a restore.

With SnapStart, init runs once per published version and every execution environment resumes from
its snapshot, so anything unique made at import (an id, a seed, a token, a secret fetched over the
network) is shared by all of them (AWS: "Handling uniqueness with Lambda SnapStart"). Each SnapStart
handler is imported twice in one fresh interpreter, with the sources of uniqueness and every AWS API
call recorded: nothing the handler's own files call may draw randomness or reach AWS, both imports
must leave the same module-level values, and the after-restore hook must give ``random`` a new seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from arcblueprint.preview.harness import REPO_ROOT
from arcblueprint.services import pattern_of

SERVICES = REPO_ROOT / "arcblueprint" / "services"
#: (pattern, function role) -> handler folder; a strangler route function's folder is named after it.
HANDLERS = {
    ("comfortable-rest", "api"): "comfortable_rest/handlers/api",
    ("cherry-pick", "bookings"): "cherry_pick/handlers/bookings",
    ("strangler", "router"): "strangler/handlers/router",
    ("call-me-maybe", "receiver"): "call_me_maybe/handlers/receiver",
}

PROBE = r"""
import json, os, random, secrets, sys, types, uuid
from pathlib import Path

hooks = []
sys.modules["snapshot_restore_py"] = types.SimpleNamespace(
    register_after_restore=lambda f, *a, **k: hooks.append((f, a, k)),
    register_before_snapshot=lambda f, *a, **k: None,
)
from arcblueprint.platform.functions.packaging import shared_modules
from arcblueprint.services.testing import load_handler

owned = set()
calls = []

def record(module, name):
    original = getattr(module, name)
    def wrapper(*args, **kwargs):
        caller = sys._getframe(1).f_code.co_filename
        if str(Path(caller).resolve()) in owned:
            calls.append(f"{module.__name__}.{name} from {Path(caller).name}")
        return original(*args, **kwargs)
    setattr(module, name, wrapper)

for module, names in (
    (uuid, ["uuid1", "uuid4"]),
    (os, ["urandom", "getrandom"] if hasattr(os, "getrandom") else ["urandom"]),
    (secrets, ["token_bytes", "token_hex", "token_urlsafe", "randbits", "choice", "randbelow"]),
    (random, ["random", "randint", "randrange", "uniform", "choice", "choices", "getrandbits", "seed", "shuffle",
              "sample", "randbytes"]),
):
    for name in names:
        record(module, name)

import botocore.client
api_calls = []
def no_network(self, operation_name, api_params):
    api_calls.append(f"{self.meta.service_model.service_name}.{operation_name}")
    raise RuntimeError("no AWS call at import")
botocore.client.BaseClient._make_api_call = no_network

def fingerprint(module):
    simple = (str, bytes, int, float, bool, type(None))
    return {k: repr(v) for k, v in vars(module).items() if not k.startswith("__") and isinstance(v, simple)}

result = {}
for i, folder in enumerate(sys.argv[1:]):
    code_dir = Path(folder)
    owned.clear()
    owned.update(str(p.resolve()) for p in [*code_dir.glob("*.py"), *shared_modules(code_dir)])
    calls.clear(); api_calls.clear(); hooks.clear()
    first = fingerprint(load_handler(code_dir, f"snap_{i}_a"))
    second = fingerprint(load_handler(code_dir, f"snap_{i}_b"))
    at_import = list(calls)  # the hooks below run at restore, not at import
    state = random.getstate()
    for hook, args, kwargs in hooks:
        hook(*args, **kwargs)
    result[folder] = {
        "unique": at_import,
        "api": list(api_calls),
        "differs": sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k)),
        "hooks": [getattr(h, "__name__", str(h)) for h, _, _ in hooks],
        "reseeded": random.getstate() != state,
    }
print(json.dumps(result))
"""


def _snapstart_handler_dirs(graph) -> dict[str, Path]:
    """Function name -> handler folder, for every function prod runs with SnapStart."""
    found = {}
    for function in graph.by_type("aws:lambda/function:Function"):
        if (function.inputs.get("snapStart") or {}).get("applyOn") != "PublishedVersions":
            continue
        service = function.inputs["tags"]["service"]
        pattern = pattern_of(graph.config.services[service])
        role = function.name.removeprefix(f"{service}-").removesuffix("-function")
        folder = HANDLERS.get((pattern, role)) or (f"strangler/handlers/{role}" if pattern == "strangler" else None)
        assert folder, f"{function.name}: SnapStart is on but this test does not know its handler folder"
        found[function.name] = SERVICES / folder
    return found


def test_snapstart_handlers_create_nothing_unique_at_import_and_reseed_after_restore(synthesized):
    handlers = _snapstart_handler_dirs(synthesized("prod"))
    assert len(handlers) == 5  # orders-api, bookings-bookings, facade-router, facade-notifications, hooks-receiver
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "test",
        # What the components set and the handlers read at import.
        "TABLE_NAME": "t",
        "STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:222222222222:stateMachine:s",
        "BUFFER": "sqs",
        "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/222222222222/q",
        "IDEMPOTENCY_TABLE": "i",
        "STATUS_TABLE": "s",
        "SIGNING_SECRET_ID": "arn:aws:secretsmanager:eu-west-1:222222222222:secret:webhook-signing-AbCdEf",
        "ROUTES": "{}",
        "LEGACY_URL": "http://legacy.example.com",
        "ROUTE_PATH": "/api/notifications",
    }
    folders = sorted({str(d) for d in handlers.values()})
    run = subprocess.run(
        [sys.executable, "-c", PROBE, *folders], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    for folder in folders:
        found = result[folder]
        name = Path(folder).relative_to(SERVICES)
        assert found["unique"] == [], f"{name} draws randomness at import: {found['unique']}"
        assert found["api"] == [], f"{name} calls AWS at import: {found['api']}"
        assert found["differs"] == [], f"{name} sets different module values on each import: {found['differs']}"
        # Imported twice here, so registered twice; Lambda imports the handler once.
        assert set(found["hooks"]) == {"reseed_after_restore"}, f"{name} registers no after-restore reseed"
        assert found["reseeded"], f"{name}: the after-restore hook left random's state as it was"
