/**
 * Helpers for the BPF loader's tests: the getppid syscall (a call nothing
 * else in this process makes, so its count is exact), a program that counts
 * this process's getppid calls into maps, and checks that programs and links
 * are gone (only ours: other programs come and go on this machine).
 * @module
 */

import { libc } from "../../../ffi/libc.ts";
import {
  add,
  atomicAdd,
  call,
  exit,
  Helper,
  type Insn,
  jeq,
  jne,
  label,
  ldx,
  linkGetNextId,
  loadMapFd,
  mov,
  progGetNextId,
  R0,
  R1,
  R10,
  R2,
  R6,
  rsh,
  st,
} from "../../../ffi/bpf/mod.ts";

/** getppid's syscall number: x86_64 110, aarch64 173. */
export const SYS_GETPPID = Deno.build.arch === "aarch64" ? 173 : 110;

/**
 * The calling thread's id (`deno test` runs tests on a thread that is not the main one).
 * @returns gettid(2)
 */
export function gettid(): number {
  return Number(
    libc().syscall(Deno.build.arch === "aarch64" ? 178n : 186n, 0n, 0n, 0n, 0n, 0n, 0n),
  );
}

/**
 * Calls getppid(2) `n` times, raw (no libc caching).
 * @param n how many calls
 */
export function getppid(n: number): void {
  const nr = BigInt(SYS_GETPPID);
  for (let i = 0; i < n; i++) libc().syscall(nr, 0n, 0n, 0n, 0n, 0n, 0n);
}

/** Where a counting program runs, which decides how it finds the syscall number. */
export type CounterContext =
  | "raw_sys_enter" // raw tracepoint sys_enter: ctx->args[1] is the syscall number
  | "tracepoint"; // classic syscalls:sys_enter_getppid: only getppid fires it

/**
 * A program that adds 1 to entry 0 of each map given (array or per-CPU
 * array, u64 values) for every getppid of the process `pid`.
 * @param maps the maps' descriptors
 * @param where the attach point's context
 * @param pid the thread group to count
 * @returns the instructions
 */
export function countGetppid(maps: number[], where: CounterContext, pid = Deno.pid): Insn[] {
  const body: Insn[] = [];
  maps.forEach((fd, i) => {
    body.push(
      loadMapFd(R1, fd), //                 r0 = bpf_map_lookup_elem(map, &zero)
      mov.reg(R2, R10),
      add.imm(R2, -4),
      call(Helper.map_lookup_elem),
      jeq.imm(R0, 0, `skip${i}`), //        no entry: nothing to count
      mov.imm(R1, 1), //                    *value += 1, atomically
      atomicAdd.dw(R0, 0, R1),
      label(`skip${i}`),
    );
  });
  return [
    mov.reg(R6, R1), //                     r6 = ctx
    call(Helper.get_current_pid_tgid), //   r0 = tgid << 32 | tid
    rsh.imm(R0, 32),
    jne.imm(R0, pid, "out"), //             another process: leave
    ...(where === "raw_sys_enter"
      ? [
        ldx.dw(R1, R6, 8), //               r1 = ctx->args[1], the syscall number
        jne.imm(R1, SYS_GETPPID, "out"),
      ]
      : []),
    st.w(R10, -4, 0), //                    key 0 on the stack
    ...body,
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}

/**
 * The ids among `ids` that BPF_PROG_GET_NEXT_ID still walks through.
 * @param ids program ids
 * @returns those still loaded
 */
export function programsLeft(ids: number[]): number[] {
  const want = new Set(ids);
  const left: number[] = [];
  for (let id = progGetNextId(0); id !== null; id = progGetNextId(id)) {
    if (want.has(id)) left.push(id);
  }
  return left;
}

/**
 * The ids among `ids` that BPF_LINK_GET_NEXT_ID still walks through.
 * @param ids link ids
 * @returns those still attached
 */
export function linksLeft(ids: number[]): number[] {
  const want = new Set(ids);
  const left: number[] = [];
  for (let id = linkGetNextId(0); id !== null; id = linkGetNextId(id)) {
    if (want.has(id)) left.push(id);
  }
  return left;
}

/**
 * Waits until none of the programs and links is left: the kernel frees them
 * after an RCU grace period, a little after their last descriptor closed.
 * @param progIds program ids
 * @param linkIds link ids
 * @param timeoutMs how long to wait
 * @returns what is still there after the wait (empty when all are gone)
 */
export async function waitGone(
  progIds: number[],
  linkIds: number[],
  timeoutMs = 5000,
): Promise<{ programs: number[]; links: number[] }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = { programs: programsLeft(progIds), links: linksLeft(linkIds) };
    if (left.programs.length + left.links.length === 0 || Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Asserts that `f` throws a RangeError whose message matches.
 * @param f the call
 * @param match what the message says
 */
export function assertRangeError(f: () => unknown, match: RegExp): void {
  try {
    f();
  } catch (e: unknown) {
    if (e instanceof RangeError && match.test(e.message)) return;
    throw new Error(`expected a RangeError matching ${match}, got ${e}`);
  }
  throw new Error(`did not throw a RangeError matching ${match}`);
}
