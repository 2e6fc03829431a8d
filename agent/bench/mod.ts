/**
 * The I/O-path bench (`ioscope bench`): the paths and scenarios, the worker
 * and sink processes that drive them through ffi/, the checksums that prove
 * the data arrived, and the fio comparison. runner.ts ties them together.
 * _checksum.ts is not re-exported: it imports node:crypto, and this module is
 * in every command's graph (mod.ts exports runBench); import it by its path.
 * @module
 */

export * from "./runner.ts";
export * from "./paths.ts";
export * from "./fio.ts";
