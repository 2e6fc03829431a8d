/**
 * ioscope's own BPF loader, in TypeScript over bpf(2): no libbpf, no LLVM.
 * One layer per file (after cilium/ebpf): sys.ts the raw `bpf_attr` layouts
 * and one function per command; asm.ts builds instructions; btf.ts reads the
 * kernel's types and writes a map's; map.ts, program.ts and link.ts own
 * descriptors (`using`); features.ts finds what this kernel allows by trying.
 *
 * ```ts
 * import { BpfLink, BpfMap, BpfProgram, exit, MapType, mov, ProgType, R0 } from "./mod.ts";
 * using counts = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
 * using prog = BpfProgram.load({
 *   type: ProgType.RAW_TRACEPOINT,
 *   name: "doc_noop",
 *   insns: [mov.imm(R0, 0), exit()],
 * });
 * using link = BpfLink.attachRawTracepoint(prog, "sys_enter");
 * console.assert(counts.fd >= 0 && link.fd >= 0);
 * ```
 * @module
 */

export * from "./asm.ts";
export * from "./frame.ts";
export * from "./btf.ts";
export * from "./features.ts";
export * from "./link.ts";
export * from "./map.ts";
export * from "./print.ts";
export * from "./program.ts";
export * from "./sys.ts";
