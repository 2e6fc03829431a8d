// tracefs format parsing, on the formats recorded with the ftrace fixtures.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { fieldOffset, parseEventFormat, parseHeaderPage } from "../../probes/ftrace_format.ts";
import { HEADER_PAGE_64 } from "../../probes/ftrace_buffer.ts";
import { loadFixture } from "../_helpers/ftrace_fixture.ts";

const fixture = loadFixture("ftrace_fio_uring.json");
const format = (event: string) => {
  const text = fixture.formats[event];
  assert(text, `${event} recorded`);
  return parseEventFormat(text, event.split(":")[0] ?? "");
};

Deno.test("event format gives the id and every field's offset, size and sign", () => {
  const exit = format("raw_syscalls:sys_exit");
  assertEquals(exit.name, "raw_syscalls:sys_exit");
  assert(exit.id > 0, "an id");
  assertEquals(exit.fields.get("common_pid"), {
    name: "common_pid",
    type: "int common_pid",
    offset: 4,
    size: 4,
    signed: true,
    dataLoc: false,
  });
  assertEquals(exit.fields.get("ret")?.offset, 16);
  assertEquals(exit.fields.get("ret")?.signed, true);
});

Deno.test("array and __data_loc fields are named without their brackets", () => {
  const enter = format("raw_syscalls:sys_enter");
  assertEquals(enter.fields.get("args")?.size, 48);
  const submit = format("io_uring:io_uring_submit_req");
  assertEquals(submit.fields.get("op_str")?.dataLoc, true);
  assertEquals(submit.fields.get("opcode")?.size, 1);
  const sw = format("sched:sched_switch");
  assertEquals(sw.fields.get("prev_comm")?.size, 16);
});

Deno.test("fieldOffset refuses a field of an unexpected size or name", () => {
  const exit = format("raw_syscalls:sys_exit");
  assertEquals(fieldOffset(exit, "ret", 8), 16);
  let threw = "";
  try {
    fieldOffset(exit, "ret", 4);
  } catch (e: unknown) {
    threw = (e as Error).message;
  }
  assertEquals(threw, "Field raw_syscalls:sys_exit.ret is 8 bytes, expected 4");
  try {
    fieldOffset(exit, "nope");
  } catch (e: unknown) {
    threw = (e as Error).message;
  }
  assertEquals(threw, "Event raw_syscalls:sys_exit has no field 'nope'");
});

Deno.test("header_page of a 64-bit kernel: 8-byte commit word, data at 16", () => {
  assertEquals(parseHeaderPage(fixture.header_page), HEADER_PAGE_64);
});

Deno.test("a text that is not a format is rejected", () => {
  let threw = false;
  try {
    parseEventFormat("hello", "x");
  } catch (e: unknown) {
    threw = e instanceof SyntaxError;
  }
  assert(threw, "SyntaxError");
});
