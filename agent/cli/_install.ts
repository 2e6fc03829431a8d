/**
 * `deno task install` / `deno task uninstall`: ioscope installed on a host
 * like a tool, not run from a checkout. The runtime files are copied to
 * `ROOT/lib/ioscope` (so the checkout can go), every dependency is put in
 * Deno's cache (so the host needs no npm registry later), and
 * `deno install -g` writes the `ioscope` command to `ROOT/bin`, running with
 * `--cached-only`: it never fetches anything (the lockfile was checked with
 * `--frozen` when the cache was filled). ROOT is Deno's install
 * root: `--root DIR`, else `$DENO_INSTALL_ROOT`, else `~/.deno`.
 *
 * Usage: `deno run -A agent/cli/_install.ts install|uninstall [--root DIR]`
 * @module
 */

import { findCommand } from "../mod.ts";

/** What the installed tree holds: the CLI's files, not tests or benchmarks. */
export const INSTALLED_PATHS: readonly string[] = [
  "mod.ts",
  "deno.json",
  "deno.lock",
  "agent",
  "ffi",
  "probes",
  "report",
  "schema",
];

/** Where an install goes. */
export interface InstallPlan {
  /** Deno's install root: the command is `${root}/bin/ioscope`. */
  root: string;
  /** The copy of ioscope's files the command runs. */
  lib: string;
  /** The command itself. */
  bin: string;
}

/**
 * Where ioscope is (or would be) installed.
 * @param options `root` (default `$DENO_INSTALL_ROOT`, else `$HOME/.deno`)
 * @returns the root, the library copy and the command's path
 * @example
 * ```ts
 * import { installPlan } from "./_install.ts";
 * console.assert(installPlan({ root: "/usr/local" }).bin === "/usr/local/bin/ioscope");
 * ```
 */
export function installPlan(options: { root?: string } = {}): InstallPlan {
  const root = (options.root ?? Deno.env.get("DENO_INSTALL_ROOT") ??
    `${Deno.env.get("HOME") ?? "/root"}/.deno`).replace(/\/+$/, "") || "/";
  return { root, lib: `${root}/lib/ioscope`, bin: `${root}/bin/ioscope` };
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The installed `ioscope` command: the one this ioscope was started as (when
 * it runs from an install's copy), else `ioscope` on PATH, else the one in
 * Deno's install root.
 * @returns its absolute path, or null when ioscope is not installed
 */
export function findInstalled(): string | null {
  const main = Deno.mainModule;
  if (main.startsWith("file:")) {
    const path = decodeURIComponent(new URL(main).pathname);
    const suffix = "/lib/ioscope/mod.ts";
    if (path.endsWith(suffix)) {
      const bin = `${path.slice(0, -suffix.length)}/bin/ioscope`;
      if (isFile(bin)) return bin;
    }
  }
  const onPath = findCommand("ioscope");
  if (onPath) return onPath;
  const { bin } = installPlan();
  return isFile(bin) ? bin : null;
}

/** Mode of an installed file: the checkout's mode is not copied (a 0666 file would stay 0666). */
export const INSTALLED_FILE_MODE = 0o644;
/** Mode of an installed directory. */
export const INSTALLED_DIR_MODE = 0o755;

/**
 * Copies a file or a tree of the checkout into the install: regular files and
 * directories only (symlinks, FIFOs and devices are left out), each given its
 * installed mode whatever its mode was in the checkout or the umask.
 */
async function copyTree(from: string, to: string): Promise<void> {
  const info = await Deno.lstat(from);
  if (info.isFile) {
    await Deno.copyFile(from, to);
    await Deno.chmod(to, INSTALLED_FILE_MODE);
    return;
  }
  if (!info.isDirectory) return;
  await Deno.mkdir(to, { recursive: true });
  await Deno.chmod(to, INSTALLED_DIR_MODE);
  for await (const entry of Deno.readDir(from)) {
    await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

/** Modules the agent imports only when needed (their npm packages too). */
const LAZY_MODULES = ["agent/nightly/push.ts", "agent/nightly/_prom_proto.ts"];

/** Runs deno quietly; on failure, what it said is the error. */
async function deno(args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  if (!out.success) {
    const dec = new TextDecoder();
    const said = (dec.decode(out.stderr) + dec.decode(out.stdout)).trim().split("\n").slice(0, 5);
    throw new Error(`deno ${args[0]} failed (exit ${out.code}): ${said.join(" / ")}`);
  }
}

/**
 * Installs ioscope from the checkout this file is in.
 * @param plan where to install
 */
export async function install(plan: InstallPlan): Promise<void> {
  const src = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
  const staging = `${plan.lib}.new-${Deno.pid}`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(staging, { recursive: true });
  try {
    await Deno.chmod(staging, INSTALLED_DIR_MODE);
    for (const path of INSTALLED_PATHS) {
      try {
        await Deno.stat(`${src}/${path}`);
      } catch {
        continue; // a folder this version does not have
      }
      await copyTree(`${src}/${path}`, `${staging}/${path}`);
    }
    // Every dependency into the cache (chart.js is not one: it is vendored in
    // report/vendor/ and copied with report/).
    await deno([
      "cache",
      "--quiet",
      "--frozen",
      "--config",
      `${staging}/deno.json`,
      `${staging}/mod.ts`,
      // Loaded on demand (import()), so not in mod.ts's graph: the npm
      // encoders of --remote-write, --otlp and --prom's protobuf.
      ...LAZY_MODULES.map((m) => `${staging}/${m}`),
    ]);
    await Deno.remove(plan.lib, { recursive: true }).catch(() => {});
    await Deno.rename(staging, plan.lib);
  } catch (e: unknown) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw e;
  }
  const install = (root: string, cachedOnly: boolean) =>
    deno([
      "install",
      "--global",
      "--force",
      "--allow-all",
      ...(cachedOnly ? ["--cached-only"] : []),
      "--name",
      "ioscope",
      "--root",
      root,
      "--config",
      `${plan.lib}/deno.json`,
      `${plan.lib}/mod.ts`,
    ]);
  // A global install resolves the npm packages again, from their registry
  // metadata, which `deno cache` with the lockfile does not keep: a first
  // install (network allowed, into a scratch root) fetches it; the command
  // itself is then installed to run with --cached-only.
  const scratch = await Deno.makeTempDir({ dir: plan.lib, prefix: ".warm-" });
  try {
    await install(scratch, false);
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
  await install(plan.root, true);
}

/**
 * Removes the command and the library copy (Deno's cache is left alone).
 * @param plan where ioscope was installed
 */
export async function uninstall(plan: InstallPlan): Promise<void> {
  try {
    await Deno.stat(plan.bin);
    await deno(["uninstall", "--global", "--quiet", "--root", plan.root, "ioscope"]);
  } catch (e: unknown) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.remove(plan.lib, { recursive: true }).catch((e: unknown) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

async function main(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  let root: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] ?? "";
    if (a === "--root" && rest[i + 1]) root = rest[++i];
    else if (a.startsWith("--root=")) root = a.slice(7);
    else {
      console.error(`install: unknown option '${a}'; use --root DIR`);
      return 2;
    }
  }
  if (root === "") {
    console.error("install: --root needs a directory");
    return 2;
  }
  const plan = installPlan(root !== undefined ? { root } : {});
  try {
    if (what === "install") {
      await install(plan);
      console.error(`Installed ${plan.bin} (runs ${plan.lib}, offline: --cached-only)`);
      const path = (Deno.env.get("PATH") ?? "").split(":");
      if (!path.includes(`${plan.root}/bin`)) {
        console.error(`Add ${plan.root}/bin to PATH: export PATH="${plan.root}/bin:$PATH"`);
      }
    } else if (what === "uninstall") {
      await uninstall(plan);
      console.error(`Removed ${plan.bin} and ${plan.lib}`);
    } else {
      console.error("usage: _install.ts install|uninstall [--root DIR]");
      return 2;
    }
    return 0;
  } catch (e: unknown) {
    console.error(`${what}: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
