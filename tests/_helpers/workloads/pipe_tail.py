#!/usr/bin/env python3
"""A workload with a known readv tail, for trend tests: CALLS one-byte readv()
calls on a pipe (readv: Python's own start-up reads its files with read()); one in SLOW_EVERY waits for a helper thread that writes after
IOSCOPE_TEST_DELAY_US microseconds (a slow dependency), the others find their
byte already written (~2 us). The P99 of readv() is then about the delay.
The delay comes from the environment, so every run has the same command line.
Usage: IOSCOPE_TEST_DELAY_US=400 python3 pipe_tail.py [CALLS] [SLOW_EVERY]
"""
import os
import sys
import threading
import time

calls = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
slow_every = int(sys.argv[2]) if len(sys.argv) > 2 else 25
delay = int(os.environ.get("IOSCOPE_TEST_DELAY_US", "400")) / 1e6
r, w = os.pipe()
buf = bytearray(1)
asked = threading.Semaphore(0)
stop = False


def helper():
    while True:
        asked.acquire()
        if stop:
            return
        end = time.perf_counter() + delay
        while time.perf_counter() < end:  # spin: sleep() overshoots by 50-100 us here
            pass
        os.write(w, b"s")


t = threading.Thread(target=helper)
t.start()
time.sleep(1.0)  # the tracer attaches meanwhile
for i in range(calls):
    if i % slow_every == 0:
        asked.release()
    else:
        os.write(w, b"f")
    os.readv(r, [buf])
stop = True
asked.release()
t.join()
