// A process whose name and arguments are injection strings, for the report's
// untrusted-text test. It renames itself with prctl(PR_SET_NAME) (the kernel
// keeps 15 bytes), prints "ready", and reads /etc/hostname every few
// milliseconds for SECONDS seconds.
// Usage: deno run -A tests/_helpers/workloads/hostile_process.ts NAME SECONDS [HOSTILE ARGS...]
const [name = "<svg onload=a>", secondsText = "5"] = Deno.args;
const libc = Deno.dlopen("libc.so.6", {
  // int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)
  prctl: { parameters: ["i32", "buffer", "usize", "usize", "usize"], result: "i32" },
});
const PR_SET_NAME = 15;
if (libc.symbols.prctl(PR_SET_NAME, new TextEncoder().encode(`${name}\0`), 0n, 0n, 0n) !== 0) {
  throw new Error("prctl(PR_SET_NAME) failed");
}
console.log("ready");
const file = Deno.openSync("/etc/hostname");
const buf = new Uint8Array(64);
const end = Date.now() + Number(secondsText) * 1000;
while (Date.now() < end) {
  for (let i = 0; i < 20; i++) {
    file.seekSync(0, Deno.SeekMode.Start);
    file.readSync(buf);
  }
  await new Promise((r) => setTimeout(r, 5));
}
file.close();
libc.close();
