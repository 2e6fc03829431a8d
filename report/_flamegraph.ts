/**
 * Folded stacks (`root;caller;callee 12`, as stackcollapse-perf.pl and
 * `bpftrace` folding write them) turned into the call tree the report's flame
 * graph draws. Frames ending in `_[k]` (stackcollapse-perf.pl `--kernel`) or
 * naming `[kernel.kallsyms]` are kernel frames; the suffix is dropped from the
 * name and the frame is marked.
 * @module
 */

/** A frame in the call tree: name, samples (itself and below), kernel flag, children. */
export interface FlameNode {
  /** Frame name (untrusted text: rendered only as text). */
  n: string;
  /** Samples in this frame and its callees. */
  v: number;
  /** 1 for a kernel frame. */
  k?: 1;
  /** Callees, sorted by name. */
  c?: FlameNode[];
}

/** The tree of a flame graph and what was left out of it. */
export interface FlameTree {
  root: FlameNode;
  /** Samples counted (the root's value). */
  samples: number;
  /** Input lines that were not `stack count`. */
  badLines: number;
  /** Frames dropped because they held less than `minFraction` of the samples. */
  pruned: number;
}

interface Building {
  v: number;
  k: boolean;
  c: Map<string, Building>;
}

/**
 * Builds the call tree of folded stacks.
 * @param folded lines of `frame;frame;frame count`
 * @param options `minFraction`: frames with fewer samples than this share of
 *   the total are dropped (their samples stay in their caller) to keep the
 *   page small (@default 0.0001); `rootName`: the root's label (@default "all")
 * @returns the tree, its sample count, and how many lines and frames were left out
 * @example
 * ```ts
 * import { flameTree } from "./_flamegraph.ts";
 * const t = flameTree(["main;read;vfs_read_[k] 3", "main;write 1"]);
 * console.assert(t.samples === 4 && t.root.c?.[0]?.n === "main");
 * console.assert(t.root.c?.[0]?.c?.[0]?.c?.[0]?.k === 1);
 * ```
 */
export function flameTree(
  folded: readonly string[],
  options: { minFraction?: number; rootName?: string } = {},
): FlameTree {
  const { minFraction = 0.0001, rootName = "all" } = options;
  const root: Building = { v: 0, k: false, c: new Map() };
  let badLines = 0;
  for (const raw of Array.isArray(folded) ? folded : []) {
    if (typeof raw !== "string") {
      badLines++;
      continue;
    }
    const line = raw.trim();
    if (line === "") continue;
    const m = /^(.*\S)\s+(\d+)$/.exec(line);
    const count = m ? Number(m[2]) : NaN;
    if (!m?.[1] || !Number.isSafeInteger(count)) {
      badLines++;
      continue;
    }
    if (count === 0) continue;
    root.v += count;
    let node = root;
    for (const frame of m[1].split(";")) {
      const { name, kernel } = frameName(frame);
      const key = `${kernel ? "k" : "u"}${name}`;
      let child = node.c.get(key);
      if (!child) {
        child = { v: 0, k: kernel, c: new Map() };
        node.c.set(key, child);
      }
      child.v += count;
      node = child;
    }
  }
  const min = root.v * minFraction;
  let pruned = 0;
  const finish = (name: string, b: Building): FlameNode => {
    const out: FlameNode = { n: name, v: b.v };
    if (b.k) out.k = 1;
    const kids: FlameNode[] = [];
    for (
      const [key, child] of [...b.c.entries()].sort((x, y) => cmp(x[0].slice(1), y[0].slice(1)))
    ) {
      if (child.v < min) {
        pruned += countFrames(child);
        continue;
      }
      kids.push(finish(key.slice(1), child));
    }
    if (kids.length > 0) out.c = kids;
    return out;
  };
  const tree = finish(rootName, root);
  return { root: tree, samples: root.v, badLines, pruned };
}

function frameName(frame: string): { name: string; kernel: boolean } {
  const f = frame.trim() || "[unknown]";
  if (f.endsWith("_[k]")) return { name: f.slice(0, -4), kernel: true };
  if (f.includes("[kernel.kallsyms]")) return { name: f, kernel: true };
  return { name: f, kernel: false };
}

function countFrames(b: Building): number {
  let n = 1;
  for (const c of b.c.values()) n += countFrames(c);
  return n;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
