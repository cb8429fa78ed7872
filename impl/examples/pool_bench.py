"""The anchor of pool_bench.rs: the same measurements on multiprocessing.Pool.

    python3 pool_bench.py [RUNS]

Prints one line per measurement with its median; pool_bench.rs reads the first two
medians (start + map + shutdown, and the 100 000-square map) for its ratios.
"""
import multiprocessing
import sys
import time

from bench_timing import summary, timed


def square(x):
    return x * x


def start_map_shutdown():
    with multiprocessing.Pool(4) as pool:
        assert pool.map(square, range(1, 11))[9] == 100
        pool.close()
        pool.join()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    start_map_shutdown()
    print(f"python Pool(4) start + map 1..10 + close/join: {summary([timed(start_map_shutdown) for _ in range(runs)])}")
    with multiprocessing.Pool(4) as pool:
        big = list(range(100_000))
        pool.map(square, big)
        print(f"python map 100_000 squares on Pool(4): {summary([timed(lambda: pool.map(square, big)) for _ in range(runs)])}")
        for n in (10, 10_000, 1_000_000):
            items = list(range(n))
            k = min(runs, 10) if n >= 1_000_000 else runs
            print(f"python map {n} squares on Pool(4): {summary([timed(lambda: pool.map(square, items)) for _ in range(k)])}")
    for size in (2, 4, 8):
        starts, maps = [], []
        for _ in range(runs):
            t = time.perf_counter()
            pool = multiprocessing.Pool(size)
            starts.append(time.perf_counter() - t)
            maps.append(timed(lambda: pool.map(square, range(1, 11))))
            pool.close()
            pool.join()
        print(f"python E8 Pool({size}) start-up: {summary(starts)}")
        print(f"python E8 Pool({size}) map 1..10: {summary(maps)}")


if __name__ == "__main__":
    main()
