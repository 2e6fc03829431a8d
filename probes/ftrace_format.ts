/**
 * Parsers for tracefs' self-description: an event's `format` file (its id and
 * where each field lies in the binary record) and `events/header_page` (the
 * layout of a ring-buffer sub-buffer). Pure: text in, data out.
 * @module
 */

/** One field of a trace event record. */
export interface FtraceField {
  name: string;
  /** The C declaration as the kernel prints it, e.g. `unsigned long args[6]`. */
  type: string;
  offset: number;
  size: number;
  signed: boolean;
  /** A `__data_loc` field: a u32 holding (length << 16 | offset) of the data. */
  dataLoc: boolean;
}

/** An event's format: its numeric id (the record's `common_type`) and fields. */
export interface FtraceEventFormat {
  /** `group:name`, e.g. `raw_syscalls:sys_enter` (the group is the caller's). */
  name: string;
  id: number;
  fields: Map<string, FtraceField>;
}

/**
 * Parses an event's `format` file.
 * @param text the file's contents
 * @param group the event's group (the directory above it), for the name
 * @returns the event's id and fields
 * @example
 * ```ts
 * import { parseEventFormat } from "./ftrace_format.ts";
 * const f = parseEventFormat(
 *   "name: sys_exit\nID: 442\nformat:\n" +
 *     "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n" +
 *     "\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n",
 *   "raw_syscalls",
 * );
 * console.assert(f.id === 442 && f.fields.get("ret")?.offset === 16);
 * ```
 */
export function parseEventFormat(text: string, group: string): FtraceEventFormat {
  const name = /^name:\s*(\S+)/m.exec(text)?.[1];
  const id = Number(/^ID:\s*(\d+)/m.exec(text)?.[1]);
  if (!name || !Number.isInteger(id)) {
    throw new SyntaxError(`Not a tracefs event format: ${JSON.stringify(text.slice(0, 60))}`);
  }
  const fields = new Map<string, FtraceField>();
  const re = /field:([^;]+);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/g;
  for (const m of text.matchAll(re)) {
    const decl = (m[1] ?? "").trim();
    const field = fieldName(decl);
    fields.set(field, {
      name: field,
      type: decl,
      offset: Number(m[2]),
      size: Number(m[3]),
      signed: m[4] === "1",
      dataLoc: decl.startsWith("__data_loc"),
    });
  }
  return { name: `${group}:${name}`, id, fields };
}

/** The identifier a C declaration declares: `char prev_comm[16]` -> `prev_comm`. */
function fieldName(decl: string): string {
  const m = /([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$/.exec(decl);
  if (!m?.[1]) throw new SyntaxError(`Cannot read a field name from '${decl}'`);
  return m[1];
}

/**
 * A field's offset, checked to have the expected size.
 * @param format the event format
 * @param field the field's name
 * @param sizes the sizes the caller can read
 * @returns the field's byte offset in the record
 */
export function fieldOffset(
  format: FtraceEventFormat,
  field: string,
  ...sizes: number[]
): number {
  const f = format.fields.get(field);
  if (!f) throw new TypeError(`Event ${format.name} has no field '${field}'`);
  if (sizes.length > 0 && !sizes.includes(f.size)) {
    throw new TypeError(
      `Field ${format.name}.${field} is ${f.size} bytes, expected ${sizes.join(" or ")}`,
    );
  }
  return f.offset;
}

/** The layout of a ring-buffer sub-buffer (page), from `events/header_page`. */
export interface HeaderPage {
  /** Offset and size of the page's 64-bit start timestamp. */
  timestampOffset: number;
  /** Offset and size of the `commit` word: data length plus flag bits. */
  commitOffset: number;
  commitSize: number;
  /** Where event data starts. */
  dataOffset: number;
}

/**
 * Parses `events/header_page`.
 * @param text the file's contents
 * @returns the sub-buffer layout
 * @example
 * ```ts
 * import { parseHeaderPage } from "./ftrace_format.ts";
 * const h = parseHeaderPage(
 *   "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n" +
 *     "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n" +
 *     "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n",
 * );
 * console.assert(h.dataOffset === 16 && h.commitSize === 8);
 * ```
 */
export function parseHeaderPage(text: string): HeaderPage {
  const get = (name: string) => {
    const m = new RegExp(`field:[^;]*\\b${name};\\s*offset:(\\d+);\\s*size:(\\d+);`).exec(text);
    if (!m) throw new SyntaxError(`header_page has no '${name}' field`);
    return { offset: Number(m[1]), size: Number(m[2]) };
  };
  const ts = get("timestamp");
  const commit = get("commit");
  const data = get("data");
  return {
    timestampOffset: ts.offset,
    commitOffset: commit.offset,
    commitSize: commit.size,
    dataOffset: data.offset,
  };
}
