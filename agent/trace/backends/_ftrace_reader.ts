/**
 * Reading the per-CPU binary ring buffers of a tracefs instance
 * (`per_cpu/cpuN/trace_pipe_raw`) without blocking: each read returns one
 * sub-buffer (page) of records, consumed from the kernel's buffer, or EAGAIN
 * when nothing is left. The pages are parsed by probes/ftrace_buffer.ts.
 * Through ffi/'s open(2) and read(2): Deno's own files cannot be opened
 * O_NONBLOCK, and node:fs would start Node's compatibility layer, 30 ms and more
 * paid by every command before its first data.
 * @module
 */

import { ErrnoError, type Fd, O_NONBLOCK, O_RDONLY, openFile, read } from "../../../ffi/mod.ts";
import { RunError } from "../../mod.ts";

/** One CPU's raw pipe, opened non-blocking. Close it before removing the instance. */
export class CpuPipe {
  readonly cpu: number;
  readonly path: string;
  #fd: Fd | null;
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
      this.#fd = openFile(this.path, { flags: O_RDONLY | O_NONBLOCK });
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
      n = read(this.#fd.fd, Deno.UnsafePointer.of(page) as Deno.PointerObject, this.#pageSize);
    } catch (e: unknown) {
      if (e instanceof ErrnoError && e.code === "EAGAIN") return null;
      throw new RunError(`cannot read ${this.path}: ${e instanceof Error ? e.message : e}`);
    }
    return n > 0 ? page.subarray(0, n) : null;
  }

  /** Closes the pipe. Idempotent. */
  close(): void {
    if (this.#fd === null) return;
    try {
      this.#fd.close();
    } catch {
      // already closed
    }
    this.#fd = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
