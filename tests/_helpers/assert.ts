/**
 * Minimal assertions (jsr:@std/assert cannot be installed here).
 * @module
 */

import { deepStrictEqual } from "node:assert/strict";

/** Fails with `message` unless `cond` is truthy. */
export function assert(cond: unknown, message = "assertion failed"): asserts cond {
  if (!cond) throw new Error(message);
}

/** Fails unless `actual` deeply equals `expected`. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  try {
    deepStrictEqual(actual, expected);
  } catch {
    throw new Error(
      `${message ? message + ": " : ""}expected ${JSON.stringify(expected)}, got ${
        JSON.stringify(actual)
      }`,
    );
  }
}

/** Fails unless `actual` is within `relative` (0.1 = 10%) of `expected`. */
export function assertWithin(
  actual: number,
  expected: number,
  relative: number,
  what: string,
): void {
  const off = Math.abs(actual - expected) / Math.abs(expected);
  if (!(off <= relative)) {
    throw new Error(
      `${what}: ${actual} is ${(off * 100).toFixed(1)}% from ${expected} (allowed ${
        relative * 100
      }%)`,
    );
  }
}
