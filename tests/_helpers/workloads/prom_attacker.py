"""A local user against `trace --prom`, for prom_hostile_test.ts: IDLE
connections (every other one sends half a request head and stops), and one
connection that sends PIPELINED requests and never reads. Holds them all
open, reading nothing, for HOLD seconds; prints "attacking" once they are
sent.

usage: prom_attacker.py HOST PORT IDLE PIPELINED HOLD
"""
import resource
import socket
import sys
import time

host, port, idle, pipelined, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

socks = []
for i in range(idle):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    socks.append(s)
time.sleep(0.5)
for s in socks[::2]:
    try:
        s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    except OSError:
        pass

hog = socket.create_connection((host, port))
hog.setblocking(False)
data = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * pipelined
sent = 0
deadline = time.time() + 2
while sent < len(data) and time.time() < deadline:
    try:
        sent += hog.send(data[sent:])
    except BlockingIOError:
        time.sleep(0.01)
    except OSError:
        break
print(f"attacking: {len(socks)} idle, {pipelined} pipelined ({sent} bytes taken)", flush=True)
time.sleep(hold)
