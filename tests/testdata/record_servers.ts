// Records tests/testdata/run_why_nginx.json and run_why_caddy.json: real bpf
// Runs (with the time split, the block layer and the page cache) of two web
// servers on loopback under wrk, for the findings that must not fire on a
// healthy server (tests/report/findings_test.ts).
//
// - nginx (Debian's nginx-light, benchmarks/nginx.ts: one worker, sendfile
//   on, a 16 KiB file): `ioscope trace --pid WORKER --backend bpf --duration
//   8s` while `wrk -t1 -c16 -d6s URL` runs.
// - Caddy 2.6.2 (Debian's `caddy`): `caddy file-server --listen
//   127.0.0.1:PORT --root DIR` serving the same 16 KiB file, `ioscope trace
//   --pid CADDY --backend bpf --duration 8s` while `wrk -t1 -c16 -d6s URL`.
//
// Run as root from the repository root:
//   deno run -A tests/testdata/record_servers.ts [CADDY_BINARY]
// (CADDY_BINARY defaults to `caddy` on PATH; `apt-get download caddy` and
// `dpkg-deb -x` give one without starting Debian's caddy service).
import { FILE_BYTES, startNginx, wrkRequestsPerSecond } from "../../benchmarks/nginx.ts";
import { spawnCli } from "../_helpers/common.ts";

const here = new URL("./", import.meta.url).pathname;
const caddy = Deno.args[0] ?? "caddy";

async function record(pid: number, url: string, out: string): Promise<void> {
  const cli = spawnCli([
    "trace",
    "--pid",
    String(pid),
    "--backend",
    "bpf",
    "--duration",
    "8s",
    "--json",
    out,
  ]);
  await cli.waitForStderr("Tracing ");
  const rate = await wrkRequestsPerSecond(url, 6);
  const result = await cli.done;
  if (result.code !== 0) throw new Error(`trace failed: ${result.stderr}`);
  console.log(`${out}: wrk ${rate.toFixed(0)} requests/s\n${result.stdout}`);
}

{
  const dir = await Deno.makeTempDir({ prefix: "ioscope-record-nginx-" });
  try {
    await using nginx = await startNginx(dir);
    await record(nginx.workerPid, nginx.url, `${here}run_why_nginx.json`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

{
  const dir = await Deno.makeTempDir({ prefix: "ioscope-record-caddy-" });
  Deno.chmodSync(dir, 0o755);
  Deno.writeTextFileSync(`${dir}/index.html`, "x".repeat(FILE_BYTES));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = new Deno.Command(caddy, {
    args: ["file-server", "--listen", `127.0.0.1:${port}`, "--root", dir],
    env: { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const url = `http://127.0.0.1:${port}/index.html`;
    for (let tries = 0;; tries++) {
      try {
        const res = await fetch(url);
        if ((await res.arrayBuffer()).byteLength === FILE_BYTES) break;
      } catch (e: unknown) {
        if (tries > 100) throw e;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await record(server.pid, url, `${here}run_why_caddy.json`);
  } finally {
    server.kill("SIGTERM");
    await server.status;
    await Deno.remove(dir, { recursive: true });
  }
}
