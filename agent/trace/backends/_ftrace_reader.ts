/**
 * Reading the per-CPU binary ring buffers of a tracefs instance
 * (`per_cpu/cpuN/trace_pipe_raw`) without blocking: each read returns one
 * sub-buffer (page) of records, consumed from the kernel's buffer, or EAGAIN
 * when nothing is left. The pages are parsed by probes/ftrace_buffer.ts.
 * @module
 */

import * as fs from "node:fs";
import { RunError } from "../../errors.ts";

/** One CPU's raw pipe, opened non-blocking. Close it before removing the instance. */
export class CpuPipe {
  readonly cpu: number;
  readonly path: string;
  #fd: number | null;
  #pageSize: number;

  /**
   * Opens `per_cpu/cpuN/trace_pipe_raw` of an instance.
   * @param instancePath the instance directory
   * @param cpu the CPU number
   * @param pageSize the sub-buffer size in bytes
   */
  constructor(instancePath: string, cpu: number, pageSize: number) {
    this.cpu = cpu;
    this.path = `${instancePath}/per_cpu/cpu${cpu}/trace_pipe_raw`;
    this.#pageSize = pageSize;
    try {
      this.#fd = fs.openSync(this.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (e: unknown) {
      throw new RunError(`cannot open ${this.path}: ${e instanceof Error ? e.message : e}`);
    }
  }

  /**
   * Reads the next page, if any.
   * @returns the page's bytes (a fresh buffer), or null when the buffer is empty
   */
  readPage(): Uint8Array | null {
    if (this.#fd === null) return null;
    const page = new Uint8Array(this.#pageSize);
    let n: number;
    try {
      n = fs.readSync(this.#fd, page, 0, this.#pageSize, null);
    } catch (e: unknown) {
      if ((e as { code?: string }).code === "EAGAIN") return null;
      throw new RunError(`cannot read ${this.path}: ${e instanceof Error ? e.message : e}`);
    }
    return n > 0 ? page.subarray(0, n) : null;
  }

  /** Closes the pipe. Idempotent. */
  close(): void {
    if (this.#fd === null) return;
    try {
      fs.closeSync(this.#fd);
    } catch {
      // already closed
    }
    this.#fd = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
