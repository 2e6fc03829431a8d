/**
 * The kernels of the matrix: Debian's stock kernel packages, fetched with apt
 * through a private sources list (the host's apt configuration and installed
 * packages are never touched), unpacked once, cached under
 * /var/cache/ioscope-kernels (or $IOSCOPE_KERNEL_CACHE).
 * @module
 */

import { exists } from "../../agent/exists.ts";

/** Where kernels, their unpacked trees and the private apt state are kept. */
export const CACHE = Deno.env.get("IOSCOPE_KERNEL_CACHE") ?? "/var/cache/ioscope-kernels";

/** One kernel of the matrix: the newest Debian package whose name matches. */
export interface KernelSpec {
  /** Short name, the table's row: `6.1`. */
  name: string;
  /** The distribution that ships it, for the table. */
  distro: string;
  /** The package's name. */
  pkg: RegExp;
}

/** Debian 11, 12 and 13's kernels (production's 5.10, 6.1, 6.12). */
export const KERNELS: readonly KernelSpec[] = [
  { name: "5.10", distro: "Debian 11", pkg: /^linux-image-5\.10\.0-\d+-amd64$/ },
  { name: "6.1", distro: "Debian 12", pkg: /^linux-image-6\.1\.0-\d+-amd64$/ },
  { name: "6.12", distro: "Debian 13", pkg: /^linux-image-6\.12\.\d+\+deb13-amd64$/ },
];

const SOURCES = [
  "bullseye main",
  "bookworm main",
  "trixie main",
].map((s) =>
  `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${s}`
)
  .concat(
    ["bullseye-security main", "bookworm-security main", "trixie-security main"].map((s) =>
      `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security ${s}`
    ),
  );

/** An unpacked kernel: its image and its modules directory. */
export interface FetchedKernel {
  spec: KernelSpec;
  /** The package, e.g. `linux-image-6.1.0-57-amd64`. */
  pkg: string;
  vmlinuz: string;
  /** `.../lib/modules/<release>` */
  modules: string;
  /** The kernel's release (`uname -r`). */
  release: string;
}

async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join("; ");
    throw new Error(`${cmd} ${args.slice(-2).join(" ")} failed (exit ${out.code}): ${err}`);
  }
  return text;
}

function aptOptions(): string[] {
  const a = `${CACHE}/apt`;
  return [
    `-o`,
    `Dir::Etc::SourceList=${a}/sources.list`,
    `-o`,
    `Dir::Etc::SourceParts=/dev/null`,
    `-o`,
    `Dir::State::Lists=${a}/lists`,
    `-o`,
    `Dir::Cache::Archives=${a}/archives`,
    `-o`,
    `Dir::Cache::pkgcache=`,
    `-o`,
    `Dir::Cache::srcpkgcache=`,
    `-o`,
    `APT::Architecture=amd64`,
    `-o`,
    `APT::Sandbox::User=root`,
  ];
}

/** Numbers in a name compared as numbers: 6.1.0-57 after 6.1.0-9. */
function byNumbers(a: string, b: string): number {
  const na = a.match(/\d+/g)?.map(Number) ?? [];
  const nb = b.match(/\d+/g)?.map(Number) ?? [];
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? -1) - (nb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

let updated = false;

/** The package lists, refreshed once a day (offline: the ones cached). */
async function packageNames(log: (s: string) => void): Promise<string[]> {
  const a = `${CACHE}/apt`;
  Deno.mkdirSync(`${a}/lists/partial`, { recursive: true });
  Deno.mkdirSync(`${a}/archives/partial`, { recursive: true });
  Deno.writeTextFileSync(`${a}/sources.list`, SOURCES.join("\n") + "\n");
  const stamp = `${a}/updated`;
  const age = exists(stamp) ? Date.now() - (Deno.statSync(stamp).mtime?.getTime() ?? 0) : Infinity;
  if (!updated && age > 86_400_000) {
    log("apt-get update (private sources list, Debian 11-13)");
    try {
      await sh("apt-get", [...aptOptions(), "update"]);
      Deno.writeTextFileSync(stamp, "");
    } catch (e: unknown) {
      log(`apt-get update failed, using the cached lists: ${(e as Error).message}`);
    }
    updated = true;
  }
  return (await sh("apt-cache", [...aptOptions(), "pkgnames", "linux-image-"])).split("\n");
}

/** A cached unpacked kernel of a spec, newest first (to run offline). */
function cachedPackages(spec: KernelSpec): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(`${CACHE}/unpacked`)) {
      if (spec.pkg.test(e.name) && exists(`${CACHE}/unpacked/${e.name}/.done`)) out.push(e.name);
    }
  } catch {
    // none yet
  }
  return out.sort(byNumbers).reverse();
}

/**
 * The newest package of a spec, downloaded and unpacked (cached).
 * @param spec the kernel
 * @param log progress lines
 * @returns where its image and modules are
 */
export async function fetchKernel(
  spec: KernelSpec,
  log: (s: string) => void,
): Promise<FetchedKernel> {
  let pkg: string | undefined;
  try {
    pkg = (await packageNames(log)).filter((n) => spec.pkg.test(n)).sort(byNumbers).at(-1);
  } catch (e: unknown) {
    log(`apt-cache failed: ${(e as Error).message}`);
  }
  pkg ??= cachedPackages(spec)[0];
  if (!pkg) throw new Error(`No package matches ${spec.pkg} (and none is cached in ${CACHE})`);
  const dir = `${CACHE}/unpacked/${pkg}`;
  if (!exists(`${dir}/.done`)) {
    const debs = `${CACHE}/debs`;
    Deno.mkdirSync(debs, { recursive: true });
    let deb = [...Deno.readDirSync(debs)].find((e) => e.name.startsWith(`${pkg}_`))?.name;
    if (!deb) {
      log(`downloading ${pkg}`);
      await new Deno.Command("apt-get", {
        args: [...aptOptions(), "download", pkg],
        cwd: debs,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      deb = [...Deno.readDirSync(debs)].find((e) => e.name.startsWith(`${pkg}_`))?.name;
      if (!deb) throw new Error(`apt-get download ${pkg} brought no .deb into ${debs}`);
    }
    log(`unpacking ${deb}`);
    if (exists(dir)) Deno.removeSync(dir, { recursive: true });
    await unpack(`${debs}/${deb}`, dir);
  }
  return unpacked(spec, pkg, dir);
}

async function unpack(deb: string, dir: string): Promise<void> {
  Deno.mkdirSync(dir, { recursive: true });
  await sh("dpkg-deb", ["-x", deb, dir]);
  Deno.writeTextFileSync(`${dir}/.done`, "");
}

function unpacked(spec: KernelSpec, pkg: string, dir: string): FetchedKernel {
  const boot = [...Deno.readDirSync(`${dir}/boot`)].find((e) => e.name.startsWith("vmlinuz-"));
  if (!boot) throw new Error(`${pkg} has no boot/vmlinuz-*`);
  const release = boot.name.slice("vmlinuz-".length);
  const modules = [`${dir}/lib/modules/${release}`, `${dir}/usr/lib/modules/${release}`].find(
    exists,
  );
  if (!modules) throw new Error(`${pkg} has no modules directory for ${release}`);
  return { spec, pkg, vmlinuz: `${dir}/boot/${boot.name}`, modules, release };
}
