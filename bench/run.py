"""Benchmarks: each figure is printed with a baseline measured in the same run, and their ratio.

    .venv/bin/python bench/run.py            # everything but the test-suite timing
    .venv/bin/python bench/run.py --suite    # also time the full test suite

Not part of the tests: timings belong here, assertions on behaviour belong in tests/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

ROWS: list[tuple[str, str, str, str, str]] = []
#: The environment this script started with: the handler benchmarks set Powertools variables (log level,
#: service name) for their own imports, and the test suite must not inherit them.
STARTING_ENVIRONMENT = dict(os.environ)


def row(name: str, value: float, baseline: float, unit: str, target: str) -> None:
    ratio = value / baseline if baseline else float("inf")
    ROWS.append((name, f"{value:,.3f} {unit}", f"{baseline:,.3f} {unit}", f"{ratio:.2f}x", target))


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_imports(repeats: int = 3) -> None:
    code = "import time; t=time.perf_counter(); import pulumi, pulumi_aws; print(time.perf_counter()-t)"
    bare = "import time; t=time.perf_counter(); import json; print(time.perf_counter()-t)"

    def run(c: str) -> float:
        return float(subprocess.run([sys.executable, "-c", c], capture_output=True, text=True, check=True).stdout)

    value = statistics.median(run(code) for _ in range(repeats))
    baseline = statistics.median(run(bare) for _ in range(repeats))
    row("import pulumi + pulumi_aws (fresh interpreter)", value, baseline, "s", "info (baseline: import json)")
    # Config and its planners load no SDK: a default release spec costs its own imports only.
    spec = (
        "import time; t=time.perf_counter(); from arcblueprint.config.model import ReleaseSpec; ReleaseSpec(); "
        "print(time.perf_counter()-t)"
    )
    row(
        "default ReleaseSpec() (fresh interpreter)",
        statistics.median(run(spec) for _ in range(repeats)),
        value,
        "s",
        "< 0.5x (baseline: import pulumi + pulumi_aws)",
    )


def bench_preview(stack: str, repeats: int = 5) -> None:
    from floor import fidelity, floor_program

    from arcblueprint.config import engine_config, read_stack_file
    from arcblueprint.preview.harness import run_program, synthesize

    graph = synthesize(stack)  # warm-up: imports, caches
    values = engine_config(read_stack_file(ROOT, stack))
    value = median_seconds(lambda: synthesize(stack), repeats)
    program = floor_program(graph)
    same = fidelity(graph, run_program(program, values, stack, config=graph.config))
    baseline = median_seconds(lambda: run_program(program, values, stack, config=graph.config), repeats)
    row(
        f"preview {stack} ({len(graph.resources)} resources, floor same inputs: {same:.0%}) vs floor",
        value,
        baseline,
        "s",
        "<= 1.5x",
    )


def bench_scaling(sizes: tuple[int, ...] = (1, 10, 50, 100), repeats: int = 3) -> None:
    from floor import floor_program
    from scaling import stack_with_services

    from arcblueprint.config import engine_config
    from arcblueprint.preview.harness import run_program, synthesize

    times: dict[int, float] = {}
    for count in sizes:
        values = stack_with_services(count)
        graph = synthesize("dev", overrides=values)
        value = median_seconds(lambda v=values: synthesize("dev", overrides=v), repeats)
        engine_values = engine_config(values)
        baseline = median_seconds(
            lambda g=graph, e=engine_values: run_program(floor_program(g), e, "dev", config=g.config), repeats
        )
        times[count] = value
        row(f"preview {count} services ({len(graph.resources)} resources) vs floor", value, baseline, "s", "<= 1.5x")
        row(f"  per service ({count} services)", value / count, baseline / count, "s", "info")
    if 10 in times and 100 in times:
        row("linearity: 100 services vs 10 services", times[100], times[10], "s", "<= 11x")


def bench_handlers(repeats: int = 5) -> None:
    """Cold init per handler against two floors measured in the same run and mode.

    The target is the Powertools-only handler (Logger, Tracer, Metrics and boto3: what every handler
    here pays before its own code); the bare boto3 handler is printed beside it. Both modes are run:
    tracing off (tests, local runs) and as in Lambda with active tracing (the X-Ray SDK loaded).
    """
    import handlers

    for mode, label in (("off", "tracing off"), ("lambda", "Lambda, tracing on")):
        bare = handlers.bare_cold_init_seconds(repeats, mode=mode)
        powertools = handlers.powertools_cold_init_seconds(repeats, mode=mode)
        row(f"cold init [{label}]: Powertools-only handler vs bare boto3", powertools, bare, "s", "info (floor)")
        for code_dir in handlers.handler_dirs():
            label_dir = str(code_dir.relative_to(handlers.ROOT / "arcblueprint" / "services"))
            value = handlers.cold_init_seconds(code_dir, repeats, mode)
            row(f"cold init [{label}] {label_dir}", value, powertools, "s", "<= 1.3x Powertools-only")
            row("  same, vs bare boto3", value, bare, "s", "info")
    for code_dir in handlers.handler_dirs():
        label = str(code_dir.relative_to(handlers.ROOT / "arcblueprint" / "services"))
        row(f"package {label}", handlers.package_bytes(code_dir) / 1024, 100.0, "KiB", "<= 1.0x (100 KiB)")


def bench_batches() -> None:
    try:
        import batch_handlers
    except ImportError:  # pragma: no cover - the batch benchmark ships with the event patterns
        return
    for name in ("webhook_consumer", "fan_out_consumer", "firehose_transform", "stream_consumer"):
        measure = getattr(batch_handlers, name, None)
        if measure is not None:
            value, baseline = measure(20000, 100)
            row(
                f"batch {name} (records/s; ratio = share of the bare loop's rate)",
                value,
                baseline,
                "rec/s",
                ">= 20000 rec/s",
            )


def bench_suite() -> bool:
    """The full suite as the lead runs it at merge, against its 180 s budget; False if a test failed (a
    failing run's time says nothing)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=STARTING_ENVIRONMENT,
        check=False,
        capture_output=True,
        text=True,
    )
    value = time.perf_counter() - started
    lines = result.stdout.strip().splitlines()
    summary = lines[-1].strip("= ") if lines else "no output"
    row(f"full test suite (pytest -n 2): {summary}", value, 180.0, "s", "<= 1.0x (180 s)")
    if result.returncode != 0:
        print(result.stdout[-5000:], result.stderr[-2000:], sep="\n", file=sys.stderr)
    return result.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="store_true", help="also time the full test suite")
    parser.add_argument("--handlers", action="store_true", help="only the handlers' cold init and packages")
    args = parser.parse_args()
    if args.handlers:
        bench_handlers()
    else:
        bench_imports()
        for stack in ("dev", "prod"):
            bench_preview(stack)
        bench_scaling()
        bench_handlers()
        bench_batches()
    suite_passed = bench_suite() if args.suite else True
    widths = [max(len(r[i]) for r in [("benchmark", "value", "baseline", "ratio", "target"), *ROWS]) for i in range(5)]
    header = ("benchmark", "value", "baseline", "ratio", "target")
    for line in [header, tuple("-" * w for w in widths), *ROWS]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
    return 0 if suite_passed else 1


if __name__ == "__main__":
    sys.exit(main())
