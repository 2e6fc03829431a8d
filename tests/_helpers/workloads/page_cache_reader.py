#!/usr/bin/env python3
"""Reads files through descriptors with known page-cache states, for the
page-cache misses per file.
Prints "ready <pid>" with COLD (on a disk filesystem) and SHM (on tmpfs)
open, waits for a line on stdin, then:
  reads COLD whole in 1 MiB read(2) calls, twice, back to back (the first
  read misses every page, the second finds them cached), then reports
  `fincore -b -n -o PAGES,RES COLD` (the pages resident right after)
  reads SHM whole, writes it once more (tmpfs: its pages are the cache)
prints "fincore PAGES RES" and "done", keeps both descriptors open 1.5 s
(so that the trace resolves them) and exits.
Usage: python3 page_cache_reader.py COLD SHM
"""
import os
import subprocess
import sys
import time

MIB = 1 << 20
cold, shm = sys.argv[1], sys.argv[2]
a = os.open(cold, os.O_RDONLY)
b = os.open(shm, os.O_RDWR)
print(f"ready {os.getpid()}", flush=True)
sys.stdin.readline()
for _ in range(2):
    os.lseek(a, 0, os.SEEK_SET)
    while os.read(a, MIB):
        pass
fincore = subprocess.run(["fincore", "-b", "-n", "-o", "PAGES,RES", cold],
                         capture_output=True, text=True, check=True).stdout.split()
data = os.pread(b, os.fstat(b).st_size, 0)
os.pwrite(b, data, 0)
print(f"fincore {fincore[0]} {fincore[1]}", flush=True)
print("done", flush=True)
time.sleep(1.5)
os.close(a)
os.close(b)
