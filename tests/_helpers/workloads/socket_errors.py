#!/usr/bin/env python3
"""A real socket server on 127.0.0.1 with exactly known failed, restarted and
slow successful calls, for error and restart accounting.

Prints "ready <pid>", waits for a line on stdin, then, on one accepted TCP
connection (fd printed as "conn <fd>" and the pipe as "pipe <fd>"):
  EAGAIN   non-blocking recvfrom() calls on the empty socket (EAGAIN, ~1 us),
  OK       blocking recvfrom() calls of 46 bytes, each answered by a peer
           thread 2 ms later (~2 ms each),
  1        blocking read() on a pipe, interrupted RESTARTS times by SIGUSR1
           (handler installed with SA_RESTART: the kernel restarts the read,
           returning -512 ERESTARTSYS at each sys_exit) before a byte comes;
prints "done" and exits.
Usage: python3 socket_errors.py EAGAIN OK RESTARTS
"""
import os
import signal
import socket
import sys
import threading
import time

EAGAIN, OK, RESTARTS = (int(a) for a in sys.argv[1:4])
signal.signal(signal.SIGUSR1, lambda *_: None)
signal.siginterrupt(signal.SIGUSR1, False)  # SA_RESTART

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
peer = socket.create_connection(listener.getsockname())
conn, _ = listener.accept()
r, w = os.pipe()
print(f"ready {os.getpid()}", flush=True)
sys.stdin.readline()
print(f"conn {conn.fileno()}", flush=True)
print(f"pipe {r}", flush=True)

conn.setblocking(False)
for _ in range(EAGAIN):
    try:
        conn.recv(4096)
    except BlockingIOError:
        pass
conn.setblocking(True)


def answer():
    for _ in range(OK):
        time.sleep(0.002)
        peer.sendall(b"G" * 46)
        # wait until the server has read it, so each recv gets exactly 46 bytes
        time.sleep(0.001)


t = threading.Thread(target=answer)
t.start()
for _ in range(OK):
    got = conn.recv(46)
    assert len(got) == 46, len(got)
t.join()

main = threading.get_ident()


def interrupt():
    time.sleep(0.2)
    for _ in range(RESTARTS):
        signal.pthread_kill(main, signal.SIGUSR1)
        time.sleep(0.05)
    os.write(w, b"x")


t = threading.Thread(target=interrupt)
t.start()
assert os.read(r, 1) == b"x"
t.join()
print("done", flush=True)
