/**
 * A workload process driven by lines: it prints "ready <pid> ..." when set
 * up, starts on a line on stdin ("go"), and prints what it did until it
 * exits. For workloads in any language (Python, Deno, ...).
 * @module
 */

/** A started line workload. */
export interface LineWorkload {
  /** The workload's pid. */
  pid: number;
  /** Its first line ("ready <pid> ..."). */
  ready: string;
  /** Tells it to start. */
  go(): Promise<void>;
  /** Waits for its exit; resolves with its status and everything it printed. */
  done(): Promise<{ status: Deno.CommandStatus; text: string }>;
}

/**
 * Starts a workload and waits for its first line.
 * @param command the program (`python3`, `Deno.execPath()`)
 * @param args its arguments
 * @returns the running workload
 */
export async function startLineWorkload(command: string, args: string[]): Promise<LineWorkload> {
  const child = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const dec = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${command} ${args.join(" ")} ended before it was ready`);
    text += dec.decode(value);
  }
  const writer = child.stdin.getWriter();
  const output = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += dec.decode(value);
    }
  })();
  return {
    pid: child.pid,
    ready: text.split("\n")[0] ?? "",
    go: () => writer.write(new TextEncoder().encode("go\n")),
    async done() {
      const status = await child.status;
      await writer.close().catch(() => {});
      return { status, text: await output };
    },
  };
}
