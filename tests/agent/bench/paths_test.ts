import { assert, assertEquals } from "../../_helpers/assert.ts";
import { BlockDigest, blockFingerprint, fileDigest } from "../../../agent/bench/checksum.ts";
import { type PathSpec, preparePath, SCENARIO_PATHS } from "../../../agent/bench/paths.ts";
import { forEachLine } from "../../../agent/trace/read_lines.ts";
import { type Fd, localPort, read, tcpConnect } from "../../../ffi/mod.ts";
import { allocPages, POLLIN, pollOne } from "../../../ffi/mod.ts";

const SINK = new URL("../../../agent/bench/sink.ts", import.meta.url).pathname;

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
