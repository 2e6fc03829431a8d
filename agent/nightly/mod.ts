/**
 * Nightly runs: the run store (one Run document per file), the systemd/cron
 * schedule, and the Prometheus exporter with its text format.
 * @module
 */

export * from "./store.ts";
export * from "./schedule.ts";
export * from "./prom_exporter.ts";
export * from "./openmetrics.ts";
export { fleetView } from "./fleet.ts";
export type { PushOptions } from "./push.ts";
export { parsePushUrl, readAuthFile } from "./push_config.ts";
