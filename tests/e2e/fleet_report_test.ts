// `report --fleet`: two stores from two hosts (the recorded fixture
// tests/testdata/run_fio_psync.json, and a copy under another host name with
// a second, faster syscall mix) merge exactly: the merged count is the sum,
// and each host's P99 is listed (the spread).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { runCli, tmpDir } from "../_helpers/common.ts";
import { readRun } from "../_helpers/documents.ts";
import { saveRun } from "../../agent/nightly/store.ts";
import { BUCKET_WIDTH } from "../../schema/buckets.ts";

const FIXTURE = new URL("../testdata/run_fio_psync.json", import.meta.url);

Deno.test("report --fleet merges the hosts' Runs exactly, with each host's P99", async () => {
  await using dir = tmpDir();
  const a = readRun(FIXTURE);
  const b = readRun(FIXTURE);
  b.meta.host = "host-b";
  const pb = b.syscalls.pread64;
  assert(pb, "pread64 in the fixture");
  // host-b: every call 4x faster (buckets' bounds divided by 4).
  pb.buckets = pb.buckets.map(([lo, hi, n]) => [Math.floor(lo / 4), Math.ceil(hi / 4), n]);
  Deno.mkdirSync(`${dir.path}/a`, { mode: 0o700 });
  Deno.mkdirSync(`${dir.path}/b`, { mode: 0o700 });
  await saveRun(`${dir.path}/a`, a);
  await saveRun(`${dir.path}/b`, b);
  const r = await runCli([
    "report",
    "--fleet",
    `${dir.path}/a,${dir.path}/b`,
    "--json",
    `${dir.path}/fleet.json`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const rows = JSON.parse(Deno.readTextFileSync(`${dir.path}/fleet.json`)).rows;
  // deno-lint-ignore no-explicit-any
  const row = rows.find((x: any) => x.syscall === "pread64" && x.target === "fio");
  const timed = (s: typeof pb) => s.buckets.reduce((t, q) => t + q[2], 0);
  const pa = a.syscalls.pread64;
  assert(pa, "pread64");
  assertEquals([row.hosts, row.count], [2, timed(pa) + timed(pb)]);
  const [hostA, hostB] = [row.p99_by_host[a.meta.host], row.p99_by_host["host-b"]];
  assert(hostB < hostA, `spread: ${JSON.stringify(row.p99_by_host)}`);
  assert(row.p99_ns <= hostA && row.p99_ns >= hostB, JSON.stringify(row));
  // Each host's P99 is within one native bucket of its own Run's (its buckets are native ones).
  assert(Math.abs(hostA - pa.p99_ns) / pa.p99_ns <= BUCKET_WIDTH, `${hostA} vs ${pa.p99_ns}`);
  assert(r.stdout.includes("pread64") && r.stdout.includes("P99 by host"), r.stdout);
});
