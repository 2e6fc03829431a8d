/**
 * Named stack slots: a program declares what it keeps on its stack by name
 * and size, and {@linkcode stackFrame} places each slot below R10 (the frame
 * pointer), aligned to its size (8 at most), refusing slots that overlap and
 * frames past the kernel's 512 bytes. Offsets are plain negative numbers, so
 * they go wherever an offset did (`stx.w(R10, fp.key, R1)`); the printer
 * (print.ts) shows a slot's name next to its offset.
 *
 * ```ts
 * import { stackFrame } from "./frame.ts";
 * const fp = stackFrame({ key: 4, value: 8, cqe: 16 });
 * console.assert(fp.key === -4 && fp.value === -16 && fp.cqe === -32);
 * const inner = stackFrame({ more: 4 }, { below: fp });
 * console.assert(inner.more === -36);
 * ```
 * @module
 */

/** The kernel's stack limit for one BPF frame (MAX_BPF_STACK). */
export const MAX_STACK = 512;

/** A slot's size in bytes, or its size with an alignment or a fixed place. */
export type SlotSpec = number | {
  size: number;
  /** Alignment in bytes (a power of two, 8 at most). @default min(size, 8) rounded up to a power of two */
  align?: number;
  /** A fixed offset below R10 (negative), for a layout another program or fragment shares. */
  at?: number;
};

/** One placed slot. */
export interface PlacedSlot {
  name: string;
  /** Its offset from R10 (negative). */
  offset: number;
  size: number;
}

const LAYOUT: unique symbol = Symbol("frame layout");

/** A frame: each slot's offset by name, and (for printers and `below`) the layout. */
export type Frame<K extends string = string> =
  & { readonly [P in K]: number }
  & { readonly [LAYOUT]: { bytes: number; slots: readonly PlacedSlot[] } };

function alignOf(size: number): number {
  let a = 1;
  while (a < size && a < 8) a *= 2;
  return a;
}

/**
 * Places named slots below R10, in the order given, each aligned.
 * @param slots the slots: name to size (or size with alignment or place)
 * @param options `below`: start under another frame's slots (a program's own
 *   slots under those of the fragments it uses)
 * @returns each slot's offset by name
 * @throws RangeError when slots overlap, a size or alignment is bad, or the
 *   frame passes 512 bytes
 */
export function stackFrame<const S extends Record<string, SlotSpec>, B extends string = never>(
  slots: S,
  options: { below?: Frame<B> } = {},
): Frame<(keyof S & string) | B> {
  const placed: PlacedSlot[] = [...(options.below ? options.below[LAYOUT].slots : [])];
  let used = options.below ? options.below[LAYOUT].bytes : 0;
  for (const [name, spec] of Object.entries(slots)) {
    const size = typeof spec === "number" ? spec : spec.size;
    if (!Number.isInteger(size) || size <= 0) {
      throw new RangeError(`Stack slot ${name}: size ${size} is not a positive integer`);
    }
    const align = typeof spec === "number" ? alignOf(size) : spec.align ?? alignOf(size);
    if (![1, 2, 4, 8].includes(align)) {
      throw new RangeError(`Stack slot ${name}: alignment ${align} is not 1, 2, 4 or 8`);
    }
    const at = typeof spec === "number" ? undefined : spec.at;
    let offset: number;
    if (at !== undefined) {
      if (!Number.isInteger(at) || at >= 0 || at % align !== 0 || -at < size) {
        throw new RangeError(`Stack slot ${name}: offset ${at} is not an aligned place below R10`);
      }
      offset = at;
    } else offset = -Math.ceil((used + size) / align) * align;
    const clash = placed.find((p) => offset < p.offset + p.size && p.offset < offset + size);
    if (clash) {
      throw new RangeError(
        `Stack slot ${name} (fp${offset}, ${size} bytes) overlaps ${clash.name} (fp${clash.offset}, ${clash.size} bytes)`,
      );
    }
    if (-offset > MAX_STACK) {
      throw new RangeError(
        `Stack slot ${name} ends ${-offset} bytes below R10: past the ${MAX_STACK}-byte stack`,
      );
    }
    placed.push({ name, offset, size });
    used = Math.max(used, -offset);
  }
  const out: Record<string, number> = {};
  for (const p of placed) out[p.name] = p.offset;
  Object.defineProperty(out, LAYOUT, { value: { bytes: used, slots: placed }, enumerable: false });
  return out as Frame<(keyof S & string) | B>;
}

/**
 * A frame's slots, deepest last.
 * @param frame the frame
 * @returns its slots, and the bytes it takes
 */
export function frameLayout(frame: Frame): { bytes: number; slots: readonly PlacedSlot[] } {
  return frame[LAYOUT];
}
