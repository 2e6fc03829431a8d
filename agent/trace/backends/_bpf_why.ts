/**
 * The bpf backend's time split and block layer (probes/bpf/why.ts): its maps,
 * the block devices it keeps apart, its programs attached before the syscall
 * programs (its exit must see a call before they end it), and each
 * interval's slow thresholds.
 * @module
 */

import { vmlinuxBtf } from "../../../ffi/mod.ts";
import {
  type BlockDeviceId,
  type BuildContext,
  type PlannedProgram,
  planWhy,
  type RequestFields,
  type TracedSyscall,
  whyEnd,
  WhyMapSet,
} from "../../../probes/bpf/mod.ts";
import type { Insn } from "../../../ffi/bpf/mod.ts";
import { bucketBounds } from "../../../schema/mod.ts";
import { histDelta } from "../_interval.ts";
import type { OpTotals, Snapshot } from "../../../probes/mod.ts";
import { hasTracepoint } from "../tracefs.ts";

/** The time split while it runs. */
export interface WhyRun {
  /** Adds the split and the block totals to a snapshot just read. */
  fill(s: Snapshot): void;
  /** Once an interval: the slow thresholds from the calls that ended in it. */
  interval(s: Snapshot): void;
  /** Detaches and frees (after the syscall programs). Idempotent. */
  close(): void;
}

/**
 * The block devices of /sys/block and their numbers.
 * @returns every device with a readable `dev`
 */
export function blockDevices(): BlockDeviceId[] {
  const out: BlockDeviceId[] = [];
  try {
    for (const e of Deno.readDirSync("/sys/block")) {
      try {
        const [major, minor] = Deno.readTextFileSync(`/sys/block/${e.name}/dev`).trim().split(":")
          .map(Number);
        if (Number.isInteger(major) && Number.isInteger(minor)) {
          out.push({ name: e.name, major: major as number, minor: minor as number });
        }
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no sysfs: no devices
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The slow threshold of each op for the next interval: the low edge of the
 * bucket that holds the P99 of its successful calls that ended in the last
 * one (the difference of two cumulative histograms); none (0) for an op
 * with no call in it.
 * @param before the cumulative totals at the interval's start (absent: none)
 * @param after at its end
 * @returns nanoseconds by op name (ops with calls only)
 */
export function slowThresholds(
  before: ReadonlyMap<string, OpTotals> | null,
  after: ReadonlyMap<string, OpTotals>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, op] of after) {
    const delta = histDelta(before?.get(name)?.hist, op.hist);
    const total = [...delta.values()].reduce((a, b) => a + b, 0);
    if (total === 0) continue;
    let seen = 0;
    for (const i of [...delta.keys()].sort((a, b) => a - b)) {
      seen += delta.get(i) ?? 0;
      if (seen >= 0.99 * total) {
        out.set(name, Math.max(1, bucketBounds(i)[0]));
        break;
      }
    }
  }
  return out;
}

function oneLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.split("\n")[0] ?? s;
}

/**
 * Where a block request's facts lie, from the kernel's BTF, or why the block
 * programs cannot run here.
 * @returns the offsets, or the reason
 */
export function requestFields(): RequestFields | string {
  if (!hasTracepoint("block", "block_rq_issue") || !hasTracepoint("block", "block_rq_complete")) {
    return "no block_rq_issue/block_rq_complete tracepoints on this kernel";
  }
  try {
    const btf = vmlinuxBtf();
    const at = (s: string, f: string) => btf.memberOffset(s, f).offset;
    return {
      cmdFlags: at("request", "cmd_flags"),
      dataLen: at("request", "__data_len"),
      q: at("request", "q"),
      disk: at("request_queue", "disk"),
      major: at("gendisk", "major"),
      firstMinor: at("gendisk", "first_minor"),
      startTimeNs: at("request", "start_time_ns"),
    };
  } catch (e: unknown) {
    return `a block request's disk is not known from BTF: ${oneLine(e)}`;
  }
}

/** The time split made ready: its maps, and its part of the syscall exit programs. */
export interface WhyReady {
  /** The syscall exit programs' part (sysExit's `after`), for PlanOptions.exitExtra. */
  exitExtra(b: BuildContext): Insn[];
  /**
   * Attaches the scheduler and block programs once the syscall programs are
   * attached.
   * @param b the syscall programs' build context
   * @returns the running split, or why it cannot run (everything freed then)
   */
  start(b: BuildContext): WhyRun | string;
  /** Frees the maps (when the syscall programs never attached). Idempotent. */
  close(): void;
}

/**
 * Makes the time split's maps and reads what its programs need from BTF.
 * @param syscalls the traced syscalls, by slot
 * @param attach loads and attaches a plan (the backend's AttachedSet)
 * @returns the split made ready, or why it cannot run here
 */
export function prepareWhy(
  syscalls: readonly TracedSyscall[],
  attach: (plan: PlannedProgram[]) => { close(): void; recursionMisses(): number },
): WhyReady | string {
  let maps: WhyMapSet;
  try {
    maps = new WhyMapSet(syscalls.length);
  } catch (e: unknown) {
    return `the time split's maps were refused: ${oneLine(e)}`;
  }
  const m = maps;
  let pidOffset: number;
  try {
    m.setDevices(blockDevices());
    pidOffset = vmlinuxBtf().memberOffset("task_struct", "pid").offset;
  } catch (e: unknown) {
    m.close();
    return `the time split cannot find a task's pid: ${oneLine(e)}`;
  }
  const w = { fds: m.fds, pidOffset };
  const block = requestFields();
  const blockWhy = typeof block === "string" ? block : null;
  const tlb = hasTracepoint("tlb", "tlb_flush");
  return {
    exitExtra: () => whyEnd(w),
    close: () => m.close(),
    start(b) {
      if (b.kind === "tp") {
        m.close();
        return "the time split's scheduler programs are raw tracepoints; the syscall programs are classic ones";
      }
      let set: { close(): void; recursionMisses(): number };
      try {
        set = attach(planWhy(b, w, typeof block === "string" ? null : block, tlb));
      } catch (e: unknown) {
        m.close();
        return `the time split's programs did not load: ${oneLine(e)}`;
      }
      const slotOf = new Map(syscalls.map((s, slot) => [s.name, slot]));
      let before: ReadonlyMap<string, OpTotals> | null = null;
      // An idle interval keeps the threshold of the last one with calls.
      const bySlot = new Map<number, number>();
      let closed = false;
      return {
        fill(s) {
          s.timeSplit = m.readSplit((slot) => syscalls[slot]?.name ?? `slot_${slot}`);
          s.recursionMisses += set.recursionMisses();
          if (blockWhy === null) {
            s.block = m.readBlock();
          } else s.blockUnsupported = blockWhy;
        },
        interval(s) {
          for (const [name, ns] of slowThresholds(before, s.syscalls)) {
            const slot = slotOf.get(name);
            if (slot !== undefined) bySlot.set(slot, ns);
          }
          m.setSlowThresholds(bySlot);
          before = s.syscalls;
        },
        close() {
          if (closed) return;
          closed = true;
          set.close();
          m.close();
        },
      };
    },
  };
}
