// The instruction streams of the programs in CONVERTED, hashed per build
// context (the histogram update left out: withoutHistogram): a program
// rewritten with named slots, roles and helpers must encode to the same bytes
// as before (streams_test.ts). Regenerate the
// fixture after a change that means to alter the code the kernel runs:
//   deno run -A tests/probes/bpf/_streams.ts --write
import { assemble, type Insn } from "../../../ffi/bpf/asm.ts";
import type { BuildContext, MapFds, ProgramKind } from "../../../probes/bpf/_emit.ts";
import { planPrograms } from "../../../probes/bpf/programs.ts";
import { onExit } from "../../../probes/bpf/_targets.ts";

/** Where the fixture lies. */
export const FIXTURE = new URL("../../testdata/bpf_streams.json", import.meta.url);

/** The programs whose streams are fixed: the converted modules' (_targets.ts, _io_uring.ts). */
export const CONVERTED = [
  "ios_exit",
  "ios_fork",
  "ios_exec",
  "ios_rename",
  "ios_uring_sub",
  "ios_uring_done",
  "ios_uring_async",
];

/**
 * Map descriptors for programs built without a kernel: 10, 11, ... in MapFds order.
 * @param startsInTaskStorage where starts live
 * @returns the descriptors
 */
export function fakeMapFds(startsInTaskStorage: boolean): MapFds {
  let fd = 10;
  const next = () => fd++;
  return {
    gate: next(),
    targets: next(),
    starts: next(),
    startsInTaskStorage,
    sysOps: next(),
    sysHist: next(),
    errnos: next(),
    fds: next(),
    counters: next(),
    uringReqs: next(),
    uringUserData: next(),
    uringOps: next(),
    uringHist: next(),
  };
}

function context(kind: ProgramKind, filter: BuildContext["filter"], inTask: boolean): BuildContext {
  return {
    kind,
    field: (_event, field) => ({
      offset: 8 + (field.length % 7) * 4,
      size: field === "res" || field === "pid" ? 4 : 8,
      signed: true,
    }),
    maps: fakeMapFds(inTask),
    filter,
  };
}

const SYSCALLS = [
  { name: "read", nr: 0, slotValue: 1 | (1 << 16) | (1 << 17), function: "__x64_sys_read" },
  { name: "pread64", nr: 17, slotValue: 2 | (1 << 16) | (1 << 17), function: "__x64_sys_pread64" },
];
const OPTIONS = { uring: true, tlb: true, rename: true, syscalls: SYSCALLS };

/**
 * The program without its histogram update (`histogramAdd`, between recordEnd's
 * `*_hist` label and histogramAdd's `*_h_done`): the bucket index is the
 * buckets work's to change, and these streams fix the rest.
 */
function withoutHistogram(insns: Insn[]): Insn[] {
  let skipping = false;
  return insns.filter((i) => {
    if (i.kind !== "label") return !skipping;
    if (i.name.endsWith("_hist")) skipping = true;
    else if (i.name.endsWith("_h_done")) skipping = false;
    return true; // labels stay: jumps name them
  });
}

async function sha(program: Insn[]): Promise<string> {
  const insns = withoutHistogram(program);
  const d = await crypto.subtle.digest("SHA-256", new Uint8Array(assemble(insns)));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Each program's hash under each context, keyed `kind/filter/starts/name`.
 * @param names the programs to hash (all when absent)
 * @returns the hashes
 */
export async function streamHashes(names?: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const filters: Record<string, BuildContext["filter"]> = {
    plain: {},
    all: { comm: "nginx", followChildren: true, cgroup: { id: 0x1234_5678_9an, level: 2 } },
  };
  for (const kind of ["fentry", "raw_tp", "tp"] as const) {
    for (const [fname, filter] of Object.entries(filters)) {
      for (const inTask of [true, false]) {
        const b = context(kind, filter, inTask);
        const key = `${kind}/${fname}/${inTask ? "task" : "hash"}`;
        for (const p of planPrograms(b, OPTIONS)) {
          if (p.name === "ios_exit" || (names && !names.includes(p.name))) continue;
          out[`${key}/${p.name}`] = await sha(p.insns);
        }
        if (!names || names.includes("ios_exit")) {
          const exitKind = kind === "tp" ? "tp" : "raw_tp";
          for (const dead of [true, false]) {
            out[`${key}/ios_exit_${dead}`] = await sha(onExit({ ...b, kind: exitKind }, dead));
          }
        }
      }
    }
  }
  return out;
}

if (import.meta.main) {
  const all = Deno.args.includes("--all");
  const hashes = await streamHashes(all ? undefined : CONVERTED);
  const text = JSON.stringify(hashes, null, 1) + "\n";
  const path = Deno.args.find((a) => a.startsWith("--out="))?.slice(6);
  if (Deno.args.includes("--write")) Deno.writeTextFileSync(FIXTURE, text);
  else if (path) Deno.writeTextFileSync(path, text);
  else console.log(text);
}
