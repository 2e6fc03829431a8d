// Two threads of one process, each pinned to a CPU of its own, making the
// same calls on the same descriptors at the same time: both CPUs count the
// same keys of the bpf backend's per-descriptor and errno maps at once (and
// insert them at once), so a count lost to the other CPU shows as a count
// short of the known one.
//
//   deno run -A shared_fd_threads.ts N
//
// Prints "ready FILE_FD OTHER_FD" once both threads wait; after a line on
// stdin each thread makes N recvs that fail with ENOTSOCK on the other
// descriptor (the same file: an errno that nothing else in the process
// gets), first, so that both threads' first ones (inserts) may meet, then N
// preads of 1 byte from the file; prints "done" when both are through.
import { allocPages, libc, openFile, pread } from "../../../ffi/mod.ts";

const MSG_DONTWAIT = 0x40;

interface Start {
  cpu: number;
  n: number;
  fileFd: number;
  otherFd: number;
  /** Int32Array over a SharedArrayBuffer: [0] = 1 once the threads may go. */
  go: SharedArrayBuffer;
}

/** The worker's global scope (the type check sees a window's). */
const scope = self as unknown as {
  postMessage(message: string): void;
  onmessage: ((e: MessageEvent<Start>) => void) | null;
};

/** A thread: pins itself, waits for `go`, makes its calls, says so. */
function thread(s: Start): void {
  const affinity = Deno.dlopen("libc.so.6", {
    // int sched_setaffinity(pid_t pid, size_t cpusetsize, const cpu_set_t *mask)
    sched_setaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
  });
  const mask = new BigUint64Array([1n << BigInt(s.cpu)]);
  if (affinity.symbols.sched_setaffinity(0, 8n, new Uint8Array(mask.buffer)) !== 0) {
    throw new Error(`Cannot pin a thread to CPU ${s.cpu}`);
  }
  affinity.close();
  const buf = allocPages(4096);
  const go = new Int32Array(s.go);
  scope.postMessage("ready");
  Atomics.wait(go, 0, 0);
  for (let i = 0; i < s.n; i++) libc().recv(s.otherFd, buf.pointer, 1n, MSG_DONTWAIT);
  for (let i = 0; i < s.n; i++) pread(s.fileFd, buf.pointer, 1, 0);
  scope.postMessage("done");
}

if ("WorkerGlobalScope" in globalThis) {
  scope.onmessage = (e: MessageEvent<Start>) => thread(e.data);
} else {
  const n = Number(Deno.args[0] ?? "100000");
  const path = Deno.makeTempFileSync({ prefix: "ioscope-shared-fd-" });
  Deno.writeFileSync(path, new Uint8Array(4096).fill(1));
  const file = openFile(path);
  const other = openFile(path);
  Deno.removeSync(path);
  const go = new SharedArrayBuffer(4);
  const workers = [0, 1].map((cpu) => {
    const w = new Worker(import.meta.url, { type: "module" });
    const start: Start = { cpu, n, fileFd: file.fd, otherFd: other.fd, go };
    w.postMessage(start);
    return w;
  });
  const next = (w: Worker) =>
    new Promise<unknown>((resolve) =>
      w.addEventListener("message", (e) => resolve(e.data), { once: true })
    );
  await Promise.all(workers.map(next));
  console.log(`ready ${file.fd} ${other.fd}`);
  await Deno.stdin.readable.getReader().read();
  const done = Promise.all(workers.map(next));
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  await done;
  console.log("done");
  for (const w of workers) w.terminate();
  other.close();
  file.close();
}
