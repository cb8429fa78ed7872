"""The anchor of pipe_bench.rs: the same measurements on multiprocessing.Pipe.

    python3 pipe_bench.py [RUNS [ONE_WAY_8B ROUND_TRIPS_8B ONE_WAY_64K ROUND_TRIPS_64K]]

Spawn start method, bytes messages (send_bytes / recv_bytes). Prints one line per
measurement with the median batch time; pipe_bench.rs reads the four medians, in this
order, and turns them into rates with the same batch sizes.
"""
import multiprocessing
import statistics
import struct
import sys

from bench_timing import summary, timed

ECHO, SINK = 1, 2


def served(conn):
    while True:
        try:
            c = conn.recv_bytes()
        except EOFError:
            return
        op, count, _ = struct.unpack("<BII", c)
        for _ in range(count):
            m = conn.recv_bytes()
            if op == ECHO:
                conn.send_bytes(m)
        if op == SINK:
            conn.send_bytes(b"k")


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    counts = [int(a) for a in sys.argv[2:6]] or [100_000, 20_000, 4_000, 2_000]
    multiprocessing.set_start_method("spawn")
    parent, child_end = multiprocessing.Pipe()
    child = multiprocessing.Process(target=served, args=(child_end,))
    child.start()
    child_end.close()

    def batch(op, count, size):
        m = bytes(size)
        parent.send_bytes(struct.pack("<BII", op, count, size))
        for _ in range(count):
            parent.send_bytes(m)
            if op == ECHO:
                parent.recv_bytes()
        if op == SINK:
            assert parent.recv_bytes() == b"k"

    kinds = [
        ("one-way msgs, 8 B", SINK, counts[0], 8),
        ("round trips, 8 B", ECHO, counts[1], 8),
        ("one-way msgs, 64 KiB", SINK, counts[2], 64 * 1024),
        ("round trips, 64 KiB", ECHO, counts[3], 64 * 1024),
    ]
    for name, op, count, size in kinds:
        batch(op, count, size)
        times = [timed(lambda: batch(op, count, size)) for _ in range(runs)]
        rate = count / statistics.median(times)
        print(f"python Pipe {name:<28} {rate:10.0f} /s  batch {summary(times)}")
    parent.close()
    child.join()


if __name__ == "__main__":
    main()
