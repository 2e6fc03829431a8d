// Per descriptor, and findings that tell a socket from a file, on a real
// socket server on 127.0.0.1 (tests/_helpers/workloads/small_messages.py):
// 20 000 messages of 46 bytes, read half with recv() (recvfrom) and half
// with read() on the socket.
//
// Before (main at 7028a44): no per-descriptor figures; the finding said "Many
// small reads ... Read bigger blocks (64 KiB to 1 MiB)" about 46-byte
// messages, which no block size changes. After: the Run's `fds` names the
// socket (kind "socket", its calls by syscall), and the finding says these
// are socket messages, with no block-size advice.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, tmpDir } from "../_helpers/common.ts";
import { traceWorkload } from "../_helpers/trace_run.ts";
import { findings, renderRunHtml } from "../../report/mod.ts";
import { startLineWorkload } from "../_helpers/line_workload.ts";

const MESSAGES = 20_000;

async function traceServer(backend: string, dir: string) {
  const w = await startLineWorkload("python3", [
    `${ROOT}tests/_helpers/workloads/small_messages.py`,
    String(MESSAGES),
  ]);
  const { run, text } = await traceWorkload(w, `${dir}/run.json`, { backend });
  const sock = Number(/sock (\d+)/.exec(text)?.[1]);
  return { run, sock, pid: w.pid };
}

for (const backend of ["bpftrace", "ftrace", "bpf"] as const) {
  Deno.test(`${backend}: 46-byte messages are keyed to their socket, and no finding says "read bigger blocks"`, async () => {
    await using dir = tmpDir();
    const { run, sock, pid } = await traceServer(backend, dir.path);
    const fd = run.fds?.find((f) => f.pid === pid && f.fd === sock);
    assert(fd, `the socket in fds: ${JSON.stringify(run.fds)}`);
    assertEquals(fd.kind, "socket", fd.target);
    assert(fd.target.startsWith("socket:["), fd.target);
    assertEquals(fd.calls.recvfrom, MESSAGES / 2, "recv() calls on it");
    assertEquals(fd.calls.read, MESSAGES / 2, "read() calls on it");
    assertEquals(fd.calls.sendto, MESSAGES, "its answers");
    const small = findings(run).find((f) => f.rule === "small-reads");
    assert(small, "small reads found");
    assert(small.title.includes("socket"), small.title);
    assert(!/bigger blocks/i.test(small.suggestion), small.suggestion);
    // The report shows it.
    const html = await renderRunHtml(run);
    assert(
      html.includes('id="descriptors"') && html.includes(fd.target),
      "descriptors in the report",
    );
  });
}
