/**
 * What the page-cache module (probes/bpf/_page_cache.ts) costs the process
 * whose reads add pages: a reader (benchmarks/page_cache_reader.py) reads a
 * 256 MiB file cold, pass after pass (its pages dropped before each), from
 * ext4 on a loop device over a file in /dev/shm, so that the pages come in
 * at memory speed and the module's share is as large as it gets (from a
 * disk it is smaller still). Twice: with ext4's defaults (large folios on
 * 6.16 and later: one run of the program per folio) and mounted
 * data=journal (4 KiB pages, as ext4 before 6.16: one run per page). Traced by the bpf backend with the module and
 * without it, rounds alternating (the order swapped each round), three
 * passes each; the medians: the difference of the pass medians per page
 * added is the module's cost, the tracepoint's own work (filling its record)
 * included. Then a pass apart under the kernel's BPF run-time statistics
 * (they add two clock reads to every run of every program, ~45 ns here:
 * benchmarks/bpf_helper_costs.ts, so not during the timed passes) gives the
 * program's runs and ns per run, and its map the pages it counted.
 *
 *   deno run -A benchmarks/page_cache_cost.ts [--rounds 5] [--passes 3]   (root)
 * @module
 */

import { parseArgs } from "node:util";
import { enableStats, Fd, progGetFdById, progInfo } from "../ffi/mod.ts";
import { startBpf } from "../agent/trace/backends/bpf.ts";
import { pageCache } from "../probes/bpf/mod.ts";
import type { PageCacheRead } from "../probes/snapshot.ts";
import { median } from "../report/trend.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    passes: { type: "string", default: "3" },
  },
});
const ROUNDS = Number(values.rounds);
const PASSES = Number(values.passes);
const FILE_MIB = 256;

function sh(cmd: string, args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** The reader, driven a pass at a time. */
class Reader {
  #child: Deno.ChildProcess;
  #out: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #text = "";
  #decoder = new TextDecoder();

  constructor(file: string) {
    this.#child = new Deno.Command("python3", {
      args: [new URL("./page_cache_reader.py", import.meta.url).pathname, file],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    this.#out = this.#child.stdout.getReader();
    this.#writer = this.#child.stdin.getWriter();
  }

  /** Its next line. */
  async line(): Promise<string> {
    while (!this.#text.includes("\n")) {
      const { value, done } = await this.#out.read();
      if (done) throw new Error("the reader ended");
      this.#text += this.#decoder.decode(value, { stream: true });
    }
    const at = this.#text.indexOf("\n");
    const line = this.#text.slice(0, at);
    this.#text = this.#text.slice(at + 1);
    return line;
  }

  /** One cold pass: its wall time in ns. */
  async pass(): Promise<number> {
    await this.#writer.write(new TextEncoder().encode("pass\n"));
    const [, ns, bytes] = (await this.line()).split(" ");
    if (Number(bytes) !== FILE_MIB << 20) throw new Error(`a pass read ${bytes} bytes`);
    return Number(ns);
  }

  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#out.cancel().catch(() => {});
    await this.#child.status;
  }
}

interface Cell {
  passNs: number[];
  runs: number[];
  nsPerRun: number[];
  pages: number[];
}

/**
 * The two modes on one filesystem, alternating.
 * @param options the ext4 mount options ("" for the defaults)
 * @returns the lines to print
 */
async function measure(options: string): Promise<string[]> {
  const image = Deno.makeTempFileSync({ dir: "/dev/shm", prefix: "ioscope-pcbench-" });
  const mnt = Deno.makeTempDirSync({ prefix: "ioscope-pcbench-" });
  let loop = "";
  let mounted = false;
  let reader: Reader | null = null;
  try {
    sh("truncate", ["-s", `${FILE_MIB + 128}M`, image]);
    loop = sh("losetup", ["--find", "--show", image]);
    sh("mkfs.ext4", ["-q", "-F", loop]);
    sh("mount", [...(options ? ["-o", options] : []), loop, mnt]);
    mounted = true;
    const file = `${mnt}/data`;
    sh("dd", ["if=/dev/urandom", `of=${file}`, "bs=1M", `count=${FILE_MIB}`, "status=none"]);
    sh("sync", []);
    reader = new Reader(file);
    const ready = await reader.line();
    if (!ready.startsWith("ready ")) throw new Error(ready);
    const pid = Number(ready.split(" ")[1]);
    await reader.pass(); // warm the reader's own code
    const cells: Record<"without" | "with", Cell> = {
      without: { passNs: [], runs: [], nsPerRun: [], pages: [] },
      with: { passNs: [], runs: [], nsPerRun: [], pages: [] },
    };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ["without", "with"] as const : ["with", "without"] as const;
      for (const mode of order) {
        const backend = startBpf({ pids: [pid], modules: mode === "with" ? [pageCache] : [] });
        try {
          const passes: number[] = [];
          for (let i = 0; i < PASSES; i++) passes.push(await reader.pass());
          cells[mode].passNs.push(median(passes));
        } finally {
          await backend.stop();
        }
      }
    }
    // The program's runs, apart: the statistics' clock reads slow every run.
    const w = cells.with, wo = cells.without;
    {
      using _stats = new Fd(enableStats(), "BPF stats");
      const backend = startBpf({ pids: [pid], modules: [pageCache] });
      try {
        using prog = backend.objectIds().programs.flatMap((id) => progGetFdById(id) ?? [])
          .map((fd) => new Fd(fd, "program"))
          .find((p) => progInfo(p.fd).name === "ios_pagecache");
        if (!prog) throw new Error("the module's program is not loaded");
        const b = progInfo(prog.fd);
        for (let i = 0; i < PASSES; i++) await reader.pass();
        const a = progInfo(prog.fd);
        w.runs.push((a.runCnt - b.runCnt) / PASSES);
        w.nsPerRun.push((a.runTimeNs - b.runTimeNs) / Math.max(a.runCnt - b.runCnt, 1));
        const read = backend.modules()[pageCache.name] as PageCacheRead;
        w.pages.push(read.files.reduce((t, f) => t + f.pages, read.lostPages) / PASSES);
      } finally {
        await backend.stop();
      }
    }
    const mibS = (ns: number) => (FILE_MIB / (ns / 1e9)).toFixed(0);
    const ms = (xs: number[]) => xs.map((x) => (x / 1e6).toFixed(0)).join(" ");
    const runs = median(w.runs), ns = median(w.nsPerRun), pages = median(w.pages);
    return [
      `ext4 -o ${options || "defaults"}, ${ROUNDS} rounds of ${PASSES} passes, load ${
        Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
      }`,
      `  without the module: ${mibS(median(wo.passNs))} MiB/s (pass medians ${ms(wo.passNs)} ms)`,
      `  with the module:    ${mibS(median(w.passNs))} MiB/s (pass medians ${ms(w.passNs)} ms)`,
      `  the module: ${
        ((median(w.passNs) - median(wo.passNs)) / pages).toFixed(0)
      } ns per page added, from the pass medians`,
      `  ios_pagecache: ${runs.toFixed(0)} runs per ${FILE_MIB} MiB pass, ${
        pages.toFixed(0)
      } pages counted (${(pages / runs).toFixed(1)} per run), ${
        ns.toFixed(0)
      } ns per run with the statistics' own (a pass apart)`,
    ];
  } finally {
    await reader?.close();
    if (mounted) sh("umount", [mnt]);
    if (loop) sh("losetup", ["--detach", loop]);
    Deno.removeSync(image);
    Deno.removeSync(mnt);
  }
}

// ext4's defaults add large folios from 6.16; data=journal keeps 4 KiB
// pages, as ext4 did before 6.16 (a run per page: the module's worst case).
for (const options of ["", "data=journal"]) {
  for (const line of await measure(options)) console.log(line);
}
