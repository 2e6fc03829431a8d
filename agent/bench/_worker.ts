/**
 * A bench worker: runs one I/O path over one file, once untimed to verify
 * what it delivers (scan) and once timed, and reports through its control
 * file (see bench_protocol.ts). Started by bench, one per path:
 * `deno run -A agent/bench/_worker.ts '<WorkerSpec as JSON>'`.
 * @module
 */

import {
  allocPages,
  type Fd,
  getrusage,
  libc,
  mapFile,
  O_RDWR,
  openFile,
  POLLIN,
  pollOne,
  read,
  tcpConnect,
} from "../../ffi/mod.ts";
import { BlockDigest, blockFingerprint } from "./_checksum.ts";
import { type LatencyLog, preparePath } from "./paths.ts";
import {
  CONTROL_BYTES,
  PHASE_DONE,
  PHASE_READY,
  type WorkerResult,
  type WorkerSpec,
  writeControl,
} from "./_protocol.ts";

const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;

/** Collects per-block times (ms). */
class Times implements LatencyLog {
  #t: Float64Array;
  #n = 0;
  constructor(n: number) {
    this.#t = new Float64Array(n);
  }
  add(ms: number): void {
    if (this.#n < this.#t.length) this.#t[this.#n++] = ms;
  }
  /** The q-quantile in ns, or null when nothing was recorded. */
  quantileNs(q: number): number | null {
    if (this.#n === 0) return null;
    const s = this.#t.slice(0, this.#n).sort();
    return Math.round(s[Math.min(this.#n - 1, Math.floor(q * this.#n))]! * 1e6);
  }
}

function stopSelf(): void {
  Deno.kill(Deno.pid, "SIGSTOP");
}

function main(): number {
  // Die with bench, even while stopped.
  libc().prctl(PR_SET_PDEATHSIG, BigInt(SIGKILL), 0n, 0n, 0n);
  if (Deno.ppid === 1) return 1;
  const spec = JSON.parse(Deno.args[0] ?? "") as WorkerSpec;
  using controlFd = openFile(spec.control, { flags: O_RDWR });
  using controlMap = mapFile(controlFd.fd, CONTROL_BYTES, { writable: true });
  const control = controlMap.bytes();

  using ackBuf = allocPages(4096);
  let conn: Fd | undefined;
  if (spec.scenario === "serve") {
    if (spec.port === undefined) throw new TypeError("serve needs the sink's port");
    conn = tcpConnect(spec.port);
  }
  try {
    using path = preparePath(spec, conn);
    const blocks = Math.ceil(spec.fileSize / spec.blockSize);

    let verify: WorkerResult["verify"] = null;
    if (spec.scenario === "scan") {
      // Untimed: the same path, every block hashed as delivered.
      const digest = new BlockDigest(spec.blockSize);
      let fp = 0;
      path.run((i, data) => {
        digest.add(i, data);
        fp = (fp + blockFingerprint(i, data)) >>> 0;
      });
      path.finish();
      verify = { digest: digest.hex(), fingerprint: fp, bytes: digest.bytes };
    }

    writeControl(control, PHASE_READY);
    stopSelf();

    // The timed part: nothing here but the path (and, for serve, the sink's ack).
    const times = new Times(blocks);
    let fp = 0;
    const seen = spec.scenario === "scan"
      ? (i: number, data: Uint8Array) => {
        fp = (fp + blockFingerprint(i, data)) >>> 0;
      }
      : undefined;
    const r0 = getrusage();
    const t0 = performance.now();
    const counters = path.run(seen, times);
    if (conn) {
      // The sink sends one byte once it has every byte: end to end, not just queued.
      if ((pollOne(conn.fd, POLLIN, 120_000) & POLLIN) === 0) {
        throw new Error("the sink did not acknowledge the data within 120 s");
      }
    }
    const t1 = performance.now();
    const r1 = getrusage();
    // Traced, but not timed: what the path leaves for later (the mmap paths' munmap).
    const teardownCalls = path.finish();
    const teardown_s = (performance.now() - t1) / 1000;

    const result: WorkerResult = {
      path: spec.path,
      op: path.op,
      bytes: counters.bytes,
      calls: counters.calls + teardownCalls,
      teardown_s,
      elapsed_s: (t1 - t0) / 1000,
      cpu_user_s: r1.userS - r0.userS,
      cpu_sys_s: r1.sysS - r0.sysS,
      minor_faults: r1.minorFaults - r0.minorFaults,
      major_faults: r1.majorFaults - r0.majorFaults,
      voluntary_switches: r1.voluntarySwitches - r0.voluntarySwitches,
      involuntary_switches: r1.involuntarySwitches - r0.involuntarySwitches,
      block_p50_ns: times.quantileNs(0.5),
      block_p99_ns: times.quantileNs(0.99),
      fingerprint: seen ? fp : null,
      verify,
    };
    writeControl(control, PHASE_DONE, result);
    stopSelf();
    // Traced no more: take the ack byte, so that closing sends FIN, not RST.
    if (conn) read(conn.fd, ackBuf.pointer, 1);
  } finally {
    conn?.close();
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(main());
  } catch (e: unknown) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
