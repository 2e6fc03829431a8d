#!/usr/bin/env python3
"""Workloads for the scale tests and benchmarks/scale.ts: many threads, many
processes with one name, or a host-wide syscall load. Each does its I/O only
when told (SIGUSR1), so a tracer that attached first sees a known count.

  many_tasks.py threads N K M      N threads; on SIGUSR1 the last M started do K preads
                                   of /dev/zero each; the other N - M never wake (a pool's
                                   idle threads)
  many_tasks.py procs N K NAME     N processes named NAME (comm); on SIGUSR1 each does K preads
  many_tasks.py load RATE          getppid() at RATE calls/s (not an I/O syscall); on SIGTERM
                                   prints "rate N", the calls/s it made

Prints "ready" (and, for procs, the children's PIDs) once everything waits,
"done" once every task did its I/O; ends on SIGTERM or when stdin closes.
"""
import ctypes
import os
import signal
import sys
import threading
import time


def preads(fd, k):
    for _ in range(k):
        os.pread(fd, 64, 0)


def threads(n, k, m):
    threading.stack_size(64 * 1024)
    # Only the M readers wait on `go` and meet at `done`: waking all N through
    # one Event and one Barrier was a herd on two Python locks, serialised by
    # the GIL, that took 8 s here and over 120 s on another VM of this kind.
    go = threading.Event()
    done = threading.Barrier(m + 1)
    idle = threading.Event()  # never set
    fd = os.open("/dev/zero", os.O_RDONLY)

    def worker(i):
        if i < n - m:
            idle.wait()
            return
        go.wait()
        preads(fd, k)
        done.wait()
        idle.wait()  # stay alive until the process ends

    signal.signal(signal.SIGUSR1, lambda *_: go.set())
    for i in range(n):
        threading.Thread(target=worker, args=(i,), daemon=True).start()
    print("ready", flush=True)
    done.wait()
    print("done", flush=True)
    sys.stdin.read()


def procs(n, k, name):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the finally below
    libc = ctypes.CDLL(None)
    children = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: end with the parent
            with open("/proc/self/comm", "w") as f:
                f.write(name)
            fd = os.open("/dev/zero", os.O_RDONLY)
            signal.sigwait({signal.SIGUSR1})
            preads(fd, k)
            time.sleep(3600)
            os._exit(0)
        children.append(pid)
    print("ready " + " ".join(map(str, children)), flush=True)
    try:
        sys.stdin.read()
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in children:
            os.waitpid(pid, 0)


def load(rate):
    start = time.monotonic()
    done = [0]

    def report(*_):
        print(f"rate {done[0] / (time.monotonic() - start):.0f}", flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, report)
    print("ready", flush=True)
    batch = max(1, rate // 100)
    nxt = time.monotonic()
    while True:
        for _ in range(batch):
            os.getppid()
        done[0] += batch
        nxt += batch / rate
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "threads":
        threads(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "procs":
        procs(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif mode == "load":
        load(int(sys.argv[2]))
    else:
        sys.exit(f"unknown mode {mode}")
