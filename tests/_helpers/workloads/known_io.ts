/**
 * A workload with exactly known I/O, for checking counts and bytes.
 * Prints "ready <pid>", waits for a line on stdin, then makes exactly:
 *   PREADS  pread64 calls of 4096 bytes on a 1 MiB file,
 *   PWRITES pwrite64 calls of 1000 bytes,
 *   2       pread64 calls on a closed fd (EBADF errors),
 *   SENDFILES sendfile64 calls of 65536 bytes to /dev/null,
 * then prints "done" and exits. Deno's runtime makes read/write calls of its
 * own (eventfd, stdio), never pread64, pwrite64 or sendfile, so those counts
 * are exact.
 * Usage: deno run -A known_io.ts DIR PREADS PWRITES SENDFILES
 */

const [dir = "/tmp", preads = "1000", pwrites = "500", sendfiles = "10"] = Deno.args;
const libc = Deno.dlopen("libc.so.6", {
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  sendfile: { parameters: ["i32", "i32", "pointer", "usize"], result: "isize" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
});
const cstr = (s: string) => new TextEncoder().encode(s + "\0");
const input = `${dir}/known_io_in.bin`;
const output = `${dir}/known_io_out.bin`;
Deno.writeFileSync(input, new Uint8Array(1 << 20).fill(7));
Deno.writeFileSync(output, new Uint8Array());
const O_RDONLY = 0;
const O_WRONLY = 1;
const inFd = libc.symbols.open(cstr(input), O_RDONLY);
const outFd = libc.symbols.open(cstr(output), O_WRONLY);
const nullFd = libc.symbols.open(cstr("/dev/null"), O_WRONLY);
if (inFd < 0 || outFd < 0 || nullFd < 0) throw new Error("open failed");
const buf = new Uint8Array(4096);
const wbuf = new Uint8Array(1000).fill(1);

console.log(`ready ${Deno.pid}`);
const reader = Deno.stdin.readable.getReader();
await reader.read();

for (let i = 0; i < Number(preads); i++) {
  if (libc.symbols.pread(inFd, buf, 4096n, BigInt((i % 256) * 4096)) !== 4096n) {
    throw new Error("short pread");
  }
}
for (let i = 0; i < Number(pwrites); i++) {
  if (libc.symbols.pwrite(outFd, wbuf, 1000n, BigInt(i * 1000)) !== 1000n) {
    throw new Error("short pwrite");
  }
}
libc.symbols.pread(9999, buf, 4096n, 0n);
libc.symbols.pread(9999, buf, 4096n, 0n);
for (let i = 0; i < Number(sendfiles); i++) {
  // A null offset pointer: sendfile reads from the file position, which advances.
  if (libc.symbols.sendfile(nullFd, inFd, null, 65536n) !== 65536n) {
    throw new Error("short sendfile");
  }
}
libc.symbols.close(inFd);
libc.symbols.close(outFd);
libc.symbols.close(nullFd);
Deno.removeSync(input);
Deno.removeSync(output);
console.log("done");
