/**
 * What the test suite needs on the host, installed if missing: `deno task test`
 * runs this first, so the README's `npx -y deno@2.9.6 task test` passes on a
 * fresh Debian 12 machine (root, Node and npm, nothing else). Idempotent: when
 * everything is there it prints nothing and takes a few milliseconds (one PATH
 * scan, a few stat calls). As root it apt-get installs what is missing, mounts
 * tracefs when it is not mounted, and stops Debian's prometheus service (the
 * tests start their own Prometheus). Not root and something missing: one line
 * naming the packages, exit 1.
 *
 * Usage: deno run -A .ci/install_test_deps.ts [--dry-run]
 * @module
 */

import { exists } from "../agent/exists.ts";

/** A command (or file) the tests need, and the Debian package that brings it. */
const NEEDS: readonly { need: string; pkg: string }[] = [
  { need: "bpftrace", pkg: "bpftrace" },
  { need: "bpftool", pkg: "bpftool" },
  { need: "perf", pkg: "linux-perf" },
  { need: "fio", pkg: "fio" },
  { need: "strace", pkg: "strace" },
  { need: "chromium", pkg: "chromium" },
  { need: "nginx", pkg: "nginx-light" },
  { need: "wrk", pkg: "wrk" },
  { need: "prometheus", pkg: "prometheus" },
  { need: "promtool", pkg: "prometheus" },
  { need: "victoria-metrics", pkg: "victoria-metrics" },
  { need: "tmux", pkg: "tmux" },
  { need: "python3", pkg: "python3" },
  { need: "systemd-analyze", pkg: "systemd" },
  { need: "setpriv", pkg: "util-linux" },
  { need: "setsid", pkg: "util-linux" },
  { need: "unshare", pkg: "util-linux" },
  { need: "pkill", pkg: "procps" },
  { need: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", pkg: "fonts-dejavu-core" },
  // The kernel matrix CI runs after the suite (tests/kernels/, `deno task test:kernels`).
  { need: "qemu-system-x86_64", pkg: "qemu-system-x86" },
  { need: "/usr/share/doc/busybox-static", pkg: "busybox-static" },
];
const TRACEFS = "/sys/kernel/tracing";
const PROMETHEUS_UNIT = "/lib/systemd/system/prometheus.service";

/** The packages whose commands are on no PATH directory (or whose file is absent). */
function missingPackages(): string[] {
  const dirs = (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").concat(["/usr/sbin", "/sbin"]);
  const onPath = new Set<string>();
  for (const dir of dirs) {
    try {
      for (const e of Deno.readDirSync(dir)) onPath.add(e.name);
    } catch { /* a PATH entry that is not there */ }
  }
  const missing = NEEDS.filter(({ need }) =>
    need.startsWith("/") ? !exists(need) : !onPath.has(need)
  );
  return [...new Set(missing.map((m) => m.pkg))];
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  const out = await new Deno.Command(cmd, { args, env, stdin: "null" }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join("; ");
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}): ${err}`);
  }
}

async function main(): Promise<number> {
  const dryRun = Deno.args.includes("--dry-run");
  const root = Deno.uid() === 0;
  const missing = missingPackages();
  if (missing.length > 0) {
    const line = `apt-get install ${missing.join(" ")}`;
    if (dryRun) {
      console.log(`would run: ${line}`);
    } else if (!root) {
      console.error(`The tests need packages that are not installed; as root run: ${line}`);
      return 1;
    } else {
      console.error(
        `Installing what the tests need: ${missing.join(" ")} (apt-get, a minute or two)...`,
      );
      const env = { DEBIAN_FRONTEND: "noninteractive" };
      await run("apt-get", ["update", "-qq"], env);
      await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], env);
      const still = missingPackages();
      if (still.length > 0) {
        console.error(`apt-get ran, yet still missing: ${still.join(" ")}`);
        return 1;
      }
    }
  }
  // tracefs is where bpftrace and the ftrace backend find their tracepoints.
  if (!exists(`${TRACEFS}/events`)) {
    if (dryRun) console.log(`would run: mount -t tracefs nodev ${TRACEFS}`);
    else if (root) await run("mount", ["-t", "tracefs", "nodev", TRACEFS]);
  }
  // Debian's prometheus package starts a server on :9090 under systemd; the
  // tests run their own. Only where systemd runs and the unit is there.
  if (exists(PROMETHEUS_UNIT) && exists("/run/systemd/system")) {
    const active = await new Deno.Command("systemctl", {
      args: ["is-active", "--quiet", "prometheus"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (active.success) {
      if (dryRun) console.log("would run: systemctl disable --now prometheus");
      else if (root) await run("systemctl", ["disable", "--now", "prometheus"]);
    }
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`install_test_deps: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
