#!/usr/bin/env python3
"""Reads one file cold, pass after pass, for benchmarks/page_cache_cost.ts.
Prints "ready <pid>", then for each line "pass" on stdin: drops the file's
pages from the page cache (posix_fadvise DONTNEED), reads it whole in 1 MiB
read(2) calls, and prints "pass <ns> <bytes>" (the pass's wall time). Exits
at end of input.
Usage: python3 page_cache_reader.py FILE
"""
import os
import sys
import time

fd = os.open(sys.argv[1], os.O_RDONLY)
buf = bytearray(1 << 20)
print(f"ready {os.getpid()}", flush=True)
for line in sys.stdin:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    t = time.monotonic_ns()
    total = 0
    while True:
        n = os.preadv(fd, [buf], total)
        if n == 0:
            break
        total += n
    print(f"pass {time.monotonic_ns() - t} {total}", flush=True)
