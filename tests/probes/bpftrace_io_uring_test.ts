// The bpftrace parser fills `io_uring` from probes/io_uring.bt's maps
// (recorded from the program run by hand on fio; see tests/testdata/README.md).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { BpftraceParser } from "../../probes/bpftrace.ts";
import { ioUringOpName } from "../../schema/io_uring.ts";

const lines = Deno.readTextFileSync(
  new URL("../testdata/bpftrace_fio_uring.jsonl", import.meta.url),
).split("\n");
const total = JSON.parse(lines[0] ?? "{}").data.fio_total_ios as number;

Deno.test("io_uring.bt maps: READ count, bytes and buckets match fio's I/Os", () => {
  const parser = new BpftraceParser();
  for (const line of lines) parser.feed(line);
  const s = parser.final();
  const read = s.io_uring.get("READ");
  assert(read, "READ parsed");
  assertEquals(read.count, total);
  assertEquals(read.bytes, total * 4096);
  assertEquals(read.errors, 0);
  assertEquals(
    [...read.hist.values()].reduce((a, b) => a + b, 0),
    total,
    "every request in a bucket",
  );
  assert(read.max_ns > 0 && read.total_ns > read.max_ns);
  // The recording's last @uring_async is {"22": 1}: one READ went to an async worker.
  assertEquals(read.async, 1, "async punts parsed");
  assertEquals(s.syscalls.size, 0, "no syscall maps in this program");
  assertEquals(parser.strays, [], "every line understood");
});

Deno.test("a later print replaces the histogram instead of adding to it", () => {
  const parser = new BpftraceParser();
  parser.feed('{"type": "map", "data": {"@uring_hist": {"23,100": 5, "23,101": 1}}}');
  parser.feed('{"type": "map", "data": {"@uring_hist": {"23,100": 7}}}');
  assertEquals([...(parser.final().io_uring.get("WRITE")?.hist ?? [])], [[100, 7]]);
});

Deno.test("opcode names follow the kernel's io_uring_op enum", () => {
  assertEquals(
    [1, 2, 4, 22, 23, 26, 27, 30, 47, 49, 62].map(ioUringOpName),
    [
      "READV",
      "WRITEV",
      "READ_FIXED",
      "READ",
      "WRITE",
      "SEND",
      "RECV",
      "SPLICE",
      "SEND_ZC",
      "READ_MULTISHOT",
      "PIPE",
    ],
  );
  assertEquals(ioUringOpName(200), "OP_200");
});
