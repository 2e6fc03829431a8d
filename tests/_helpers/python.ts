/**
 * Python workloads (tests/_helpers/workloads/*.py): a process whose output
 * lines can be waited for, stopped and reaped on dispose. Python, because it
 * makes real threads, forks and pthread_exit() without a compiler.
 * @module
 */

/** The interpreter: the system's, not a version manager's shim (which is a bash script). */
export const PYTHON = "/usr/bin/python3";

/** Where the workload scripts are. */
export const WORKLOADS = new URL("./workloads/", import.meta.url).pathname;

/** A running Python workload. */
export interface PythonWorkload extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  /** Lines printed so far. */
  readonly lines: string[];
  /** Resolves with the first line starting with `prefix`. */
  waitFor(prefix: string, timeoutMs?: number): Promise<string>;
  /** Writes a line to its stdin. */
  send(line: string): Promise<void>;
  /** Closes stdin, sends SIGTERM (SIGKILL after 5 s) and reaps it. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `python3 tests/_helpers/workloads/SCRIPT ARGS...`.
 * @param script the file name in workloads/
 * @param args its arguments
 * @param options `wrap`: a command put in front (`["unshare", "--pid", "--fork"]`)
 * @returns the running workload
 */
export function startPython(
  script: string,
  args: string[],
  options: { wrap?: string[] } = {},
): PythonWorkload {
  const { wrap = [] } = options;
  const argv = [...wrap, PYTHON, `${WORKLOADS}${script}`, ...args];
  const child = new Deno.Command(argv[0] as string, {
    args: argv.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const reading = (async () => {
    let buf = "";
    const dec = new TextDecoder();
    for await (const c of child.stdout) {
      buf += dec.decode(c, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
  })();
  const stdin = child.stdin.getWriter();
  let stopped: Promise<void> | null = null;
  const stop = () =>
    stopped ??= (async () => {
      await stdin.close().catch(() => {});
      const kill = (s: Deno.Signal) => {
        try {
          child.kill(s);
        } catch {
          // gone
        }
      };
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 5000);
      await child.status;
      clearTimeout(timer);
      await reading;
    })();
  return {
    child,
    pid: child.pid,
    lines,
    async waitFor(prefix, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        const l = lines.find((x) => x.startsWith(prefix));
        if (l !== undefined) return l;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`${script} did not print '${prefix}' within ${timeoutMs / 1000} s`);
    },
    send: (line) => stdin.write(new TextEncoder().encode(`${line}\n`)),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
