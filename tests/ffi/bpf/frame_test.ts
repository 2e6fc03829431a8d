// Named stack slots, register roles and the calling-convention check: pure,
// no kernel (the verifier's view of the same rules is in program_test.ts).
import { assertEquals } from "../../_helpers/assert.ts";
import { assertRangeError } from "./_helpers.ts";
import {
  add,
  call,
  clobberedReads,
  exit,
  jeq,
  label,
  ldx,
  mov,
  R0,
  R1,
  R10,
  R2,
  R6,
  R7,
  roles,
  scratch,
  stx,
} from "../../../ffi/bpf/asm.ts";
import { frameLayout, MAX_STACK, stackFrame } from "../../../ffi/bpf/frame.ts";
import { Helper } from "../../../ffi/bpf/sys.ts";

Deno.test("frame: slots are placed in order below R10, each aligned to its size", () => {
  const fp = stackFrame({ flag: 1, key: 4, value: 8, pair: 16, half: 2 });
  assertEquals({ ...fp }, { flag: -1, key: -8, value: -16, pair: -32, half: -34 });
  assertEquals(frameLayout(fp).bytes, 34);
  // An explicit alignment, and a frame continued under another one.
  const shared = stackFrame({ a: 4, b: { size: 4, align: 8 } });
  assertEquals({ ...shared }, { a: -4, b: -8 });
  const own = stackFrame({ c: 8 }, { below: shared });
  assertEquals({ ...own }, { a: -4, b: -8, c: -16 });
});

Deno.test("frame: overlapping slots, bad sizes and frames past 512 bytes are refused", () => {
  assertRangeError(
    () => stackFrame({ a: 8, b: { size: 4, at: -4 } }),
    /b \(fp-4, 4 bytes\) overlaps a/,
  );
  assertRangeError(() => stackFrame({ a: 4, b: { size: 8, at: -4 } }), /not an aligned place/);
  assertRangeError(() => stackFrame({ a: 0 }), /not a positive integer/);
  assertRangeError(() => stackFrame({ a: 4, b: { size: 4, align: 3 } }), /alignment 3/);
  assertRangeError(() => stackFrame({ big: MAX_STACK, one: 1 }), /past the 512-byte stack/);
  assertEquals(stackFrame({ big: MAX_STACK }).big, -512, "exactly 512 bytes fit");
});

Deno.test("roles: values kept across calls go in R6-R9, distinct; scratch in R0-R5", () => {
  assertEquals(roles({ ctx: R6, request: R7 }), { ctx: 6, request: 7 });
  // The type forbids these; the check holds for values the type cannot see.
  assertRangeError(
    () => roles({ ctx: R1 as unknown as 6 }),
    /ctx is r1, which a helper call overwrites/,
  );
  assertRangeError(() => roles({ a: R6, b: R6 }), /b and a are both r6/);
  assertRangeError(() => scratch({ key: R7 as unknown as 1 }), /callee-saved/);
  assertEquals(scratch({ key: R2 }).key, 2);
});

Deno.test("clobberedReads: an argument register read after a call is found; R0 and R6-R9 are not", () => {
  const bad = [
    mov.reg(R1, R10),
    add.imm(R1, -8),
    call(Helper.ktime_get_ns),
    stx.dw(R10, -16, R0), // R0: the result
    ldx.dw(R2, R1, 0), // R1 was overwritten by the call
    mov.reg(R6, R0),
    call(Helper.ktime_get_ns),
    mov.reg(R0, R6), // R6 is kept
    exit(),
  ];
  assertEquals(clobberedReads(bad), [{ slot: 4, reg: R1 }]);
  // Written again after the call, or past a label (a jump may bring another value): no finding.
  assertEquals(
    clobberedReads([
      call(Helper.ktime_get_ns),
      mov.imm(R1, 0),
      add.reg(R0, R1),
      jeq.imm(R0, 0, "x"),
      call(Helper.ktime_get_ns),
      label("x"),
      mov.reg(R0, R2),
      exit(),
    ]),
    [],
  );
});
