/**
 * The time split's maps (why.ts): created together, given the block devices
 * and each interval's slow thresholds, read back into the Snapshot's
 * `timeSplit` and `block`, closed together.
 * @module
 */

import { BPF_F_NO_PREALLOC, BpfMap, MapType } from "../../ffi/bpf/mod.ts";
import { HIST_VALUE_BYTES } from "./layout.ts";
import { histFrom, perCpuWords, sumWord } from "./_read.ts";
import type { WhyFds } from "./why.ts";
import {
  BLK,
  BLOCK_DEVICES,
  RQ_KEY,
  RQ_VALUE,
  SPLIT,
  WHY_ALL,
  WHY_CAPACITY,
  WHY_MAP_NAMES,
  WHY_SLOW,
  WHY_TASK_BYTES,
} from "./_why_layout.ts";
import {
  type BlockDevice,
  type BlockTotals,
  emptyBlockTotals,
  type OpSplit,
  type TimeSplitTotals,
} from "../why_snapshot.ts";

/** A block device as /sys/block names it, and its number (`major:minor`). */
export interface BlockDeviceId {
  name: string;
  major: number;
  minor: number;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** The kernel's dev_t as tracepoints record it (MKDEV: major << 20 | minor). */
export function kernelDev(major: number, minor: number): number {
  return ((major << 20) | minor) >>> 0;
}

function splitFrom(bytes: Uint8Array | null): TimeSplitTotals {
  const v = perCpuWords(bytes ?? new Uint8Array(SPLIT.words * 8), SPLIT.words * 8);
  return {
    count: sumWord(v, SPLIT.count),
    total_ns: sumWord(v, SPLIT.totalNs),
    cpu_ns: sumWord(v, SPLIT.cpuNs),
    runqueue_ns: sumWord(v, SPLIT.runqNs),
    disk_ns: sumWord(v, SPLIT.diskNs),
    other_ns: sumWord(v, SPLIT.otherNs),
    faults: sumWord(v, SPLIT.faults),
    tlb_flushes: sumWord(v, SPLIT.tlb),
  };
}

/** The time split's maps; `using` closes them all. */
export class WhyMapSet implements Disposable {
  readonly #maps: BpfMap[] = [];
  readonly #m: Record<keyof typeof WHY_MAP_NAMES, BpfMap>;
  readonly #slots: number;
  #devices: string[] = [];
  readonly fds: WhyFds;

  /**
   * Creates every map.
   * @param slots the syscall slots (as the syscall programs number them)
   * @throws ErrnoError when the kernel refuses a map (the ones made are closed)
   */
  constructor(slots: number) {
    this.#slots = slots;
    const make = (
      name: keyof typeof WHY_MAP_NAMES,
      spec: Omit<Parameters<typeof BpfMap.create>[0], "name">,
    ) => {
      const m = BpfMap.create({ ...spec, name: WHY_MAP_NAMES[name] });
      this.#maps.push(m);
      return m;
    };
    const hash = { type: MapType.HASH, flags: BPF_F_NO_PREALLOC };
    try {
      this.#m = {
        tasks: make("tasks", {
          ...hash,
          keySize: 4,
          valueSize: WHY_TASK_BYTES,
          maxEntries: WHY_CAPACITY.tasks,
        }),
        split: make("split", {
          type: MapType.PERCPU_ARRAY,
          keySize: 4,
          valueSize: SPLIT.words * 8,
          maxEntries: 2 * slots,
        }),
        slowNs: make("slowNs", {
          type: MapType.ARRAY,
          keySize: 4,
          valueSize: 8,
          maxEntries: slots,
        }),
        requests: make("requests", {
          ...hash,
          keySize: RQ_KEY.bytes,
          valueSize: RQ_VALUE.bytes,
          maxEntries: WHY_CAPACITY.requests,
        }),
        devices: make("devices", {
          ...hash,
          keySize: 4,
          valueSize: 4,
          maxEntries: BLOCK_DEVICES,
        }),
        blockOps: make("blockOps", {
          type: MapType.PERCPU_ARRAY,
          keySize: 4,
          valueSize: BLK.words * 8,
          maxEntries: 4 * BLOCK_DEVICES,
        }),
        blockHist: make("blockHist", {
          type: MapType.PERCPU_ARRAY,
          keySize: 4,
          valueSize: HIST_VALUE_BYTES,
          maxEntries: 4 * BLOCK_DEVICES,
        }),
        blockQHist: make("blockQHist", {
          type: MapType.PERCPU_ARRAY,
          keySize: 4,
          valueSize: HIST_VALUE_BYTES,
          maxEntries: 4 * BLOCK_DEVICES,
        }),
      };
    } catch (e: unknown) {
      this.close();
      throw e;
    }
    const m = this.#m;
    this.fds = {
      tasks: m.tasks.fd,
      split: m.split.fd,
      slowNs: m.slowNs.fd,
      requests: m.requests.fd,
      devices: m.devices.fd,
      blockOps: m.blockOps.fd,
      blockHist: m.blockHist.fd,
      blockQHist: m.blockQHist.fd,
    };
  }

  /**
   * Gives the programs the devices to keep apart (the first BLOCK_DEVICES).
   * @param devices as /sys/block lists them
   * @returns how many were left out
   */
  setDevices(devices: readonly BlockDeviceId[]): number {
    const kept = devices.slice(0, BLOCK_DEVICES);
    kept.forEach((d, slot) => this.#m.devices.update(u32(kernelDev(d.major, d.minor)), u32(slot)));
    this.#devices = kept.map((d) => d.name);
    return devices.length - kept.length;
  }

  /**
   * Writes each syscall's slow threshold (0: none).
   * @param bySlot nanoseconds by syscall slot
   */
  setSlowThresholds(bySlot: ReadonlyMap<number, number>): void {
    for (let slot = 0; slot < this.#slots; slot++) {
      const v = new Uint8Array(8);
      new DataView(v.buffer).setBigUint64(0, BigInt(Math.round(bySlot.get(slot) ?? 0)), true);
      this.#m.slowNs.update(u32(slot), v);
    }
  }

  /**
   * Reads the split of each syscall that has calls booked.
   * @param nameOf the syscall name of a slot
   * @returns the splits by name
   */
  readSplit(nameOf: (slot: number) => string): Map<string, OpSplit> {
    const out = new Map<string, OpSplit>();
    for (let slot = 0; slot < this.#slots; slot++) {
      const all = splitFrom(this.#m.split.lookup(u32(slot * 2 + WHY_ALL)));
      if (all.count === 0) continue;
      out.set(nameOf(slot), {
        all,
        slow: splitFrom(this.#m.split.lookup(u32(slot * 2 + WHY_SLOW))),
      });
    }
    return out;
  }

  /** Reads each listed device's completed requests (devices with none left out). */
  readBlock(): Map<string, BlockDevice> {
    const out = new Map<string, BlockDevice>();
    const totals = (key: number): BlockTotals => {
      const raw = this.#m.blockOps.lookup(u32(key));
      const t = emptyBlockTotals();
      if (!raw) return t;
      const v = perCpuWords(raw, BLK.words * 8);
      t.count = sumWord(v, BLK.count);
      if (t.count === 0) return t;
      t.bytes = sumWord(v, BLK.bytes);
      t.total_ns = sumWord(v, BLK.totalNs);
      t.untimed = sumWord(v, BLK.untimed);
      t.unseen = sumWord(v, BLK.unseen);
      t.queue_ns = sumWord(v, BLK.queueNs);
      t.queued = sumWord(v, BLK.queued);
      const hist = (m: BpfMap) => {
        const h = m.lookup(u32(key));
        return histFrom(h ? perCpuWords(h, HIST_VALUE_BYTES) : null);
      };
      t.hist = hist(this.#m.blockHist);
      t.queueHist = hist(this.#m.blockQHist);
      return t;
    };
    const merged = (a: Map<number, number>, b: Map<number, number>) => {
      const hist = new Map(a);
      for (const [i, n] of b) hist.set(i, (hist.get(i) ?? 0) + n);
      return hist;
    };
    const sum = (a: BlockTotals, b: BlockTotals): BlockTotals => {
      const hist = merged(a.hist, b.hist);
      return {
        count: a.count + b.count,
        bytes: a.bytes + b.bytes,
        total_ns: a.total_ns + b.total_ns,
        untimed: a.untimed + b.untimed,
        unseen: a.unseen + b.unseen,
        queue_ns: a.queue_ns + b.queue_ns,
        queued: a.queued + b.queued,
        queueHist: merged(a.queueHist, b.queueHist),
        hist,
      };
    };
    this.#devices.forEach((name, slot) => {
      const [rOther, rTraced, wOther, wTraced] = [0, 1, 2, 3].map((i) => totals(slot * 4 + i)) as [
        BlockTotals,
        BlockTotals,
        BlockTotals,
        BlockTotals,
      ];
      if (rOther.count + rTraced.count + wOther.count + wTraced.count === 0) return;
      out.set(name, {
        read: sum(rOther, rTraced),
        write: sum(wOther, wTraced),
        traced: { read: rTraced, write: wTraced },
      });
    });
    return out;
  }

  /** Closes every map. Idempotent. */
  close(): void {
    for (const m of this.#maps) m.close();
  }

  /** See {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
