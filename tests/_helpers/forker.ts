/**
 * Drives tests/_helpers/workloads/forker.pl, a pre-forking service in
 * miniature: a parent that forks children which make exactly known reads.
 * @module
 */

/** The forker workload's script. */
export const FORKER_PL = new URL("./workloads/forker.pl", import.meta.url).pathname;

/** Bytes each of the forker's children reads per call. */
export const FORKER_READ_BYTES = 4096;

/** A running forker (or any line-driven process), with its stdout read line by line. */
export interface LineProcess extends AsyncDisposable {
  child: Deno.ChildProcess;
  pid: number;
  /** The next line it prints (waits for it). */
  nextLine(timeoutMs?: number): Promise<string>;
  /** Writes one line to its stdin. */
  send(line: string): Promise<void>;
}

/**
 * Starts a process whose stdin and stdout are pipes, and waits for its first
 * line ("ready PID").
 * @param cmd the program
 * @param args its arguments
 * @returns the running process
 */
export async function startLineProcess(cmd: string, args: string[]): Promise<LineProcess> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = child.stdin.getWriter();
  let buffered = "";
  async function nextLine(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!buffered.includes("\n")) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${cmd}: no line within ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`${cmd}: no line within ${timeoutMs} ms`)), left);
      });
      try {
        const { value, done } = await Promise.race([reader.read(), timeout]);
        if (done) throw new Error(`${cmd} ended before printing a line: ${buffered}`);
        buffered += value;
      } finally {
        clearTimeout(timer);
      }
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return line;
  }
  const first = await nextLine();
  if (!first.startsWith("ready")) throw new Error(`${cmd} said '${first}' instead of ready`);
  return {
    child,
    pid: child.pid,
    nextLine,
    async send(line: string) {
      await writer.write(new TextEncoder().encode(line + "\n"));
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await writer.close().catch(() => {});
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
}

/** A file of `bytes` random bytes in /dev/shm (never evicted), removed on dispose. */
export function shmFile(bytes = 1 << 20): { path: string } & Disposable {
  const path = `/dev/shm/ioscope-test-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.bin`;
  const data = new Uint8Array(bytes);
  crypto.getRandomValues(data.subarray(0, 65536));
  Deno.writeFileSync(path, data);
  return {
    path,
    [Symbol.dispose]() {
      try {
        Deno.removeSync(path);
      } catch {
        // gone
      }
    },
  };
}

/**
 * Starts a process that reads `reads` x 4096 bytes of `file` and exits, with
 * one of the PIDs `pids` (ones exited processes had): it writes pid - 1 to
 * /proc/sys/kernel/ns_last_pid and forks at once. Another process on the host
 * may take the PID in between, or hold it by now; it tries the next, again
 * and again, and throws if it never gets one.
 * @param pids the PIDs to reuse, in order of preference
 * @param file the file to read
 * @param reads how many read(2) calls
 * @returns the PID the process had
 */
export async function readAsPid(pids: number[], file: string, reads: number): Promise<number> {
  const script = `use POSIX ();
open(my $f, ">", "/proc/sys/kernel/ns_last_pid") or die "ns_last_pid: $!";
print $f ($ARGV[0] - 1); close($f);
my $p = fork(); die "fork: $!" unless defined $p;
if ($p == 0) {
  if ($$ == $ARGV[0]) {
    open(my $fh, "<", $ARGV[1]) or POSIX::_exit(3);
    for (1 .. $ARGV[2]) { sysread($fh, my $b, 4096) == 4096 or POSIX::_exit(4); sysseek($fh, 0, 0); }
  }
  POSIX::_exit(0);
}
waitpid($p, 0); print "$p $?\\n";`;
  for (let attempt = 0; attempt < 200; attempt++) {
    const free = pids.filter((p) => {
      try {
        Deno.statSync(`/proc/${p}`);
        return false;
      } catch {
        return true;
      }
    });
    const pid = free[attempt % Math.max(1, free.length)];
    if (pid === undefined) break;
    const out = await new Deno.Command("perl", {
      args: ["-e", script, String(pid), file, String(reads)],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const [got, status] = new TextDecoder().decode(out.stdout).trim().split(" ");
    if (Number(got) === pid) {
      if (status !== "0") throw new Error(`the process as PID ${pid} failed: status ${status}`);
      return pid;
    }
  }
  throw new Error(`could not start a process as PID ${pids.join(" or ")}: the host took them`);
}
