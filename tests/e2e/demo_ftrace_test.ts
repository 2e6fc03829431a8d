// On a host with nothing but the kernel (PATH here holds only the tools the
// agent runs, not bpftrace), `--backend auto` is the bpf backend; where its
// programs do not load (forced here with IOSCOPE_BPF_ATTACH=off) and there is
// no bpftrace, it is the ftrace backend. The demo works either way.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, tmpDir } from "../_helpers/common.ts";
import { assertHostClean } from "../_helpers/trace_run.ts";
import { readRun } from "../_helpers/documents.ts";

const TOOLS = ["sh", "setsid", "setpriv", "mount", "umount", "sleep", "rmdir"];

function which(tool: string): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${tool}`).isFile) return `${dir}/${tool}`;
    } catch {
      // not here
    }
  }
  throw new Error(`${tool} not found`);
}

for (
  const [backend, env] of [["bpf", {}], ["ftrace", { IOSCOPE_BPF_ATTACH: "off" }]] as const
) {
  Deno.test(`without bpftrace${backend === "ftrace" ? " or bpf" : ""}, the demo traces with the ${backend} backend and leaves nothing`, async () => {
    await using dir = tmpDir();
    const bin = `${dir.path}/bin`;
    Deno.mkdirSync(bin);
    for (const tool of TOOLS) Deno.symlinkSync(which(tool), `${bin}/${tool}`);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}mod.ts`, "demo", "--out-dir", `${dir.path}/out`],
      env: { PATH: bin, ...env },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, stderr);
    assert(stderr.includes(`with ${backend}`), `says which backend: ${stderr}`);
    const run = readRun(`${dir.path}/out/trace.json`);
    assertEquals(run.meta.backend, backend);
    assertEquals(run.meta.lost_events, 0);
    assert((run.syscalls.pread64?.count ?? 0) > 1000, "the workload's reads");
    assert(
      (run.syscalls.sendfile64?.count ?? 0) > 0 && run.copy.zero_copy_bytes > 0,
      "zero-copy seen",
    );
    await assertHostClean(child.pid);
  });
}
