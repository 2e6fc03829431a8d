// The kernel matrix's reading of a guest's console (tests/kernels/matrix.ts): pure, on a
// recorded console (tests/testdata/kernel_matrix_5.10.txt, how it was recorded is in the
// README there). The matrix itself runs with `deno task test:kernels`.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT } from "../_helpers/common.ts";
import { parseRun, table } from "./matrix.ts";

const LINES = Deno.readTextFileSync(`${ROOT}tests/testdata/kernel_matrix_5.10.txt`).split("\n");

Deno.test("kernel matrix: a guest's console gives its release, attach path, starts and test counts", () => {
  const row = parseRun("Debian 11 5.10", LINES, 203);
  assertEquals(
    [row.release, row.attach, row.starts, row.exitArgs, row.memlock],
    ["5.10.0-46-amd64", "tp", "hash", "1", "raised"],
  );
  assertEquals([row.passed, row.failed, row.ok], [6, 7, false]);
  const text = table([row]);
  assert(/^kernel\s+release\s+attach\s+starts/.test(text), text);
  assert(text.split("\n")[1]?.includes("FAILED"), text);
});

Deno.test("kernel matrix: a guest that printed no summary, or ran out of time, is a failure", () => {
  const cut = LINES.filter((l) => !/^(ok|FAILED) \||IOSCOPE-TESTS-EXIT/.test(l));
  assertEquals(parseRun("x", cut, 1).ok, false);
  const passing = LINES.map((l) =>
    l.replace(/^FAILED \| 6 passed \| 7 failed/, "ok | 13 passed | 0 failed")
  )
    .map((l) => l.replace("IOSCOPE-TESTS-EXIT 1", "IOSCOPE-TESTS-EXIT 0"));
  assertEquals(parseRun("x", passing, 1).ok, true);
  const late = parseRun("x", passing, 1, false);
  assertEquals([late.ok, late.note], [false, "timed out"]);
  // Recorded from Debian 6.12 with two vCPUs (see vm.ts): the guest's kernel died mid-test.
  const oops = parseRun("x", [...cut, "[   27.448181] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI"], 1);
  assertEquals([oops.ok, oops.note], [false, "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI"]);
});
