/**
 * Nothing of ours is left: programs and links are gone after close(), and
 * after `kill -9` of a process that held them (the kernel detaches when the
 * last descriptor closes). Only our own ids are checked, by walking
 * BPF_PROG_GET_NEXT_ID / BPF_LINK_GET_NEXT_ID: other programs come and go here.
 * @module
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import { countGetppid, linksLeft, programsLeft, waitGone } from "./_helpers.ts";
import {
  BpfLink,
  BpfMap,
  BpfProgram,
  exit,
  haveBatchLookup,
  haveRawTracepoint,
  haveTaskStorage,
  MapType,
  ProgType,
  resetFeatureCache,
} from "../../../ffi/bpf/mod.ts";
import { openFds } from "../../_helpers/ffi.ts";

Deno.test("cleanup: programs and links are gone after close", async () => {
  const counts = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
  const prog = BpfProgram.load({
    type: ProgType.RAW_TRACEPOINT,
    name: "test_close",
    insns: countGetppid([counts.fd], "raw_sys_enter"),
  });
  const link = BpfLink.attachRawTracepoint(prog, "sys_enter");
  const progId = prog.id, linkId = link.id();
  assertEquals(programsLeft([progId]), [progId], "loaded");
  assertEquals(linksLeft([linkId]), [linkId], "attached");
  link.close();
  prog.close();
  counts.close();
  assertEquals(await waitGone([progId], [linkId]), { programs: [], links: [] });
});

Deno.test("cleanup: kill -9 of a process holding links leaves none of its programs", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_child_holds_links.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let ids: { programs: number[]; links: number[] };
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      assert(!done, `the child ended before printing its ids: ${text}`);
      text += value;
    }
    reader.releaseLock();
    ids = JSON.parse(text.split("\n")[0]!);
    assertEquals(ids.programs.length, 2);
    assertEquals(ids.links.length, 2);
    assertEquals(programsLeft(ids.programs), ids.programs, "the child's programs are loaded");
    assertEquals(linksLeft(ids.links), ids.links, "the child's links are attached");
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
  assertEquals(await waitGone(ids.programs, ids.links), { programs: [], links: [] });
});

Deno.test("cleanup: loading, attaching, probing and failing leave no descriptor open", () => {
  const cycle = () => {
    using counts = BpfMap.create({
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: 8,
      maxEntries: 1,
    });
    using store = BpfMap.create({
      type: MapType.TASK_STORAGE,
      keySize: 4,
      valueSize: 16,
      maxEntries: 0,
    });
    using prog = BpfProgram.load({
      type: ProgType.TRACEPOINT,
      name: "test_fds",
      insns: countGetppid([counts.fd], "tracepoint"),
    });
    // One program attaches once per tracepoint: one way, then the other.
    BpfLink.attachTracepoint(prog, "syscalls", "sys_enter_getppid").close();
    BpfLink.attachTracepoint(prog, "syscalls", "sys_enter_getppid", { method: "ioctl" }).close();
    try {
      BpfProgram.load({ type: ProgType.RAW_TRACEPOINT, name: "test_bad", insns: [exit()] });
    } catch {
      // refused by the verifier: its log was read, no descriptor made
    }
    resetFeatureCache();
    for (const f of [haveTaskStorage(), haveBatchLookup(), haveRawTracepoint()]) {
      assert(f.ok, f.reason);
    }
    assert(store.fd >= 0);
  };
  cycle(); // once first: libraries and lazy runtime descriptors settle
  const fds = openFds();
  for (let i = 0; i < 5; i++) cycle();
  assertEquals(openFds(), fds, "descriptors left open");
});
