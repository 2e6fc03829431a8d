/**
 * The kernel's own accounting of what each loaded BPF program costs a run
 * (BPF_ENABLE_STATS: run_time_ns / run_cnt), for every program on the host:
 * ours and bpftrace's alike.
 * @module
 */

import { enableStats, Fd, progGetFdById, progGetNextId, progInfo } from "../../ffi/mod.ts";

/** Turns the kernel's BPF run-time statistics on until the returned handle is disposed. */
export function bpfStatsOn(): Disposable {
  return new Fd(enableStats(), "BPF stats");
}

/**
 * The mean run time of every loaded program that ran, by `type:name`
 * (several programs of one name: the mean over them all).
 * @returns nanoseconds a run
 */
export function bpfProgramCosts(): Map<string, number> {
  const sums = new Map<string, { ns: number; runs: number }>();
  for (let id = progGetNextId(0); id !== null; id = progGetNextId(id)) {
    const fd = progGetFdById(id);
    if (fd === null) continue; // unloaded meanwhile
    using prog = new Fd(fd, "program");
    const info = progInfo(prog.fd);
    if (info.runCnt === 0) continue;
    const key = `${info.type}:${info.name}`;
    const s = sums.get(key) ?? { ns: 0, runs: 0 };
    sums.set(key, { ns: s.ns + info.runTimeNs, runs: s.runs + info.runCnt });
  }
  return new Map([...sums].map(([k, s]) => [k, s.ns / s.runs]));
}
