/**
 * The bpf backend's cost per syscall, from `deno bench` of
 * benchmarks/bpf_programs_bench.ts (batches of 100 preads), as table rows
 * for BENCHMARKS.md.
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;
/** Calls per bench iteration in bpf_programs_bench.ts. */
const BATCH = 100;

/** One bench row: ns per call, the fastest batch and the 75th percentile. */
export interface PerCallRow {
  name: string;
  minNs: number;
  p75Ns: number;
}

/**
 * Runs the bench and reads its JSON.
 * @returns one row per setup, in bench order
 */
export async function measureBpfPerCall(): Promise<PerCallRow[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "-A", "--json", `${ROOT}benchmarks/bpf_programs_bench.ts`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const doc = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    benches: { name: string; results: { ok?: { min: number; p75: number } }[] }[];
  };
  return doc.benches.flatMap((b) => {
    const r = b.results[0]?.ok;
    return r
      ? [{ name: b.name.replace(`${BATCH} x `, ""), minNs: r.min / BATCH, p75Ns: r.p75 / BATCH }]
      : [];
  });
}
