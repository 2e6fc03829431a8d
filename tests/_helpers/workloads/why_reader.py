#!/usr/bin/env python3
"""why_reader.py MODE ARG SECONDS: a reader whose calls wait on one thing.

cpu FILE SECONDS: pread64 of all of FILE (in /dev/shm: no disk) in a loop;
  prints "RUNDELAY_NS n" and "ONCPU_NS n", the change of /proc/self/schedstat's
  run delay (second field) and on-CPU time (first) over the loop, read by the
  loop itself so that they cover it and nothing else.
pipe - COUNT: a child writes a byte every 10 ms, COUNT times; the reader reads
  each (the writer is a fork: it reads nothing).
"""
import os
import sys
import time


def schedstat():
    with open("/proc/self/schedstat") as f:
        on_cpu, delay, _ = f.read().split()
    return int(on_cpu), int(delay)


mode = sys.argv[1]
if mode == "cpu":
    fd = os.open(sys.argv[2], os.O_RDONLY)
    size = os.fstat(fd).st_size
    end = time.monotonic() + float(sys.argv[3])
    cpu0, delay0 = schedstat()
    while time.monotonic() < end:
        for _ in range(20):
            os.pread(fd, size, 0)
    cpu1, delay1 = schedstat()
    print(f"RUNDELAY_NS {delay1 - delay0}")
    print(f"ONCPU_NS {cpu1 - cpu0}")
elif mode == "pipe":
    count = int(sys.argv[3])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        for _ in range(count):
            time.sleep(0.01)
            os.write(w, b"x")
        os._exit(0)
    os.close(w)
    got = 0
    while got < count:
        got += len(os.read(r, 1))
    os.waitpid(pid, 0)
    print(f"READ {got}")
