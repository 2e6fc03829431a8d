"""Runs a command on a new pseudo-terminal as root's shell would, for
run_as_user_tty_test.ts: a shell leads the terminal's session (so a daemon
left behind is not hung up when the command ends) and runs the command with
the terminal as its stdin, stdout and stderr, and as descriptor 7 (opened
without close-on-exec, as a shell's `exec 7<>/dev/tty` would). When the
command prints NEEDLE, LINE is typed. After it exits: what was left in the
terminal's input queue is read (what root's shell would run next), then
root types a secret, LOGDIR/go is created, and after 3 s the queue is read
again. Prints one JSON object.

usage: pty_driver.py LOGDIR NEEDLE LINE -- COMMAND ARGS...
"""
import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios
import time

logdir, needle, line = sys.argv[1:4]
argv = sys.argv[sys.argv.index("--") + 1:]
master, slave = os.openpty()


def child_setup():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    os.dup2(0, 7)


shell = ['/bin/sh', '-c', '"$@"; echo "command-exit=$?"; exec sleep 60', 'sh']
proc = subprocess.Popen(shell + argv, stdin=slave, stdout=slave, stderr=slave,
                        preexec_fn=child_setup, close_fds=False)
out = b""
typed = False
deadline = time.time() + 120
while b"command-exit=" not in out and time.time() < deadline:
    ready, _, _ = select.select([master], [], [], 0.1)
    if ready:
        out += os.read(master, 65536)
    if not typed and needle.encode() in out:
        os.write(master, (line + "\n").encode())
        typed = True
time.sleep(0.2)


def queued():
    """What waits in the terminal's input queue, read without waiting."""
    n = struct.unpack("i", fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0"))[0]
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ICANON
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    os.set_blocking(slave, False)
    data = b""
    try:
        while len(data) < n:
            data += os.read(slave, n - len(data))
    except OSError:
        pass
    attrs[3] |= termios.ICANON
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    return data


left = queued()
os.write(master, b"SECRET-TYPED-BY-ROOT\n")
open(os.path.join(logdir, "go"), "w").close()
time.sleep(3)
secret_left = queued()
while select.select([master], [], [], 0.1)[0]:
    out += os.read(master, 65536)
proc.kill()
proc.wait()
text = out.decode(errors="replace")
code = text.split("command-exit=")[1].split("\r")[0] if "command-exit=" in text else "none"
print(json.dumps({
    "code": int(code) if code.isdigit() else -1,
    "output": text,
    "left_in_queue": left.decode(errors="replace"),
    "secret_left": secret_left.decode(errors="replace"),
}))
