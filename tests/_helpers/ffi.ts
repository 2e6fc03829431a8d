/**
 * Helpers for the ffi tests: a temporary file with known bytes, and counts of
 * this process's open descriptors and mappings.
 * @module
 */

/** A temporary file of `size` pseudo-random bytes, removed on dispose. */
export function tempFile(size: number): { path: string; data: Uint8Array } & Disposable {
  const path = Deno.makeTempFileSync({ prefix: "ioscope-ffi-test-" });
  const data = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536));
  Deno.writeFileSync(path, data);
  return {
    path,
    data,
    [Symbol.dispose]() {
      try {
        Deno.removeSync(path);
      } catch {
        // already gone
      }
    },
  };
}

/** This process's open file descriptors, by number. */
export function openFds(): number[] {
  return [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).sort((a, b) => a - b);
}

/** Lines of /proc/self/maps. */
export function maps(): string[] {
  return Deno.readTextFileSync("/proc/self/maps").trim().split("\n");
}

/**
 * The /proc/self/maps lines whose range holds `address`: one while it is
 * mapped. Not "the line that starts there": the kernel merges a new anonymous
 * mapping into a neighbour with the same flags (the suite once saw 0 lines
 * start at a live mapping's address).
 */
export function mappingsAt(address: number): string[] {
  return maps().filter((l) => {
    const [from = "", to = ""] = (l.split(" ")[0] ?? "").split("-");
    return parseInt(from, 16) <= address && address < parseInt(to, 16);
  });
}

/** Byte-for-byte equality, with the first difference in the message. */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} bytes, expected ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      throw new Error(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}
