"""The course's Q7 program on Python's ThreadPoolExecutor, timed run by run: the
anchor of executor_bench.rs, which runs this file and prints the ratio.

    python3 executor_bench.py [RUNS]
"""
import sys
from concurrent.futures import ThreadPoolExecutor

from bench_timing import summary, timed


def factorial(n):
    out = 1
    for k in range(2, n + 1):
        out *= k
    return out


def program():
    with ThreadPoolExecutor(max_workers=4) as pool:
        values = list(pool.map(factorial, range(1, 11)))
    return "".join(f"Factorial of {n} is {v}\n" for n, v in zip(range(1, 11), values))


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    assert program().splitlines()[3] == "Factorial of 4 is 24"
    for _ in range(runs // 10):
        program()
    times = [timed(program) for _ in range(runs)]
    print(f"python ThreadPoolExecutor, 4 workers, factorials 1..10: {summary(times)}")


if __name__ == "__main__":
    main()
