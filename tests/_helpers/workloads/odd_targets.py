#!/usr/bin/env python3
"""Targets that are odd in ways production processes are, each doing a known
number of os.preadv calls of /dev/zero (64 bytes; the preadv2 syscall: the dynamic
loader's own preads at start-up are pread64) spread over about two seconds.

  odd_targets.py leader-exit K   the main thread exits (pthread_exit) at once; a
                                 second thread prints "ready", waits for a line on
                                 stdin, then does K preadv calls
  odd_targets.py daemon K        daemonizes (fork, setsid, fork; the launcher exits
                                 at once); the daemon waits 1 s, then does K calls
Both end by themselves when their I/O is done.
"""
import ctypes
import os
import sys
import threading
import time


def preads(k):
    fd = os.open("/dev/zero", os.O_RDONLY)
    buf = bytearray(64)
    for _ in range(k):
        os.preadv(fd, [buf], 0)
        time.sleep(2.0 / k)


def leader_exit(k):
    def worker():
        print("ready", flush=True)
        sys.stdin.readline()
        preads(k)

    threading.Thread(target=worker).start()
    ctypes.CDLL(None).pthread_exit(None)


def daemon(k):
    if os.fork() > 0:
        os._exit(0)  # the launcher
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    fd = os.open("/dev/null", os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(fd, std)
    time.sleep(1.0)
    preads(k)
    os._exit(0)


if __name__ == "__main__":
    {"leader-exit": leader_exit, "daemon": daemon}[sys.argv[1]](int(sys.argv[2]))
