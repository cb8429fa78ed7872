"""Timing helpers shared by the Python anchors of the benchmarks (`*_bench.py`).

The Rust side (`common/mod.rs`) reads the number after each `median`, in ms.
"""
import statistics
import time


def timed(f):
    """Seconds one call of `f` takes."""
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def summary(times):
    """The median and spread of `times` (seconds), in ms."""
    times = sorted(times)
    q = lambda p: times[round((len(times) - 1) * p)] * 1e3
    return (
        f"median {statistics.median(times) * 1e3:.3f} ms "
        f"(min {q(0):.3f}, p10 {q(0.1):.3f}, p90 {q(0.9):.3f}, max {q(1):.3f}) "
        f"over {len(times)} runs"
    )
