/**
 * Picks and starts a backend by name.
 * @module
 */

import type { BackendOptions, TraceBackend } from "./trace_backend.ts";
import { findBpftrace, startBpftrace, sweepStaleBpftrace } from "./bpftrace.ts";
import { startFtrace } from "./ftrace.ts";
import { sweepStaleInstances } from "./ftrace_instance.ts";
import { bpfLoads, startBpf } from "./bpf.ts";
import { RunError, UsageError } from "../../mod.ts";

/** The backends `--backend` accepts. */
export const BACKEND_NAMES = ["auto", "bpf", "bpftrace", "ftrace"] as const;
/** A `--backend` value. */
export type BackendName = typeof BACKEND_NAMES[number];

/** Checks a `--backend` value. */
export function parseBackendName(value: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new UsageError(`unknown backend '${value}': use one of ${BACKEND_NAMES.join(", ")}`);
}

/** A backend chosen for this host, once: what `auto` resolved to, and bpftrace's path. */
export interface BackendChoice {
  /** What was asked for (`--backend`). */
  asked: BackendName;
  /** The backend to start. */
  name: "bpf" | "bpftrace" | "ftrace";
  /** Where bpftrace is (looked up once, for it or as the fallback of bpf), or null. */
  bpftrace: string | null;
}

/**
 * Chooses the backend for this host, once: the architecture is checked, PATH
 * searched, and whether bpf's programs load tried, here and nowhere else; the
 * choice is passed down to `openBackend` (through the session) as it is.
 * `auto` is bpf where its programs load, then bpftrace, then ftrace.
 * @param name a `--backend` value
 * @returns the choice
 * @throws {RunError} on a host whose syscall numbers ioscope does not know
 * @throws {UsageError} when bpftrace is asked for by name and is not installed
 */
export function resolveBackend(name: BackendName): BackendChoice {
  const arch = unsupportedArch(Deno.build.arch);
  if (arch) throw new RunError(arch);
  const bpftrace = findBpftrace();
  if (name === "bpftrace" && !bpftrace) {
    throw new UsageError(
      "bpftrace is not installed: apt-get install bpftrace, or use --backend ftrace",
    );
  }
  const chosen = name !== "auto" ? name : bpfLoads().ok ? "bpf" : bpftrace ? "bpftrace" : "ftrace";
  return { asked: name, name: chosen, bpftrace };
}

/** What `auto` resolves to on this host: bpf where it loads, then bpftrace, then ftrace. */
export function resolveBackendName(name: BackendName): "bpf" | "bpftrace" | "ftrace" {
  return resolveBackend(name).name;
}

/**
 * Why this architecture cannot be traced, or null: ioscope's syscall table
 * (schema/syscalls.ts) holds x86_64's numbers, and on another architecture
 * every number would be given a wrong name.
 * @param arch `Deno.build.arch`
 * @returns one line, or null for x86_64
 * @example
 * ```ts
 * import { unsupportedArch } from "./resolve.ts";
 * console.assert(unsupportedArch("x86_64") === null);
 * console.assert(unsupportedArch("aarch64")?.includes("x86_64") === true);
 * ```
 */
export function unsupportedArch(arch: string): string | null {
  return arch === "x86_64" ? null : `ioscope traces x86_64 hosts only: its syscall table holds ` +
    `x86_64's numbers, and this host is ${arch} (its numbers would be given wrong names)`;
}

/**
 * Cleans what a killed earlier run may have left (bpftrace programs, tracefs
 * instances: whatever backend that run used, and whatever this one uses),
 * then starts the chosen backend. Tracefs must be mounted (the session
 * ensures it, once, for every backend).
 * @param choice what `resolveBackend` chose
 * @param options the processes and a snapshot listener
 * @returns the running backend
 */
export async function openBackend(
  choice: BackendChoice,
  options: BackendOptions,
): Promise<TraceBackend> {
  sweepStaleBpftrace();
  sweepStaleInstances();
  let name = choice.name;
  if (name === "bpf") {
    try {
      return startBpf(options);
    } catch (e: unknown) {
      // Asked for by name: its reason is the answer. For auto: the next backend.
      if (choice.asked === "bpf") throw e;
      name = choice.bpftrace ? "bpftrace" : "ftrace";
    }
  }
  if (name === "bpftrace") return startBpftrace(options, choice.bpftrace);
  return await startFtrace(options);
}
