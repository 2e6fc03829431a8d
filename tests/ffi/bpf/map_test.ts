/**
 * Maps from user space: single keys, a full map, whole-map reads with
 * BPF_MAP_LOOKUP_BATCH and key by key (forced), per-CPU values, and a task
 * storage map created with our BTF and filled by a program.
 * @module
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import { countGetppid, getppid, gettid, SYS_GETPPID } from "./_helpers.ts";
import {
  atomicAdd,
  BPF_LOCAL_STORAGE_GET_F_CREATE,
  BPF_NOEXIST,
  BpfLink,
  BpfMap,
  BpfProgram,
  call,
  exit,
  foldPerCpuU64,
  haveBatchLookup,
  haveTaskStorage,
  Helper,
  jeq,
  jne,
  label,
  ldx,
  loadMapFd,
  MapType,
  mov,
  parseCpuList,
  perCpuValue,
  PIDFD_THREAD,
  pidfdOpen,
  possibleCpus,
  ProgType,
  R0,
  R1,
  R2,
  R3,
  R4,
  R6,
  rsh,
} from "../../../ffi/bpf/mod.ts";
import { ErrnoError } from "../../../ffi/errno.ts";
import { Fd } from "../../../ffi/fd.ts";

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

function readU64(b: Uint8Array, at = 0): number {
  return Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at, true));
}

function readU32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset).getUint32(0, true);
}

function throwsErrno(fn: () => unknown, code: string, what: string): void {
  try {
    fn();
  } catch (e: unknown) {
    assert(e instanceof ErrnoError, `${what}: ${e} is not an ErrnoError`);
    assertEquals(e.code, code, what);
    return;
  }
  throw new Error(`${what}: no error`);
}

Deno.test("map: update, lookup and delete one key of a hash map", () => {
  using m = BpfMap.create({
    type: MapType.HASH,
    keySize: 4,
    valueSize: 8,
    maxEntries: 2,
    name: "test_hash",
  });
  assertEquals(m.lookup(u32(7)), null);
  m.update(u32(7), u64(70));
  assertEquals(readU64(m.lookup(u32(7))!), 70);
  throwsErrno(() => m.update(u32(7), u64(71), BPF_NOEXIST), "EEXIST", "NOEXIST on a key");
  m.update(u32(8), u64(80));
  throwsErrno(() => m.update(u32(9), u64(90)), "E2BIG", "a third key in a 2-entry map");
  assertEquals(m.delete(u32(7)), true);
  assertEquals(m.delete(u32(7)), false);
  assertEquals(m.lookup(u32(7)), null);
  assertEquals(m.info().name, "test_hash");
  assertEquals(m.info().maxEntries, 2);
});

Deno.test("map: a batch read and a key-by-key read return the same 3000 entries", () => {
  assert(haveBatchLookup().ok, haveBatchLookup().reason);
  using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4096 });
  for (let k = 0; k < 3000; k++) m.update(u32(k * 7 + 1), u64(k * 1000));
  const batch = m.readAll();
  const perKey = m.readAll({ batch: false });
  assertEquals(batch.batched, true);
  assertEquals(perKey.batched, false);
  const asPairs = (d: typeof batch) =>
    d.entries.map((e) => [readU32(e.key), readU64(e.value)]).sort((a, b) => a[0]! - b[0]!);
  const expected = Array.from({ length: 3000 }, (_, k) => [k * 7 + 1, k * 1000]);
  assertEquals(asPairs(batch), expected, "batch");
  assertEquals(asPairs(perKey), expected, "key by key");
  // Into kept buffers, twice (the second read grows from the first's size): the same entries.
  assertEquals(asPairs(m.readAll({ reuse: true })), expected, "reuse, first");
  assertEquals(asPairs(m.readAll({ reuse: true })), expected, "reuse, second");
});

Deno.test("map: a reused read's views are overwritten by the next reused read only", () => {
  using m = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 });
  m.update(u32(1), u64(10));
  const fresh = m.readAll();
  const first = m.readAll({ reuse: true });
  assertEquals(readU64(first.entries[1]!.value), 10);
  m.update(u32(1), u64(11));
  assertEquals(readU64(first.entries[1]!.value), 10, "a read is a copy of the map");
  const second = m.readAll({ reuse: true });
  assertEquals(readU64(second.entries[1]!.value), 11);
  assertEquals(readU64(first.entries[1]!.value), 11, "the kept buffers were read into again");
  assertEquals(readU64(fresh.entries[1]!.value), 10, "a read without reuse is its own");
  // The entries themselves are kept too: a trace's once-a-second read allocates none.
  assertEquals(second.entries[1], first.entries[1]);
  assert(second.entries[1] === first.entries[1], "the same entry object");
  assert(fresh.entries[1] !== first.entries[1], "a read without reuse makes its own");
});

Deno.test("map: an empty hash map reads as no entries both ways", () => {
  using m = BpfMap.create({ type: MapType.HASH, keySize: 8, valueSize: 4, maxEntries: 16 });
  assertEquals(m.readAll().entries.length, 0);
  assertEquals(m.readAll({ batch: false }).entries.length, 0);
});

Deno.test("map: per-CPU arrays hold one 8-byte-aligned value per possible CPU", () => {
  const cpus = possibleCpus();
  assertEquals(cpus, parseCpuList(Deno.readTextFileSync("/sys/devices/system/cpu/possible")));
  assertEquals(parseCpuList("0-3,8-11\n"), 12);
  assertEquals(parseCpuList("0\n"), 1);
  // 12-byte values: each CPU's slot is rounded up to 16 bytes.
  using m = BpfMap.create({
    type: MapType.PERCPU_ARRAY,
    keySize: 4,
    valueSize: 12,
    maxEntries: 3,
  });
  assertEquals(m.valueBufferSize, 16 * cpus);
  const value = new Uint8Array(16 * cpus);
  const v = new DataView(value.buffer);
  for (let cpu = 0; cpu < cpus; cpu++) v.setBigUint64(cpu * 16, BigInt(cpu + 1), true);
  m.update(u32(2), value);
  const back = m.lookup(u32(2))!;
  for (let cpu = 0; cpu < cpus; cpu++) {
    assertEquals(readU64(perCpuValue(back, 12, cpu)), cpu + 1, `cpu ${cpu}`);
  }
  assertEquals(foldPerCpuU64(back, 12, "sum")[0], (cpus * (cpus + 1)) / 2);
  assertEquals(foldPerCpuU64(back, 12, "max")[0], cpus);
  const all = m.readAll();
  assertEquals(all.entries.length, 3);
  assertEquals(foldPerCpuU64(all.entries[2]!.value, 12)[0], (cpus * (cpus + 1)) / 2);
  assertEquals(m.readAll({ batch: false }).entries.map((e) => readU32(e.key)), [0, 1, 2]);
});

Deno.test("map: a task storage map made with our BTF counts this thread's getppid calls", () => {
  assert(haveTaskStorage().ok, haveTaskStorage().reason);
  using store = BpfMap.create({
    type: MapType.TASK_STORAGE,
    keySize: 4,
    valueSize: 8,
    maxEntries: 0,
    name: "test_task",
  });
  assertEquals(store.info().type, MapType.TASK_STORAGE);
  using prog = BpfProgram.load({
    type: ProgType.RAW_TRACEPOINT,
    name: "test_task_cnt",
    insns: [
      mov.reg(R6, R1), //                          r6 = ctx
      call(Helper.get_current_pid_tgid),
      rsh.imm(R0, 32),
      jne.imm(R0, Deno.pid, "out"), //             only this process
      ldx.dw(R1, R6, 8),
      jne.imm(R1, SYS_GETPPID, "out"), //          only getppid
      call(Helper.get_current_task_btf), //        r0 = current
      mov.reg(R2, R0),
      loadMapFd(R1, store.fd), //                  r0 = task_storage_get(map, current, 0, CREATE)
      mov.imm(R3, 0),
      mov.imm(R4, BPF_LOCAL_STORAGE_GET_F_CREATE),
      call(Helper.task_storage_get),
      jeq.imm(R0, 0, "out"),
      mov.imm(R1, 1), //                           the task's count += 1
      atomicAdd.dw(R0, 0, R1),
      label("out"),
      mov.imm(R0, 0),
      exit(),
    ],
  });
  {
    using _ = BpfLink.attachRawTracepoint(prog, "sys_enter");
    getppid(123);
  }
  // User space names a task by a pidfd: this thread's (the calls were made here).
  using pidfd = new Fd(pidfdOpen(gettid(), PIDFD_THREAD), "pidfd");
  const value = store.lookup(u32(pidfd.fd));
  assert(value, "no task storage for this thread");
  assertEquals(readU64(value), 123);
  // Another task of this process made no getppid call: it has no value.
  const other = [...Deno.readDirSync("/proc/self/task")].map((e) => Number(e.name))
    .find((tid) => tid !== gettid())!;
  using otherFd = new Fd(pidfdOpen(other, PIDFD_THREAD), "pidfd");
  assertEquals(store.lookup(u32(otherFd.fd)), null);
});

Deno.test("map: close is idempotent and a closed map says so", () => {
  const m = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
  const fd = m.fd;
  m.close();
  m.close();
  assert(m.closed);
  let message = "";
  try {
    m.lookup(u32(0));
  } catch (e: unknown) {
    message = e instanceof Error ? e.message : String(e);
  }
  assertEquals(message, "Cannot use a BPF map: it is closed");
  let target = "";
  try {
    target = Deno.readLinkSync(`/proc/self/fd/${fd}`);
  } catch {
    // closed, and not reused
  }
  assert(!target.includes("bpf-map"), `fd ${fd} is still a BPF map`);
});

Deno.test("map: counts from a program land in an array and a per-CPU array", () => {
  using counts = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
  using perCpu = BpfMap.create({
    type: MapType.PERCPU_ARRAY,
    keySize: 4,
    valueSize: 8,
    maxEntries: 1,
  });
  using prog = BpfProgram.load({
    type: ProgType.RAW_TRACEPOINT,
    name: "test_cnt2",
    insns: countGetppid([counts.fd, perCpu.fd], "raw_sys_enter"),
  });
  {
    using _ = BpfLink.attachRawTracepoint(prog, "sys_enter");
    getppid(500);
  }
  getppid(50); // detached: not counted
  assertEquals(readU64(counts.lookup(u32(0))!), 500);
  assertEquals(foldPerCpuU64(perCpu.lookup(u32(0))!, 8)[0], 500);
});
