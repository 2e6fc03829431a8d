/**
 * What the bpf backend's programs cost per syscall, in the process that
 * makes it: one pread of 1 byte of a cached file through FFI, untraced, then
 * with the backend attached each way it can attach here, the bench process
 * itself the target ("traced"), and with the backend attached but tracing
 * another process ("not traced": what every other process on the host pays).
 *
 *   deno bench -A benchmarks/bpf_programs_bench.ts      (root)
 *
 * Each iteration is 100 calls: divide by 100. The difference to the
 * untraced row (compare the min and p75 columns on a busy host) is the
 * programs' cost per call: the
 * sys_enter and sys_exit programs (slot lookup, traced-set lookup, task
 * storage, two clock reads, the per-CPU totals, the histogram and the
 * per-descriptor totals) plus the kernel's tracepoint slow path they turn on.
 * Benches run in order; each one switches the backend to its own setup on
 * its first call.
 * @module
 */

import {
  allocPages,
  BpfLink,
  BpfProgram,
  exit,
  mov,
  openFile,
  pread,
  ProgType,
  R0,
} from "../ffi/mod.ts";
import { type AttachKind, startBpf } from "../agent/trace/backends/bpf.ts";

const path = Deno.makeTempFileSync({ prefix: "ioscope-bpf-bench-" });
Deno.writeFileSync(path, new Uint8Array(4096).fill(1));
const file = openFile(path);
const buf = allocPages(4096);
const other = new Deno.Command("sleep", { args: ["600"] }).spawn();

interface Setup {
  /** Empty programs on sys_enter/sys_exit instead of the backend: the floor. */
  floor?: boolean;
  attach?: AttachKind;
  startsInHash?: boolean;
  traced: boolean;
}
interface Running {
  stop(): Promise<unknown>;
}
let current: { key: string; backend: Running | null } = { key: "none", backend: null };

/** Two empty raw tracepoint programs: what any raw_tp syscall tracer costs at least. */
function floor(): Running {
  const progs = ["sys_enter", "sys_exit"].map((tp) => {
    const prog = BpfProgram.load({
      type: ProgType.RAW_TRACEPOINT,
      name: "ios_floor",
      insns: [mov.imm(R0, 0), exit()],
    });
    return { prog, link: BpfLink.attachRawTracepoint(prog, tp) };
  });
  return {
    stop() {
      for (const p of progs) {
        p.link.close();
        p.prog.close();
      }
      return Promise.resolve();
    },
  };
}

/** Switches the backend to `setup` (null: none) unless it is already so. */
function use(setup: Setup | null): void {
  const key = JSON.stringify(setup);
  if (current.key === key) return;
  void current.backend?.stop();
  current = {
    key,
    backend: setup?.floor ? floor() : setup
      ? startBpf({
        pids: [setup.traced ? Deno.pid : other.pid],
        ...(setup.attach ? { attach: setup.attach } : {}),
        ...(setup.startsInHash ? { startsInHash: true } : {}),
      })
      : null,
  };
}

globalThis.addEventListener("unload", () => {
  void current.backend?.stop();
  other.kill("SIGKILL");
  Deno.removeSync(path);
});

/** Calls per bench iteration: a busy host's scheduling noise hits whole batches, and the min of many batches stays clean. */
const BATCH = 100;
const bench = (name: string, setup: Setup | null, baseline = false) =>
  Deno.bench(`${BATCH} x ${name}`, { group: "pread", baseline }, () => {
    use(setup);
    for (let i = 0; i < BATCH; i++) pread(file.fd, buf.pointer, 1, 0);
  });

bench("pread 1 byte, untraced", null, true);
bench("empty raw_tp programs on sys_enter/sys_exit (the floor)", { floor: true, traced: false });
bench("bpf raw_tp, task storage: traced", { attach: "raw_tp", traced: true });
bench("bpf raw_tp, task storage: another process traced", { attach: "raw_tp", traced: false });
bench("bpf raw_tp, tid hash: traced", { attach: "raw_tp", startsInHash: true, traced: true });
bench("bpf classic tp, task storage: traced", { attach: "tp", traced: true });
bench("bpf classic tp: another process traced", { attach: "tp", traced: false });
bench("pread 1 byte, untraced again", null);
