/**
 * One kernel booted in a QEMU TCG virtual machine with this host's root as
 * its own, read-only, over 9p (the way virtme does it): a busybox initramfs
 * loads the kernel's virtio and 9p modules, mounts the host's `/` read-only,
 * mounts proc, sys, devtmpfs, tracefs and a tmpfs on /tmp inside it, and
 * runs a shell script there in a chroot. The guest's console is the
 * script's output, one vCPU. KVM hangs in early boot on this machine kind: TCG
 * (`-accel tcg -cpu max`) is 10-30x slower than the host but exact.
 * @module
 */

import type { FetchedKernel } from "./fetch.ts";

/** Modules the guest loads to reach the host's root (with what they depend on). */
const WANTED = ["virtio_pci", "virtio_rng", "9pnet_virtio", "9p"];

/** One cpio "newc" entry. */
interface Entry {
  name: string;
  mode: number;
  data?: Uint8Array;
  rdev?: [number, number];
}

function cpio(entries: Entry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  let size = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    size += b.length;
  };
  const pad = () => {
    if (size % 4) push(new Uint8Array(4 - (size % 4)));
  };
  let ino = 1;
  for (const e of [...entries, { name: "TRAILER!!!", mode: 0 }] as Entry[]) {
    const data = e.data ?? new Uint8Array(0);
    const name = enc.encode(e.name + "\0");
    const fields = [
      ino++,
      e.mode,
      0,
      0,
      1,
      0,
      data.length,
      0,
      0,
      e.rdev?.[0] ?? 0,
      e.rdev?.[1] ?? 0,
      name.length,
      0,
    ];
    push(enc.encode("070701" + fields.map(hex).join("")));
    push(name);
    pad();
    push(data);
    pad();
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function moduleBytes(path: string): Promise<Uint8Array> {
  if (path.endsWith(".ko")) return Deno.readFileSync(path);
  const tool = path.endsWith(".xz") ? "xz" : path.endsWith(".zst") ? "zstd" : "gzip";
  const out = await new Deno.Command(tool, { args: ["-dc", path], stdin: "null" }).output();
  if (!out.success) throw new Error(`${tool} -dc ${path} failed`);
  return out.stdout;
}

function walk(dir: string, out: Map<string, string>): void {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) walk(p, out);
    else {
      const m = e.name.match(/^(.+)\.ko(\.xz|\.zst|\.gz)?$/);
      if (m?.[1]) out.set(m[1].replaceAll("-", "_"), p);
    }
  }
}

/** The wanted modules and their dependencies, in load order, decompressed. */
async function modules(k: FetchedKernel): Promise<{ name: string; bytes: Uint8Array }[]> {
  const files = new Map<string, string>();
  walk(`${k.modules}/kernel`, files);
  const order: { name: string; bytes: Uint8Array }[] = [];
  const seen = new Set<string>();
  const visit = async (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const path = files.get(name);
    if (!path) return; // built in
    const bytes = await moduleBytes(path);
    const text = new TextDecoder("latin1").decode(bytes);
    const deps = text.match(/depends=([\w,-]*)/)?.[1] ?? "";
    for (const d of deps.split(",").filter((d) => d !== "")) await visit(d.replaceAll("-", "_"));
    order.push({ name, bytes });
  };
  for (const w of WANTED) await visit(w);
  return order;
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/m/order); do insmod /lib/m/$m.ko || echo "IOSCOPE-GUEST insmod $m failed"; done
if mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 host /mnt; then
  r=/mnt
  # The host's root again at /mnt inside it, before the tmpfs below hide
  # /tmp, /run and /dev/shm: a checkout there (a CI clone) stays reachable.
  mount -o bind $r $r/mnt
  mount -t proc proc $r/proc
  mount -t sysfs sys $r/sys
  mount -t devtmpfs dev $r/dev
  mkdir -p /tmp
  mount -t tmpfs tmp $r/tmp
  mkdir -p $r/dev/shm $r/dev/pts
  mount -t tmpfs shm $r/dev/shm
  mount -t devpts pts $r/dev/pts 2>/dev/null
  mount -t tmpfs run $r/run
  mount -t tracefs tracefs $r/sys/kernel/tracing 2>/dev/null
  mount -t debugfs debugfs $r/sys/kernel/debug 2>/dev/null
  mount -t cgroup2 cgroup2 $r/sys/fs/cgroup 2>/dev/null
  mount -t bpf bpf $r/sys/fs/bpf 2>/dev/null
  cp /guest.sh $r/tmp/guest.sh
  chroot $r /bin/sh /tmp/guest.sh
  echo "IOSCOPE-GUEST-END $?"
else
  echo "IOSCOPE-GUEST could not mount the host's root over 9p"
fi
sync
poweroff -f
`;

/**
 * An initramfs for a kernel that runs `script` (a /bin/sh script) in the
 * host's root, read-only.
 * @param k the kernel
 * @param script the script run inside
 * @returns the cpio archive's path (a temporary file)
 */
export async function initramfs(k: FetchedKernel, script: string): Promise<string> {
  const mods = await modules(k);
  const enc = new TextEncoder();
  const dirs = ["bin", "dev", "proc", "sys", "mnt", "tmp", "lib", "lib/m"];
  const entries: Entry[] = [
    ...dirs.map((d) => ({ name: d, mode: 0o40755 })),
    { name: "dev/console", mode: 0o20600, rdev: [5, 1] },
    { name: "bin/busybox", mode: 0o100755, data: Deno.readFileSync("/bin/busybox") },
    { name: "init", mode: 0o100755, data: enc.encode(INIT) },
    { name: "guest.sh", mode: 0o100755, data: enc.encode(script) },
    { name: "lib/m/order", mode: 0o100644, data: enc.encode(mods.map((m) => m.name).join("\n")) },
    ...mods.map((m) => ({ name: `lib/m/${m.name}.ko`, mode: 0o100644, data: m.bytes })),
  ];
  const path = Deno.makeTempFileSync({ prefix: "ioscope-initrd-", suffix: ".cpio" });
  Deno.writeFileSync(path, cpio(entries));
  return path;
}

/** What a guest printed, and how it ended. */
export interface GuestResult {
  lines: string[];
  /** False when the time limit killed it. */
  finished: boolean;
  seconds: number;
}

/**
 * Boots a kernel under QEMU TCG (niced: the machine is shared) with the
 * host's root read-only over 9p and runs a script in it; qemu is killed and
 * reaped after `timeoutS`, or when this process gets SIGINT or SIGTERM.
 * @param k the kernel
 * @param script the /bin/sh script run in the host's root
 * @param options time limit, memory, a line callback
 * @returns the console's lines
 */
export async function bootAndRun(
  k: FetchedKernel,
  script: string,
  options: { timeoutS?: number; memMiB?: number; onLine?: (line: string) => void } = {},
): Promise<GuestResult> {
  const { timeoutS = 1500, memMiB = 2048, onLine } = options;
  const initrd = await initramfs(k, script);
  const started = Date.now();
  const child = new Deno.Command("nice", {
    args: [
      "-n",
      "10",
      "qemu-system-x86_64",
      "-accel",
      "tcg",
      "-cpu",
      "max",
      // One vCPU: with two, TCG once ran a stale int3 of the kernel's text patching
      // (`Oops: int3` in flush_tlb_func as tracepoints were enabled, Debian 6.12, 2026-12-06).
      "-smp",
      "1",
      "-m",
      String(memMiB),
      "-nodefaults",
      "-no-user-config",
      "-no-reboot",
      "-display",
      "none",
      "-serial",
      "stdio",
      "-monitor",
      "none",
      "-kernel",
      k.vmlinuz,
      "-initrd",
      initrd,
      "-append",
      "console=ttyS0 panic=-1 quiet loglevel=3",
      "-fsdev",
      "local,id=r,path=/,security_model=none,readonly=on,multidevs=remap",
      "-device",
      "virtio-9p-pci,fsdev=r,mount_tag=host",
      "-device",
      "virtio-rng-pci",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const stop = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    killed = true;
    stop();
  }, timeoutS * 1000);
  // Ctrl-C or SIGTERM of the matrix: the guest goes too (and is reaped below), then we exit.
  const onSignal = () => {
    stop();
    child.status.finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const lines: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split(/\r?\n/);
      rest = parts.pop() ?? "";
      for (const l of parts) {
        lines.push(l);
        onLine?.(l);
      }
    }
    if (rest) lines.push(rest);
  };
  try {
    await Promise.all([collect(child.stdout), collect(child.stderr), child.status]);
  } finally {
    clearTimeout(timer);
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSync(initrd);
  }
  return { lines, finished: !killed, seconds: (Date.now() - started) / 1000 };
}
