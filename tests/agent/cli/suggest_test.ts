import { assertEquals } from "../../_helpers/assert.ts";
import {
  editDistance,
  findUnknownOption,
  type OptionTable,
  unknownOptionMessage,
} from "../../../agent/cli/_suggest.ts";
import { isTerminalSafe, terminalSafe } from "../../../agent/cli/terminal_safe.ts";

const TABLE: OptionTable = {
  pid: { type: "string" },
  comm: { type: "string" },
  duration: { type: "string" },
  json: { type: "string" },
  "json-lines": { type: "boolean" },
  out: { type: "string" },
  perf: { type: "boolean" },
  user: { type: "string", short: "u" },
};

Deno.test("edit distance counts a swap of neighbours as one edit", () => {
  assertEquals(editDistance("duration", "duration"), 0);
  assertEquals(editDistance("druation", "duration"), 1);
  assertEquals(editDistance("jsn", "json"), 1);
  assertEquals(editDistance("", "abc"), 3);
});

Deno.test("an unknown option names the nearest one from the table", () => {
  assertEquals(findUnknownOption(["--durration", "5s"], TABLE), {
    given: "--durration",
    nearest: "--duration",
  });
  assertEquals(findUnknownOption(["--pid", "1", "--jsn=a.json"], TABLE)?.nearest, "--json");
  assertEquals(findUnknownOption(["--dur", "1s"], TABLE)?.nearest, "--duration");
  assertEquals(findUnknownOption(["-x"], TABLE), { given: "-x", nearest: "-u" });
  // A prefix tie goes to the fewer edits: --json-line is one from --json-lines.
  assertEquals(findUnknownOption(["--json-line"], TABLE)?.nearest, "--json-lines");
  assertEquals(findUnknownOption(["--jso"], TABLE)?.nearest, "--json");
});

Deno.test("values, known options and what follows -- are not unknown options", () => {
  assertEquals(findUnknownOption(["--comm", "-weird-name", "--perf"], TABLE), null);
  assertEquals(findUnknownOption(["-u", "nobody", "--", "ls", "--color"], TABLE), null);
  assertEquals(findUnknownOption(["--json=x.json", "-"], TABLE), null);
});

Deno.test("the message is one line with no control characters from the argument", () => {
  const msg = unknownOptionMessage({ given: "--a\x1b]0;pwned\x07", nearest: "--out" });
  assertEquals(
    msg,
    "unknown option '--a?]0;pwned?'; the nearest is '--out' (see --help)",
  );
  assertEquals(isTerminalSafe(msg), true);
});

Deno.test("terminalSafe defuses C0, C1, DEL and text-direction overrides", () => {
  assertEquals(terminalSafe("a\x1b[31mred\x07\n"), "a?[31mred??");
  assertEquals(terminalSafe("x\u009b2Jy\x7f"), "x?2Jy?");
  assertEquals(terminalSafe("evil\u202Etxt.exe\u2066"), "evil?txt.exe?");
  assertEquals(terminalSafe("plain ünïcode ok"), "plain ünïcode ok");
});
