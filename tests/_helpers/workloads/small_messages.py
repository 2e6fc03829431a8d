#!/usr/bin/env python3
"""A real socket server on 127.0.0.1 reading small messages, as an HTTP server
reads requests: a client thread sends MESSAGES 46-byte messages, one at a
time, each answered with 2 bytes; the server reads each with recv() (recvfrom)
or, for every other one, os.read() on the socket (read). Prints "ready <pid>",
waits for a line on stdin, then "sock <fd>" and "done", and exits 1.5 s later.
Usage: python3 small_messages.py MESSAGES
"""
import os
import socket
import sys
import threading
import time

MESSAGES = int(sys.argv[1])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
client = socket.create_connection(listener.getsockname())
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
conn, _ = listener.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print(f"ready {os.getpid()}", flush=True)
sys.stdin.readline()
print(f"sock {conn.fileno()}", flush=True)


def talk():
    for _ in range(MESSAGES):
        client.sendall(b"G" * 46)
        client.recv(2)


t = threading.Thread(target=talk)
t.start()
for i in range(MESSAGES):
    got = conn.recv(46) if i % 2 == 0 else os.read(conn.fileno(), 46)
    assert len(got) == 46, len(got)
    conn.sendall(b"ok")
t.join()
print("done", flush=True)
# A server keeps its connections a while: the agent resolves descriptors
# through /proc once a second, while they are open.
time.sleep(1.5)
