/**
 * 32-bit (compat) syscalls from a 64-bit process: `int 0x80` from machine
 * code in a PROT_EXEC page, called through Deno.UnsafeFnPointer. The kernel
 * numbers these from i386's table and runs them through `__ia32_sys_*`
 * (`__ia32_compat_sys_*`), so no 32-bit toolchain is needed.
 *
 * Makes, in this order, after a line on stdin (so a tracer is attached):
 * - COUNT i386 `read` (3, x86_64's close) of 1 byte from FILE at offset 0,
 * - COUNT i386 `getpid` (20, x86_64's writev; not an I/O call),
 * - COUNT i386 `pread64` (180) of 1 byte from FILE,
 * - COUNT native `pread64` (x86_64's 17, i386's break) of 1 byte from FILE,
 * then prints `done {json}` with each call's result and exits 0.
 * `probe` makes one i386 getpid and prints `int80 ok` (a kernel without
 * IA32 emulation, or with it disabled, kills it with SIGSEGV first).
 * Usage: deno run -A int80.ts probe | int80.ts FILE COUNT
 * @module
 */

const libc = Deno.dlopen("libc.so.6", {
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  pread: { parameters: ["i32", "pointer", "usize", "i64"], result: "isize" },
});
const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
const MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_32BIT = 0x40;

/** A page below 4 GiB (int 0x80 takes 32-bit pointers), read-write or executable. */
function page(prot: number): Deno.PointerObject {
  const p = libc.symbols.mmap(null, 4096n, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0n);
  if (!p || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn) throw new Error("mmap failed");
  return p;
}

// long int80(nr, a, b, c, d, e): eax = nr, ebx = a, ecx = b, edx = c,
// esi = d, edi = e; int 0x80; the result in rax. rbx is callee-saved.
const CODE = [
  0x53, // push rbx
  0x89,
  0xf8, // mov eax, edi
  0x89,
  0xf3, // mov ebx, esi
  0x49,
  0x89,
  0xd2, // mov r10, rdx
  0x89,
  0xca, // mov edx, ecx
  0x44,
  0x89,
  0xd1, // mov ecx, r10d
  0x44,
  0x89,
  0xc6, // mov esi, r8d
  0x44,
  0x89,
  0xcf, // mov edi, r9d
  0xcd,
  0x80, // int 0x80
  0x5b, // pop rbx
  0xc3, // ret
];
const code = page(PROT_READ | PROT_WRITE | PROT_EXEC);
new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(code, CODE.length)).set(CODE);
const INT80 = {
  parameters: ["i64", "i64", "i64", "i64", "i64", "i64"],
  result: "i64",
} as const;
const int80 = new Deno.UnsafeFnPointer(code as Deno.PointerObject<typeof INT80>, INT80);
const call = (nr: number, a = 0, b = 0, c = 0): number =>
  Number(int80.call(BigInt(nr), BigInt(a), BigInt(b), BigInt(c), 0n, 0n));

/** i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl). */
const I386 = { read: 3, getpid: 20, pread64: 180 };

const [file, countArg] = Deno.args;
if (file === "probe") {
  const pid = call(I386.getpid);
  console.log(pid === Deno.pid ? "int80 ok" : `int80 returned ${pid}, not ${Deno.pid}`);
  Deno.exit(pid === Deno.pid ? 0 : 1);
}
const count = Number(countArg);
if (!file || !Number.isInteger(count) || count <= 0) {
  console.error("usage: int80.ts probe | int80.ts FILE COUNT");
  Deno.exit(2);
}
const fd = libc.symbols.open(new TextEncoder().encode(file + "\0"), 0, 0);
if (fd < 0) throw new Error(`cannot open ${file}`);
const buf = page(PROT_READ | PROT_WRITE);
const buf32 = Number(Deno.UnsafePointer.value(buf));
console.log(`ready ${Deno.pid}`);
await Deno.stdin.readable.getReader().read();
const results = {
  read: [] as number[],
  getpid: [] as number[],
  pread32: [] as number[],
  pread: [] as number[],
};
for (let i = 0; i < count; i++) {
  // read(2) moves the offset: pread would not, but this is i386's plain read.
  results.read.push(call(I386.read, fd, buf32, 1));
}
for (let i = 0; i < count; i++) results.getpid.push(call(I386.getpid));
// i386 pread64(fd, buf, count, pos_lo, pos_hi): pos 0 (esi = edi = 0).
for (let i = 0; i < count; i++) results.pread32.push(call(I386.pread64, fd, buf32, 1));
for (let i = 0; i < count; i++) results.pread.push(Number(libc.symbols.pread(fd, buf, 1n, 0n)));
const ok = (xs: number[], want: number) => xs.every((x) => x === want);
const summary = {
  read: ok(results.read, 1),
  getpid: ok(results.getpid, Deno.pid),
  pread32: ok(results.pread32, 1),
  pread: ok(results.pread, 1),
};
console.log(`done ${JSON.stringify(summary)}`);
Deno.exit(Object.values(summary).every((v) => v) ? 0 : 1);
