/**
 * The trace backends: what each must do (trace_backend.ts), choosing one
 * (resolve.ts), and the bpftrace and ftrace backends.
 * @module
 */

export * from "./trace_backend.ts";
export * from "./resolve.ts";
export * from "./bpftrace.ts";
export * from "./ftrace.ts";
export * from "./ftrace_instance.ts";
export { bpfAttachPlan } from "./bpf.ts";
