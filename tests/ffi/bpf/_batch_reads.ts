/**
 * A child for map_errno_test.ts: makes a per-CPU array and a hash, fills
 * them, reads each whole with BPF_MAP_LOOKUP_BATCH, and prints one JSON line:
 * the entries and the sum of their values each read gave, or the errno name
 * of the read that threw. Between the steps it writes "step" lines to stderr
 * so that the parent can tell which bpf(2) calls are the reads.
 * @module
 */

import { BpfMap, foldPerCpuU64, MapType } from "../../../ffi/bpf/mod.ts";

function key(k: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, k, true);
  return b;
}

function sumOf(m: BpfMap, valueSize: number): { entries: number; sum: number } | string {
  try {
    const { entries, batched } = m.readAll();
    if (!batched) return "not batched";
    return {
      entries: entries.length,
      sum: entries.reduce((n, e) => n + foldPerCpuU64(e.value, valueSize, "sum")[0]!, 0),
    };
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

using array = BpfMap.create({
  type: MapType.PERCPU_ARRAY,
  keySize: 4,
  valueSize: 8,
  maxEntries: 16,
});
using hash = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 64 });
const cpus = array.valueBufferSize / 8;
for (let k = 0; k < 16; k++) {
  const v = new Uint8Array(8 * cpus);
  new DataView(v.buffer).setBigUint64(0, BigInt(k + 1), true); // CPU 0's slot
  array.update(key(k), v);
}
for (let k = 0; k < 40; k++) {
  const v = new Uint8Array(8);
  new DataView(v.buffer).setBigUint64(0, BigInt(k + 1), true);
  hash.update(key(k), v);
}
console.error("step reads");
const out = { array: sumOf(array, 8), hash: sumOf(hash, 8) };
console.error("step done");
console.log(JSON.stringify(out));
