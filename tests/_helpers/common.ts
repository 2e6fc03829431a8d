/**
 * Test helpers: a temporary directory that removes itself, running the CLI,
 * and checking that the host was left clean.
 * @module
 */

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** The command line that runs ioscope, for a test that wraps it in another command. */
export const IOSCOPE_CMD = [Deno.execPath(), "run", "-A", `${ROOT}mod.ts`];

/** A temporary directory removed on dispose. */
export function tmpDir(): { path: string } & AsyncDisposable {
  const path = Deno.makeTempDirSync({ prefix: "ioscope-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** The result of running the CLI to its end. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A mod.ts ...args` to its end. */
export async function runCli(
  args: string[],
  options: { timeoutMs?: number } = {},
): Promise<CliResult> {
  const { timeoutMs = 60_000 } = options;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Starts the CLI and returns the child, with stderr and stdout collected as they come. */
export function spawnCli(args: string[]): {
  child: Deno.ChildProcess;
  stderr: () => string;
  stdout: () => string;
  waitForStderr: (needle: string, timeoutMs?: number) => Promise<void>;
  done: Promise<CliResult>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let err = "";
  let out = "";
  const dec = new TextDecoder();
  const errDone = (async () => {
    for await (const c of child.stderr) err += dec.decode(c, { stream: true });
  })();
  const outDone = (async () => {
    for await (const c of child.stdout) out += dec.decode(c, { stream: true });
  })();
  const done = (async () => {
    const status = await child.status;
    await Promise.all([errDone, outDone]);
    return { code: status.code, stdout: out, stderr: err };
  })();
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    done,
    async waitForStderr(needle, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let exited: number | null = null;
      done.then((r) => exited = r.code, () => exited = -1);
      while (!err.includes(needle)) {
        // A process that ended will never print it: say so now, with what it said.
        if (exited !== null) {
          throw new Error(`exited with ${exited} before '${needle}' in stderr: ${err}`);
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for '${needle}' in stderr: ${err}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** A workload process from tests/_helpers/workloads, with line-based control. */
export async function startWorkload(
  name: string,
  args: string[],
): Promise<
  {
    child: Deno.ChildProcess;
    pid: number;
    go: () => Promise<void>;
    [Symbol.asyncDispose](): Promise<void>;
  }
> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/_helpers/workloads/${name}`, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const dec = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`workload ${name} ended before it was ready`);
    text += dec.decode(value);
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const writer = child.stdin.getWriter();
  return {
    child,
    pid: child.pid,
    async go() {
      await writer.write(new TextEncoder().encode("go\n"));
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await writer.close().catch(() => {});
      await child.status;
    },
  };
}

/** What a clean host looks like: no bpftrace of ours, no tracefs instance of ours. */
export function leftovers(agentPid?: number): string[] {
  const marker = agentPid === undefined ? "ioscope-agent=" : `ioscope-agent=${agentPid}\n`;
  const found: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (cmd.includes(marker)) found.push(`process ${e.name}: ${cmd.slice(0, 60)}`);
    } catch {
      // gone
    }
  }
  try {
    for (const e of Deno.readDirSync("/sys/kernel/tracing/instances")) {
      if (e.name.startsWith(agentPid === undefined ? "ioscope" : `ioscope-${agentPid}`)) {
        found.push(`tracefs instance ${e.name}`);
      }
    }
  } catch {
    // no tracefs
  }
  return found;
}

/** Waits until `check` is true or the time is up. */
export async function waitFor(
  check: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The child, killed (SIGKILL) and reaped on dispose. */
export function killOnDispose(child: Deno.ChildProcess): Deno.ChildProcess & AsyncDisposable {
  return Object.assign(child, {
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited
      }
      await child.status;
    },
  });
}
