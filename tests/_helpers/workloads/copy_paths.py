#!/usr/bin/env python3
"""Exactly known bytes through each kind of copy path, for copy accounting.
Prints "ready <pid>", waits for a line on stdin, then, with a 1 MiB file A in
DIR (all on a real filesystem, DIR given):
  copy_file_range A -> B, 1 MiB            (the kernel copies, page cache to page cache)
  sendfile A -> C (a regular file), 1 MiB  (the same)
  splice A -> pipe P, 64 KiB               (page references, no copy)
  tee P -> pipe Q, 64 KiB                  (duplicates P's buffers: moves nothing)
  read Q 64 KiB, read P 64 KiB             (through user memory)
  vmsplice 32 KiB of user memory -> pipe R (maps the pages: no copy)
  read R 32 KiB                            (through user memory)
prints "done" and exits 1.5 s later.
Usage: python3 copy_paths.py DIR
"""
import ctypes
import os
import sys
import time

MIB = 1 << 20
K64 = 64 << 10
K32 = 32 << 10
d = sys.argv[1]
libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.tee.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
libc.tee.restype = ctypes.c_ssize_t


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


libc.vmsplice.argtypes = [ctypes.c_int, ctypes.POINTER(IoVec), ctypes.c_ulong, ctypes.c_uint]
libc.vmsplice.restype = ctypes.c_ssize_t

with open(f"{d}/a", "wb") as f:
    f.write(b"x" * MIB)
a = os.open(f"{d}/a", os.O_RDONLY)
b = os.open(f"{d}/b", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
c = os.open(f"{d}/c", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
p_r, p_w = os.pipe()
q_r, q_w = os.pipe()
r_r, r_w = os.pipe()
user = ctypes.create_string_buffer(b"y" * K64, K64)
print(f"ready {os.getpid()}", flush=True)
sys.stdin.readline()


def exactly(n, what, got):
    assert got == n, f"{what}: {got} of {n}"


exactly(MIB, "copy_file_range", os.copy_file_range(a, b, MIB, 0, 0))
exactly(MIB, "sendfile", os.sendfile(c, a, 0, MIB))
exactly(K64, "splice", os.splice(a, p_w, K64, 0))
exactly(K64, "tee", libc.tee(p_r, q_w, K64, 0))
exactly(K64, "read q", len(os.read(q_r, K64)))
exactly(K64, "read p", len(os.read(p_r, K64)))
# 32 KiB: an unaligned 64 KiB buffer spans 17 pages, one more than the pipe holds.
iov = IoVec(ctypes.cast(user, ctypes.c_void_p), K32)
exactly(K32, "vmsplice", libc.vmsplice(r_w, ctypes.byref(iov), 1, 0))
exactly(K32, "read r", len(os.read(r_r, K32)))
print("done", flush=True)
# The agent resolves descriptors through /proc once a second, while they are open.
time.sleep(1.5)
