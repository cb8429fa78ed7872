"""The anchor of factorial_bench.rs: math.factorial(100000), timed run by run.

    python3 factorial_bench.py [RUNS]

Prints one line with the median; factorial_bench.rs reads it for its ratio.
"""
import math
import sys

from bench_timing import summary, timed

N = 100_000


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    math.factorial(N)
    times = [timed(lambda: math.factorial(N)) for _ in range(runs)]
    print(f"python math.factorial({N}): {summary(times)}")


if __name__ == "__main__":
    main()
