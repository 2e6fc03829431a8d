/**
 * A real nginx (Debian's nginx-light) on loopback with `sendfile on` and one
 * worker, serving a small file, and wrk to load it. For measuring what tracing
 * costs a server.
 * @module
 */

/** A running nginx. */
export interface Nginx extends AsyncDisposable {
  port: number;
  /** The worker's PID (the process that serves requests). */
  workerPid: number;
  url: string;
}

/** The size of the file nginx serves (issue 12: a 16 KiB file, with sendfile). */
export const FILE_BYTES = 16 << 10;

/**
 * Refuses a server that does not answer 200 with the whole file: a worker
 * that cannot open it answers 403 and serves an error page instead (every
 * request then an openat failing with EACCES and an error-log write, and
 * never a sendfile), which is not the workload a benchmark means to measure.
 */
async function servesTheFile(
  url: string,
  master: Deno.ChildProcess,
  workerPid: number,
): Promise<void> {
  let why = "";
  for (let tries = 0; tries < 20; tries++) {
    try {
      const res = await fetch(url);
      const body = await res.arrayBuffer();
      if (res.status === 200 && body.byteLength === FILE_BYTES) return;
      why = `HTTP ${res.status}, ${body.byteLength} bytes`;
    } catch (e: unknown) {
      why = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stopNginx(master, workerPid, "SIGTERM");
  throw new Error(`nginx does not serve ${url} (${FILE_BYTES} bytes): ${why}`);
}

/**
 * Stops nginx: `signal` to the master (SIGQUIT: graceful; SIGTERM: fast; both
 * stop the worker), SIGKILL after 3 s; then the worker, if it still runs. A
 * master killed outright leaves its worker running, orphaned, with every
 * descriptor nginx inherited: once, the test lock's, which it then held for
 * everyone (2026-12-06).
 */
async function stopNginx(
  master: Deno.ChildProcess,
  workerPid: number,
  signal: Deno.Signal,
): Promise<void> {
  master.kill(signal);
  const timer = setTimeout(() => master.kill("SIGKILL"), 3000);
  await master.status;
  clearTimeout(timer);
  try {
    // Still ours (its PID not reused): an orphaned nginx worker.
    const cmd = Deno.readTextFileSync(`/proc/${workerPid}/cmdline`);
    if (cmd.startsWith("nginx: worker")) Deno.kill(workerPid, "SIGKILL");
  } catch {
    // it ended with the master
  }
}

/** Starts nginx with one worker on a free loopback port, serving a 16 KiB file. */
export async function startNginx(dir: string): Promise<Nginx> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  // The worker runs as an unprivileged user: a temporary directory is 0700.
  Deno.chmodSync(dir, 0o755);
  Deno.writeTextFileSync(`${dir}/index.html`, "x".repeat(FILE_BYTES), { mode: 0o644 });
  Deno.writeTextFileSync(
    `${dir}/nginx.conf`,
    `worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  sendfile on;
  access_log off;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
  server { listen 127.0.0.1:${port}; root ${dir}; }
}
`,
  );
  Deno.mkdirSync(`${dir}/tmp`, { recursive: true });
  const master = new Deno.Command("nginx", {
    args: ["-c", `${dir}/nginx.conf`, "-p", dir],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let workerPid = 0;
  const deadline = Date.now() + 5000;
  while (!workerPid) {
    if (Date.now() > deadline) {
      master.kill("SIGKILL");
      throw new Error("nginx did not start");
    }
    await new Promise((r) => setTimeout(r, 50));
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (ppid === master.pid) workerPid = Number(e.name);
      } catch {
        // gone
      }
    }
  }
  const url = `http://127.0.0.1:${port}/index.html`;
  await servesTheFile(url, master, workerPid);
  return {
    port,
    workerPid,
    url,
    async [Symbol.asyncDispose]() {
      await stopNginx(master, workerPid, "SIGQUIT");
    },
  };
}

/** Runs wrk for `seconds` and returns requests per second. */
export async function wrkRequestsPerSecond(url: string, seconds: number): Promise<number> {
  const out = await new Deno.Command("wrk", {
    args: ["-t1", "-c16", `-d${seconds}s`, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  // wrk counts error pages as requests: a rate of them is not the workload's.
  const failed = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  if (failed) throw new Error(`wrk got ${failed[1]} error responses from ${url}`);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!m) throw new Error(`wrk printed no rate: ${text}${new TextDecoder().decode(out.stderr)}`);
  return Number(m[1]);
}

/**
 * A process's user + system CPU seconds so far (/proc/PID/stat, USER_HZ 100).
 * @param pid the process
 * @returns seconds
 */
export function workerCpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
