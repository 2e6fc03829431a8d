#!/usr/bin/env python3
"""Writes one page to each of N new files, for the page-cache map's
capacity: each write reaches a page the cache did not hold, so the kernel
adds one page per file.
Prints "ready <pid>" with DIR made, waits for a line on stdin, then creates
DIR/f<i> (i < N), writes 4096 bytes to each and closes it, prints "done",
waits 1.5 s and exits.
Usage: python3 many_files_writer.py DIR N
"""
import os
import sys
import time

path, n = sys.argv[1], int(sys.argv[2])
page = b"x" * 4096
os.makedirs(path, exist_ok=True)
print(f"ready {os.getpid()}", flush=True)
sys.stdin.readline()
for i in range(n):
    fd = os.open(f"{path}/f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, page)
    os.close(fd)
print("done", flush=True)
time.sleep(1.5)
