/**
 * The CLI: one module per `ioscope` command (`cmd_*.ts`), argument parsing,
 * and everything printed on a terminal (summary, bench table, number
 * formats). The only room that prints; the root mod.ts dispatches to it.
 * @module
 */

export type { Command } from "./command.ts";
export { traceCommand } from "./cmd_trace.ts";
export { benchCommand } from "./cmd_bench.ts";
export { reportCommand } from "./cmd_report.ts";
export { scheduleCommand } from "./cmd_schedule.ts";
export { doctorCommand } from "./cmd_doctor.ts";
export { demoCommand } from "./cmd_demo.ts";
export { isTerminalSafe, terminalSafe } from "./terminal_safe.ts";
