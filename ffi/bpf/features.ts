/**
 * What this kernel allows, found by trying (never by its version), once per
 * process, cached: can a program type load, do task storage maps, batch
 * lookups and raw tracepoints work. Each answer carries the reason, so that
 * `doctor` and the Run's meta can say why a better path was not taken.
 * @module
 */

import { exit, mov, R0 } from "./asm.ts";
import { syscallFunction, vmlinuxBtf } from "./btf.ts";
import { BpfLink } from "./link.ts";
import { BpfMap } from "./map.ts";
import { BpfProgram } from "./program.ts";
import { AttachType, MapType, ProgType } from "./sys.ts";

/** A probe's answer. */
export interface Feature {
  /** Whether it works here. */
  ok: boolean;
  /** One line: what was tried and what the kernel said. */
  reason: string;
}

const cache = new Map<string, Feature>();

function cached(key: string, probe: () => Feature): Feature {
  let f = cache.get(key);
  if (!f) {
    f = probe();
    cache.set(key, f);
  }
  return f;
}

function why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The name of a program type, for messages.
 * @param type a sys.ts `ProgType`
 * @returns e.g. `BPF_PROG_TYPE_TRACING`
 */
export function progTypeName(type: number): string {
  for (const [k, v] of Object.entries(ProgType)) if (v === type) return `BPF_PROG_TYPE_${k}`;
  return `program type ${type}`;
}

/**
 * Whether a program of this type loads: a two-instruction program is handed
 * to the verifier. TRACING is tried as fentry on the read syscall's
 * function, LSM on `bpf_lsm_file_open`.
 * @param type a sys.ts `ProgType`
 * @returns ok, and why not
 * @example
 * ```ts
 * import { canLoad } from "./features.ts";
 * import { ProgType } from "./sys.ts";
 * const f = canLoad(ProgType.RAW_TRACEPOINT);
 * console.assert(typeof f.ok === "boolean" && f.reason.length > 0);
 * ```
 */
export function canLoad(type: number): Feature {
  return cached(`load:${type}`, () => {
    const name = progTypeName(type);
    if (type === ProgType.TRACING || type === ProgType.LSM) {
      // Kernels that refuse these types do so before looking at the target:
      // find that out before looking a function up in the kernel's BTF.
      const refused = tryLoad(type, { expectedAttachType: attachTypeOf(type), attachBtfId: 0 });
      if (refused !== null && /\bEPERM\b/.test(refused)) {
        return { ok: false, reason: `${name} does not load here: ${refused}` };
      }
      const target = type === ProgType.TRACING ? syscallFunction("read") : "bpf_lsm_file_open";
      let id: number | undefined;
      try {
        id = vmlinuxBtf().funcId(target);
      } catch (e: unknown) {
        return { ok: false, reason: `${name} needs the kernel's BTF: ${why(e)}` };
      }
      if (id === undefined) {
        return { ok: false, reason: `${name}: the kernel's BTF has no function ${target}` };
      }
      const error = tryLoad(type, { expectedAttachType: attachTypeOf(type), attachBtfId: id });
      return error === null
        ? { ok: true, reason: `${name} loads (on ${target})` }
        : { ok: false, reason: `${name} does not load here: ${error}` };
    }
    const error = tryLoad(type, {});
    return error === null
      ? { ok: true, reason: `${name} loads` }
      : { ok: false, reason: `${name} does not load here: ${error}` };
  });
}

function attachTypeOf(type: number): number {
  return type === ProgType.TRACING ? AttachType.TRACE_FENTRY : AttachType.LSM_MAC;
}

/** Loads `r0 = 0; exit` and unloads it: null if it loaded, else the error's message. */
function tryLoad(
  type: number,
  extra: { expectedAttachType?: number; attachBtfId?: number },
): string | null {
  try {
    using _ = BpfProgram.load({
      type,
      name: "ioscope_probe",
      insns: [mov.imm(R0, 0), exit()],
      ...extra,
    });
    return null;
  } catch (e: unknown) {
    return why(e);
  }
}

/**
 * Whether BPF_MAP_TYPE_TASK_STORAGE maps can be created (with their BTF).
 * @returns ok, and why not
 */
export function haveTaskStorage(): Feature {
  return cached("task_storage", () => {
    try {
      using _ = BpfMap.create({
        type: MapType.TASK_STORAGE,
        keySize: 4,
        valueSize: 8,
        maxEntries: 0,
        name: "ioscope_probe",
      });
      return { ok: true, reason: "task storage maps are created" };
    } catch (e: unknown) {
      return { ok: false, reason: `task storage maps cannot be created: ${why(e)}` };
    }
  });
}

/**
 * Whether BPF_MAP_LOOKUP_BATCH reads hash maps.
 * @returns ok, and why not
 */
export function haveBatchLookup(): Feature {
  return cached("batch", () => {
    try {
      using m = BpfMap.create({
        type: MapType.HASH,
        keySize: 4,
        valueSize: 8,
        maxEntries: 4,
        name: "ioscope_probe",
      });
      m.update(new Uint8Array([1, 0, 0, 0]), new Uint8Array(8));
      const dump = m.readAll();
      if (!dump.batched) return { ok: false, reason: "BPF_MAP_LOOKUP_BATCH is not supported" };
      if (dump.entries.length !== 1) {
        return { ok: false, reason: `BPF_MAP_LOOKUP_BATCH read ${dump.entries.length} of 1 entry` };
      }
      return { ok: true, reason: "BPF_MAP_LOOKUP_BATCH reads hash maps" };
    } catch (e: unknown) {
      return { ok: false, reason: `BPF_MAP_LOOKUP_BATCH failed: ${why(e)}` };
    }
  });
}

/**
 * Whether a RAW_TRACEPOINT program loads and attaches to `sys_enter`.
 * @returns ok, and why not
 */
export function haveRawTracepoint(): Feature {
  return cached("raw_tp", () => {
    const load = canLoad(ProgType.RAW_TRACEPOINT);
    if (!load.ok) return load;
    try {
      using prog = BpfProgram.load({
        type: ProgType.RAW_TRACEPOINT,
        name: "ioscope_probe",
        insns: [mov.imm(R0, 0), exit()],
      });
      using _ = BpfLink.attachRawTracepoint(prog, "sys_enter");
      return { ok: true, reason: "raw tracepoint programs attach to sys_enter" };
    } catch (e: unknown) {
      return { ok: false, reason: `raw tracepoints cannot be attached: ${why(e)}` };
    }
  });
}

/**
 * Forgets every cached answer (for tests that force a path).
 */
export function resetFeatureCache(): void {
  cache.clear();
}
