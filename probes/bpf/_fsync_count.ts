/**
 * fsync calls per traced process: the example program of ARCHITECTURE.md's
 * walk-through ("Writing a BPF program"), shown there verbatim
 * (tests/probes/bpf/fsync_count_test.ts checks that, builds it, prints it and
 * runs it in the kernel).
 * @module
 */

import {
  atomicAdd,
  BPF_F_NO_PREALLOC,
  BPF_NOEXIST,
  exit,
  ja,
  jeq,
  label,
  MapType,
  mov,
  R0,
  R1,
  R10,
  st,
  stackFrame,
} from "../../ffi/bpf/mod.ts";
import { ifOpen, ifTraced, KEY_SLOTS, lookup, update } from "./_emit.ts";
import { defineModule } from "./module.ts";

/** The stack: the fragments' keys (ifTraced leaves the process id in targetKey), then ours. */
export const SLOTS = stackFrame({ one: 8 }, { below: KEY_SLOTS });

/** Counts `fsync(2)` calls by process id while the gate is open. */
export const fsyncCount = defineModule({
  name: "fsync",
  maps: {
    // process id (u32) -> calls (u64)
    calls: {
      name: "ios_fsync",
      type: MapType.HASH,
      flags: BPF_F_NO_PREALLOC,
      keySize: 4,
      valueSize: 8,
      maxEntries: 4096,
    },
  },
  programs: (b, fds) => [{
    name: "ios_fsync",
    kind: "tp", // a classic tracepoint: only fsync calls run it
    at: { tracepoint: "syscalls:sys_enter_fsync" },
    insns: [
      ...ifOpen(b, "out"),
      ...ifTraced(b, "out"), // the process id is at KEY_SLOTS.targetKey
      ...lookup(fds.calls, KEY_SLOTS.targetKey),
      jeq.imm(R0, 0, "first"),
      mov.imm(R1, 1),
      atomicAdd.dw(R0, 0, R1), // calls += 1
      ja("out"),
      label("first"), // its first call: insert 1
      st.dw(R10, SLOTS.one, 1),
      ...update(fds.calls, KEY_SLOTS.targetKey, SLOTS.one, BPF_NOEXIST),
      label("out"),
      mov.imm(R0, 0),
      exit(),
    ],
  }],
  read: (maps) =>
    new Map(
      maps.calls.readAll().entries.map((e) => {
        const v = new DataView(e.value.buffer, e.value.byteOffset, 8);
        const k = new DataView(e.key.buffer, e.key.byteOffset, 4);
        return [k.getUint32(0, true), Number(v.getBigUint64(0, true))];
      }),
    ),
});
