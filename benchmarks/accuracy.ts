/**
 * `deno task bench:accuracy`: ioscope's figures beside fio's own for the same
 * I/Os, each fio job run three times: untraced, traced by the bpf backend alone
 * (the default), then by the bpftrace and ftrace backends at once (so each pays for the
 * other's probes too). fio starts its job after a delay, so every I/O is
 * traced; ratios are ioscope over fio's clat and over fio's total latency.
 * Needs root, fio, bpftrace, and a disk filesystem at /var/tmp (O_DIRECT).
 * @module
 */

import { diskDir, traceFio } from "../tests/_helpers/fio.ts";

const q = (o: { percentile: Record<string, number> }, p: string) =>
  o.percentile[`${p}.000000`] ?? 0;
const r = (a: number, b: number) => (b > 0 ? a / b : NaN).toFixed(2);

/**
 * The passes over each fio job: untraced (fio's own figures, the probes' cost
 * out of its clock), the default backend alone, then the other two together.
 */
const PASSES: readonly (readonly ("bpf" | "bpftrace" | "ftrace")[])[] = [
  [],
  ["bpf"],
  ["bpftrace", "ftrace"],
];

async function compare(name: string, extra: string[], uring: boolean): Promise<void> {
  for (const backends of PASSES) await comparePass(name, extra, uring, backends);
}

async function comparePass(
  name: string,
  extra: string[],
  uring: boolean,
  backends: readonly ("bpf" | "bpftrace" | "ftrace")[],
): Promise<void> {
  await using dir = diskDir();
  Deno.writeFileSync(`${dir.path}/fio.dat`, new Uint8Array(64 << 20).fill(1));
  const delay = 3.5;
  const { fio, runs } = await traceFio(
    dir.path,
    [
      "fio",
      "--name=accuracy",
      `--filename=${dir.path}/fio.dat`,
      "--size=64M",
      "--rw=randread",
      "--bs=4k",
      "--thread",
      `--startdelay=${delay}`,
      "--time_based",
      "--runtime=3",
      "--lat_percentiles=1",
      "--output-format=json",
      `--output=${dir.path}/fio.json`,
      ...extra,
    ],
    backends,
    delay,
  );
  console.log(
    `${name} (fio ${extra.join(" ")}), ${
      backends.length ? `traced by ${backends.join(" + ")}` : "untraced"
    }: fio ${fio.total_ios} I/Os; clat P50 ${q(fio.clat_ns, "50")} ns, P99 ${
      q(fio.clat_ns, "99")
    } ns; lat P50 ${q(fio.lat_ns, "50")} ns, P99 ${q(fio.lat_ns, "99")} ns`,
  );
  for (const [backend, run] of runs) {
    const s = uring ? run.io_uring.READ : run.syscalls.pread64;
    if (!s) {
      console.log(`  ${backend}: nothing traced`);
      continue;
    }
    console.log(
      `  ${backend.padEnd(8)} ${s.count} + ${run.meta.lost_events} lost;` +
        ` P50 ${s.p50_ns} ns = ${r(s.p50_ns, q(fio.clat_ns, "50"))} of clat,` +
        ` ${r(s.p50_ns, q(fio.lat_ns, "50"))} of lat;` +
        ` P99 ${s.p99_ns} ns = ${r(s.p99_ns, q(fio.clat_ns, "99"))} of clat,` +
        ` ${r(s.p99_ns, q(fio.lat_ns, "99"))} of lat`,
    );
  }
}

await compare("psync, page-cached", ["--ioengine=psync", "--invalidate=0"], false);
await compare("psync, O_DIRECT", ["--ioengine=psync", "--direct=1", "--rate_iops=3000"], false);
await compare("io_uring depth 1", ["--ioengine=io_uring", "--direct=1", "--iodepth=1"], true);
await compare("io_uring depth 4", ["--ioengine=io_uring", "--direct=1", "--iodepth=4"], true);
