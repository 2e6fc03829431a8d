// `trace --prom` under attack from a local user, with `ulimit -n 256`: 1000
// idle connections (half with a half-sent request) and 1000 pipelined
// requests on a connection that never reads
// (tests/_helpers/workloads/prom_attacker.py). The trace ends at --duration
// within a second, writes its Run, serves a real scrape while under attack,
// and leaves nothing: no tracefs instance, no bpftrace, no BPF program or
// link. On main before the fix (Deno.serve), ioscope died with "Too many
// open files" and wrote no Run.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { IOSCOPE_CMD, killOnDispose, tmpDir } from "../_helpers/common.ts";
import { assertHostClean } from "../_helpers/trace_run.ts";
import { PYTHON, WORKLOADS } from "../_helpers/python.ts";
import { readRun } from "../_helpers/documents.ts";
import { linkGetNextId, progGetNextId } from "../../ffi/bpf/sys.ts";
import { waitGone } from "../ffi/bpf/_helpers.ts";

const DURATION_S = 8;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function allIds(next: (id: number) => number | null): Set<number> {
  const ids = new Set<number>();
  for (let id = next(0); id !== null; id = next(id)) ids.add(id);
  return ids;
}

Deno.test("trace --prom under ulimit -n 256 survives 1000 idle connections and 1000 pipelined requests", async () => {
  await using dir = tmpDir();
  await using target = killOnDispose(
    new Deno.Command("sh", {
      args: ["-c", "while :; do head -c 64 /etc/hostname >/dev/null; sleep 0.01; done"],
    }).spawn(),
  );
  const port = freePort();
  const progsBefore = allIds(progGetNextId);
  const linksBefore = allIds(linkGetNextId);
  const agent = new Deno.Command("bash", {
    args: [
      "-c",
      'ulimit -n 256; exec "$@"',
      "bash",
      ...IOSCOPE_CMD,
      "trace",
      "--pid",
      String(target.pid),
      "--duration",
      `${DURATION_S}s`,
      "--prom",
      `127.0.0.1:${port}`,
      "--json",
      `${dir.path}/run.json`,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let stderr = "";
  let tracingAt = 0;
  const errDone = (async () => {
    for await (const c of agent.stderr) {
      stderr += new TextDecoder().decode(c);
      if (!tracingAt && stderr.includes("Tracing pid")) tracingAt = performance.now();
    }
  })();
  const outDone = agent.stdout.pipeTo(new WritableStream());
  const deadline = Date.now() + 30_000;
  while (!tracingAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert(tracingAt > 0, `the trace started: ${stderr}`);
  const ours = {
    programs: [...allIds(progGetNextId)].filter((id) => !progsBefore.has(id)),
    links: [...allIds(linkGetNextId)].filter((id) => !linksBefore.has(id)),
  };

  await using attacker = killOnDispose(
    new Deno.Command(PYTHON, {
      args: [`${WORKLOADS}prom_attacker.py`, "127.0.0.1", String(port), "1000", "1000", "30"],
      stdout: "piped",
    }).spawn(),
  );
  const reader = attacker.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert(first.startsWith("attacking"), `the attacker: '${first}'; ioscope: ${stderr}`);
  reader.releaseLock();
  // A real scrape still gets through while the attacker holds its connections.
  let scraped = 0;
  while (!scraped && performance.now() - tracingAt < (DURATION_S - 0.5) * 1000) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`, {
        signal: AbortSignal.timeout(1000),
      });
      const text = await r.text();
      if (r.status === 200 && text.includes("ioscope_syscall_duration_seconds")) {
        scraped = performance.now() - tracingAt;
      }
    } catch {
      // refused or cut off: the slots are taken; try again
    }
    if (!scraped) await new Promise((r) => setTimeout(r, 200));
  }
  const status = await agent.status;
  const endedAfterMs = performance.now() - tracingAt;
  await Promise.all([errDone, outDone]);

  console.log(
    `ended ${Math.round(endedAfterMs)} ms after tracing began (--duration ${DURATION_S}s); ` +
      `a scrape answered at ${Math.round(scraped)} ms`,
  );
  assertEquals(status.code, 0, stderr);
  assert(scraped > 0, `a scrape was answered during the attack: ${stderr}`);
  assert(
    endedAfterMs < (DURATION_S + 1) * 1000,
    `ended ${endedAfterMs} ms after it started tracing (--duration ${DURATION_S}s)`,
  );
  const run = readRun(`${dir.path}/run.json`);
  assertEquals(run.meta.end_reason, "duration");
  assert(Math.abs(run.meta.duration_s - DURATION_S) < 1, `duration_s ${run.meta.duration_s}`);
  await assertHostClean(agent.pid);
  assert(ours.programs.length > 0 && ours.links.length > 0, JSON.stringify(ours));
  assertEquals(await waitGone(ours.programs, ours.links), { programs: [], links: [] });
});
