/**
 * What the BPF loader (ffi/bpf) costs in user space on this host: the reads
 * the bpf backend makes once a second, loading a program, and the kernel's
 * BTF read on first use.
 *
 *   deno bench -A benchmarks/bpf_loader_bench.ts
 *
 * The per-CPU array is shaped like a backend histogram table: 1024 keys of
 * 64 u64 buckets, one value per possible CPU. "batch" reads it with
 * BPF_MAP_LOOKUP_BATCH, "per key" with one BPF_MAP_LOOKUP_ELEM per key (the
 * fallback where batch lookups are missing); "kept buffers" is `reuse: true`,
 * which allocates nothing per read. The per-syscall cost of the
 * programs themselves is benchmarked by the programs' own bench.
 * @module
 */

import {
  BpfMap,
  BpfProgram,
  Btf,
  exit,
  foldPerCpuU64,
  MapType,
  mov,
  ProgType,
  R0,
  VMLINUX_BTF_PATH,
} from "../ffi/mod.ts";

const one = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
const key = new Uint8Array(4);
const hist = BpfMap.create({
  type: MapType.PERCPU_ARRAY,
  keySize: 4,
  valueSize: 64 * 8,
  maxEntries: 1024,
});
const vmlinux = Deno.readFileSync(VMLINUX_BTF_PATH);

Deno.bench("map lookup: one u64 of an array", { group: "lookup", baseline: true }, () => {
  one.lookup(key);
});

Deno.bench("read 1024 x 64 buckets per CPU: batch", { group: "read", baseline: true }, () => {
  hist.readAll();
});

Deno.bench("read 1024 x 64 buckets per CPU: batch into kept buffers", { group: "read" }, () => {
  hist.readAll({ reuse: true });
});

Deno.bench("read 1024 x 64 buckets per CPU: per key", { group: "read" }, () => {
  hist.readAll({ batch: false });
});

Deno.bench("read 1024 x 64 buckets per CPU: batch + sum over CPUs", { group: "read" }, () => {
  for (const e of hist.readAll().entries) foldPerCpuU64(e.value, 64 * 8);
});

Deno.bench("load and close a 2-instruction program", { group: "load" }, () => {
  BpfProgram.load({
    type: ProgType.RAW_TRACEPOINT,
    name: "bench_load",
    insns: [mov.imm(R0, 0), exit()],
  }).close();
});

Deno.bench("parse vmlinux BTF and find task_struct.tgid", { group: "btf" }, () => {
  new Btf(vmlinux).memberOffset("task_struct", "tgid");
});

Deno.bench("read /sys/kernel/btf/vmlinux", { group: "btf" }, () => {
  Deno.readFileSync(VMLINUX_BTF_PATH);
});
