// The exporter against clients that misbehave (any local user can connect):
// connections past the cap are closed at once, an idle or half-sent request
// is cut off at the head timeout, an oversized head gets 431, a client that
// pipelines requests and never reads is cut off at the total timeout, and
// close() keeps its deadline whatever the clients do. Small limits, so the
// test takes seconds.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { startExporter } from "../../../agent/nightly/prom_exporter.ts";
import { readRun } from "../../_helpers/documents.ts";

const RUN = readRun(new URL("../../testdata/run_fio_psync.json", import.meta.url));
const LIMITS = {
  connections: 4,
  headerTimeoutMs: 400,
  totalTimeoutMs: 1500,
  maxHeadBytes: 1024,
  closeDeadlineMs: 300,
};

function connect(address: string): Promise<Deno.TcpConn> {
  const [hostname, port] = address.split(":");
  return Deno.connect({ hostname: hostname ?? "", port: Number(port) });
}

/** Reads until the server closes; resolves with what came and how long it took. */
async function untilClosed(conn: Deno.Conn): Promise<{ text: string; ms: number }> {
  const t0 = performance.now();
  const buf = new Uint8Array(65536);
  let text = "";
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } catch {
    // reset by the server: closed too
  }
  return { text, ms: performance.now() - t0 };
}

Deno.test("exporter: past the cap a connection is closed at once; idle and half-sent ones at the head timeout", async () => {
  const exporter = await startExporter("127.0.0.1:0", () => RUN, LIMITS);
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < LIMITS.connections; i++) conns.push(await connect(exporter.address));
    // Half a request on one of them: it is cut off all the same.
    await conns[0]?.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await connect(exporter.address);
    const past = await untilClosed(extra);
    extra.close();
    assertEquals(past.text, "", "nothing served past the cap");
    assert(past.ms < LIMITS.headerTimeoutMs, `closed at once: ${past.ms} ms`);
    const held = await Promise.all(conns.map(untilClosed));
    for (const h of held) {
      assertEquals(h.text, "");
      assert(h.ms < LIMITS.headerTimeoutMs + 300, `cut off at the head timeout: ${h.ms} ms`);
    }
    // Room again: a real scrape is answered.
    const r = await fetch(`http://${exporter.address}/metrics`);
    assertEquals(r.status, 200);
    assert((await r.text()).includes("ioscope_syscall_duration_seconds_bucket"));
  } finally {
    for (const c of conns) c.close();
    await exporter.close();
  }
});

Deno.test("exporter: an oversized head is answered 431 and closed", async () => {
  const exporter = await startExporter("127.0.0.1:0", () => RUN, LIMITS);
  try {
    const conn = await connect(exporter.address);
    await conn.write(new TextEncoder().encode(`GET /metrics HTTP/1.1\r\nX: ${"a".repeat(2000)}`));
    const { text } = await untilClosed(conn);
    conn.close();
    assert(text.startsWith("HTTP/1.1 431 "), text);
  } finally {
    await exporter.close();
  }
});

Deno.test("exporter: a client that pipelines 1000 requests and never reads is cut off, and close() keeps its deadline", async () => {
  const exporter = await startExporter("127.0.0.1:0", () => RUN, LIMITS);
  const conn = await connect(exporter.address);
  const request = new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const all = new Uint8Array(request.length * 1000);
  for (let i = 0; i < 1000; i++) all.set(request, i * request.length);
  // Written in the background: the server reads one request, so most of it may never be taken.
  const writing = conn.write(all).catch(() => 0);
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  await exporter.close();
  const ms = performance.now() - t0;
  assert(ms < LIMITS.closeDeadlineMs + 200, `close() took ${ms} ms`);
  conn.close();
  await writing;
  // And with the exporter running: hogs that fill every slot are cut off at the total timeout.
  const again = await startExporter("127.0.0.1:0", () => RUN, LIMITS);
  const hogs: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < LIMITS.connections; i++) hogs.push(await connect(again.address));
    const writes = hogs.map((c) => c.write(all).catch(() => 0));
    const t1 = performance.now();
    const ends = await Promise.all(hogs.map(async (c) => {
      // Never read until the server is done with it: the answer stays in the socket until then.
      await new Promise((r) => setTimeout(r, LIMITS.totalTimeoutMs + 300));
      return untilClosed(c);
    }));
    for (const e of ends) assert(e.ms < 300, `closed by the total timeout: ${e.ms} ms late`);
    assert(performance.now() - t1 < LIMITS.totalTimeoutMs + 1500);
    const r = await fetch(`http://${again.address}/metrics`);
    assertEquals(r.status, 200, "served once the hogs were cut off");
    await r.body?.cancel();
    await Promise.all(writes);
  } finally {
    for (const c of hogs) c.close();
    await again.close();
  }
});
