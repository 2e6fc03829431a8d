"""A hostile command for run_as_user_tty_test.ts, run by ioscope as nobody.

Prints an escape sequence, echoes one line of its stdin, pushes a shell
command into every terminal it can reach with TIOCSTI (its descriptors 0-31
and /dev/tty), and leaves a daemon behind that, once LOGDIR/go exists, reads
whatever terminal it can for 2 s. Everything it tried goes to
LOGDIR/inject.log and LOGDIR/daemon.log.

usage: tty_injector.py LOGDIR
"""
import errno
import fcntl
import os
import select
import sys
import termios
import time

logdir = sys.argv[1]
# Built, so the text the test looks for is not in any command line.
payload = ("echo " + "INJ" + "ECTED-" + "AS-ROOT; id -u\n").encode()


def log(name, text):
    with open(os.path.join(logdir, name), "a") as f:
        f.write(text + "\n")


def push(fd, what):
    try:
        for b in payload:
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([b]))
        log("inject.log", f"{what}: pushed")
    except OSError as e:
        log("inject.log", f"{what}: {errno.errorcode.get(e.errno, e.errno)}")


sys.stdout.write("title \x1b]0;owned\x07 ready-for-a-line\r\n")
sys.stdout.flush()
ready, _, _ = select.select([0], [], [], 5)
line = os.read(0, 200).decode(errors="replace").strip() if ready else "(nothing)"
print(f"got: {line}", flush=True)

for fd in range(32):
    try:
        os.fstat(fd)
    except OSError:
        continue
    push(fd, f"fd {fd}")
try:
    tty = os.open("/dev/tty", os.O_RDWR)
    push(tty, "/dev/tty")
    os.close(tty)
except OSError as e:
    log("inject.log", f"/dev/tty: open {errno.errorcode.get(e.errno, e.errno)}")

if os.fork() == 0:
    # The daemon: keeps every descriptor, and outlives ioscope.
    log("daemon.log", f"pid {os.getpid()}")
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(logdir, "go")) and time.time() < deadline:
        time.sleep(0.05)
    end = time.time() + 2
    while time.time() < end:
        fds = []
        for fd in range(32):
            try:
                if os.isatty(fd):
                    fds.append(fd)
            except OSError:
                pass
        try:
            fds.append(os.open("/dev/tty", os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass
        for fd in fds:
            try:
                os.set_blocking(fd, False)
                data = os.read(fd, 200)
                if data:
                    log("daemon.log", f"read fd {fd}: {data!r}")
            except OSError:
                pass
        time.sleep(0.05)
    log("daemon.log", "end")
    os._exit(0)
