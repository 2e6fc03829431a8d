// `trace --live` for real, in tmux: the view draws, its keys sort it, and
// every way it ends (q, Ctrl-C, SIGTERM, the target exiting, --duration)
// leaves the terminal as it was (main screen, cursor shown, cooked mode) and
// writes the usual outputs.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, startWorkload, tmpDir, waitFor } from "../_helpers/common.ts";
import { assertHostClean } from "../_helpers/trace_run.ts";

const dec = new TextDecoder();

/** A tmux server of this test's own (its own socket), killed on dispose. */
function tmux(): {
  run: (...args: string[]) => string;
  [Symbol.dispose](): void;
} {
  const socket = `ioscope-live-test-${Deno.pid}`;
  const run = (...args: string[]) => {
    const o = new Deno.Command("tmux", {
      args: ["-L", socket, ...args],
      stdout: "piped",
      stderr: "piped",
    })
      .outputSync();
    return dec.decode(o.stdout) + (o.success ? "" : dec.decode(o.stderr));
  };
  return {
    run,
    [Symbol.dispose]() {
      run("kill-server");
    },
  };
}

/** Starts `ioscope trace --live ARGS` in an 80x24 tmux pane; after it ends the pane shows its exit status and the terminal's modes. */
function startLive(t: ReturnType<typeof tmux>, dir: string, args: string[]): void {
  const cmd = [
    `cd ${ROOT}`,
    `stty -g > ${dir}/stty-before`,
    `${Deno.execPath()} run -A mod.ts trace --live ${args.join(" ")} --json ${dir}/run.json`,
    `echo "EXIT=$?"`,
    `stty -g > ${dir}/stty-after`,
    `stty -a > ${dir}/stty`,
    "sleep 120",
  ].join("; ");
  t.run("new-session", "-d", "-s", "live", "-x", "80", "-y", "24", cmd);
}

function screen(t: ReturnType<typeof tmux>): string {
  return t.run("capture-pane", "-p", "-t", "live");
}

function pane(t: ReturnType<typeof tmux>, what: string): string {
  return t.run("display-message", "-p", "-t", "live", what).trim();
}

async function waitScreen(
  t: ReturnType<typeof tmux>,
  needle: RegExp,
  ms = 30_000,
): Promise<string> {
  let last = "";
  await waitFor(() => needle.test(last = screen(t)), ms, `${needle} on screen:\n${last}`).catch(
    () => {
      throw new Error(`timed out waiting for ${needle} on screen:\n${last}`);
    },
  );
  return last;
}

/** The pane after ioscope ended: the main screen, cursor shown, cooked mode, outputs written. */
async function assertRestored(
  t: ReturnType<typeof tmux>,
  dir: string,
  reason: string,
): Promise<string> {
  const text = await waitScreen(t, /EXIT=\d+/);
  assertEquals(pane(t, "#{alternate_on}"), "0", "back on the main screen");
  assertEquals(pane(t, "#{cursor_flag}"), "1", "the cursor is shown");
  await waitFor(
    () => {
      try {
        return Deno.readTextFileSync(`${dir}/stty`).length > 0;
      } catch {
        return false;
      }
    },
    5_000,
    "stty -a",
  );
  const stty = Deno.readTextFileSync(`${dir}/stty`);
  for (const mode of ["icanon", "echo", "isig", "opost"]) {
    assert(new RegExp(`(^|\\s)${mode}(\\s|$)`, "m").test(stty), `${mode} restored: ${stty}`);
  }
  // Every mode as it was before ioscope started.
  assertEquals(
    Deno.readTextFileSync(`${dir}/stty-after`),
    Deno.readTextFileSync(`${dir}/stty-before`),
    "stty -g before and after",
  );
  assert(text.includes("EXIT=0"), text);
  // The usual outputs: the summary on the terminal, the Run document.
  assert(/syscall\s+calls\s+errs/.test(text), text);
  const run = JSON.parse(Deno.readTextFileSync(`${dir}/run.json`));
  assertEquals(run.meta.end_reason, reason);
  assert(run.syscalls.read.count > 0, "reads counted");
  return text;
}

Deno.test("--live draws a top-like view, sorts on t/c/p, and q restores the terminal", async () => {
  await using dir = tmpDir();
  await using w = await startWorkload("timer_reads.ts", []);
  await w.go();
  using t = tmux();
  startLive(t, dir.path, ["--pid", String(w.pid)]);
  let view = await waitScreen(t, /^read\s+[\d.]+k?\/s/m);
  const agent = agentPid(`${dir.path}/run.json`);
  assertEquals(pane(t, "#{alternate_on}"), "1", "the view is on the alternate screen");
  assertEquals(pane(t, "#{cursor_flag}"), "0", "the cursor is hidden while it draws");
  const lines = view.split("\n");
  assert(lines[0]!.includes(`pid ${w.pid}`) && lines[0]!.includes("sort: time"), lines[0]);
  assert(/^lost \d+ events/.test(lines[2]!), lines[2]);
  assert(lines[4]!.startsWith("SYSCALL") && lines[4]!.includes("P99"), lines[4]);
  for (const l of lines) assert(l.length <= 80, l);
  // The bpf backend splits each call's time: timer_reads' reads sleep on a
  // timerfd (its slow ones for 10 ms), so the read row is followed by where the
  // time went, "other" sleep first, for all calls and, from the second interval
  // on (the slow threshold is the previous interval's P99), for the P99 calls;
  // the line above the header is the block layer's.
  assert(lines[0]!.includes(", bpf, "), lines[0]);
  assert(/^block /.test(lines[3]!), lines[3]);
  const split = await waitScreen(t, /^read\s.*\n {2}time \d+% other.*; P99 calls \d+% other/m);
  assert(!/(^|\s)0%/m.test(split), split);
  // Redrawn in place: the elapsed seconds move, the screen does not scroll.
  const t0 = /(\d+) s/.exec(lines[0]!)?.[1];
  view = await waitScreen(t, new RegExp(`, (?!${t0} s)\\d+ s`));
  assertEquals(view.split("\n")[4], lines[4], "the header stays on line 5");
  t.run("send-keys", "-t", "live", "c");
  await waitScreen(t, /sort: calls/);
  t.run("send-keys", "-t", "live", "p");
  await waitScreen(t, /sort: p99/);
  t.run("send-keys", "-t", "live", "t");
  await waitScreen(t, /sort: time/);
  t.run("send-keys", "-t", "live", "q");
  await assertRestored(t, dir.path, "stopped");
  await assertHostClean(agent);
});

for (const end of ["ctrl-c", "sigterm", "target-exit", "duration"] as const) {
  Deno.test(`--live ended by ${end} restores the terminal and writes the outputs`, async () => {
    await using dir = tmpDir();
    await using w = await startWorkload("timer_reads.ts", []);
    await w.go();
    using t = tmux();
    startLive(t, dir.path, [
      "--pid",
      String(w.pid),
      ...(end === "duration" ? ["--duration", "3s"] : []),
    ]);
    await waitScreen(t, /^read\s+[\d.]+k?\/s/m);
    const agent = agentPid(`${dir.path}/run.json`);
    if (end === "ctrl-c") t.run("send-keys", "-t", "live", "C-c");
    if (end === "sigterm") Deno.kill(agent, "SIGTERM");
    if (end === "target-exit") w.child.kill("SIGKILL");
    const reason = {
      "ctrl-c": "signal",
      sigterm: "signal",
      "target-exit": "target-exit",
      duration: "duration",
    }[end];
    await assertRestored(t, dir.path, reason);
    await assertHostClean(agent);
  });
}

/** The pid of the ioscope whose command line names this file. */
function agentPid(needle: string): number {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (cmd.includes("mod.ts\0trace\0--live") && cmd.includes(needle)) return Number(e.name);
    } catch {
      // gone
    }
  }
  throw new Error(`no ioscope with ${needle} running`);
}

for (const backend of ["bpftrace", "ftrace"] as const) {
  Deno.test(`--live with the ${backend} backend draws the same view and q restores the terminal`, async () => {
    await using dir = tmpDir();
    await using w = await startWorkload("timer_reads.ts", []);
    await w.go();
    using t = tmux();
    startLive(t, dir.path, ["--pid", String(w.pid), "--backend", backend]);
    const view = await waitScreen(t, /^read\s+[\d.]+k?\/s/m);
    assert(view.split("\n")[0]!.includes(`, ${backend}, `), view);
    // No time split here: said once, with the reason, above the header; never 0%.
    assert(/^time split(, block layer)? not measured: /.test(view.split("\n")[3]!), view);
    assert(!/^ {2}time \d/m.test(view) && !/(^|\s)0%/m.test(view), view);
    const agent = agentPid(`${dir.path}/run.json`);
    t.run("send-keys", "-t", "live", "q");
    await assertRestored(t, dir.path, "stopped");
    await assertHostClean(agent);
  });
}
