/**
 * How bench proves that a path moved the right bytes: a block-list digest
 * (SHA-256 of each block-sized piece, then SHA-256 over those digests in
 * order, so blocks that complete out of order, as io_uring's do, can be
 * hashed as they come) and a cheap per-block fingerprint (three bytes of each
 * block, tied to its index) that the timed pass can afford.
 * @module
 */

import { createHash } from "node:crypto";

/** A block-list digest being built. */
export class BlockDigest {
  #blockSize: number;
  #digests: (Uint8Array | undefined)[] = [];
  #bytes = 0;

  /** @param blockSize the size of every block but the last */
  constructor(blockSize: number) {
    if (!(blockSize > 0)) throw new RangeError(`Invalid block size ${blockSize}`);
    this.#blockSize = blockSize;
  }

  /** Bytes added so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Adds block `index` (any order; each once).
   * @param index the block's number, from 0
   * @param data the whole block (shorter only at the end of the data)
   */
  add(index: number, data: Uint8Array): void {
    if (data.length > this.#blockSize) {
      throw new RangeError(`Block ${index} has ${data.length} bytes, more than a block`);
    }
    if (this.#digests[index] !== undefined) throw new Error(`Block ${index} was added twice`);
    this.#digests[index] = createHash("sha256").update(data).digest();
    this.#bytes += data.length;
  }

  /**
   * Adds consecutive data, cut into blocks (the sink's view of a stream).
   * @param data the bytes, in order, starting at a block boundary
   * @param firstIndex the number of the block `data` starts with (@default 0)
   */
  addAll(data: Uint8Array, firstIndex = 0): void {
    for (let off = 0, i = firstIndex; off < data.length; off += this.#blockSize, i++) {
      this.add(i, data.subarray(off, off + this.#blockSize));
    }
  }

  /**
   * The digest, hex.
   * @returns SHA-256 over the blocks' digests in order
   * @throws Error when a block is missing
   */
  hex(): string {
    const h = createHash("sha256");
    for (let i = 0; i < this.#digests.length; i++) {
      const d = this.#digests[i];
      if (d === undefined) throw new Error(`Block ${i} is missing from the digest`);
      h.update(d);
    }
    return h.digest("hex");
  }
}

/**
 * A cheap fingerprint of one block: its first, middle and last bytes and its
 * length, mixed with its index. Summing it over blocks (mod 2^32) gives the
 * same total in any completion order.
 * @param index the block's number
 * @param data the block
 * @returns a 32-bit value
 * @example
 * ```ts
 * import { blockFingerprint } from "./_checksum.ts";
 * const a = blockFingerprint(0, new Uint8Array([1, 2, 3]));
 * console.assert(a !== blockFingerprint(1, new Uint8Array([1, 2, 3])));
 * ```
 */
export function blockFingerprint(index: number, data: Uint8Array): number {
  const n = data.length;
  if (n === 0) return 0;
  const v = data[0]! | (data[n >> 1]! << 8) | (data[n - 1]! << 16) | ((n & 0xff) << 24);
  return Math.imul(v ^ Math.imul(index + 1, 0x9e3779b1), 0x85ebca6b) >>> 0;
}

/**
 * The block-list digest of a file, read in blocks.
 * @param path the file
 * @param blockSize the block size
 * @returns the digest (hex) and the bytes read
 */
export async function fileDigest(
  path: string,
  blockSize: number,
): Promise<{ digest: string; bytes: number }> {
  const digest = new BlockDigest(blockSize);
  using f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(blockSize);
  for (let i = 0;; i++) {
    let got = 0;
    while (got < blockSize) {
      const n = await f.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (got > 0) digest.add(i, buf.subarray(0, got));
    if (got < blockSize) break;
  }
  return { digest: digest.hex(), bytes: digest.bytes };
}

/**
 * Writes a file of random bytes (each block distinct), flushed to disk so
 * that its pages are clean in the page cache, and returns its digest.
 * @param path the file to create (truncated if it exists)
 * @param sizeBytes its size
 * @param blockSize the digest's block size
 * @returns the block-list digest (hex)
 */
export async function writeRandomFile(
  path: string,
  sizeBytes: number,
  blockSize: number,
): Promise<string> {
  const digest = new BlockDigest(blockSize);
  using f = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o600 });
  const buf = new Uint8Array(blockSize);
  for (let off = 0, i = 0; off < sizeBytes; off += blockSize, i++) {
    const n = Math.min(blockSize, sizeBytes - off);
    const block = buf.subarray(0, n);
    for (let o = 0; o < n; o += 65536) crypto.getRandomValues(block.subarray(o, o + 65536));
    digest.add(i, block);
    let put = 0;
    while (put < n) put += await f.write(block.subarray(put));
  }
  await f.syncData();
  return digest.hex();
}
