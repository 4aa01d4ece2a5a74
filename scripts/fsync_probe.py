#!/usr/bin/env python3
"""How long this disk takes to make a few pages durable: the floor under every
answer usher gives with `synchronous = FULL` (docs/benchmarks.md, "The
fixed-rate tail is the disk's fsync").

Writes PAGES pages of 4 KiB at the next offset of a file in DIR, then syncs
it, about every half millisecond (roughly the writer's pace at 2,000 req/s),
for SECONDS, and prints the sync's p50, p90, p99 and maximum.
--beside adds a thread that writes 38 scattered pages to a second file and
syncs it every 10 ms, as usher's checkpoint thread does. Run it pinned like
the benchmark's server (`taskset -c 0`), on a quiet machine:

    taskset -c 0 python3 scripts/fsync_probe.py --dir /var/lib/usher --pages 27 --beside
"""

import argparse
import os
import tempfile
import threading
import time

PAGE = 4096
FILE_PAGES = 4000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=".", help="a directory on the disk to probe (default: here)")
    ap.add_argument("--pages", type=int, default=6, help="pages written before each sync (default 6)")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--sync", choices=["fsync", "fdatasync"], default="fsync", help="SQLite's bundled build calls fsync")
    ap.add_argument("--beside", action="store_true", help="a second file synced every 10 ms beside it")
    args = ap.parse_args()
    sync = os.fsync if args.sync == "fsync" else os.fdatasync

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="usher-fsync-probe-") as tmp:
        wal = preallocated(os.path.join(tmp, "wal"))
        stop = threading.Event()
        if args.beside:
            db = preallocated(os.path.join(tmp, "db"))
            threading.Thread(target=checkpoints, args=(db, sync, stop), daemon=True).start()

        took, offset, end = [], 0, time.monotonic() + args.seconds
        while time.monotonic() < end:
            for _ in range(args.pages):
                os.pwrite(wal, os.urandom(PAGE), offset)
                offset = (offset + PAGE) % (PAGE * (FILE_PAGES - 1))
            start = time.perf_counter()
            sync(wal)
            took.append((time.perf_counter() - start) * 1e3)
            time.sleep(0.0005)
        stop.set()

    took.sort()
    q = lambda p: took[min(int(len(took) * p), len(took) - 1)]
    beside = ", beside a synced file" if args.beside else ""
    print(
        f"{args.sync} of {args.pages} pages{beside}: n={len(took)} mean={sum(took) / len(took):.2f} "
        f"p50={q(0.5):.2f} p90={q(0.9):.2f} p99={q(0.99):.2f} max={took[-1]:.2f} ms"
    )


def preallocated(path: str) -> int:
    # Rewriting blocks already on disk, as SQLite rewrites its WAL from the start after a checkpoint.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, b"\0" * (PAGE * FILE_PAGES))
    os.fsync(fd)
    return fd


def checkpoints(fd: int, sync, stop: threading.Event) -> None:
    offset = 0
    while not stop.is_set():
        for _ in range(38):
            os.pwrite(fd, os.urandom(PAGE), offset)
            offset = (offset + PAGE * 97) % (PAGE * (FILE_PAGES - 100))
        sync(fd)
        time.sleep(0.01)


if __name__ == "__main__":
    main()
