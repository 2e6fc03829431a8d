/**
 * Tracing a target: the trace session (start a backend, collect snapshots,
 * end on duration, signal or target exit), the Run document builder, target
 * discovery in /proc, commands started stopped, perf, tracefs, and the
 * backends (in backends/).
 * @module
 */

export * from "./session.ts";
export * from "./run_builder.ts";
export * from "./proc.ts";
export * from "./spawn_target.ts";
export * from "./perf.ts";
export * from "./tracefs.ts";
export * from "./doctor.ts";
export * from "./read_lines.ts";
export * from "./backends/mod.ts";
export * from "./cgroup.ts";
export * from "./timeline.ts";
