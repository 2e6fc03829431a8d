/**
 * Relaying a command's piped stdin, stdout and stderr to the agent's own
 * (see spawn_target.ts: a command run as another user gets pipes, never the
 * agent's terminal). What goes to a terminal is made safe first (no escape
 * sequence, no control character but line feed and tab); what goes to a
 * file or a pipe is passed on byte for byte.
 * @module
 */

import { linesSafe } from "./terminal_safe.ts";

/** Somewhere to write: Deno.stdout, Deno.stderr. */
export interface Sink {
  writeSync(p: Uint8Array): number;
  isTerminal(): boolean;
}

/** Relays in progress. */
export interface Relay {
  /**
   * Waits up to `waitMs` for the command's outputs to end (its writers exit),
   * then stops relaying: what a daemon the command left writes later goes
   * nowhere. Idempotent.
   */
  finish(waitMs?: number): Promise<void>;
}

/**
 * Starts relaying the piped streams of a command.
 * @param streams the command's piped stdin, stdout, stderr (null: not piped)
 * @param options where to relay: `stdin` (default Deno.stdin), `stdout`, `stderr`
 * @returns the relay
 */
export function startRelay(
  streams: {
    stdin: WritableStream<Uint8Array> | null;
    stdout: ReadableStream<Uint8Array> | null;
    stderr: ReadableStream<Uint8Array> | null;
  },
  options: {
    stdin?: { read(p: Uint8Array): Promise<number | null> };
    stdout?: Sink;
    stderr?: Sink;
  } = {},
): Relay {
  const { stdin = Deno.stdin, stdout = Deno.stdout, stderr = Deno.stderr } = options;
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  const outputs: Promise<void>[] = [];
  for (const [from, to] of [[streams.stdout, stdout], [streams.stderr, stderr]] as const) {
    if (!from) continue;
    const reader = from.getReader();
    readers.push(reader);
    outputs.push(relayOut(reader, to));
  }
  if (streams.stdin) relayIn(stdin, streams.stdin);
  let finished: Promise<void> | null = null;
  return {
    finish(waitMs = 500) {
      finished ??= (async () => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<void>((r) => timer = setTimeout(r, waitMs));
        await Promise.race([Promise.all(outputs), late]);
        clearTimeout(timer);
        for (const r of readers) await r.cancel().catch(() => {});
        await Promise.all(outputs);
      })();
      return finished;
    },
  };
}

async function relayOut(reader: ReadableStreamDefaultReader<Uint8Array>, to: Sink): Promise<void> {
  const safe = to.isTerminal();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  // A CR that ends a chunk waits for the next one: it may be half of a CRLF.
  let held = "";
  const write = (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) done += to.writeSync(bytes.subarray(done));
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!safe) {
        write(value);
        continue;
      }
      let text = held + decoder.decode(value, { stream: true });
      held = text.endsWith("\r") ? "\r" : "";
      if (held) text = text.slice(0, -1);
      write(encoder.encode(linesSafe(text)));
    }
    if (safe) write(encoder.encode(linesSafe(held + decoder.decode())));
  } catch {
    // cancelled, or the agent's own output is gone (a closed pipe): stop relaying
  }
}

/** Copies the agent's stdin into the command's until either ends. */
async function relayIn(
  from: { read(p: Uint8Array): Promise<number | null> },
  to: WritableStream<Uint8Array>,
): Promise<void> {
  const writer = to.getWriter();
  try {
    const buf = new Uint8Array(16384);
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      await writer.write(buf.slice(0, n));
    }
  } catch {
    // the command closed its stdin, or exited
  } finally {
    await writer.close().catch(() => {});
  }
}
