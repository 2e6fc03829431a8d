// Front doors and private files (ARCHITECTURE.md, "Front doors"), checked and
// applied. `deno run -A tools/front_doors.ts` lists what breaks the rules and
// exits 1 if anything does; `--fix` rewrites the tree so that nothing does:
//
// - an import that reaches into another folder is pointed at that folder's
//   mod.ts, and the names it takes are added to the mod.ts (`export { ... }
//   from "./x.ts"`, types as `export type`, sorted, merged into a line that
//   exports from the same file);
// - a file that no mod.ts exports and nothing outside its folder imports is
//   renamed `_name.ts` (git mv), and every import and mention of its path in
//   the repository (code, tests, benchmarks, deno.json, .ci/, docs) follows.
//
// It runs again on a tree it has never seen and changes nothing the second
// time. tests/architecture_test.ts holds the rules with the same analysis.
// What it cannot decide (a name two files export, `import * as`, a re-export
// outside a mod.ts, an import of its own folder's mod.ts) it reports and leaves.

/** The root of the repository, with a trailing slash. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** Rooms of ARCHITECTURE.md (tests/architecture_test.ts checks the same list). */
export const ROOMS: readonly string[] = [
  "schema",
  "ffi",
  "probes",
  "report",
  "agent",
  "agent/trace",
  "agent/bench",
  "agent/nightly",
  "agent/cli",
];

/** Folders that are no part of the product: they may import any file, private ones too. */
export const OUTSIDE: readonly string[] = [
  "tests",
  "benchmarks",
  "docs",
  "out",
  "node_modules",
  ".git",
  ".ci",
  "tools",
];

/** Folders never read for path mentions. */
const UNREAD = [".git", "node_modules", "out", "report/vendor"];

/** Under it only modules and READMEs are read: the rest is recorded output. */
const DATA = "tests/testdata/";

/** One import or re-export with a relative specifier. */
export interface ImportStmt {
  /** The file it is in, from the root. */
  file: string;
  /** The whole statement as written. */
  text: string;
  kind: "import" | "export" | "dynamic";
  /** The specifier as written. */
  spec: string;
  /** What it resolves to, from the root. */
  target: string;
  /** `import type` / `export type`. */
  typeOnly: boolean;
  /** The named bindings (`{ a, type B, c as d }`), undefined for `*`, defaults or dynamic. */
  names?: { name: string; alias: string; type: boolean }[];
}

/** One thing that breaks the rules. */
export interface Violation {
  /** Which rule: a folder without a mod.ts, an import past the front door, a public file
   * nobody outside uses, a re-export outside a mod.ts, an import of one's own front door. */
  rule: "no-mod" | "front-door" | "private" | "side-door" | "own-door";
  file: string;
  message: string;
  /** Whether --fix mends it. */
  fixable: boolean;
}

export function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i === -1 ? "." : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The room of a path from the root: the longest room that holds it. */
export function roomOf(path: string): string {
  if (!path.includes("/")) return ".";
  const rooms = [...ROOMS].sort((a, b) => b.length - a.length);
  return rooms.find((r) => path.startsWith(`${r}/`)) ?? dirOf(path);
}

/** `to` relative to the folder of `from`, as an import specifier. */
export function relativeSpec(from: string, to: string): string {
  const a = dirOf(from) === "." ? [] : dirOf(from).split("/");
  const b = to.split("/");
  let i = 0;
  while (i < a.length && i < b.length - 1 && a[i] === b[i]) i++;
  const up = a.length - i;
  const rest = b.slice(i).join("/");
  return up === 0 ? `./${rest}` : `${"../".repeat(up)}${rest}`;
}

function resolve(from: string, spec: string): string {
  return new URL(spec, `file://${ROOT}${from}`).pathname.slice(ROOT.length);
}

function walk(dir: string, skip: readonly string[], out: string[] = []): string[] {
  for (const e of Deno.readDirSync(`${ROOT}${dir || "."}`)) {
    const path = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory && !skip.includes(path)) walk(path, skip, out);
    else if (e.isFile) out.push(path);
  }
  return out.sort();
}

/** The product's modules: every .ts/.js outside OUTSIDE. */
export function sources(): string[] {
  return walk("", OUTSIDE).filter((p) => /\.(ts|js)$/.test(p) && !p.includes("/vendor/"));
}

/** Every module of the repository, the product's and the rest (tests, benchmarks, ...). */
function allModules(): string[] {
  return walk("", UNREAD).filter((p) => /\.(ts|js)$/.test(p) && !p.includes("/vendor/"));
}

/** The files read for path mentions: code, docs, configuration, CI scripts. */
function textFiles(): string[] {
  return walk("", UNREAD).filter((p) =>
    (/\.(ts|js|md|json|jsonc|ya?ml|sh|bt|toml|txt)$/.test(p) || /(^|\/)\.ci\/[^.]+$/.test(p)) &&
    (!p.startsWith(DATA) || /\.(ts|md)$/.test(p)) && Deno.statSync(`${ROOT}${p}`).size < 1 << 21
  );
}

const STMT =
  /(?<=^|\n)[ \t]*(import|export)(\s+type)?(\s+[^"';]*?|\s*\*[^"';]*?|\s*\{[^"';]*?)\s*from\s*"(\.{1,2}\/[^"]+)";?|\bimport\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g;

function parseNames(clause: string): ImportStmt["names"] {
  const m = /^\s*\{([^}]*)\}\s*$/.exec(clause);
  if (!m) return undefined;
  return m[1]!.split(",").map((s) => s.trim()).filter((s) => s).map((s) => {
    const type = s.startsWith("type ");
    const [name, alias] = s.replace(/^type\s+/, "").split(/\s+as\s+/);
    return { name: name!, alias: alias ?? name!, type };
  });
}

/** The relative imports and re-exports of a module. */
export function importsOf(file: string, text = Deno.readTextFileSync(`${ROOT}${file}`)) {
  const out: ImportStmt[] = [];
  for (const m of text.matchAll(STMT)) {
    const spec = m[4] ?? m[5]!;
    const stmt: ImportStmt = {
      file,
      text: m[0],
      kind: m[5] ? "dynamic" : m[1] as "import" | "export",
      spec,
      target: resolve(file, spec),
      typeOnly: Boolean(m[2]),
    };
    const names = m[3] === undefined ? undefined : parseNames(m[3]);
    if (names) stmt.names = names;
    out.push(stmt);
  }
  return out;
}

/** A name a module exports: whether only as a type, and the module that declares it. */
interface Exported {
  type: boolean;
  origin: string;
}

const DECL =
  /(?<=^|\n)export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(function\*?|abstract\s+class|class|const\s+enum|enum|const|let|var|interface|type|namespace)\s+([\w$]+)/g;
const LOCAL_LIST = /(?<=^|\n)export\s+(type\s+)?\{([^}]*)\}\s*;/g;

/** The names a module exports, following `export ... from` (its text read from disk). */
export function exportsOf(file: string, seen = new Set<string>()): Map<string, Exported> {
  const out = new Map<string, Exported>();
  if (seen.has(file)) return out;
  seen.add(file);
  let text: string;
  try {
    text = Deno.readTextFileSync(`${ROOT}${file}`);
  } catch {
    return out;
  }
  for (const m of text.matchAll(DECL)) {
    out.set(m[2]!, { type: /^(interface|type)$/.test(m[1]!), origin: file });
  }
  for (const m of text.matchAll(LOCAL_LIST)) {
    for (const n of parseNames(`{${m[2]}}`) ?? []) {
      out.set(n.alias, { type: Boolean(m[1]) || n.type, origin: file });
    }
  }
  for (const s of importsOf(file, text)) {
    if (s.kind !== "export") continue;
    const theirs = exportsOf(s.target, seen);
    if (!s.names) {
      const ns = /\*\s+as\s+([\w$]+)/.exec(s.text);
      if (ns) out.set(ns[1]!, { type: false, origin: s.target });
      else for (const [k, v] of theirs) if (k !== "default") out.set(k, v);
      continue;
    }
    for (const n of s.names) {
      const e = theirs.get(n.name) ?? { type: false, origin: s.target };
      out.set(n.alias, { type: s.typeOnly || n.type || e.type, origin: e.origin });
    }
  }
  seen.delete(file);
  return out;
}

/** Whether `from` may import `target` by its path (not through a mod.ts). */
export function mayImportDirectly(from: string, target: string): boolean {
  const d = dirOf(target);
  if (dirOf(from) === d) return true;
  // A subfolder reaches the files of the folders above it in its own room:
  // their mod.ts re-exports it, so going through it would be a module cycle.
  return dirOf(from).startsWith(`${d}/`) && roomOf(from) === roomOf(target);
}

function isMod(path: string): boolean {
  return baseOf(path) === "mod.ts";
}

/** The folders of the product's modules. */
function foldersOf(files: string[]): string[] {
  return [...new Set(files.map(dirOf))].filter((d) => d !== ".").sort();
}

/** Everything in the product that breaks the rules (none: the tree is honest). */
export function check(): Violation[] {
  const files = sources();
  const set = new Set(files);
  const out: Violation[] = [];
  for (const d of foldersOf(files)) {
    if (!set.has(`${d}/mod.ts`)) {
      out.push({ rule: "no-mod", file: d, message: `${d}/ has no mod.ts`, fixable: true });
    }
  }
  const importedFrom = new Map<string, string[]>();
  for (const file of files) {
    for (const s of importsOf(file)) {
      if (!set.has(s.target)) continue;
      const by = importedFrom.get(s.target) ?? [];
      by.push(file);
      importedFrom.set(s.target, by);
      const up = dirOf(file) === dirOf(s.target) || dirOf(file).startsWith(`${dirOf(s.target)}/`);
      if (isMod(s.target) && up && s.target !== file) {
        if (roomOf(file) === roomOf(s.target) && !isMod(file)) {
          out.push({
            rule: "own-door",
            file,
            message: `${file} imports ${s.target}, the front door of its own folder ` +
              `(a module cycle): import the file that declares it`,
            fixable: false,
          });
        }
        continue;
      }
      // A dynamic import() reaches its file directly: it defers loading (of
      // npm encoders, say), which a mod.ts re-exporting it would undo.
      if (s.kind === "dynamic") continue;
      if (isMod(s.target) || mayImportDirectly(file, s.target)) continue;
      out.push({
        rule: "front-door",
        file,
        message: `${file} imports ${s.target}: go through ${dirOf(s.target)}/mod.ts`,
        fixable: true,
      });
    }
    if (!isMod(file)) {
      const text = Deno.readTextFileSync(`${ROOT}${file}`);
      const reexports = importsOf(file, text).filter((s) => s.kind === "export");
      const imported = new Set(
        importsOf(file, text).filter((s) => s.kind === "import").flatMap((s) =>
          (s.names ?? []).map((n) => n.alias)
        ),
      );
      const passed = [...text.matchAll(LOCAL_LIST)].flatMap((m) =>
        (parseNames(`{${m[2]}}`) ?? []).filter((n) => imported.has(n.name)).map((n) => n.name)
      );
      if (reexports.length > 0 || passed.length > 0) {
        const what = [...reexports.map((s) => s.spec), ...passed].join(", ");
        out.push({
          rule: "side-door",
          file,
          message: `${file} re-exports (${what}): a side door; only a mod.ts re-exports`,
          fixable: false,
        });
      }
    }
  }
  for (const file of files) {
    if (isMod(file) || baseOf(file).startsWith("_") || !set.has(`${dirOf(file)}/mod.ts`)) continue;
    const exported = [...exportsOf(`${dirOf(file)}/mod.ts`).values()].some((e) =>
      e.origin === file
    ) || importsOf(`${dirOf(file)}/mod.ts`).some((s) => s.target === file);
    if (exported) continue;
    const outside = (importedFrom.get(file) ?? []).filter((f) => !mayImportDirectly(f, file));
    if (outside.length === 0) {
      out.push({
        rule: "private",
        file,
        message: `${file} is used only in its folder and not exported: name it _${baseOf(file)}`,
        fixable: true,
      });
    }
  }
  return out;
}

// ---- --fix ----

function read(path: string): string {
  return Deno.readTextFileSync(`${ROOT}${path}`);
}

function write(path: string, text: string, changed: Set<string>) {
  Deno.writeTextFileSync(`${ROOT}${path}`, text);
  changed.add(path);
}

function namesText(names: { name: string; alias: string; type: boolean }[], typeAll: boolean) {
  return names.map((n) =>
    `${n.type && !typeAll ? "type " : ""}${n.name}${n.alias !== n.name ? ` as ${n.alias}` : ""}`
  ).join(", ");
}

/** Adds `names` from `./rel` to a mod.ts; returns clashes. */
function addExports(
  mod: string,
  target: string,
  wanted: { name: string; type: boolean }[],
  changed: Set<string>,
): string[] {
  const have = exportsOf(mod);
  const clashes: string[] = [];
  const add = { value: new Set<string>(), type: new Set<string>() };
  for (const w of wanted) {
    const e = have.get(w.name);
    if (e) {
      if (e.origin !== exportsOf(target).get(w.name)?.origin) {
        clashes.push(`${mod} already exports ${w.name} from ${e.origin}, not from ${target}`);
      } else if (e.type && !w.type) {
        clashes.push(`${mod} exports ${w.name} only as a type; ${target}'s value is wanted`);
      }
      continue;
    }
    (w.type ? add.type : add.value).add(w.name);
  }
  let text = read(mod);
  const spec = relativeSpec(mod, target);
  for (const typeOnly of [false, true]) {
    const names = [...(typeOnly ? add.type : add.value)];
    if (names.length === 0) continue;
    const line = importsOf(mod, text).find((s) =>
      s.kind === "export" && s.spec === spec && s.names && s.typeOnly === typeOnly
    );
    const all = [
      ...(line?.names ?? []),
      ...names.map((name) => ({ name, alias: name, type: false })),
    ].sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
    const stmt = `export ${typeOnly ? "type " : ""}{ ${namesText(all, typeOnly)} } from "${spec}";`;
    if (line) text = text.replace(line.text, stmt);
    else {
      // Among the lines that export names from one file, in order of file (values first).
      const key = (spec: string, type: boolean) => `${spec}\0${type ? 1 : 0}`;
      const after = importsOf(mod, text).find((s) =>
        s.kind === "export" && s.names && key(s.spec, s.typeOnly) > key(spec, typeOnly)
      );
      text = after
        ? text.replace(after.text, `${stmt}\n${after.text}`)
        : `${text.replace(/\n*$/, "\n")}${stmt}\n`;
    }
  }
  if (text !== read(mod)) write(mod, text, changed);
  return clashes;
}

function createMod(dir: string, changed: Set<string>) {
  const text = `/**\n * The front door of ${dir}/: what other folders may import from it.\n` +
    ` * @module\n */\n`;
  write(`${dir}/mod.ts`, text, changed);
}

type Name = { name: string; alias: string; type: boolean };

function importText(indent: string, names: Name[], spec: string): string {
  const typeAll = names.every((n) => n.type);
  return `${indent}import ${typeAll ? "type " : ""}{ ${
    namesText(names, typeAll)
  } } from "${spec}";`;
}

function dropStatement(text: string, stmt: string): string {
  return text.includes(`${stmt}\n`) ? text.replace(`${stmt}\n`, "") : text.replace(stmt, "");
}

/**
 * Closes side doors: a module other than a mod.ts that re-exports a name
 * (`export { x } from "./y.ts"`, or `export { x }` of an import) stops, and
 * whoever imported the name from it imports it from where it comes from.
 */
function fixSideDoors(changed: Set<string>, problems: string[]) {
  const modules = allModules();
  for (const file of sources()) {
    if (isMod(file)) continue;
    let text = read(file);
    const stmts = importsOf(file, text);
    // alias -> where it really comes from (a path from the root) and its name there
    const doors = new Map<string, { target: string; name: string; type: boolean }>();
    for (const s of stmts.filter((s) => s.kind === "export")) {
      if (!s.names) {
        problems.push(`${file}: ${s.text.trim()} (a side door) left as it is`);
        continue;
      }
      for (const n of s.names) {
        doors.set(n.alias, { target: s.target, name: n.name, type: s.typeOnly || n.type });
      }
      text = dropStatement(text, s.text);
    }
    const imported = new Map(
      stmts.filter((s) => s.kind === "import").flatMap((s) =>
        (s.names ?? []).map((n) => [n.alias, { s, n }] as const)
      ),
    );
    for (const m of [...text.matchAll(LOCAL_LIST)]) {
      const names = parseNames(`{${m[2]}}`) ?? [];
      const passed = names.filter((n) => imported.has(n.name));
      if (passed.length === 0) continue;
      for (const n of passed) {
        const { s, n: i } = imported.get(n.name)!;
        doors.set(n.alias, {
          target: s.target,
          name: i.name,
          type: Boolean(m[1]) || n.type || s.typeOnly || i.type,
        });
      }
      const kept = names.filter((n) => !imported.has(n.name));
      text = kept.length === 0
        ? dropStatement(text, m[0])
        : text.replace(m[0], `export ${m[1] ?? ""}{ ${namesText(kept, Boolean(m[1]))} };`);
      // An import kept only to pass it on goes too.
      for (const n of passed) {
        const { s } = imported.get(n.name)!;
        const body = text.split(s.text).join("");
        if (new RegExp(`(?<![\\w$.])${n.name.replace(/\$/g, "\\$")}(?![\\w$])`).test(body)) {
          continue;
        }
        const cur = importsOf(file, text).find((x) => x.text === s.text);
        const left = (cur?.names ?? []).filter((x) => x.alias !== n.name);
        const indent = /^[ \t]*/.exec(s.text)![0];
        text = left.length === 0
          ? dropStatement(text, s.text)
          : text.replace(s.text, importText(indent, left, s.spec));
        for (const [, v] of imported) {
          if (v.s.text === s.text) v.s.text = importText(indent, left, s.spec);
        }
      }
    }
    if (doors.size === 0) continue;
    write(file, text, changed);
    for (const m of modules) {
      let mt = read(m);
      for (const s of importsOf(m, mt)) {
        if (s.target !== file || s.kind === "dynamic" || !s.names) continue;
        const moved = s.names.filter((n) => doors.has(n.name));
        if (moved.length === 0) continue;
        const left = s.names.filter((n) => !doors.has(n.name)).map((n) => ({
          ...n,
          type: n.type || s.typeOnly,
        }));
        const indent = /^[ \t]*/.exec(s.text)![0];
        const kind = s.kind === "export" ? "export" : "import";
        const added = moved.map((n) => {
          const d = doors.get(n.name)!;
          const names = [{ name: d.name, alias: n.alias, type: d.type || n.type || s.typeOnly }];
          return importText(indent, names, relativeSpec(m, d.target)).replace(
            /^(\s*)import/,
            `$1${kind}`,
          );
        }).join("\n");
        const rest = left.length === 0
          ? ""
          : `${importText(indent, left, s.spec).replace(/^(\s*)import/, `$1${kind}`)}\n`;
        mt = mt.replace(s.text, `${rest}${added}`);
      }
      mt = mergeImports(m, mt);
      if (mt !== read(m)) write(m, mt, changed);
    }
  }
}

/** Points imports that reach into another folder at its mod.ts. */
function fixImports(changed: Set<string>, problems: string[]) {
  const files = sources();
  const set = new Set(files);
  for (const d of foldersOf(files)) if (!set.has(`${d}/mod.ts`)) createMod(d, changed);
  for (const file of sources()) {
    let text = read(file);
    for (const s of importsOf(file, text)) {
      if (!set.has(s.target) || isMod(s.target) || mayImportDirectly(file, s.target)) continue;
      if (s.kind === "dynamic") continue; // deferred on purpose: see the check
      const mod = `${dirOf(s.target)}/mod.ts`;
      if (!s.names) {
        // `import * as`: the whole module is wanted.
        const all = [...exportsOf(s.target)].filter(([, e]) => e.origin === s.target);
        const clashes = addExports(
          mod,
          s.target,
          all.map(([name, e]) => ({ name, type: e.type })),
          changed,
        );
        if (clashes.length > 0 || s.kind === "export") {
          problems.push(...clashes, `${file}: ${s.text.trim()} left as it is`);
          continue;
        }
      } else {
        const theirs = exportsOf(s.target);
        const clashes = addExports(
          mod,
          s.target,
          s.names.map((n) => ({
            name: n.name,
            type: theirs.get(n.name)?.type ?? (s.typeOnly || n.type),
          })),
          changed,
        );
        if (clashes.length > 0) {
          problems.push(...clashes, `${file}: ${s.text.trim()} left as it is`);
          continue;
        }
      }
      text = text.replace(s.text, s.text.replace(`"${s.spec}"`, `"${relativeSpec(file, mod)}"`));
    }
    text = mergeImports(file, text);
    if (text !== read(file)) write(file, text, changed);
  }
}

/** Merges two `import { ... } from "x"` of the same specifier into one. */
function mergeImports(file: string, text: string): string {
  const bySpec = new Map<string, ImportStmt[]>();
  for (const s of importsOf(file, text)) {
    if (s.kind !== "import" || !s.names || !/^\s*import/.test(s.text)) continue;
    bySpec.set(s.spec, [...(bySpec.get(s.spec) ?? []), s]);
  }
  for (const [spec, stmts] of bySpec) {
    if (stmts.length < 2) continue;
    const names = stmts.flatMap((s) => s.names!.map((n) => ({ ...n, type: n.type || s.typeOnly })));
    const seen = new Set<string>();
    const uniq = names.filter((n) => {
      const k = `${n.type}:${n.name}:${n.alias}`;
      return !seen.has(k) && seen.add(k);
    }).sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
    const typeAll = uniq.every((n) => n.type);
    const indent = /^[ \t]*/.exec(stmts[0]!.text)![0];
    const stmt = `${indent}import ${typeAll ? "type " : ""}{ ${
      namesText(uniq, typeAll)
    } } from "${spec}";`;
    text = text.replace(stmts[0]!.text, stmt);
    for (const s of stmts.slice(1)) text = text.replace(`${s.text}\n`, "").replace(s.text, "");
  }
  return text;
}

/** Files used only in their folder and exported by no mod.ts, from check(). */
function privateCandidates(): string[] {
  return check().filter((v) => v.rule === "private").map((v) => v.file);
}

/** Renames each file to `_name.ts` and rewrites every mention of its path. */
async function renamePrivate(
  files: string[],
  changed: Set<string>,
  problems: string[],
): Promise<Map<string, string>> {
  const renamed = new Map<string, string>();
  for (const f of files) {
    const to = `${dirOf(f)}/_${baseOf(f)}`;
    try {
      Deno.statSync(`${ROOT}${to}`);
      problems.push(`${f}: ${to} exists already, not renamed`);
    } catch {
      renamed.set(f, to);
    }
  }
  if (renamed.size === 0) return renamed;
  const bases = new Set([...renamed.keys()].map(baseOf));
  const known = allModules();
  const byBase = new Map<string, string[]>();
  for (const m of known) byBase.set(baseOf(m), [...(byBase.get(baseOf(m)) ?? []), m]);
  const token = /(?<![\w.-])((?:\.{1,2}\/|[\w.-]+\/)*)([\w-]+\.(?:ts|js))(?![\w])/g;
  for (const path of textFiles()) {
    const text = read(path);
    // A mention may follow a "/" (`${src}/agent/cli/_install.ts`): from there it names a path from the root.
    // A test names the files of the folder it mirrors (tests/probes/bpf: probes/bpf).
    const mirror = path.startsWith("tests/") ? [dirOf(path.slice("tests/".length))] : [];
    const next = text.split("\n").map((line) =>
      line.replace(token, (whole, prefix: string, base: string, at: number) => {
        if (!bases.has(base)) return whole;
        // Folders the line names before the mention (`agent/trace/` in a table row), nearest first.
        const named = [...line.slice(0, at).matchAll(/`([\w.-]+(?:\/[\w.-]+)*)\/`/g)].map((m) =>
          m[1]!
        ).reverse();
        const hit = whichFile(path, prefix, base, known, byBase, [...named, ...mirror]);
        const to = hit ? renamed.get(hit) : undefined;
        if (!hit) problems.push(`${path}: "${whole}" names no one file; left as it is`);
        return to ? `${prefix}${baseOf(to)}` : whole;
      })
    ).join("\n");
    if (next !== text) write(path, next, changed);
  }
  for (const [from, to] of renamed) {
    const p = new Deno.Command("git", { args: ["mv", from, to], cwd: ROOT, stderr: "piped" });
    const r = await p.output();
    if (!r.success) Deno.renameSync(`${ROOT}${from}`, `${ROOT}${to}`);
    changed.delete(from);
    changed.add(to);
  }
  return renamed;
}

/**
 * A document that shows a module verbatim (a fenced block equal to the file, as
 * ARCHITECTURE.md's walk-through does) shows it as it is now.
 */
async function refreshVerbatim(
  before: Map<string, string>,
  renamed: Map<string, string>,
  changed: Set<string>,
) {
  const now = new Map<string, string>();
  for (const [path, text] of before) {
    const at = renamed.get(path) ?? path;
    if (changed.has(at)) now.set(text, read(at));
  }
  if (now.size === 0) return;
  const docs = new Set<string>();
  for (const path of textFiles().filter((p) => p.endsWith(".md"))) {
    const text = read(path);
    const next = text.replace(/(```\w*\n)([\s\S]*?)(```)/g, (whole, open, body, close) => {
      const to = now.get(body);
      return to === undefined ? whole : `${open}${to}${close}`;
    });
    if (next !== text) {
      write(path, next, changed);
      docs.add(path);
    }
  }
  await fmt(docs);
}

/** The module a path mention names, if exactly one. */
function whichFile(
  at: string,
  prefix: string,
  base: string,
  known: string[],
  byBase: Map<string, string[]>,
  hints: string[],
): string | undefined {
  const set = new Set(known);
  const mention = `${prefix}${base}`;
  if (prefix.startsWith(".")) {
    const r = resolve(at, mention);
    return set.has(r) ? r : undefined;
  }
  const here = resolve(at, `./${mention}`);
  if (set.has(here)) return here;
  if (set.has(mention)) return mention;
  const ends = (byBase.get(base) ?? []).filter((m) => m === mention || m.endsWith(`/${mention}`));
  if (ends.length === 1) return ends[0];
  return hints.map((h) => `${h}/${mention}`).find((m) => ends.includes(m));
}

async function fmt(files: Set<string>) {
  const paths = [...files].filter((f) => /\.(ts|js|md|json)$/.test(f));
  if (paths.length === 0) return;
  await new Deno.Command("deno", { args: ["fmt", "--quiet", ...paths], cwd: ROOT }).output();
}

/** Applies the rules; returns what it could not mend. */
export async function fix(): Promise<{ changed: string[]; problems: string[] }> {
  const changed = new Set<string>();
  const problems: string[] = [];
  const before = new Map(sources().map((p) => [p, read(p)]));
  fixSideDoors(changed, problems);
  fixImports(changed, problems);
  const renamed = await renamePrivate(privateCandidates(), changed, problems);
  await fmt(changed);
  await refreshVerbatim(before, renamed, changed);
  return { changed: [...changed].sort(), problems };
}

if (import.meta.main) {
  if (Deno.args.includes("--fix")) {
    const { changed, problems } = await fix();
    for (const f of changed) console.log(`changed ${f}`);
    for (const p of problems) console.error(`not mended: ${p}`);
  }
  const left = check();
  for (const v of left) console.error(v.message);
  if (left.length > 0) {
    console.error(`${left.length} front-door problem(s); --fix mends those it can`);
    Deno.exit(1);
  }
  console.log("front doors: every folder honest");
}
