import { assert, assertEquals } from "../../_helpers/assert.ts";
import { BlockDigest, blockFingerprint, fileDigest } from "../../../agent/bench/_checksum.ts";
import { type PathSpec, preparePath, SCENARIO_PATHS } from "../../../agent/bench/paths.ts";
import { forEachLine } from "../../../agent/trace/read_lines.ts";
import {
  allocPages,
  type Fd,
  localPort,
  O_WRONLY,
  openFile,
  POLLIN,
  pollOne,
  read,
  tcpConnect,
  threadCpuSeconds,
} from "../../../ffi/mod.ts";

const SINK = new URL("../../../agent/bench/_sink.ts", import.meta.url).pathname;

/** A file of random bytes whose size is not a multiple of the block size. */
async function dataFile(size: number): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempFile({ prefix: "ioscope-bench-test-" });
  const data = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536));
  await Deno.writeFile(path, data);
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path) };
}

function fdCount(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

const SIZE = 7 * 65536 + 12_345;

for (const path of SCENARIO_PATHS.scan) {
  for (const blockSize of [65536, 10_000]) {
    Deno.test(`scan ${path} (${blockSize}-byte blocks) delivers every block of the file, twice`, async () => {
      await using f = await dataFile(SIZE);
      const want = await fileDigest(f.path, blockSize);
      const fds = fdCount();
      const spec: PathSpec = {
        scenario: "scan",
        path,
        file: f.path,
        fileSize: SIZE,
        blockSize,
        queueDepth: 3,
      };
      {
        using p = preparePath(spec);
        for (let pass = 0; pass < 2; pass++) {
          const digest = new BlockDigest(blockSize);
          let fp = 0;
          const c = p.run((i, data) => {
            digest.add(i, data);
            fp = (fp + blockFingerprint(i, data)) >>> 0;
          });
          assertEquals(c.bytes, SIZE, `pass ${pass}: bytes`);
          assertEquals(digest.hex(), want.digest, `pass ${pass}: checksum`);
          assert(c.calls >= 1, "counts its calls");
          if (path === "read" || path === "readv") {
            assertEquals(c.calls, Math.ceil(SIZE / blockSize), "one call per block");
          }
          assert(fp !== 0, "fingerprint");
        }
        assertEquals(p.finish(), path === "mmap" ? 1 : 0, "finish unmaps what run mapped");
        assertEquals(p.finish(), 0, "and only once");
      }
      assertEquals(fdCount(), fds, "the file, ring and buffers are closed");
    });
  }
}

/** The real sink process: listens, prints its port, then the digest of what it got. */
function startSink(fileSize: number, blockSize: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SINK, JSON.stringify({ fileSize, blockSize })],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const done = forEachLine(child.stdout, (l) => lines.push(l));
  return {
    async port(): Promise<number> {
      while (lines.length === 0) await new Promise((r) => setTimeout(r, 10));
      return (JSON.parse(lines[0]!) as { port: number }).port;
    },
    async result(): Promise<{ bytes: number; digest: string }> {
      await child.status;
      await done;
      return JSON.parse(lines[1] ?? "null");
    },
    child,
  };
}

const SERVE_CASES = [
  { size: SIZE, blockSize: 10_000 },
  // Bigger than the socket buffers: sends wait for the sink, io_uring SENDs are retried.
  { size: (8 << 20) + 777, blockSize: 1 << 20 },
];

for (const path of SCENARIO_PATHS.serve) {
  for (const { size: SIZE, blockSize } of SERVE_CASES) {
    Deno.test(`serve ${path} sends a ${SIZE}-byte file to a sink process, byte for byte`, async () => {
      await using f = await dataFile(SIZE);
      const want = await fileDigest(f.path, blockSize);
      const fds = fdCount();
      const sink = startSink(SIZE, blockSize);
      let conn: Fd | null = null;
      try {
        conn = tcpConnect(await sink.port());
        assert(localPort(conn.fd) > 0);
        {
          using p = preparePath({
            scenario: "serve",
            path,
            file: f.path,
            fileSize: SIZE,
            blockSize,
            queueDepth: 4,
          }, conn);
          const c = p.run();
          assertEquals(c.bytes, SIZE);
        }
        assert(pollOne(conn.fd, POLLIN, 10_000) & POLLIN, "the sink acknowledges");
        using ack = allocPages(4096);
        assertEquals(read(conn.fd, ack.pointer, 16), 1);
      } finally {
        conn?.close();
      }
      const got = await sink.result();
      assertEquals(got, { bytes: SIZE, digest: want.digest });
      assertEquals(fdCount(), fds, "no descriptor left");
    });
  }
}

Deno.test("an unknown path is refused", () => {
  let err: unknown = null;
  try {
    preparePath({
      scenario: "scan",
      path: "carrier-pigeon",
      file: "/proc/self/stat",
      fileSize: 1,
      blockSize: 4096,
      queueDepth: 1,
    });
  } catch (e: unknown) {
    err = e;
  }
  assert(err instanceof RangeError && /carrier-pigeon/.test(err.message), String(err));
});

Deno.test("a scan of a file that shrank says where it ended", async () => {
  await using f = await dataFile(4096);
  using p = preparePath({
    scenario: "scan",
    path: "read",
    file: f.path,
    fileSize: 3 * 4096,
    blockSize: 4096,
    queueDepth: 1,
  });
  let err: unknown = null;
  try {
    p.run();
  } catch (e: unknown) {
    err = e;
  }
  assert(err instanceof Error && /ended at byte 4096/.test(err.message), String(err));
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Median absolute deviation: the spread of the rounds around their median. */
function spread(xs: number[]): number {
  const m = median(xs);
  return median(xs.map((x) => Math.abs(x - m)));
}

// The cause behind "zero-copy costs less CPU", measured where TCP does not
// drown it. On loopback TCP the serve worker's CPU is mostly TCP transmit and
// the receive softirq it runs for the sink, the same for every path, and the
// order of the paths' CPU per GiB changes from run to run (BENCHMARKS.md). Into
// /dev/null, which takes a write without reading it, what is left is what the
// path itself does: read+write copies every byte once, file -> user buffer;
// sendfile and splice move page references through a pipe and copy nothing.
// Measured here (2-core VM, other helpers' tests running, 128 MiB from
// /dev/shm, 1 MiB blocks, the calling thread's CPU by CLOCK_THREAD_CPUTIME_ID,
// medians of 9 rounds, four runs): read 0.14-0.21 s/GiB, sendfile 0.046-0.053,
// splice 0.051-0.060: read 2.8-4.0x each, the gap 10-20x the larger spread
// (median absolute deviation 0.004-0.010). With splice swapped for readv (a
// copy through user memory) it failed: read 0.138, "splice" 0.133 s/GiB.
// io_uring_splice is left out: io_uring runs file splices in its io-wq
// workers, not on the calling thread this measures; mmap too: its write from
// the mapping into /dev/null touches no page (0.005 s/GiB), unlike into TCP.
Deno.test("serve into /dev/null: read+write costs 2x the CPU of sendfile and splice, which copy nothing", () => {
  const size = 128 << 20;
  const file = `/dev/shm/ioscope-bench-test-${Deno.pid}`;
  const block = new Uint8Array(1 << 20);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let o = 65536; o < block.length; o *= 2) block.copyWithin(o, 0, o);
  const out = Deno.openSync(file, { write: true, createNew: true });
  try {
    for (let o = 0; o < size; o += block.length) out.writeSync(block);
  } finally {
    out.close();
  }
  const rounds: Record<string, number[]> = { read: [], sendfile: [], splice: [] };
  try {
    using sink = openFile("/dev/null", { flags: O_WRONLY });
    const names = Object.keys(rounds);
    for (let round = 0; round < 9; round++) {
      // Each round in another order, so no path always runs after the same one.
      for (let k = 0; k < names.length; k++) {
        const path = names[(k + round) % names.length]!;
        using p = preparePath({
          scenario: "serve",
          path,
          file,
          fileSize: size,
          blockSize: 1 << 20,
          queueDepth: 1,
        }, sink);
        const c0 = threadCpuSeconds();
        assertEquals(p.run().bytes, size, path);
        rounds[path]!.push((threadCpuSeconds() - c0) / (size / 2 ** 30));
      }
    }
  } finally {
    Deno.removeSync(file);
  }
  const fmt = (p: string) =>
    `${p} ${median(rounds[p]!).toFixed(3)} s/GiB (${rounds[p]!.map((x) => x.toFixed(3))})`;
  const figures = Object.keys(rounds).map(fmt).join("; ");
  const read = median(rounds.read!);
  for (const zc of ["sendfile", "splice"]) {
    const m = median(rounds[zc]!);
    assert(read >= 2 * m, `read+write costs 2x ${zc}: ${figures}`);
    const noise = Math.max(spread(rounds.read!), spread(rounds[zc]!));
    assert(read - m >= 5 * noise, `the gap to ${zc} is 5x the spread of the rounds: ${figures}`);
  }
});
