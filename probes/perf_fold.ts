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
 * Folds `perf script -F comm,tid,ip,sym,dso` output a line at a time (a
 * header line `comm tid`, then one tab-indented `address symbol (dso)` line
 * per frame, innermost first, then a blank line), so that a long recording's
 * text is never held whole: only the distinct stacks and their counts are.
 * @example
 * ```ts
 * import { StackFolder } from "./perf_fold.ts";
 * const f = new StackFolder();
 * for (const l of ["dd 7 ", "\tffffffff816d5e14 vfs_read ([kernel.kallsyms])", ""]) f.line(l);
 * console.assert(f.finish().folded[0] === "dd;vfs_read_[k] 1");
 * ```
 */
export class StackFolder {
  #counts = new Map<string, number>();
  #samples = 0;
  #comm: string | null = null;
  #frames: string[] = [];

  #flush(): void {
    if (this.#comm !== null) {
      const stack = [clean(this.#comm), ...this.#frames.reverse()].join(";");
      this.#counts.set(stack, (this.#counts.get(stack) ?? 0) + 1);
      this.#samples++;
    }
    this.#comm = null;
    this.#frames = [];
  }

  /** Takes the next line of perf script's output (without its newline). */
  line(line: string): void {
    if (line.trim() === "") {
      this.#flush();
      return;
    }
    if (!/^\s/.test(line)) {
      this.#flush();
      const m = /^(.*?)\s+(\d+)(?:\/\d+)?\s*$/.exec(line);
      this.#comm = m ? m[1] ?? "" : line.trim();
      return;
    }
    if (this.#comm === null) return;
    const m = /^\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
    if (!m) return;
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
    this.#frames.push(kernel ? `${clean(sym)}_[k]` : clean(sym));
  }

  /**
   * Ends the last sample and returns the folded stacks.
   * @returns the folded stacks, sorted
   */
  finish(): FoldedStacks {
    this.#flush();
    const folded = [...this.#counts.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([stack, n]) => `${stack} ${n}`);
    return { folded, samples: this.#samples };
  }
}

/**
 * Folds the whole output of `perf script -F comm,tid,ip,sym,dso` (see
 * {@linkcode StackFolder}, which takes it a line at a time).
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
  const folder = new StackFolder();
  for (const line of text.split("\n")) folder.line(line);
  return folder.finish();
}
