/**
 * A child for cleanup_test.ts: loads a map, two programs and their links
 * (raw tracepoint, classic tracepoint), prints their ids as one JSON line,
 * then waits to be killed.
 * @module
 */

import { countGetppid } from "./_helpers.ts";
import { BpfLink, BpfMap, BpfProgram, MapType, ProgType } from "../../../ffi/bpf/mod.ts";

const counts = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
const raw = BpfProgram.load({
  type: ProgType.RAW_TRACEPOINT,
  name: "test_child_raw",
  insns: countGetppid([counts.fd], "raw_sys_enter"),
});
const tp = BpfProgram.load({
  type: ProgType.TRACEPOINT,
  name: "test_child_tp",
  insns: countGetppid([counts.fd], "tracepoint"),
});
const links = [
  BpfLink.attachRawTracepoint(raw, "sys_enter"),
  BpfLink.attachTracepoint(tp, "syscalls", "sys_enter_getppid"),
];
console.log(JSON.stringify({
  programs: [raw.id, tp.id],
  links: links.map((l) => l.id()),
  map: counts.info().id,
}));
setInterval(() => {}, 1000);
