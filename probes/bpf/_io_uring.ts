/**
 * io_uring: request latency, submission to completion, per opcode: what
 * probes/io_uring.bt measures, as three programs.
 *
 * - submit (`io_uring_submit_req`): a traced process's request is
 *   remembered by its pointer with its opcode and start time, and its
 *   pointer by its ring and user_data. One submitted with
 *   IOSQE_CQE_SKIP_SUCCESS posts no completion when it succeeds: it is
 *   counted as untimed and not remembered.
 * - complete (`io_uring_complete`): completions run in any task's context,
 *   so every completion on the host pays one hash lookup; a remembered
 *   request is booked once and forgotten. A multishot request
 *   (IORING_CQE_F_MORE) stays: each later completion is timed from the one
 *   before, and every one is counted as multishot. The kernel posts all but
 *   a multishot request's last completion without the request
 *   (io_fill_cqe_aux traces req NULL): those are found by ring and
 *   user_data, as probes/io_uring.bt does. A zero-copy send's buffer
 *   notification (IORING_CQE_F_NOTIF) is not a result: it only forgets the
 *   request.
 * - async (`io_uring_queue_async_work`): a remembered request punted to an
 *   io-wq worker is counted as async.
 * @module
 */

import {
  add,
  and,
  arsh,
  BPF_ANY,
  call,
  exit,
  Helper,
  type Insn,
  ja,
  jeq,
  jlt,
  jne,
  jset,
  jslt,
  label,
  ldImm64,
  ldx,
  lsh,
  mov,
  R0,
  R1,
  R10,
  R2,
  R3,
  R7,
  R8,
  R9,
  roles,
  rsh,
  type SavedReg,
  st,
  stackFrame,
  stx,
  sub,
} from "../../ffi/bpf/mod.ts";
import {
  type BuildContext,
  countOne,
  CTX,
  END,
  END_SLOTS,
  ifOpen,
  ifTraced,
  increment,
  KEY_SLOTS,
  loadArg,
  lookup,
  recordEnd,
  remove,
  update,
} from "./_emit.ts";
import { COUNTER, ERRNO_KIND, OP, URING_OP_SLOTS, URING_START, URING_UD_KEY } from "./layout.ts";
import { IO_URING_DATA_OPS, IORING_CQE_F_MORE, IORING_CQE_F_NOTIF } from "../../schema/mod.ts";

const SUBMIT = "io_uring:io_uring_submit_req";
const COMPLETE = "io_uring:io_uring_complete";
const ASYNC = "io_uring:io_uring_queue_async_work";
/** REQ_F_CQE_SKIP: the request's IOSQE_CQE_SKIP_SUCCESS flag (bit 6 of req->flags). */
export const REQ_F_CQE_SKIP = 1 << 6;

/** Bit n set: opcode n's positive result is a byte count. */
export const DATA_OPS_MASK: bigint = [...IO_URING_DATA_OPS].reduce(
  (m, op) => m | (1n << BigInt(op)),
  0n,
);

/** The submit program's stack: the opcode's slot, the remembered start, the ring-and-user_data key, the request. */
const SUBMIT_SLOTS = stackFrame({
  opSlot: { size: 4, align: 8 },
  start: URING_START.bytes,
  udKey: URING_UD_KEY.bytes,
  request: 8,
}, { below: KEY_SLOTS });

/**
 * The completion program's stack below recordEnd's: the CQE (a raw
 * tracepoint copies it: uapi io_uring_cqe, user_data at 0, res at 8, flags
 * at 12), the ring-and-user_data key, the request, and what is copied out of
 * its entry before the entry may go.
 */
const COMPLETE_SLOTS = stackFrame({
  cqe: 16,
  udKey: URING_UD_KEY.bytes,
  request: 8,
  multishot: 4,
  startNs: 8,
  now: 8,
}, { below: END_SLOTS });

/** The async-punt program's stack. */
const ASYNC_SLOTS = stackFrame({ request: 8, opSlot: { size: 4, align: 8 } });

/** `*(size)(fp + to) = *(size)(R3 + offset)` read with bpf_probe_read_kernel (R3: the source pointer). */
function readKernel(to: number, size: number, offset: number): Insn[] {
  return [
    add.imm(R3, offset),
    mov.reg(R1, R10),
    add.imm(R1, to),
    mov.imm(R2, size),
    call(Helper.probe_read_kernel),
  ];
}

/**
 * The submit program.
 * @param b the build context
 * @returns the instructions
 */
export function onSubmit(b: BuildContext): Insn[] {
  if (b.kind !== "tp") {
    throw new RangeError("The submit program reads a classic tracepoint's record");
  }
  const fp = SUBMIT_SLOTS;
  const r = roles({ ctx: CTX, request: R7, opcode: R8, flags: R9 });
  // Once the opcode's totals are found, they take the context's register.
  const booked = roles({ totals: CTX, request: R7, opcode: R8, flags: R9 });
  const fields: Insn[] = [
    ...loadArg(b, R1, SUBMIT, { raw: 0, field: "ctx" }),
    stx.dw(R10, fp.udKey + URING_UD_KEY.ctx, R1),
    ...loadArg(b, R1, SUBMIT, { raw: 0, field: "user_data" }),
    stx.dw(R10, fp.udKey + URING_UD_KEY.userData, R1),
    ...loadArg(b, r.request, SUBMIT, { raw: 0, field: "req" }),
    ...loadArg(b, r.opcode, SUBMIT, { raw: 0, field: "opcode" }),
    ...loadArg(b, r.flags, SUBMIT, { raw: 0, field: "flags" }),
  ];
  return [
    ...ifOpen(b, "out"),
    mov.reg(r.ctx, R1),
    ...ifTraced(b, "out"),
    ...fields,
    // The opcode's slot: opcodes past the table share the last one.
    jlt.imm(r.opcode, URING_OP_SLOTS, "op_ok"),
    mov.imm(r.opcode, URING_OP_SLOTS - 1),
    label("op_ok"),
    stx.w(R10, fp.opSlot, r.opcode),
    ...lookup(b.maps.uringOps, fp.opSlot),
    jeq.imm(R0, 0, "out"),
    mov.reg(booked.totals, R0),
    jset.imm(booked.flags, REQ_F_CQE_SKIP, "untimed"),
    // Remember the request: its start and opcode.
    stx.dw(R10, fp.request, booked.request),
    call(Helper.ktime_get_ns),
    stx.dw(R10, fp.start + URING_START.startNs, R0),
    stx.w(R10, fp.start + URING_START.op, booked.opcode),
    st.w(R10, fp.start + URING_START.multishot, 0),
    ...update(b.maps.uringReqs, fp.request, fp.start, BPF_ANY),
    jeq.imm(R0, 0, "remembered"),
    ...countOne(b, COUNTER.uringFull, "full"),
    ja("out"),
    label("remembered"),
    // Its pointer by ring and user_data, for completions posted without it.
    ...update(b.maps.uringUserData, fp.udKey, fp.request, BPF_ANY),
    jeq.imm(R0, 0, "ud_kept"),
    ...countOne(b, COUNTER.uringFull, "ud_full"), // its multishot completions but the last go untimed
    label("ud_kept"),
    ...increment(booked.totals, OP.started * 8),
    ja("out"),
    label("untimed"),
    ...increment(booked.totals, OP.untimed * 8),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}

/** TP_PROTO(ctx, req, cqe): R3 = the CQE (raw tracepoints). */
const cqePointer = ldx.dw(R3, CTX, 2 * 8);

/** The completion's result and CQE flags into their roles (a raw tracepoint copies the CQE to fp.cqe). */
function cqeResult(b: BuildContext, r: { result: SavedReg; cqeFlags: SavedReg }): Insn[] {
  const fp = COMPLETE_SLOTS;
  return b.kind === "tp"
    ? [
      ...loadArg(b, r.result, COMPLETE, { raw: 0, field: "res" }),
      ...loadArg(b, r.cqeFlags, COMPLETE, { raw: 0, field: "cflags" }),
    ]
    : [
      cqePointer,
      ...readKernel(fp.cqe, 16, 0),
      ldx.w(r.result, R10, fp.cqe + 8), // res, a signed 32-bit value
      lsh.imm(r.result, 32),
      arsh.imm(r.result, 32),
      ldx.w(r.cqeFlags, R10, fp.cqe + 12),
    ];
}

/** The key from the ring and the CQE's user_data, at fp.udKey (`cqeRead`: fp.cqe holds the CQE). */
function udKey(b: BuildContext, cqeRead: boolean): Insn[] {
  const fp = COMPLETE_SLOTS;
  return [
    ...loadArg(b, R1, COMPLETE, { raw: 0, field: "ctx" }),
    stx.dw(R10, fp.udKey + URING_UD_KEY.ctx, R1),
    ...(b.kind !== "tp" && !cqeRead
      ? [cqePointer, ...readKernel(fp.udKey + URING_UD_KEY.userData, 8, 0)]
      : [
        ...(b.kind === "tp"
          ? loadArg(b, R1, COMPLETE, { raw: 0, field: "user_data" })
          : [ldx.dw(R1, R10, fp.cqe)]),
        stx.dw(R10, fp.udKey + URING_UD_KEY.userData, R1),
      ]),
  ];
}

/** Forgets the request (fp.request), and its ring-and-user_data entry if that is still its own. */
function forget(b: BuildContext, prefix: string): Insn[] {
  const fp = COMPLETE_SLOTS;
  return [
    ...remove(b.maps.uringReqs, fp.request),
    ...udKey(b, true),
    ...lookup(b.maps.uringUserData, fp.udKey),
    jeq.imm(R0, 0, `${prefix}_done`),
    ldx.dw(R1, R0, 0),
    ldx.dw(R2, R10, fp.request),
    jne.reg(R1, R2, `${prefix}_done`), // a later request with the same user_data
    ...remove(b.maps.uringUserData, fp.udKey),
    label(`${prefix}_done`),
  ];
}

/**
 * The completion program.
 * @param b the build context
 * @returns the instructions
 */
export function onComplete(b: BuildContext): Insn[] {
  const fp = COMPLETE_SLOTS;
  const found = roles({ ctx: CTX, request: R7 });
  const r = roles({ ctx: CTX, entry: R7, cqeFlags: R8, result: R9 });
  const end = roles({ ...END, cqeFlags: R8 });
  return [
    ...ifOpen(b, "out"), // a request that completes after the window closed stays in flight
    mov.reg(found.ctx, R1),
    ...loadArg(b, found.request, COMPLETE, { raw: 1, field: "req" }),
    stx.dw(R10, fp.request, found.request),
    jne.imm(found.request, 0, "by_req"),
    // No request: a multishot request's completion but its last.
    ...udKey(b, false),
    ...lookup(b.maps.uringUserData, fp.udKey),
    jeq.imm(R0, 0, "out"), // not a request of ours
    ldx.dw(R1, R0, 0),
    stx.dw(R10, fp.request, R1),
    label("by_req"),
    ...lookup(b.maps.uringReqs, fp.request),
    jeq.imm(R0, 0, "out"), // not a request of ours
    mov.reg(r.entry, R0),
    ...cqeResult(b, r),
    jset.imm(r.cqeFlags, IORING_CQE_F_NOTIF, "notif"),
    // Copy what is remembered before the entry may go.
    ldx.dw(R1, r.entry, URING_START.startNs),
    stx.dw(R10, fp.startNs, R1),
    ldx.w(R1, r.entry, URING_START.op),
    stx.w(R10, END_SLOTS.opSlot, R1),
    ldx.w(R1, r.entry, URING_START.multishot),
    stx.w(R10, fp.multishot, R1),
    call(Helper.ktime_get_ns),
    jset.imm(r.cqeFlags, IORING_CQE_F_MORE, "more"),
    // Its last completion: forget it.
    stx.dw(R10, fp.now, R0),
    ...forget(b, "last"),
    ldx.dw(R0, R10, fp.now),
    ja("timed"),
    label("more"),
    // More completions follow: the next one is timed from this one.
    stx.dw(r.entry, URING_START.startNs, R0),
    st.w(r.entry, URING_START.multishot, 1),
    label("timed"),
    ldx.dw(R1, R10, fp.startNs),
    sub.reg(R0, R1),
    mov.reg(end.latency, R0),
    ...lookup(b.maps.uringOps, END_SLOTS.opSlot),
    jeq.imm(R0, 0, "out"),
    mov.reg(end.totals, R0),
    ldx.w(R1, R10, fp.multishot),
    jne.imm(R1, 0, "later"),
    jset.imm(end.cqeFlags, IORING_CQE_F_MORE, "first_of_many"),
    ja("counted"),
    label("first_of_many"),
    ...increment(end.totals, OP.multishotFirst * 8),
    ja("counted"),
    label("later"),
    ...increment(end.totals, OP.multishot * 8), // timed from the completion before
    label("counted"),
    ...recordEnd(b, {
      histFd: b.maps.uringHist,
      errnosFd: b.maps.errnos,
      errnoKind: ERRNO_KIND.uring,
      ifFailed: [jslt.imm(end.result, 0, "end_failed")],
      ifNotBytes: [
        jslt.imm(end.result, 1, "end_nobytes"),
        ldImm64(R1, DATA_OPS_MASK),
        ldx.w(R2, R10, END_SLOTS.opSlot),
        rsh.reg(R1, R2),
        and.imm(R1, 1),
        jeq.imm(R1, 0, "end_nobytes"),
      ],
    }, "end"),
    ja("out"),
    label("notif"),
    ...forget(b, "notif"),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}

/**
 * The async-punt program.
 * @param b the build context
 * @returns the instructions
 */
export function onAsync(b: BuildContext): Insn[] {
  const fp = ASYNC_SLOTS;
  const r = roles({ ctx: CTX, request: R7 });
  return [
    ...ifOpen(b, "out"),
    mov.reg(r.ctx, R1),
    ...loadArg(b, r.request, ASYNC, { raw: 0, field: "req" }),
    stx.dw(R10, fp.request, r.request),
    ...lookup(b.maps.uringReqs, fp.request),
    jeq.imm(R0, 0, "out"), // not a request of ours
    ldx.w(R1, R0, URING_START.op),
    stx.w(R10, fp.opSlot, R1),
    ...lookup(b.maps.uringOps, fp.opSlot),
    jeq.imm(R0, 0, "out"),
    ...increment(R0, OP.async * 8),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}
