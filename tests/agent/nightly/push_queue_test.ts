// The push queue against receivers of the test's own on loopback: a refusal
// (4xx) is counted and named once and never retried, a 5xx is retried until
// it succeeds, a receiver down at the start is told once and gets everything
// when it comes up, a receiver that never answers costs enqueue nothing and
// memory stays within the bound; and the credentials file's rules.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { tmpDir } from "../../_helpers/common.ts";
import { freePort, startDeadReceiver } from "../../_helpers/prometheus.ts";
import { PushQueue } from "../../../agent/nightly/_push_queue.ts";
import { parsePushUrl, readAuthFile } from "../../../agent/nightly/push_config.ts";
import { UsageError } from "../../../agent/errors.ts";

const FAST = { minBackoffMs: 20, maxBackoffMs: 100, timeoutMs: 500 };

/** A receiver answering each request with `answer(n)` (n counts from 1). */
function receiver(answer: (n: number, req: Request) => number, port = 0) {
  let n = 0;
  const bodies: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    n++;
    const status = answer(n, req);
    if (status < 300) bodies.push(body[0] ?? -1);
    return new Response(status >= 400 ? "out of order sample\n" : null, { status });
  });
  return {
    url: new URL(`http://127.0.0.1:${server.addr.port}/write`),
    port: server.addr.port,
    requests: () => n,
    bodies,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("a 4xx is counted and named once, never retried; the rest go on", async () => {
  await using r = receiver((n) => n === 2 || n === 3 ? 400 : 200);
  const notices: string[] = [];
  const q = new PushQueue({ url: r.url, headers: {} }, {
    ...FAST,
    onNotice: (l) => notices.push(l),
  });
  for (let i = 0; i < 5; i++) q.enqueue(new Uint8Array([i]), 10);
  const s = await q.finish(5000);
  assertEquals(r.requests(), 5, "one request each, none retried");
  assertEquals([s.sent_samples, s.rejected_samples, s.unsent_samples], [30, 20, 0]);
  assertEquals(s.rejected_reason, "HTTP 400: out of order sample");
  assertEquals(notices.filter((l) => l.includes("refused")).length, 1, notices.join("\n"));
  assertEquals(r.bodies, [0, 3, 4]);
});

Deno.test("a 5xx is retried with backoff until taken, in order", async () => {
  await using r = receiver((n) => n <= 3 ? 503 : 200);
  const q = new PushQueue({ url: r.url, headers: {} }, FAST);
  q.enqueue(new Uint8Array([1]), 4);
  q.enqueue(new Uint8Array([2]), 4);
  const s = await q.finish(5000);
  assertEquals([s.sent_samples, s.unsent_samples, s.retries], [8, 0, 3]);
  assertEquals(r.bodies, [1, 2]);
});

Deno.test("a receiver down at the start: said once, everything sent when it comes up", async () => {
  const port = freePort();
  const notices: string[] = [];
  const q = new PushQueue(
    { url: new URL(`http://127.0.0.1:${port}/write`), headers: {} },
    { ...FAST, onNotice: (l) => notices.push(l) },
  );
  for (let i = 0; i < 3; i++) {
    q.enqueue(new Uint8Array([i]), 1);
    await new Promise((res) => setTimeout(res, 150));
  }
  assertEquals(q.stats.sent_samples, 0);
  assert(q.stats.retries >= 3, `retried ${q.stats.retries} times`);
  await using r = receiver(() => 200, port);
  const s = await q.finish(5000);
  assertEquals([s.sent_samples, s.unsent_samples], [3, 0]);
  assertEquals(r.bodies, [0, 1, 2]);
  assertEquals(notices.length, 2, notices.join("\n"));
  assert(notices[0]?.includes("does not take samples now"), notices[0]);
  assert(notices[1]?.includes("takes samples again"), notices[1]);
});

Deno.test("a receiver that never answers: enqueue stays fast, memory bounded, finish on time", async () => {
  // Accepts connections and never reads or answers.
  await using dead = startDeadReceiver();
  const url = new URL(`${dead.base}/write`);
  const q = new PushQueue({ url, headers: {} }, { ...FAST, maxQueueBytes: 4 << 20 });
  const chunk = new Uint8Array(1 << 20);
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) q.enqueue(chunk, 1);
  const enqueueMs = performance.now() - t0;
  assert(enqueueMs < 50, `100 enqueues took ${enqueueMs} ms`);
  assert(q.pending <= 4, `${q.pending} requests kept under a 4 MiB bound`);
  const t1 = performance.now();
  const s = await q.finish(300);
  const finishMs = performance.now() - t1;
  assert(finishMs < 1000, `finish took ${finishMs} ms with a 300 ms deadline`);
  assertEquals([s.sent_samples, s.unsent_samples], [0, 100]);
});

Deno.test("credentials: bearer and basic from an owner-only file; others refused with one line", async () => {
  await using dir = tmpDir();
  const f = `${dir.path}/auth`;
  Deno.writeTextFileSync(f, "bearer s3cret\n", { mode: 0o600 });
  Deno.chmodSync(f, 0o600);
  assertEquals(readAuthFile(f), "Bearer s3cret");
  Deno.writeTextFileSync(f, "basic user:pa ss\n");
  const refuse = (why: RegExp) => {
    try {
      readAuthFile(f);
    } catch (e: unknown) {
      assert(e instanceof UsageError && why.test(e.message), String(e));
      return;
    }
    throw new Error("not refused");
  };
  refuse(/one line, 'bearer TOKEN' or 'basic USER:PASSWORD'/);
  Deno.writeTextFileSync(f, "basic user:pass\n");
  assertEquals(readAuthFile(f), `Basic ${btoa("user:pass")}`);
  Deno.chmodSync(f, 0o640);
  refuse(/readable by others \(mode 640\): chmod 600 it/);
  Deno.chmodSync(f, 0o604);
  refuse(/readable by others/);
  Deno.removeSync(f);
  refuse(/cannot read --remote-write-auth .*: no such file/);
  for (const bad of ["ftp://h/x", "not a url", "http://u:p@h:9090/api/v1/write"]) {
    try {
      parsePushUrl(bad, "--remote-write");
      throw new Error(`${bad} accepted`);
    } catch (e: unknown) {
      assert(e instanceof UsageError, `${bad}: ${e}`);
    }
  }
});
