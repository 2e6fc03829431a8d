import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  MAX_DURATION_MS,
  parseDurationMs,
  parseFlags,
  parsePid,
  parseSizeBytes,
} from "../../../agent/cli/_args.ts";
import { parseArgs as nodeParseArgs } from "node:util";
import { UsageError } from "../../../agent/errors.ts";
import { parseStat } from "../../../agent/trace/proc.ts";
import { summaryText } from "../../../agent/cli/_summary.ts";
import { terminalSafe } from "../../../agent/cli/terminal_safe.ts";
import type { RunDocument } from "../../../schema/mod.ts";

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert(e instanceof UsageError, `expected a UsageError, got ${e}`);
    return e.message;
  }
  throw new Error("expected a UsageError");
}

Deno.test("durations take ms, s, m, h and plain seconds", () => {
  assertEquals(parseDurationMs("500ms"), 500);
  assertEquals(parseDurationMs("30s"), 30_000);
  assertEquals(parseDurationMs("1.5"), 1500);
  assertEquals(parseDurationMs("2m"), 120_000);
  assertEquals(parseDurationMs("1h"), 3_600_000);
});

Deno.test("negative, zero and malformed durations are usage errors", () => {
  for (const bad of ["-1s", "0", "0s", "abc", "10x", ""]) {
    assert(usageError(() => parseDurationMs(bad)).includes("--duration"), bad);
  }
});

Deno.test("sizes use binary units", () => {
  assertEquals(parseSizeBytes("4k", "--block"), 4096);
  assertEquals(parseSizeBytes("1MiB", "--block"), 1 << 20);
  assertEquals(parseSizeBytes("256MiB", "--size"), 256 << 20);
  usageError(() => parseSizeBytes("1 parsec", "--size"));
});

Deno.test("PIDs must be positive whole numbers", () => {
  assertEquals(parsePid("4242"), 4242);
  for (const bad of ["0", "-5", "abc", "1.5", "99999999"]) usageError(() => parsePid(bad));
});

Deno.test("stat parsing survives a comm with spaces and parentheses", () => {
  const line =
    "4242 (evil) (name x) S 1 4242 4242 0 -1 4194560 1234 0 7 0 10 20 0 0 20 0 1 0 1 0 0";
  const st = parseStat(line);
  assert(st);
  assertEquals(st.comm, "evil) (name x");
  assertEquals(st.state, "S");
  assertEquals(st.minflt, 1234);
  assertEquals(st.majflt, 7);
});

Deno.test("terminal output has no control characters from the target", () => {
  assertEquals(terminalSafe("a\x1b[31mred\x07\n"), "a?[31mred??");
});

Deno.test("the summary fits 80 columns and sorts syscalls by total time", () => {
  const stats = (count: number, total_ns: number) => ({
    count,
    errors: 0,
    bytes: count * 4096,
    total_ns,
    p50_ns: 1000,
    p90_ns: 2000,
    p99_ns: 3000,
    p999_ns: 9000,
    max_ns: 123_456_789,
    buckets: [],
  });
  const run: RunDocument = {
    schema: "ioscope.run/2",
    meta: {
      pid: 1,
      pids: [1],
      comm: "x".repeat(100),
      cmdline: "",
      host: "h",
      kernel: "k",
      backend: "bpftrace",
      started_at: "",
      duration_s: 1,
      target_exited: false,
      lost_events: 0,
      unsupported: [{ metric: "tlb.dtlb_load_misses", reason: "no PMU ".repeat(30) }],
      end_reason: "duration",
      attach_s: 0.3,
    },
    syscalls: { read: stats(10, 100), copy_file_range: stats(123_456_789, 9e12) },
    io_uring: {},
    copy: { copied_bytes: 1, zero_copy_bytes: 1, zero_copy_ratio: 0.5 },
    faults: { minor: 1, major: 0, total: 1 },
    tlb: { flushes: 0, by_reason: {}, dtlb_load_misses: null },
    sched: { voluntary: 1, involuntary: 2 },
    timeline: [],
  };
  const lines = summaryText(run).split("\n");
  for (const l of lines) assert(l.length <= 80, `too wide (${l.length}): ${l}`);
  const first = lines.findIndex((l) => l.startsWith("copy_file_range"));
  const second = lines.findIndex((l) => l.startsWith("read "));
  assert(first > 0 && second > first, "sorted by total time");
});

// parseFlags is our own (node:util costs 30 ms and more at start-up); node's
// parseArgs in strict mode is the reference it must agree with.
const TABLE = {
  pid: { type: "string" as const },
  follow: { type: "boolean" as const, default: false },
  backend: { type: "string" as const, default: "auto" },
  user: { type: "string" as const, short: "u" },
  json: { type: "boolean" as const },
};

function nodeParse(args: string[], allowPositionals: boolean) {
  try {
    const r = nodeParseArgs({ args, options: TABLE, allowPositionals, strict: true });
    return { values: { ...r.values }, positionals: r.positionals };
  } catch {
    return "error";
  }
}

function ourParse(args: string[], allowPositionals: boolean) {
  try {
    const r = parseFlags(args, TABLE, allowPositionals);
    return { values: { ...r.values }, positionals: r.positionals };
  } catch (e: unknown) {
    assert(e instanceof UsageError, `a UsageError, not ${e}`);
    assert(!e.message.includes("\n"), "one line");
    return "error";
  }
}

Deno.test("parseFlags reads arguments as node:util parseArgs does (strict)", () => {
  const cases: string[][] = [
    [],
    ["--pid", "42"],
    ["--pid=42", "--follow"],
    ["--pid", "1", "--pid", "2"],
    ["-u", "root", "--pid", "3"],
    ["-uroot"],
    ["--user=", "x"],
    ["--backend", "bpf", "pos"],
    ["pos", "--", "--pid", "x"],
    ["-"],
    ["--pid"],
    ["-u"],
    ["--follow=yes"],
    ["--pid", "--follow"],
    ["--pid", "-"],
    ["--json", "--follow"],
  ];
  for (const allow of [true, false]) {
    for (const args of cases) {
      assertEquals(ourParse(args, allow), nodeParse(args, allow), `${args.join(" ")} (${allow})`);
    }
  }
});

Deno.test("parseFlags takes a negative number as its option's value, to be refused there", () => {
  assertEquals(parseFlags(["--pid", "-3"], TABLE).values.pid, "-3");
  assertEquals(parseFlags(["--pid", "-3s"], TABLE).values.pid, "-3s");
});

Deno.test("parseFlags names a missing value and a stray argument in one line", () => {
  const missing = ourError(["--pid"]);
  assertEquals(missing, "Option '--pid <value>' argument missing; see --help");
  assertEquals(ourError(["-u"]), "Option '-u, --user <value>' argument missing; see --help");
  assertEquals(
    ourError(["stray"]),
    "Unexpected argument 'stray'. This command does not take positional arguments; see --help",
  );
});

function ourError(args: string[]): string {
  try {
    parseFlags(args, TABLE);
  } catch (e: unknown) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  throw new Error(`${args.join(" ")} parsed`);
}

Deno.test("parseDurationMs refuses what a timer cannot wait: 600h (over 2^31 ms) is an error", () => {
  assertEquals(parseDurationMs("168h"), MAX_DURATION_MS);
  assert(MAX_DURATION_MS < 2 ** 31, "below setTimeout's limit");
  assert(usageError(() => parseDurationMs("600h")).includes("at most 7 days"));
  assert(usageError(() => parseDurationMs("2147484s")).includes("at most 7 days"));
});
