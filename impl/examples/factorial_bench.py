"""The anchor of factorial_bench.rs: math.factorial(100000), timed run by run.

    python3 factorial_bench.py [RUNS]

Prints one line with the median; factorial_bench.rs reads it for its ratio.
"""
import math
import statistics
import sys
import time

N = 100_000


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    math.factorial(N)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        math.factorial(N)
        times.append(time.perf_counter() - start)
    times.sort()
    q = lambda p: times[round((len(times) - 1) * p)] * 1e3
    print(
        f"python math.factorial({N}): median {statistics.median(times) * 1e3:.3f} ms "
        f"(min {q(0):.3f}, p10 {q(0.1):.3f}, p90 {q(0.9):.3f}, max {q(1):.3f}) over {runs} runs"
    )


if __name__ == "__main__":
    main()
