// The nginx the overhead benchmark loads: it must serve its 16 KiB file with
// sendfile, one call a request. (Until 2026-12-02 the worker, an unprivileged
// user, could not open the file in its 0700 temporary directory: every
// request was a 403, an openat failing with EACCES and an error-log write.)
import { assert, assertEquals } from "../_helpers/assert.ts";
import { tmpDir } from "../_helpers/common.ts";
import { FILE_BYTES, startNginx, wrkRequestsPerSecond } from "../../benchmarks/nginx.ts";

Deno.test("the benchmark's nginx serves its 16 KiB file by sendfile, and wrk gets no error page", async () => {
  await using dir = tmpDir();
  await using nginx = await startNginx(dir.path);
  const res = await fetch(nginx.url);
  assertEquals([res.status, (await res.arrayBuffer()).byteLength], [200, FILE_BYTES]);
  const strace = new Deno.Command("strace", {
    args: ["-c", "-f", "-p", String(nginx.workerPid)],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 300)); // attached
    const rps = await wrkRequestsPerSecond(nginx.url, 1);
    assert(rps > 100, `${rps} requests/s`);
  } finally {
    strace.kill("SIGINT");
  }
  const table = new TextDecoder().decode((await strace.output()).stderr);
  const row = (name: string) => {
    const m = new RegExp(`^\\s*[\\d.]+\\s+[\\d.]+\\s+\\d+\\s+(\\d+)\\s+(\\d*)\\s*${name}$`, "m")
      .exec(table);
    return { calls: Number(m?.[1] ?? 0), errors: Number(m?.[2] || 0) };
  };
  const sendfile = row("sendfile");
  const openat = row("openat");
  assert(sendfile.calls > 100, `sendfile calls: ${sendfile.calls}\n${table}`);
  assertEquals(openat.errors, 0, `the file opened every time\n${table}`);
  // wrk ends by closing its 16 connections, mid-response for some (EPIPE).
  assert(sendfile.errors <= 16, `sendfile errors\n${table}`);
  // One sendfile a request (each opens the file once): at most the 16 cut off
  // by wrk's end are not sent, and a full socket buffer, which makes nginx
  // call again, is rare (2462 sendfiles for 2462 opens when this was written).
  assert(
    sendfile.calls >= openat.calls - 16 && sendfile.calls <= openat.calls * 1.02 + 16,
    `sendfile vs openat\n${table}`,
  );
});

Deno.test("an nginx that cannot serve its file is stopped whole: no worker left running", async () => {
  // A 0700 directory above the one nginx serves: the worker (nobody) gets 403s. Until 2026-12-06
  // the master was killed outright there, and its orphaned worker ran on with every descriptor it
  // inherited (once the global test lock's, held for everyone for 11 minutes).
  await using dir = tmpDir();
  const www = `${dir.path}/www`;
  Deno.mkdirSync(www);
  let threw = "";
  try {
    await using _ = await startNginx(www);
  } catch (e: unknown) {
    threw = String(e);
  }
  assert(/does not serve .*HTTP 403/.test(threw), threw);
  const holders: string[] = [];
  for (const p of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(p.name)) continue;
    try {
      for (const fd of Deno.readDirSync(`/proc/${p.name}/fd`)) {
        const target = Deno.readLinkSync(`/proc/${p.name}/fd/${fd.name}`);
        if (target.startsWith(www)) holders.push(`${p.name}: ${target}`);
      }
    } catch {
      // gone, or not ours to read
    }
  }
  assertEquals(holders, [], "processes holding the nginx directory's files");
});
