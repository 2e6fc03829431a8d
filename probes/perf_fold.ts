/**
 * Folding `perf script` output into flame graph stacks: one line per
 * distinct stack, `comm;outermost;...;innermost count`, as Brendan Gregg's
 * stackcollapse-perf.pl makes them. Kernel frames get a `_[k]` suffix (its
 * `--all` convention) so a renderer can colour them. Pure: text in, lines out.
 * @module
 */

/** Folded stacks and how many samples they hold. */
export interface FoldedStacks {
  /** `frame;frame;frame count`, sorted by stack. */
  folded: string[];
  samples: number;
}

/** A frame name safe for the folded format: no `;`, no line breaks, no trailing count. */
function clean(name: string): string {
  return name.replace(/[;\r\n]/g, ":").replace(/\s+/g, " ").trim() || "[unknown]";
}

/**
 * Folds the output of `perf script -F comm,tid,ip,sym,dso` (a header line
 * `comm tid`, then one tab-indented `address symbol (dso)` line per frame,
 * innermost first, then a blank line).
 * @param text perf script's output
 * @returns the folded stacks
 * @example
 * ```ts
 * import { foldPerfScript } from "./perf_fold.ts";
 * const f = foldPerfScript(
 *   "dd 7 \n\tffffffff816d5e14 vfs_read ([kernel.kallsyms])\n" +
 *     "\t7f00 read (/usr/lib/libc.so.6)\n\n",
 * );
 * console.assert(f.folded[0] === "dd;read;vfs_read_[k] 1");
 * ```
 */
export function foldPerfScript(text: string): FoldedStacks {
  const counts = new Map<string, number>();
  let samples = 0;
  let comm: string | null = null;
  let frames: string[] = [];
  const flush = () => {
    if (comm !== null) {
      const stack = [clean(comm), ...frames.reverse()].join(";");
      counts.set(stack, (counts.get(stack) ?? 0) + 1);
      samples++;
    }
    comm = null;
    frames = [];
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      flush();
      continue;
    }
    if (!/^\s/.test(line)) {
      flush();
      const m = /^(.*?)\s+(\d+)(?:\/\d+)?\s*$/.exec(line);
      comm = m ? m[1] ?? "" : line.trim();
      continue;
    }
    if (comm === null) continue;
    const m = /^\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
    if (!m) continue;
    let sym = m[2] ?? "";
    const dso = m[3] ?? "";
    // Kernel text (and modules) lies in the top half of the address space.
    const kernel = dso.startsWith("[kernel") ||
      /^ffff[89a-f]/.test(m[1] ?? "") && m[1]?.length === 16;
    if (sym === "" || sym === "[unknown]") {
      sym = dso && dso !== "[unknown]"
        ? `[${dso.replace(/.*\//, "").replace(/^\[|\]$/g, "")}]`
        : "[unknown]";
    }
    sym = sym.replace(/\+0x[0-9a-f]+$/, "");
    frames.push(kernel ? `${clean(sym)}_[k]` : clean(sym));
  }
  flush();
  const folded = [...counts.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([stack, n]) => `${stack} ${n}`);
  return { folded, samples };
}
