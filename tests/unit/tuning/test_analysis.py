"""Power tuning's analysis: report parsing, statistics, cost and the strategy choice (property-tested)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from arcblueprint.cost.paths import lambda_invocation_usd
from arcblueprint.cost.prices import load_prices
from arcblueprint.tuning.analysis import (
    STRATEGIES,
    Invocation,
    Measurement,
    TuningError,
    chart,
    choose,
    parse_report,
    percentile,
    table,
)

PRICES = load_prices("eu-west-1")

TEXT_REPORT = (
    "START RequestId: 6f6c Version: 7\n"
    '{"level":"INFO","message":"hello"}\n'
    "END RequestId: 6f6c\n"
    "REPORT RequestId: 6f6c\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 512 MB\t"
    "Max Memory Used: 74 MB\tInit Duration: 412.80 ms\t\n"
)
JSON_REPORT = "\n".join(
    json.dumps(r)
    for r in (
        {"time": "t", "type": "platform.start", "record": {"requestId": "a", "version": "7"}},
        {"time": "t", "level": "INFO", "message": "hello"},
        {
            "time": "t",
            "type": "platform.report",
            "record": {
                "requestId": "a",
                "metrics": {"durationMs": 12.5, "billedDurationMs": 13, "memorySizeMB": 1024, "maxMemoryUsedMB": 90},
                "status": "success",
            },
        },
    )
)


def test_text_and_json_reports():
    cold = parse_report(TEXT_REPORT)
    assert (cold.duration_ms, cold.billed_ms, cold.memory_mib, cold.max_memory_used_mib) == (102.25, 103, 512, 74)
    assert cold.init_ms == 412.80 and not cold.failed
    warm = parse_report(JSON_REPORT)
    assert (warm.duration_ms, warm.billed_ms, warm.memory_mib, warm.max_memory_used_mib) == (12.5, 13, 1024, 90)
    assert warm.init_ms is None
    assert parse_report(JSON_REPORT, error="Unhandled").failed
    with pytest.raises(TuningError, match="no REPORT line"):
        parse_report("START RequestId: x\nEND RequestId: x\n")


invocation = st.builds(
    Invocation,
    duration_ms=st.floats(1, 5000),
    billed_ms=st.just(0.0),
    memory_mib=st.just(0),
    max_memory_used_mib=st.integers(30, 120),
    init_ms=st.none() | st.floats(100, 2000),
)


@given(inv=invocation, memory=st.sampled_from([128, 256, 512, 1024]), json_format=st.booleans())
def test_a_report_reads_back_what_lambda_wrote(inv, memory, json_format):
    inv = dataclasses.replace(inv, billed_ms=float(int(inv.duration_ms) + 1), memory_mib=memory)
    if json_format:
        metrics = {
            "durationMs": inv.duration_ms,
            "billedDurationMs": inv.billed_ms,
            "memorySizeMB": memory,
            "maxMemoryUsedMB": inv.max_memory_used_mib,
        }
        if inv.init_ms is not None:
            metrics["initDurationMs"] = inv.init_ms
        tail = json.dumps({"type": "platform.report", "record": {"metrics": metrics}})
    else:
        init = f"\tInit Duration: {inv.init_ms!r} ms" if inv.init_ms is not None else ""
        tail = (
            f"REPORT RequestId: r\tDuration: {inv.duration_ms!r} ms\tBilled Duration: {inv.billed_ms:.0f} ms\t"
            f"Memory Size: {memory} MB\tMax Memory Used: {inv.max_memory_used_mib} MB{init}\t"
        )
    assert parse_report(tail) == inv


def measurement(memory: int, durations: list[float], *, used: int = 60, cold: float | None = None, error=None):
    invocations = [
        Invocation(duration_ms=d, billed_ms=float(int(d) + 1), memory_mib=memory, max_memory_used_mib=used, error=error)
        for d in durations
    ]
    if cold is not None:
        invocations[0] = dataclasses.replace(invocations[0], init_ms=cold)
    return Measurement(memory_mib=memory, invocations=tuple(invocations))


def test_statistics_exclude_cold_starts_and_cost_uses_the_mean_billed_duration():
    m = measurement(512, [900.0, 100.0, 110.0, 120.0], cold=350.0)
    assert m.cold_starts == (350.0,)
    assert m.median_ms == 110.0 and m.p95_ms == 120.0  # the cold 900 ms is left out
    assert m.mean_billed_ms == pytest.approx((101 + 111 + 121) / 3)
    assert m.cost(PRICES) == pytest.approx(0.0000002 + 0.5 * (111 / 1000) * 0.0000133334)


def test_a_setting_that_failed_or_ran_out_of_memory_is_never_chosen():
    cheap_but_oom = measurement(128, [50.0] * 5, used=128)
    erroring = measurement(256, [40.0] * 5, error="Unhandled")
    fine = measurement(1024, [30.0] * 5)
    for strategy in STRATEGIES:
        assert choose([cheap_but_oom, erroring, fine], strategy, PRICES) is fine
    with pytest.raises(TuningError, match="every memory setting failed"):
        choose([cheap_but_oom, erroring], "cost", PRICES)


def test_the_seed_example_fast_but_dearer_and_slow_but_cheaper():
    # 4x the memory runs 5x faster (CPU share grows with memory), 16x runs only 16.7x faster.
    settings = [measurement(128, [1000.0] * 5), measurement(512, [200.0] * 5), measurement(2048, [60.0] * 5)]
    assert choose(settings, "speed", PRICES).memory_mib == 2048
    # GB-seconds: 0.125 x 1.001 = 0.1251; 0.5 x 0.201 = 0.1005; 2 x 0.061 = 0.122
    assert choose(settings, "cost", PRICES).memory_mib == 512
    # balanced, each over the worst: 128: 0.5 + 0.5 = 1; 512: 0.5 x 0.824 + 0.5 x 0.2 = 0.512;
    # 2048: 0.5 x 0.978 + 0.5 x 0.06 = 0.519
    assert choose(settings, "balanced", PRICES).memory_mib == 512


setting = st.builds(
    lambda memory, durations, failed: measurement(memory, durations, error="Unhandled" if failed else None),
    st.sampled_from([128, 256, 512, 768, 1024, 1536, 2048, 3008, 4096, 10240]),
    st.lists(st.floats(1, 3000), min_size=1, max_size=8),
    st.booleans(),
)
settings = st.lists(setting, min_size=1, max_size=8, unique_by=lambda m: m.memory_mib)


@given(settings=settings, strategy=st.sampled_from(STRATEGIES))
def test_the_choice_is_usable_and_optimal_for_its_strategy(settings, strategy):
    usable = [m for m in settings if m.usable]
    assume(usable)
    chosen = choose(settings, strategy, PRICES)
    assert chosen in usable
    if strategy == "cost":
        assert chosen.cost(PRICES) == min(m.cost(PRICES) for m in usable)
    if strategy == "speed":
        assert chosen.median_ms == min(m.median_ms for m in usable)
    if strategy == "balanced":  # never dominated: no usable setting is both cheaper and faster
        assert not any(m.cost(PRICES) < chosen.cost(PRICES) and m.median_ms < chosen.median_ms for m in usable)


@given(settings=settings, strategy=st.sampled_from(STRATEGIES), order=st.randoms())
def test_the_choice_does_not_depend_on_the_order_of_the_runs(settings, strategy, order):
    assume(any(m.usable for m in settings))
    shuffled = list(settings)
    order.shuffle(shuffled)
    assert choose(settings, strategy, PRICES).memory_mib == choose(shuffled, strategy, PRICES).memory_mib


@given(values=st.lists(st.floats(0, 1e6), min_size=1, max_size=50), a=st.floats(1, 100), b=st.floats(1, 100))
def test_percentiles_are_sample_values_and_grow_with_the_rank(values, a, b):
    low, high = sorted((a, b))
    assert percentile(values, low) in values
    assert min(values) <= percentile(values, low) <= percentile(values, high) <= max(values)
    assert percentile(values, 100) == max(values)


def test_table_and_chart():
    settings = [measurement(128, [800.0] * 3, cold=900.0), measurement(1024, [100.0] * 3)]
    chosen = choose(settings, "speed", PRICES)
    rows = table(settings, PRICES, chosen)
    assert rows[1].lstrip().startswith("128 MB") and rows[2].endswith("<- chosen")
    cost_128 = lambda_invocation_usd(128, 801, "arm64", PRICES)
    assert f"{cost_128 * 1e6:.2f}" in rows[1]
    lines = chart(settings, PRICES, width=20)
    assert lines[1].count("#") == 20 and lines[3].count("#") == round(20 * 100 / 800)
