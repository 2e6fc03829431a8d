// The relay of a command's piped output: made safe for a terminal (lines and
// tabs kept, escape sequences defused, a CRLF split between two reads still
// one line feed), byte for byte to a file or a pipe; and it stops when asked
// even while a writer (a daemon) keeps the pipe open.
import { assertEquals } from "../../_helpers/assert.ts";
import { startRelay } from "../../../agent/cli/_relay.ts";

function sink(terminal: boolean) {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    text: () => new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))),
    writeSync(p: Uint8Array) {
      chunks.push(p.slice());
      return p.length;
    },
    isTerminal: () => terminal,
  };
}

function streamOf(parts: string[], end = true): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(new TextEncoder().encode(p));
      if (end) c.close();
    },
  });
}

const PARTS = ["a\tb\r", "\n\x1b[2J\x1b]0;t\x07c\u009b1m\r", "x\n"];

Deno.test("relay: to a terminal, lines are kept and control characters defused", async () => {
  const out = sink(true);
  const err = sink(false);
  const relay = startRelay({ stdin: null, stdout: streamOf(PARTS), stderr: streamOf(PARTS) }, {
    stdout: out,
    stderr: err,
  });
  await relay.finish(1000);
  assertEquals(out.text(), "a\tb\n?[2J?]0;t?c?1m?x\n");
  assertEquals(err.text(), PARTS.join(""), "a file or pipe gets the bytes as they are");
});

Deno.test("relay: finish stops waiting for a pipe that a daemon keeps open", async () => {
  const out = sink(true);
  const relay = startRelay({ stdin: null, stdout: streamOf(["left\n"], false), stderr: null }, {
    stdout: out,
  });
  const t0 = performance.now();
  await relay.finish(200);
  const ms = performance.now() - t0;
  assertEquals(out.text(), "left\n");
  assertEquals(ms >= 150 && ms < 1000, true, `${ms} ms`);
});
