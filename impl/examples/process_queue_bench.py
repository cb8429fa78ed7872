"""The anchor of process_queue_bench.rs: the same measurements on multiprocessing.Queue.

    python3 process_queue_bench.py [RUNS [ONE_WAY_8B ROUND_TRIPS_8B ONE_WAY_64K ROUND_TRIPS_64K]]

Spawn start method, bytes items, two queues (requests and replies) shared with one
child. Prints one line per measurement with the median batch time;
process_queue_bench.rs reads the four medians, in this order, and turns them into
rates with the same batch sizes.
"""
import multiprocessing
import statistics
import struct
import sys

from bench_timing import summary, timed

ECHO, SINK, QUIT = 1, 2, 3


def served(requests, replies):
    while True:
        op, count = struct.unpack("<BI", requests.get())
        if op == QUIT:
            return
        for _ in range(count):
            item = requests.get()
            if op == ECHO:
                replies.put(item)
        if op == SINK:
            replies.put(b"k")


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    counts = [int(a) for a in sys.argv[2:6]] or [20_000, 5_000, 2_000, 1_000]
    multiprocessing.set_start_method("spawn")
    requests, replies = multiprocessing.Queue(), multiprocessing.Queue()
    child = multiprocessing.Process(target=served, args=(requests, replies))
    child.start()

    def batch(op, count, size):
        item = bytes(size)
        requests.put(struct.pack("<BI", op, count))
        for _ in range(count):
            requests.put(item)
            if op == ECHO:
                replies.get()
        if op == SINK:
            assert replies.get() == b"k"

    kinds = [
        ("one-way items, 8 B", SINK, counts[0], 8),
        ("round trips, 8 B", ECHO, counts[1], 8),
        ("one-way items, 64 KiB", SINK, counts[2], 64 * 1024),
        ("round trips, 64 KiB", ECHO, counts[3], 64 * 1024),
    ]
    for name, op, count, size in kinds:
        batch(op, count, size)
        times = [timed(lambda: batch(op, count, size)) for _ in range(runs)]
        rate = count / statistics.median(times)
        print(f"python Queue {name:<27} {rate:10.0f} /s  batch {summary(times)}")
    requests.put(struct.pack("<BI", QUIT, 0))
    child.join()


if __name__ == "__main__":
    main()
