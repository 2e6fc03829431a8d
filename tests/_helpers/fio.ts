/**
 * fio as the independent reference: a job started with a delay (`--startdelay`)
 * so the tracers given attach before its first I/O, traced by `ioscope trace
 * --pid` with each backend at once, until fio exits.
 * @module
 */

import { assert, assertEquals } from "./assert.ts";
import { leftovers, spawnCli } from "./common.ts";
import type { RunDocument } from "../../schema/mod.ts";

/** fio's figures for the reads of its first job (`jobs[0].read` of `--output-format=json`). */
export interface FioRead {
  total_ios: number;
  iops: number;
  runtime: number;
  clat_ns: { percentile: Record<string, number> };
  lat_ns: { percentile: Record<string, number> };
}

/** A directory on a disk filesystem (O_DIRECT needs one: tmpfs refuses it). */
export function diskDir(): { path: string } & AsyncDisposable {
  const path = Deno.makeTempDirSync({ dir: "/var/tmp", prefix: "ioscope-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Runs `argv` (a fio command line with `--startdelay=startDelayS` and
 * `--output-format=json --output=DIR/fio.json`) while each backend traces it.
 * @param dir where the Run documents go, and fio's output
 * @param argv the command, fio (or a wrapper such as nice) first
 * @param backends the backends, traced at once
 * @param startDelayS fio's start delay: every tracer must attach within it
 * @returns fio's reads and each backend's Run document
 */
export async function traceFio(
  dir: string,
  argv: string[],
  backends: readonly ("bpf" | "bpftrace" | "ftrace")[],
  startDelayS: number,
): Promise<{ fio: FioRead; runs: Map<string, RunDocument> }> {
  const [cmd = "fio", ...args] = argv;
  const fio = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).spawn();
  const started = performance.now();
  const clis = backends.map((backend) => ({
    backend,
    cli: spawnCli([
      "trace",
      "--pid",
      String(fio.pid),
      "--backend",
      backend,
      "--json",
      `${dir}/${backend}.json`,
    ]),
  }));
  for (const { cli } of clis) await cli.waitForStderr("Tracing pid", 30_000);
  const attachedS = (performance.now() - started) / 1000;
  const out = await fio.output();
  assert(out.success, `fio failed: ${new TextDecoder().decode(out.stderr)}`);
  assert(
    attachedS < startDelayS - 0.2,
    `attaching took ${attachedS.toFixed(1)} s; fio started at ${startDelayS} s`,
  );
  const runs = new Map<string, RunDocument>();
  for (const { backend, cli } of clis) {
    const result = await cli.done;
    assertEquals(result.code, 0, `${backend}: ${result.stderr}`);
    assertEquals(leftovers(cli.child.pid), [], backend);
    runs.set(backend, JSON.parse(Deno.readTextFileSync(`${dir}/${backend}.json`)));
  }
  return { fio: JSON.parse(Deno.readTextFileSync(`${dir}/fio.json`)).jobs[0].read, runs };
}
