/**
 * The kernel matrix (`deno task test:kernels [5.10 6.1 6.12 host]`): the bpf
 * backend's exact-count tests on Debian's stock kernels, each booted in a
 * QEMU TCG guest with this host's root read-only over 9p (vm.ts), and on the
 * host. Installs qemu-system-x86 and busybox-static if missing, fetches the
 * kernels (fetch.ts, cached), and prints a table: kernel, attach path taken,
 * where starts live, tests passed and failed. Exit 1 when any row fails.
 *
 * Options: `--timeout S` per guest (default 1500), `--verbose` echoes the
 * guests' consoles (each is also kept in /var/cache/ioscope-kernels/logs/).
 * @module
 */

import { CACHE, fetchKernel, KERNELS } from "./fetch.ts";
import { exists } from "../../agent/exists.ts";
import { bootAndRun } from "./vm.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/**
 * The part of the suite run on each kernel: exact counts, both attach paths
 * (counts, and latencies of a timer-set call), kill -9, 32-bit syscalls
 * (int 0x80, every backend), the attach path decided by probing.
 */
export const SUITE = {
  files: [
    "tests/agent/trace/backends/bpf_test.ts",
    "tests/agent/trace/backends/bpf_known_io_test.ts",
    "tests/ffi/bpf/features_test.ts",
    "tests/agent/trace/backends/compat_int80_test.ts",
    "tests/agent/trace/backends/bpf_fentry_timer_test.ts",
    "tests/agent/trace/backends/bpf_attach_probe_test.ts",
    "tests/agent/trace/backends/bpf_compat_test.ts",
  ],
  filter:
    "/dd's|known workload|fentry and raw_tp|kill -9|feature|int 0x80|timer-set readv|by probing|TS_COMPAT at/",
};

/**
 * The script run on each kernel (in the guest's chroot, or on the host).
 * @param guest true in a TCG guest: IOSCOPE_TCG=1 tells the tests that latencies mean nothing
 * @returns the /bin/sh script
 */
export function script(guest = true): string {
  const deno = Deno.execPath();
  const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
  const flags = "-A --no-check --cached-only --no-lock";
  return [
    // A checkout under /tmp, /run or /dev/shm is hidden by the guest's tmpfs
    // there; the guest binds the host's root at /mnt too (vm.ts).
    `{ cd ${ROOT} 2>/dev/null && [ -f deno.json ]; } || cd /mnt${ROOT} || exit 1`,
    `export NO_COLOR=1 HOME=${Deno.env.get("HOME") ?? "/root"} DENO_DIR=${denoDir}`,
    `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    ...(guest ? ["export IOSCOPE_TCG=1 IOSCOPE_ATTACH_TIMEOUT_S=110"] : []),
    `echo "IOSCOPE-KERNEL $(uname -r)"`,
    `${deno} run ${flags} tests/kernels/attach.ts 2>&1`,
    `${deno} test ${flags} --filter "${SUITE.filter}" ${SUITE.files.join(" ")} 2>&1`,
    `echo "IOSCOPE-TESTS-EXIT $?"`,
  ].join("\n") + "\n";
}

/** One row of the table. */
export interface Row {
  kernel: string;
  release: string;
  attach: string;
  starts: string;
  exitArgs: string;
  memlock: string;
  /** How 32-bit syscalls are told apart (the bpf backend's meta.compat_check). */
  compat: string;
  passed: number;
  failed: number;
  ignored: number;
  ok: boolean;
  seconds: number;
  note: string;
}

/**
 * Reads a run's output: the attach line, deno test's summary and exit.
 * @param kernel the row's name
 * @param lines what the script printed
 * @param seconds how long it took
 * @param finished false when the time limit stopped it
 * @returns the row
 */
export function parseRun(kernel: string, lines: string[], seconds: number, finished = true): Row {
  // deno-lint-ignore no-control-regex
  const clean = lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ""));
  const find = (re: RegExp) => clean.map((l) => l.match(re)).find((m) => m)?.[1];
  const attachJson = find(/IOSCOPE-ATTACH (\{.*\})/);
  const attach = attachJson ? JSON.parse(attachJson) as Record<string, unknown> : {};
  const summary = clean.map((l) =>
    l.match(/^(ok|FAILED) \| (\d+) passed.*?\| (\d+) failed(?:.*?\| (\d+) ignored)?/)
  )
    .filter((m) => m).at(-1);
  const exit = find(/IOSCOPE-TESTS-EXIT (\d+)/);
  const passed = Number(summary?.[2] ?? 0);
  const failed = Number(summary?.[3] ?? 0);
  const ok = finished && exit === "0" && failed === 0 && passed > 0 && !!attachJson;
  const panic = clean.find((l) => /Kernel panic|Oops:/.test(l));
  const note = !finished
    ? "timed out"
    : panic
    ? panic.replace(/^\[[ \d.]+\] /, "").slice(0, 60)
    : !attachJson
    ? (clean.find((l) => /ioscope|error/i.test(l)) ?? "no attach line").slice(0, 100)
    : !summary
    ? "no test summary"
    : "";
  return {
    kernel,
    release: find(/IOSCOPE-KERNEL (\S+)/) ?? "?",
    attach: String(attach.kind ?? "none"),
    starts: String(attach.starts ?? "-"),
    exitArgs: String(attach.exitArgs ?? "-"),
    memlock: String(attach.memlock ?? "-"),
    compat: String(attach.compat ?? "-"),
    passed,
    failed,
    ignored: Number(summary?.[4] ?? 0),
    ok,
    seconds: Math.round(seconds),
    note,
  };
}

/**
 * The table, fixed-width.
 * @param rows the rows
 * @returns the lines
 */
export function table(rows: Row[]): string {
  const head = [
    "kernel",
    "release",
    "attach",
    "starts",
    "exit args",
    "memlock",
    "passed",
    "failed",
    "ignored",
    "time",
    "",
  ];
  const body = rows.map((r) => [
    r.kernel,
    r.release,
    r.attach,
    r.starts,
    r.exitArgs,
    r.memlock,
    String(r.passed),
    String(r.failed),
    String(r.ignored),
    `${r.seconds} s`,
    r.ok ? "ok" : `FAILED ${r.note}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]?.length ?? 0)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [fmt(head), ...body.map(fmt)].join("\n");
}

function onPath(cmd: string): boolean {
  return (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").some((d) => {
    try {
      return Deno.statSync(`${d}/${cmd}`).isFile;
    } catch {
      return false;
    }
  });
}

async function installTools(): Promise<void> {
  const missing = [
    ...(onPath("qemu-system-x86_64") ? [] : ["qemu-system-x86"]),
    ...(exists("/bin/busybox") ? [] : ["busybox-static"]),
  ];
  if (missing.length === 0) return;
  console.error(`apt-get install ${missing.join(" ")}`);
  const out = await new Deno.Command("apt-get", {
    args: ["install", "-y", "--no-install-recommends", ...missing],
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdin: "null",
    stdout: "null",
  }).output();
  if (!out.success) throw new Error(`apt-get install ${missing.join(" ")} failed`);
}

async function runHost(): Promise<Row> {
  const started = Date.now();
  // The host's kernel is shared: take the test lock as every kernel-touching test does.
  const out = await new Deno.Command("flock", {
    args: ["/tmp/ioscope-test.lock", "sh", "-c", script(false)],
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return parseRun("host", text.split("\n"), (Date.now() - started) / 1000);
}

async function main(): Promise<number> {
  const args = [...Deno.args];
  const verbose = args.includes("--verbose");
  const t = args.indexOf("--timeout");
  const timeoutS = t >= 0 ? Number(args[t + 1]) : 1500;
  const names = args.filter((a, i) => !a.startsWith("--") && (t < 0 || i !== t + 1));
  const known = [...KERNELS.map((k) => k.name), "host"];
  const wanted = names.length > 0 ? names : known;
  const unknown = wanted.filter((n) => !known.includes(n));
  if (unknown.length > 0 || !Number.isFinite(timeoutS) || timeoutS <= 0) {
    console.error(`usage: deno task test:kernels [${known.join(" ")}] [--timeout S] [--verbose]`);
    return 2;
  }
  if (Deno.uid() !== 0) {
    console.error("The kernel matrix needs root (apt, bpf(2) in the guests and on the host)");
    return 2;
  }
  await installTools();
  const rows: Row[] = [];
  for (const spec of KERNELS.filter((k) => wanted.includes(k.name))) {
    const log = (s: string) => console.error(`[${spec.name}] ${s}`);
    try {
      const k = await fetchKernel(spec, log);
      log(`booting ${k.release} (TCG, nice 10, limit ${timeoutS} s)`);
      const r = await bootAndRun(k, script(), {
        timeoutS,
        onLine: (l) => {
          if (verbose || /IOSCOPE|^(ok|FAILED) \||\.\.\. (ok|FAILED)|error/.test(l)) log(l);
        },
      });
      const logFile = `${CACHE}/logs/${k.release}.log`;
      Deno.mkdirSync(`${CACHE}/logs`, { recursive: true });
      Deno.writeTextFileSync(logFile, r.lines.join("\n") + "\n");
      log(`console: ${logFile}`);
      rows.push(parseRun(`${spec.distro} ${spec.name}`, r.lines, r.seconds, r.finished));
    } catch (e: unknown) {
      log(`failed: ${(e as Error).message}`);
      rows.push(parseRun(`${spec.distro} ${spec.name}`, [String(e)], 0, false));
    }
  }
  if (wanted.includes("host")) {
    console.error("[host] running the same part of the suite on this host");
    rows.push(await runHost());
  }
  console.log(table(rows));
  return rows.every((r) => r.ok) ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
