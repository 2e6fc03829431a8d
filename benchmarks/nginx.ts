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

/** Starts nginx with one worker on a free loopback port. */
export async function startNginx(dir: string): Promise<Nginx> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  Deno.writeTextFileSync(`${dir}/index.html`, "x".repeat(4096));
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
  return {
    port,
    workerPid,
    url: `http://127.0.0.1:${port}/index.html`,
    async [Symbol.asyncDispose]() {
      master.kill("SIGQUIT");
      const timer = setTimeout(() => master.kill("SIGKILL"), 3000);
      await master.status;
      clearTimeout(timer);
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
