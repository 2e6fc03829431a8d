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
  call,
  exit,
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
  R6,
  R7,
  R8,
  R9,
  rsh,
  st,
  stx,
  sub,
} from "../../ffi/bpf/asm.ts";
import { BPF_ANY, Helper } from "../../ffi/bpf/sys.ts";
import {
  type BuildContext,
  countOne,
  ifOpen,
  ifTraced,
  increment,
  loadArg,
  lookup,
  recordEnd,
  remove,
  update,
} from "./_emit.ts";
import { COUNTER, ERRNO_KIND, OP, URING_OP_SLOTS, URING_START, URING_UD_KEY } from "./layout.ts";
import { IO_URING_DATA_OPS, IORING_CQE_F_MORE, IORING_CQE_F_NOTIF } from "../snapshot.ts";

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

/** `*(size)(fp + to) = *(size)(R3 + offset)` read with bpf_probe_read_kernel. */
function readKernel(to: number, size: number, offset: number): Insn[] {
  return [
    add.imm(R3, offset),
    mov.reg(R1, R10),
    add.imm(R1, to),
    mov.imm(R2, size),
    call(Helper.probe_read_kernel),
  ];
}

/** R8 = min(opcode, URING_OP_SLOTS - 1), stored at fp-16 as the op's slot. */
function opSlot(): Insn[] {
  return [
    jlt.imm(R8, URING_OP_SLOTS, "op_ok"),
    mov.imm(R8, URING_OP_SLOTS - 1), // opcodes past the table share the last slot
    label("op_ok"),
    stx.w(R10, -16, R8),
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
  const fields: Insn[] = [
    // fp-48: the ring-and-user_data key (URING_UD_KEY).
    ...loadArg(b, R1, SUBMIT, { raw: 0, field: "ctx" }),
    stx.dw(R10, -48 + URING_UD_KEY.ctx, R1),
    ...loadArg(b, R1, SUBMIT, { raw: 0, field: "user_data" }),
    stx.dw(R10, -48 + URING_UD_KEY.userData, R1),
    ...loadArg(b, R7, SUBMIT, { raw: 0, field: "req" }),
    ...loadArg(b, R8, SUBMIT, { raw: 0, field: "opcode" }),
    ...loadArg(b, R9, SUBMIT, { raw: 0, field: "flags" }),
  ];
  return [
    ...ifOpen(b, "out"),
    mov.reg(R6, R1),
    ...ifTraced(b, "out"),
    ...fields, // R7 = request, R8 = opcode, R9 = flags
    ...opSlot(),
    ...lookup(b.maps.uringOps, -16),
    jeq.imm(R0, 0, "out"),
    mov.reg(R6, R0), // R6 = the opcode's totals
    jset.imm(R9, REQ_F_CQE_SKIP, "untimed"),
    // Remember the request: its start and opcode.
    stx.dw(R10, -8, R7),
    call(Helper.ktime_get_ns),
    stx.dw(R10, -32, R0),
    stx.w(R10, -24, R8),
    st.w(R10, -20, 0),
    ...update(b.maps.uringReqs, -8, -32, BPF_ANY),
    jeq.imm(R0, 0, "remembered"),
    ...countOne(b, COUNTER.uringFull, "full"),
    ja("out"),
    label("remembered"),
    // Its pointer by ring and user_data, for completions posted without it.
    ...update(b.maps.uringUserData, -48, -8, BPF_ANY),
    jeq.imm(R0, 0, "ud_kept"),
    ...countOne(b, COUNTER.uringFull, "ud_full"), // its multishot completions but the last go untimed
    label("ud_kept"),
    ...increment(R6, OP.started * 8),
    ja("out"),
    label("untimed"),
    ...increment(R6, OP.untimed * 8),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}

/**
 * The completion program.
 * @param b the build context
 * @returns the instructions
 */
export function onComplete(b: BuildContext): Insn[] {
  // fp-48: the CQE (raw: copied; uapi io_uring_cqe: user_data at 0, res at 8,
  // flags at 12); fp-64: the ring-and-user_data key (URING_UD_KEY).
  const UD_KEY = -64;
  const result: Insn[] = b.kind === "tp"
    ? [
      ...loadArg(b, R9, COMPLETE, { raw: 0, field: "res" }),
      ...loadArg(b, R8, COMPLETE, { raw: 0, field: "cflags" }),
    ]
    : [
      ldx.dw(R3, R6, 16), // TP_PROTO(ctx, req, cqe): the CQE
      ...readKernel(-48, 16, 0),
      ldx.w(R9, R10, -40), // res, a signed 32-bit value
      lsh.imm(R9, 32),
      arsh.imm(R9, 32),
      ldx.w(R8, R10, -36), // flags
    ];
  /** The key from the ring and the CQE's user_data (`cqeRead`: fp-48 holds the CQE). */
  const udKey = (cqeRead: boolean): Insn[] => [
    ...loadArg(b, R1, COMPLETE, { raw: 0, field: "ctx" }),
    stx.dw(R10, UD_KEY + URING_UD_KEY.ctx, R1),
    ...(b.kind !== "tp" && !cqeRead
      ? [ldx.dw(R3, R6, 16), ...readKernel(UD_KEY + URING_UD_KEY.userData, 8, 0)]
      : [
        ...(b.kind === "tp"
          ? loadArg(b, R1, COMPLETE, { raw: 0, field: "user_data" })
          : [ldx.dw(R1, R10, -48)]),
        stx.dw(R10, UD_KEY + URING_UD_KEY.userData, R1),
      ]),
  ];
  /** Forgets the request (fp-8), and its ring-and-user_data entry if that is still its own. */
  const forget = (prefix: string): Insn[] => [
    ...remove(b.maps.uringReqs, -8),
    ...udKey(true),
    ...lookup(b.maps.uringUserData, UD_KEY),
    jeq.imm(R0, 0, `${prefix}_done`),
    ldx.dw(R1, R0, 0),
    ldx.dw(R2, R10, -8),
    jne.reg(R1, R2, `${prefix}_done`), // a later request with the same user_data
    ...remove(b.maps.uringUserData, UD_KEY),
    label(`${prefix}_done`),
  ];
  return [
    ...ifOpen(b, "out"), // a request that completes after the window closed stays in flight
    mov.reg(R6, R1),
    ...loadArg(b, R7, COMPLETE, { raw: 1, field: "req" }),
    stx.dw(R10, -8, R7),
    jne.imm(R7, 0, "by_req"),
    // No request: a multishot request's completion but its last.
    ...udKey(false),
    ...lookup(b.maps.uringUserData, UD_KEY),
    jeq.imm(R0, 0, "out"), // not a request of ours
    ldx.dw(R1, R0, 0),
    stx.dw(R10, -8, R1),
    label("by_req"),
    ...lookup(b.maps.uringReqs, -8),
    jeq.imm(R0, 0, "out"), // not a request of ours
    mov.reg(R7, R0), // R7 = the remembered request
    ...result, // R9 = result, R8 = CQE flags
    jset.imm(R8, IORING_CQE_F_NOTIF, "notif"),
    // Copy what is remembered before the entry may go.
    ldx.dw(R1, R7, URING_START.startNs),
    stx.dw(R10, -24, R1),
    ldx.w(R1, R7, URING_START.op),
    stx.w(R10, -16, R1), // fp-16 = the op's slot
    ldx.w(R1, R7, URING_START.multishot),
    stx.w(R10, -12, R1),
    call(Helper.ktime_get_ns),
    jset.imm(R8, IORING_CQE_F_MORE, "more"),
    // Its last completion: forget it.
    stx.dw(R10, -32, R0),
    ...forget("last"),
    ldx.dw(R0, R10, -32),
    ja("timed"),
    label("more"),
    // More completions follow: the next one is timed from this one.
    stx.dw(R7, URING_START.startNs, R0),
    st.w(R7, URING_START.multishot, 1),
    label("timed"),
    ldx.dw(R1, R10, -24),
    sub.reg(R0, R1),
    mov.reg(R7, R0), // R7 = latency
    ...lookup(b.maps.uringOps, -16),
    jeq.imm(R0, 0, "out"),
    mov.reg(R6, R0), // R6 = the opcode's totals
    ldx.w(R1, R10, -12),
    jne.imm(R1, 0, "later"),
    jset.imm(R8, IORING_CQE_F_MORE, "first_of_many"),
    ja("counted"),
    label("first_of_many"),
    ...increment(R6, OP.multishotFirst * 8),
    ja("counted"),
    label("later"),
    ...increment(R6, OP.multishot * 8), // timed from the completion before
    label("counted"),
    ...recordEnd(b, {
      histFd: b.maps.uringHist,
      errnosFd: b.maps.errnos,
      errnoKind: ERRNO_KIND.uring,
      ifFailed: [jslt.imm(R9, 0, "end_failed")],
      ifNotBytes: [
        jslt.imm(R9, 1, "end_nobytes"),
        ldImm64(R1, DATA_OPS_MASK),
        ldx.w(R2, R10, -16),
        rsh.reg(R1, R2),
        and.imm(R1, 1),
        jeq.imm(R1, 0, "end_nobytes"),
      ],
    }, "end"),
    ja("out"),
    label("notif"),
    ...forget("notif"),
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
  return [
    ...ifOpen(b, "out"),
    mov.reg(R6, R1),
    ...loadArg(b, R7, ASYNC, { raw: 0, field: "req" }),
    stx.dw(R10, -8, R7),
    ...lookup(b.maps.uringReqs, -8),
    jeq.imm(R0, 0, "out"), // not a request of ours
    ldx.w(R1, R0, URING_START.op),
    stx.w(R10, -16, R1),
    ...lookup(b.maps.uringOps, -16),
    jeq.imm(R0, 0, "out"),
    ...increment(R0, OP.async * 8),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}
