"""Cold init of every Lambda handler and the size of its deployment package.

Cold init: a fresh interpreter imports the handler module (``app``) from its own folder, as the
Lambda runtime does, and looks up ``lambda_handler`` (CPU seconds of that import). The baselines, in
the same run and mode, are a Powertools-only handler (Logger, Tracer, Metrics) and a bare handler
module that imports only boto3.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARE_HANDLER = "import boto3\n\ndef lambda_handler(event, context):\n    return {'ok': True}\n"

#: What every Powertools handler pays before its own code: Logger, Tracer (the X-Ray SDK) and Metrics.
POWERTOOLS_HANDLER = """import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return {"ok": True}
"""

#: argv[1:] = the handler folder and the folders of its shared modules (all at the zip root in Lambda).
#: CPU seconds of the import, not wall time: init is CPU-bound (imports, client set-up), and CPU time
#: stays comparable when other processes share the machine, where wall time does not.
PROBE = (
    "import sys, time; sys.path[:0] = sys.argv[1:]; t = time.process_time(); import app; "
    "app.lambda_handler; print(time.process_time() - t)"
)

#: What a function's component sets; handlers read the rest lazily on the first invocation.
LAMBDA_ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "bench",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
}

#: The two ways a handler starts. ``off``: tracing disabled (the tests, local runs). ``lambda``: as in a
#: function with active tracing, where Powertools turns tracing on because ``LAMBDA_TASK_ROOT`` is set.
MODES: dict[str, dict[str, str]] = {
    "off": {"POWERTOOLS_TRACE_DISABLED": "true"},
    "lambda": {"LAMBDA_TASK_ROOT": "/var/task", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR"},
}


def handler_dirs() -> list[Path]:
    return sorted(path.parent for path in (ROOT / "arcblueprint" / "services").glob("*/handlers/*/app.py"))


def handler_env(code_dir: Path, mode: str = "off") -> dict[str, str]:
    """Environment values the handler module reads at import, in one of the :data:`MODES`."""
    env = {k: v for k, v in os.environ.items() if k not in ("POWERTOOLS_TRACE_DISABLED", "LAMBDA_TASK_ROOT")}
    env.update(LAMBDA_ENV)
    env.update(MODES[mode])
    for name in (
        "TABLE_NAME",
        "QUEUE_URL",
        "TOPIC_ARN",
        "STREAM_NAME",
        "BUCKET_NAME",
        "IDEMPOTENCY_TABLE",
        "STATUS_TABLE",
        "SECRET_NAME",
        "SIGNING_SECRET_NAME",
        "CLAIM_CHECK_BUCKET",
        "STATE_MACHINE_ARN",
        "SENSITIVE_FIELDS",
        "EVENT_BUS_NAME",
        "OPS_TABLE",
        "TOPIC_ARN",
        "PAYLOAD_BUCKET",
    ):
        env.setdefault(name, "bench")
    return env


def cold_init_seconds(code_dir: Path, repeats: int, mode: str = "off") -> float:
    env = handler_env(code_dir, mode)
    from arcblueprint.platform.functions.packaging import shared_modules

    folders = [str(code_dir), *dict.fromkeys(str(path.parent) for path in shared_modules(code_dir))]
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", PROBE, *folders], env=env, capture_output=True, text=True, check=True, timeout=60
            ).stdout
        )
        for _ in range(repeats)
    ]
    return statistics.median(runs)


def bare_cold_init_seconds(repeats: int, source: str = BARE_HANDLER, mode: str = "off") -> float:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "app.py").write_text(source)
        return cold_init_seconds(Path(folder), repeats, mode)


def powertools_cold_init_seconds(repeats: int, mode: str = "off") -> float:
    return bare_cold_init_seconds(repeats, POWERTOOLS_HANDLER, mode)


def package_bytes(code_dir: Path) -> int:
    from arcblueprint.platform.functions.packaging import package_size

    return package_size(code_dir)
