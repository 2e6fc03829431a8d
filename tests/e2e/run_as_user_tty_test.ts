// `trace -u nobody -- CMD` started from root's terminal (a real pty, driven
// by tests/_helpers/workloads/pty_driver.py with a shell leading its session)
// never hands the command root's terminal: the command
// (tests/_helpers/workloads/tty_injector.py) tries TIOCSTI on every
// descriptor it has and on /dev/tty, and nothing it pushes reaches the
// terminal's input (what root's shell would run next); a daemon it leaves
// behind cannot read what root types after ioscope ended; its output is
// relayed to the terminal without its escape sequences, and a line root types
// reaches it. On main before the fix, the pushed text sat in the input queue
// five times (fds 0, 1, 2, an inherited fd 7, /dev/tty) and the daemon read
// root's next line.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { IOSCOPE_CMD, tmpDir } from "../_helpers/common.ts";
import { PYTHON, WORKLOADS } from "../_helpers/python.ts";
import { readRun } from "../_helpers/documents.ts";

const SYSCTL = "/proc/sys/dev/tty/legacy_tiocsti";

/** Allows TIOCSTI for the test (where the kernel has the switch), put back on dispose. */
function legacyTiocsti(): Disposable {
  let before: string | null = null;
  try {
    before = Deno.readTextFileSync(SYSCTL).trim();
  } catch {
    // no switch: kernels before 6.2 always allow it
  }
  if (before === "0") Deno.writeTextFileSync(SYSCTL, "1");
  return {
    [Symbol.dispose]() {
      if (before === "0") Deno.writeTextFileSync(SYSCTL, before);
    },
  };
}

interface DriverResult {
  code: number;
  output: string;
  left_in_queue: string;
  secret_left: string;
}

Deno.test("trace -u nobody: the command cannot push into root's terminal, nor read it from a daemon", async () => {
  using _sti = legacyTiocsti();
  await using dir = tmpDir();
  // nobody writes its logs here and reads its script from here.
  Deno.chmodSync(dir.path, 0o777);
  const script = `${dir.path}/tty_injector.py`;
  Deno.copyFileSync(`${WORKLOADS}tty_injector.py`, script);
  Deno.chmodSync(script, 0o644);
  const out = await new Deno.Command(PYTHON, {
    args: [
      `${WORKLOADS}pty_driver.py`,
      dir.path,
      "ready-for-a-line",
      "hello-from-root",
      "--",
      ...IOSCOPE_CMD,
      "trace",
      "-u",
      "nobody",
      "--duration",
      "3s",
      "--json",
      `${dir.path}/run.json`,
      "--",
      PYTHON,
      script,
      dir.path,
    ],
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  const r = JSON.parse(new TextDecoder().decode(out.stdout)) as DriverResult;
  const log = (name: string) => {
    try {
      return Deno.readTextFileSync(`${dir.path}/${name}`).trim().split("\n");
    } catch {
      return [];
    }
  };
  const daemon = log("daemon.log");
  const daemonPid = Number(/^pid (\d+)$/.exec(daemon[0] ?? "")?.[1]);
  try {
    Deno.kill(daemonPid, "SIGKILL");
  } catch {
    // it ended on its own
  }
  assertEquals(r.code, 0, r.output);
  assertEquals(
    log("inject.log"),
    ["fd 0: ENOTTY", "fd 1: ENOTTY", "fd 2: ENOTTY", "/dev/tty: open ENXIO"],
    "no terminal among its descriptors, and no controlling terminal",
  );
  assertEquals(r.left_in_queue, "", "nothing pushed into root's terminal input");
  assert(!r.output.includes("INJECTED"), `nothing pushed was echoed: ${r.output}`);
  assert(daemon.length >= 2 && daemon.at(-1) === "end", `the daemon ran: ${daemon}`);
  assertEquals(daemon.filter((l) => l.startsWith("read")), [], "the daemon read nothing");
  assertEquals(r.secret_left, "SECRET-TYPED-BY-ROOT\n", "what root typed is still root's");
  assert(r.output.includes("title ?]0;owned? ready-for-a-line\r\n"), r.output);
  assert(!r.output.includes("\x1b]0;"), "the command's escape sequence did not reach the terminal");
  assert(r.output.includes("got: hello-from-root\r\n"), `stdin relayed: ${r.output}`);
  assert(r.output.includes("Left running: the command's pid"), r.output);
  assertEquals(readRun(`${dir.path}/run.json`).meta.end_reason, "duration");
});
