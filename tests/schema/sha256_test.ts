import { createHash } from "node:crypto";
import { sha256Hex } from "../../schema/sha256.ts";
import { assertEquals } from "../_helpers/assert.ts";

Deno.test("sha256Hex agrees with node:crypto on empty, short, multi-block and UTF-8 input", () => {
  const inputs = ["", "abc", "fio\0fio job.fio", "x".repeat(55), "x".repeat(56), "é😀".repeat(100)];
  for (const text of inputs) {
    const want = createHash("sha256").update(text, "utf8").digest("hex");
    assertEquals(sha256Hex(text), want, JSON.stringify(text.slice(0, 20)));
  }
});

Deno.test("sha256Hex gives FIPS 180-4's digest of 'abc'", () => {
  assertEquals(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
