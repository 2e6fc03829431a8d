/**
 * The multishot io_uring server (workloads/uring_multishot.ts) and the
 * connections its ACCEPT takes.
 * @module
 */
import { assert } from "./assert.ts";
import { ROOT } from "./common.ts";
import { type LineWorkload, startLineWorkload } from "./line_workload.ts";

/**
 * Starts the server; it waits for `go()`.
 * @param conns connections it accepts before it cancels its ACCEPT
 * @param skips IOSQE_CQE_SKIP_SUCCESS NOPs it submits
 * @returns the workload and its port
 */
export async function startMultishotServer(
  conns: number,
  skips: number,
): Promise<LineWorkload & { port: number }> {
  const w = await startLineWorkload(Deno.execPath(), [
    "run",
    "-A",
    `${ROOT}tests/_helpers/workloads/uring_multishot.ts`,
    String(conns),
    String(skips),
  ]);
  const port = Number(w.ready.split(" ")[2]);
  assert(port > 0, `ready line: ${w.ready}`);
  return { ...w, port };
}

/**
 * Starts the server's ACCEPT, then makes `conns` connections `intervalMs` apart.
 * @param server the started server
 * @param conns how many connections
 * @param intervalMs the pause before the first and after each
 */
export async function connectEach(
  server: LineWorkload & { port: number },
  conns: number,
  intervalMs: number,
): Promise<void> {
  await server.go();
  // The ACCEPT is armed before the first connection: give the server a moment.
  await new Promise((r) => setTimeout(r, intervalMs));
  for (let i = 0; i < conns; i++) {
    (await Deno.connect({ hostname: "127.0.0.1", port: server.port })).close();
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
