/**
 * The block layer's own time for the reads of one file, as an independent
 * reference: `block_rq_issue` -> `block_rq_complete` of each read request
 * for the file's sectors, recorded by a tracefs instance of the test's own
 * (none of ioscope's code: its events, its filter, its text parsed here).
 * Every request lies inside the I/O that asked for it, so a tracer's time
 * for those I/Os (from before they reach the block layer to after they
 * complete) is never below the block layer's, request by request.
 * @module
 */

import { assert } from "./assert.ts";

const TRACING = "/sys/kernel/tracing";

/** One request as the block layer timed it. */
export interface BlockRead {
  /** issue -> complete, ns (the trace's text gives microseconds) */
  ns: number;
  /** how many of the workload's I/Os of `ioBytes` it carried (merged requests carry several) */
  ios: number;
}

/** A range of the device's sectors, end exclusive. */
type Extent = [number, number];

/** The file's extents in the whole disk's 512-byte sectors, and that disk's kernel dev_t. */
function fileSectors(file: string): { dev: number; name: string; extents: Extent[] } {
  // Written data has its blocks once written back (ext4 allocates late).
  using f = Deno.openSync(file, { read: true, write: true });
  f.syncSync();
  const st = f.statSync();
  const d = st.dev;
  // glibc's dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31.
  let major = Math.floor(d / 256) & 0xfff;
  let minor = (d & 0xff) | (Math.floor(d / 4096) & 0xfff00);
  let offset = 0;
  const sys = `/sys/dev/block/${major}:${minor}`;
  try {
    // A partition: its sectors count from the disk's start, and the disk issues.
    offset = Number(Deno.readTextFileSync(`${sys}/start`).trim());
    [major, minor] = Deno.readTextFileSync(`${sys}/../dev`).trim().split(":").map(Number) as [
      number,
      number,
    ];
  } catch {
    // a whole disk
  }
  const out = new Deno.Command("filefrag", { args: ["-e", "-b512", file] }).outputSync();
  assert(out.success, `filefrag ${file}: ${new TextDecoder().decode(out.stderr)}`);
  const extents: Extent[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^\s*\d+:\s+\d+\.\.\s*\d+:\s+(\d+)\.\.\s*(\d+):/.exec(line);
    if (m && !line.includes("unknown_loc")) {
      extents.push([Number(m[1]) + offset, Number(m[2]) + 1 + offset]);
    }
  }
  assert(extents.length > 0, `no extents for ${file}`);
  return { dev: major * (1 << 20) + minor, name: `${major},${minor}`, extents };
}

/**
 * Opens a tracefs instance of the test's own at `dir` on the block `events`
 * of the device `dev` (its dev_t as tracepoints record it: major << 20 | minor).
 */
function openInstance(dir: string, dev: number, events: readonly string[]): void {
  Deno.mkdirSync(dir);
  const w = (path: string, text: string) => Deno.writeTextFileSync(`${dir}/${path}`, text);
  try {
    // One clock for every CPU: a request is issued on one and completes on another.
    w("trace_clock", "mono");
    w("buffer_size_kb", "65536");
    for (const ev of events) {
      w(`events/block/${ev}/filter`, `dev == ${dev}`);
      w(`events/block/${ev}/enable`, "1");
    }
    w("tracing_on", "1");
  } catch (e) {
    closeInstance(dir, events);
    throw e;
  }
}

/** Stops the instance at `dir` and returns its text; fails when the buffer overran. */
function stopInstance(dir: string): string {
  Deno.writeTextFileSync(`${dir}/tracing_on`, "0");
  const text = Deno.readTextFileSync(`${dir}/trace`);
  const header = /entries-in-buffer\/entries-written: (\d+)\/(\d+)/.exec(text);
  assert(header && header[1] === header[2], `block trace overran: ${header?.[0]}`);
  return text;
}

/** Turns the instance's events off and removes it. */
function closeInstance(dir: string, events: readonly string[]): void {
  try {
    Deno.writeTextFileSync(`${dir}/tracing_on`, "0");
  } catch {
    // never enabled
  }
  for (const ev of events) {
    try {
      Deno.writeTextFileSync(`${dir}/events/block/${ev}/enable`, "0");
    } catch {
      // never enabled
    }
  }
  Deno.removeSync(dir);
}

const READ_EVENTS = ["block_rq_issue", "block_rq_complete"] as const;

/**
 * Records the block layer's read requests for `file` until stopped.
 * Start it once the file is written, before the workload reads it.
 */
export class BlockReads implements Disposable {
  #dir: string;
  #file: ReturnType<typeof fileSectors>;

  /** @param file the file the workload reads (on a block device) */
  constructor(file: string) {
    this.#file = fileSectors(file);
    this.#dir = `${TRACING}/instances/iotest-blk-${Deno.pid}`;
    openInstance(this.#dir, this.#file.dev, READ_EVENTS);
  }

  /**
   * Stops recording and pairs each read's completion with its issue.
   * @param ioBytes the workload's I/O size (a request of n of them counts n)
   * @returns the requests, in completion order; fails when the buffer overran
   */
  stop(ioBytes: number): BlockRead[] {
    const text = stopInstance(this.#dir);
    const inFile = (sector: number) =>
      this.#file.extents.some(([lo, hi]) => sector >= lo && sector < hi);
    const issued = new Map<number, number>();
    const reads: BlockRead[] = [];
    const re = /\s(\d+)\.(\d{6}): block_rq_(issue|complete): (\d+,\d+) (\S+) .*?\) (\d+) \+ (\d+)/;
    for (const line of text.split("\n")) {
      const m = re.exec(line);
      if (!m) continue;
      const [, secs = "", usecs = "", kind, dev, rwbs = "", start = "", sectors = ""] = m;
      if (dev !== this.#file.name || !rwbs.startsWith("R")) continue;
      const us = Number(secs) * 1e6 + Number(usecs);
      const sector = Number(start);
      if (!inFile(sector)) continue;
      if (kind === "issue") {
        // A requeued request is issued again: its time counts from the last issue.
        issued.set(sector, us);
      } else {
        const from = issued.get(sector);
        if (from === undefined) continue; // issued before the trace began
        issued.delete(sector);
        reads.push({ ns: (us - from) * 1000, ios: Number(sectors) * 512 / ioBytes });
      }
    }
    return reads;
  }

  /** Turns the events off and removes the instance. */
  [Symbol.dispose](): void {
    closeInstance(this.#dir, READ_EVENTS);
  }
}

/**
 * Records the task each of a block device's request completions ran on
 * (`block_rq_complete`: the thread the kernel was running when it completed
 * the request, in an interrupt or a softirq often), until stopped.
 */
export class BlockCompletions implements Disposable {
  #dir = `${TRACING}/instances/iotest-done-${Deno.pid}`;

  /** @param name the device as /sys/block names it */
  constructor(name: string) {
    const [major = NaN, minor = NaN] = Deno.readTextFileSync(`/sys/block/${name}/dev`).trim()
      .split(":").map(Number);
    openInstance(this.#dir, major * (1 << 20) + minor, ["block_rq_complete"]);
  }

  /**
   * Stops recording.
   * @returns the thread id current at each completion (0: the idle task)
   */
  stop(): number[] {
    const tids: number[] = [];
    for (const line of stopInstance(this.#dir).split("\n")) {
      const m = /^\s*.*-(\d+)\s+\[\d+\].*\sblock_rq_complete: /.exec(line);
      if (m) tids.push(Number(m[1]));
    }
    return tids;
  }

  /** Turns the event off and removes the instance. */
  [Symbol.dispose](): void {
    closeInstance(this.#dir, ["block_rq_complete"]);
  }
}

/**
 * A percentile of the requests' times, each weighted by the I/Os it carried.
 * @param reads the requests
 * @param q the percentile, 0-100
 * @returns ns
 */
export function blockPercentile(reads: readonly BlockRead[], q: number): number {
  const sorted = [...reads].sort((a, b) => a.ns - b.ns);
  const total = sorted.reduce((n, r) => n + r.ios, 0);
  let seen = 0;
  for (const r of sorted) {
    seen += r.ios;
    if (seen >= total * q / 100) return r.ns;
  }
  return sorted.at(-1)?.ns ?? 0;
}
