// The layout of ARCHITECTURE.md, kept so: every import in the project is read
// (static `import`/`export ... from` and dynamic `import("...")`), and each
// one must go down, from a room to a room below it. No two rooms import each
// other, no module of ours imports tests/ or benchmarks/, no command module
// imports another, and no room holds more than about a third of the code.
// Inside the rooms (tools/front_doors.ts, the same analysis that `--fix`
// applies): an import into another folder goes through its mod.ts, a file is
// either exported by its folder's mod.ts or named `_name.ts`, and only a
// mod.ts re-exports.
import { assert, assertEquals } from "./_helpers/assert.ts";
import { ROOT } from "./_helpers/common.ts";
import {
  check,
  mayImportDirectly,
  OUTSIDE as NOT_PRODUCT,
  relativeSpec,
  roomOf as doorRoomOf,
  ROOMS as DOOR_ROOMS,
  type Violation,
} from "../tools/front_doors.ts";

/** The rooms the CLI may import: every room but itself. */
const BELOW_CLI = [
  "agent/bench",
  "agent/nightly",
  "agent/trace",
  "agent",
  "report",
  "probes",
  "ffi",
  "schema",
] as const;

/** Each room and the rooms it may import (besides itself). A subfolder belongs to its room. */
const ALLOWED: Record<string, readonly string[]> = {
  "schema": [],
  "ffi": ["schema"],
  "probes": ["ffi", "schema"],
  "report": ["schema"],
  "agent": ["report", "probes", "ffi", "schema"],
  "agent/trace": ["agent", "report", "probes", "ffi", "schema"],
  "agent/bench": ["agent/trace", "agent", "report", "probes", "ffi", "schema"],
  "agent/nightly": ["agent/trace", "agent", "report", "probes", "ffi", "schema"],
  "agent/cli": BELOW_CLI,
  ".": ["agent/cli", ...BELOW_CLI],
};
const ROOMS = Object.keys(ALLOWED).filter((r) => r !== ".").sort((a, b) => b.length - a.length);
const OUTSIDE = ["tests", "benchmarks", "docs", "out", "node_modules", ".git", ".ci", "tools"];

/** The room of a path relative to the root: the longest room that holds it. */
function roomOf(path: string): string {
  if (!path.includes("/")) return ".";
  return ROOMS.find((r) => path.startsWith(`${r}/`)) ?? path.slice(0, path.lastIndexOf("/"));
}

function sources(dir = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
    const path = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory && !OUTSIDE.includes(path)) out.push(...sources(path));
    else if (e.isFile && /\.(ts|js)$/.test(e.name)) out.push(path);
  }
  return out;
}

/** The relative specifiers a module imports, resolved to paths from the root. */
function importsOf(path: string): string[] {
  const text = Deno.readTextFileSync(`${ROOT}${path}`);
  const found: string[] = [];
  const re =
    /(?:^|\n)\s*(?:import|export)\b[^"';]*?from\s*"(\.[^"]+)"|\bimport\(\s*"(\.[^"]+)"\s*\)/g;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2];
    if (!spec) continue;
    const url = new URL(spec, `file://${ROOT}${path}`);
    found.push(url.pathname.slice(ROOT.length));
  }
  return found;
}

function lineCount(path: string): number {
  return Deno.readTextFileSync(`${ROOT}${path}`).split("\n").length;
}

const FILES = sources();

Deno.test("the import reader sees every kind of import", () => {
  const all = FILES.flatMap(importsOf);
  assert(all.includes("schema/mod.ts"), "no import of schema/mod.ts found: the reader is broken");
  assert(FILES.length > 50, `only ${FILES.length} modules found under ${ROOT}`);
});

Deno.test("every import goes down: a room imports only the rooms below it", () => {
  const wrong: string[] = [];
  for (const file of FILES) {
    const from = roomOf(file);
    const allowed = ALLOWED[from];
    if (!allowed) {
      wrong.push(
        `${file}: its folder ${from} is no room of ARCHITECTURE.md (add it there and here)`,
      );
      continue;
    }
    for (const target of importsOf(file)) {
      const to = roomOf(target);
      if (to !== from && !allowed.includes(to)) {
        wrong.push(`${file} imports ${target} (${from} -> ${to})`);
      }
    }
  }
  assert(wrong.length === 0, `imports that go up or sideways:\n${wrong.join("\n")}`);
});

Deno.test("no two rooms import each other", () => {
  const edges = new Set<string>();
  for (const file of FILES) {
    for (const target of importsOf(file)) {
      const a = roomOf(file), b = roomOf(target);
      if (a !== b) edges.add(`${a} -> ${b}`);
    }
  }
  const both = [...edges].filter((e) => {
    const [a, b] = e.split(" -> ");
    return a! < b! && edges.has(`${b} -> ${a}`);
  });
  assert(both.length === 0, `rooms that import each other: ${both.join(", ")}`);
});

Deno.test("no command module imports another", () => {
  const wrong = FILES.filter((f) => /^agent\/cli\/cmd_\w+\.ts$/.test(f)).flatMap((f) =>
    importsOf(f).filter((t) => t !== f && /^agent\/cli\/cmd_\w+\.ts$/.test(t)).map((t) =>
      `${f} imports ${t}`
    )
  );
  assert(wrong.length === 0, wrong.join("\n"));
});

Deno.test("no room holds more than about a third of the code", () => {
  const lines = new Map<string, number>();
  let total = 0;
  for (const file of FILES) {
    const n = lineCount(file);
    total += n;
    const room = roomOf(file);
    lines.set(room, (lines.get(room) ?? 0) + n);
  }
  const big = [...lines].filter(([, n]) => n > 0.36 * total).map(([room, n]) =>
    `${room}: ${n} of ${total} lines (${(100 * n / total).toFixed(0)}%)`
  );
  assert(big.length === 0, `rooms too big: ${big.join(", ")}`);
});

const FIX = "run `deno run -A tools/front_doors.ts --fix`, or see ARCHITECTURE.md, Front doors";

function broken(rule: Violation["rule"] | Violation["rule"][]): string[] {
  const rules = Array.isArray(rule) ? rule : [rule];
  return check().filter((v) => rules.includes(v.rule)).map((v) => v.message);
}

Deno.test("the front-door analysis knows the rooms and folders this test knows", () => {
  assertEquals([...DOOR_ROOMS].sort(), ROOMS.slice().sort());
  assertEquals([...NOT_PRODUCT].sort(), OUTSIDE.slice().sort());
  for (const f of FILES) assertEquals(doorRoomOf(f), roomOf(f), f);
});

Deno.test("the front-door rule: who may import a file by its path", () => {
  // Its own folder, and the subfolders of its room (their parent's mod.ts re-exports them).
  assert(mayImportDirectly("agent/trace/session.ts", "agent/trace/_interval.ts"));
  assert(mayImportDirectly("agent/trace/backends/bpf.ts", "agent/trace/proc.ts"));
  assert(mayImportDirectly("ffi/bpf/sys.ts", "ffi/libc.ts"));
  // Not a parent into its subfolder, another room below, a sibling, or a room above.
  assert(!mayImportDirectly("agent/trace/session.ts", "agent/trace/backends/resolve.ts"));
  assert(!mayImportDirectly("agent/trace/perf.ts", "agent/errors.ts"));
  assert(!mayImportDirectly("agent/cli/cmd_trace.ts", "agent/trace/session.ts"));
  assert(!mayImportDirectly("probes/bpf/_sched.ts", "ffi/bpf/asm.ts"));
  assert(!mayImportDirectly("mod.ts", "agent/errors.ts"));
  assertEquals(
    relativeSpec("agent/trace/backends/bpf.ts", "probes/bpf/mod.ts"),
    "../../../probes/bpf/mod.ts",
  );
  assertEquals(
    relativeSpec("agent/trace/session.ts", "agent/trace/backends/mod.ts"),
    "./backends/mod.ts",
  );
  assertEquals(relativeSpec("mod.ts", "agent/mod.ts"), "./agent/mod.ts");
});

Deno.test("every folder has a mod.ts, and imports into another folder go through it", () => {
  const wrong = broken(["no-mod", "front-door", "own-door"]);
  assert(wrong.length === 0, `${wrong.join("\n")}\n${FIX}`);
});

Deno.test("a file is exported by its folder's mod.ts or named _name.ts", () => {
  const wrong = broken("private");
  assert(wrong.length === 0, `${wrong.join("\n")}\n${FIX}`);
});

Deno.test("only a mod.ts re-exports: no side doors", () => {
  const wrong = broken("side-door");
  assert(wrong.length === 0, `${wrong.join("\n")}\n(import the name from where it is declared)`);
});
