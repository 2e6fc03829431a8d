/**
 * The floor of any raw-tracepoint syscall tracer: two empty programs (return
 * 0) on the raw tracepoints sys_enter and sys_exit, loaded through ffi/bpf.
 * Once a syscall tracepoint has a program, every syscall on the host takes
 * the kernel's slow path to reach it; no program body can win that back.
 * Prints "attached", then waits for SIGINT or SIGTERM.
 *
 *   deno run -A benchmarks/bpf_floor.ts
 * @module
 */

import { BpfLink, BpfProgram, exit, mov, ProgType, R0 } from "../ffi/mod.ts";

const links: BpfLink[] = [];
const programs: BpfProgram[] = [];
for (const tp of ["sys_enter", "sys_exit"]) {
  const prog = BpfProgram.load({
    type: ProgType.RAW_TRACEPOINT,
    name: `ios_floor_${tp.slice(4)}`,
    insns: [mov.imm(R0, 0), exit()],
  });
  programs.push(prog);
  links.push(BpfLink.attachRawTracepoint(prog, tp));
}
console.log("attached");
await new Promise<void>((resolve) => {
  Deno.addSignalListener("SIGINT", resolve);
  Deno.addSignalListener("SIGTERM", resolve);
});
for (const l of links) l.close();
for (const p of programs) p.close();
